package archive

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Keys are Ed25519 in PEM: PKCS #8 private keys and PKIX public keys, as `openssl genpkey
// -algorithm ed25519` and `openssl pkey -pubout` write them.

// KeyID names a public key: the first 16 hex digits of the SHA-256 of its 32 bytes.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// SigningKey signs manifests.
type SigningKey struct {
	key ed25519.PrivateKey
	// ID is its public key's KeyID.
	ID string
}

// LoadSigningKey reads an Ed25519 private key from a PEM file (PKCS #8, "PRIVATE KEY").
func LoadSigningKey(path string) (*SigningKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			return nil, fmt.Errorf("signing key %s: no PEM \"PRIVATE KEY\" block (make one with tsarchive keygen, or openssl genpkey -algorithm ed25519)", path)
		}
		if block.Type != "PRIVATE KEY" {
			continue
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("signing key %s: a %T, not an Ed25519 key", path, k)
		}
		return &SigningKey{key: priv, ID: KeyID(priv.Public().(ed25519.PublicKey))}, nil
	}
}

// sign signs a manifest's bytes.
func (k *SigningKey) sign(manifest []byte) ManifestSignature {
	return ManifestSignature{KeyID: k.ID, Algorithm: Ed25519, Value: base64.StdEncoding.EncodeToString(ed25519.Sign(k.key, manifest))}
}

// signatures returns a manifest's signatures, those given with this key's own replaced by
// a new one, and their file.
func (k *SigningKey) signatures(manifest []byte, old []ManifestSignature) ([]ManifestSignature, []byte, error) {
	f := signatureFile{}
	for _, s := range old {
		if s.KeyID != k.ID {
			f.Signatures = append(f.Signatures, s)
		}
	}
	f.Signatures = append(f.Signatures, k.sign(manifest))
	b, err := manifestJSON(f)
	return f.Signatures, b, err
}

// GenerateKey writes a new Ed25519 key pair: the private key to priv (PKCS #8 PEM, mode
// 0600) and the public key to pub (PKIX PEM), making their folders (mode 0700) if needed.
// Existing files are replaced only with force. It returns the key's id.
func GenerateKey(priv, pub string, force bool) (string, error) {
	if !force {
		for _, p := range []string{priv, pub} {
			if _, err := os.Lstat(p); err == nil {
				return "", fmt.Errorf("%s already exists; use --force to replace it", p)
			}
		}
	}
	for _, p := range []string{priv, pub} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil { // private: it may hold the key
			return "", err
		}
	}
	pk, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	skDER, err := x509.MarshalPKCS8PrivateKey(sk)
	if err != nil {
		return "", err
	}
	pkDER, err := x509.MarshalPKIXPublicKey(pk)
	if err != nil {
		return "", err
	}
	if err := writeAtomic(priv, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: skDER}), 0o600); err != nil {
		return "", err
	}
	if err := writeAtomic(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkDER}), 0o644); err != nil {
		os.Remove(priv)
		return "", err
	}
	return KeyID(pk), nil
}

// writeAtomic writes a small file through a temporary file and a rename.
func writeAtomic(path string, b []byte, mode os.FileMode) error {
	return replaceFile(context.Background(), path, mode, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Keyring holds the public keys an archive may be signed by.
type Keyring struct {
	keys map[string]ed25519.PublicKey
}

// LoadKeyring reads Ed25519 public keys (PKIX PEM, "PUBLIC KEY" blocks, several to a file
// allowed) from files, and from the .pem and .pub files of folders. It fails on a file
// without one, on a key that is not Ed25519, and when it finds no key at all.
func LoadKeyring(paths ...string) (*Keyring, error) {
	k := &Keyring{keys: map[string]ed25519.PublicKey{}}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if st.IsDir() {
			files = nil
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".pem" || ext == ".pub") {
					files = append(files, filepath.Join(p, e.Name()))
				}
			}
		}
		for _, f := range files {
			if err := k.add(f); err != nil {
				return nil, err
			}
		}
	}
	if len(k.keys) == 0 {
		return nil, fmt.Errorf("no Ed25519 public key in %s", strings.Join(paths, ", "))
	}
	return k, nil
}

// add reads the public keys of one PEM file.
func (k *Keyring) add(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	found := 0
	for rest := b; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			continue
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		pk, ok := pub.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("%s: a %T, not an Ed25519 key", path, pub)
		}
		k.keys[KeyID(pk)] = pk
		found++
	}
	if found == 0 {
		return fmt.Errorf("%s: no PEM \"PUBLIC KEY\" block", path)
	}
	return nil
}

// IDs lists the keys' ids, sorted.
func (k *Keyring) IDs() []string {
	ids := make([]string, 0, len(k.keys))
	for id := range k.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Check verifies that a trusted key signed the manifest, and records which in s.TrustedKey.
func (k *Keyring) Check(s *Signing) error {
	trusted := func() string { return strings.Join(k.IDs(), ", ") } // for the errors
	if !s.hashed {
		return fmt.Errorf("%w: its manifest lists no file hashes, so no signature could cover its files (pack it with tsarchive)", ErrNotSigned)
	}
	if len(s.Signatures) == 0 {
		return fmt.Errorf("%w (trusted keys: %s; sign it with tsarchive sign)", ErrNotSigned, trusted())
	}
	var failed error
	for _, sig := range s.Signatures {
		pk, ok := k.keys[sig.KeyID]
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(sig.Value)
		if err != nil || sig.Algorithm != Ed25519 || !ed25519.Verify(pk, s.manifest, raw) {
			if failed == nil {
				failed = fmt.Errorf("%w: key %s's signature fails (the archive changed after it was signed)", ErrBadSignature, sig.KeyID)
			}
			continue
		}
		s.TrustedKey = sig.KeyID
		return nil
	}
	if failed != nil {
		return failed
	}
	return fmt.Errorf("%w: signed by %s; trusted: %s", ErrUntrusted, strings.Join(s.KeyIDs(), ", "), trusted())
}
