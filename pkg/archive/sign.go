package archive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zip"
)

// Signing an archive signs the exact bytes of its manifest, which lists every file with its
// size and sha256: the reader checks each file against that list and refuses files it does
// not name, so one signature covers the whole archive in every format. The signatures live
// beside the manifest, at its path + SignatureSuffix, as JSON (signatureFile); keys.go reads
// and makes the keys.

// SignatureSuffix is appended to a manifest's path to name its signatures' file
// (MAR-INF/MANIFEST.json.sig, WAR-INF/MANIFEST.json.sig).
const SignatureSuffix = ".sig"

// Ed25519 is the one signature algorithm archives use.
const Ed25519 = "ed25519"

// errors of signature checks.
var (
	ErrNotSigned     = errors.New("archive is not signed")
	ErrUntrusted     = errors.New("archive is not signed by a trusted key")
	ErrBadSignature  = errors.New("archive's signature does not match its manifest")
	ErrBadSignatures = errors.New("archive's signature file is malformed")
)

// ManifestSignature is one signature of a manifest.
type ManifestSignature struct {
	// KeyID names the public key that verifies it (KeyID).
	KeyID     string `json:"keyId"`
	Algorithm string `json:"algorithm"`
	// Value is the signature of the manifest file's bytes, base64 (standard, padded).
	Value string `json:"signature"`
}

// signatureFile is the JSON kept at the manifest's path + SignatureSuffix.
type signatureFile struct {
	Signatures []ManifestSignature `json:"signatures"`
}

// Signing is what the reader found about an archive's signatures.
type Signing struct {
	Signatures []ManifestSignature `json:"signatures,omitempty"`
	// TrustedKey is the id of the trusted key whose signature verified; empty when the
	// archive was read without a keyring (the signatures are then not checked).
	TrustedKey string `json:"trustedKey,omitempty"`

	manifest []byte // the signed bytes
	path     string // the manifest's path in the archive
	hashed   bool   // the manifest lists the files with their hashes
}

// TrustedKeyID is TrustedKey, "" for a nil Signing.
func (s *Signing) TrustedKeyID() string {
	if s == nil {
		return ""
	}
	return s.TrustedKey
}

// KeyIDs lists the keys that signed (checked or not).
func (s *Signing) KeyIDs() []string {
	if s == nil {
		return nil
	}
	ids := make([]string, len(s.Signatures))
	for i, sig := range s.Signatures {
		ids[i] = sig.KeyID
	}
	return ids
}

// parseSigning reads a signatures file (b nil: none) for the manifest's bytes.
func parseSigning(b, manifest []byte, hashed bool) (*Signing, error) {
	s := &Signing{manifest: manifest, hashed: hashed}
	if b == nil {
		return s, nil
	}
	var f signatureFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignatures, err)
	}
	for _, sig := range f.Signatures {
		if sig.KeyID == "" || sig.Algorithm == "" || sig.Value == "" {
			return nil, fmt.Errorf("%w: a signature lacks its keyId, algorithm or signature", ErrBadSignatures)
		}
	}
	s.Signatures = f.Signatures
	return s, nil
}

// SignResult is what Sign did.
type SignResult struct {
	Path string `json:"path"`
	// KeyID is the key that signed now; Signatures all the archive now holds.
	KeyID      string              `json:"keyId"`
	Signatures []ManifestSignature `json:"signatures"`
}

// Sign adds key's signature to an archive (a model's or a workflow's, any format), replacing
// an earlier one by the same key. Every file is first checked against the manifest, which
// must list their hashes. A file archive is rewritten through a temporary file and a rename
// (zip entries copied as stored; tarballs decompressed and compressed again); a folder gets
// its signatures file the same way. Nothing is half-written.
func Sign(ctx context.Context, src string, key *SigningKey, lim Limits) (*SignResult, error) {
	lim.Trusted = nil
	var signed *Signing
	m, err := Verify(ctx, src, lim)
	switch {
	case errors.Is(err, ErrNoManifest):
		wm, werr := VerifyWorkflow(ctx, src, lim)
		if errors.Is(werr, ErrNoWorkflowManifest) {
			return nil, err
		} else if werr != nil {
			return nil, werr
		}
		signed = wm.Signed
	case err != nil:
		return nil, err
	default:
		signed = m.Signed
	}
	if !signed.hashed {
		return nil, fmt.Errorf("cannot sign: the manifest lists no file hashes, so a signature would not cover the files (pack it with tsarchive)")
	}
	all, sigs, err := key.signatures(signed.manifest, signed.Signatures)
	if err != nil {
		return nil, err
	}
	format, err := Detect(src)
	if err != nil {
		return nil, err
	}
	name := signed.path + SignatureSuffix
	switch format {
	case Folder:
		err = writeAtomic(filepath.Join(src, filepath.FromSlash(name)), sigs, 0o644)
	case Default:
		err = resignZip(ctx, src, signed.path, sigs)
	default:
		err = resignTar(ctx, src, format, signed.path, sigs)
	}
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", src, err)
	}
	return &SignResult{Path: src, KeyID: key.ID, Signatures: all}, nil
}

// resignZip rewrites a zip with sigs as the signatures of the manifest at manifest, copying
// every other entry as it is stored.
func resignZip(ctx context.Context, src, manifest string, sigs []byte) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return err
	}
	defer zr.Close()
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	return replaceFile(ctx, src, st.Mode().Perm(), func(w io.Writer) error {
		zw := zip.NewWriter(w)
		var modified time.Time
		for _, f := range zr.File {
			if err := ctx.Err(); err != nil {
				return err
			}
			switch path.Clean(f.Name) {
			case manifest + SignatureSuffix:
				continue
			case manifest:
				modified = f.Modified
			}
			if err := zw.Copy(f); err != nil {
				return err
			}
		}
		sw, err := zw.CreateHeader(&zip.FileHeader{Name: manifest + SignatureSuffix, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return err
		}
		if _, err := sw.Write(sigs); err != nil {
			return err
		}
		return zw.Close()
	})
}

// resignTar rewrites a tarball with sigs as the signatures of the manifest at manifest.
func resignTar(ctx context.Context, src string, format Format, manifest string, sigs []byte) error {
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	return replaceFile(ctx, src, st.Mode().Perm(), func(w io.Writer) error {
		comp, err := compressor(w, format)
		if err != nil {
			return err
		}
		tw := tar.NewWriter(comp)
		var modified time.Time
		err = walkTar(src, format, nil, func(hdr *tar.Header, body io.Reader) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			switch path.Clean(hdr.Name) {
			case manifest + SignatureSuffix:
				return nil
			case manifest:
				modified = hdr.ModTime
			}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
			_, err := io.Copy(tw, body)
			return err
		})
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: manifest + SignatureSuffix, Mode: 0o644, Size: int64(len(sigs)), ModTime: modified, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(sigs); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return comp.Close()
	})
}
