package archive

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/zip"
)

// Entry is a file as an archive stores it.
type Entry struct {
	Path       string `json:"path"`
	Size       int64  `json:"size"`
	Compressed int64  `json:"compressed,omitempty"` // zip only
	Method     string `json:"method,omitempty"`     // "stored" or "deflated" (zip only)
}

// Info is what Inspect reads from an archive without checking its hashes.
type Info struct {
	Path     string    `json:"path"`
	Format   Format    `json:"format"`
	Size     int64     `json:"size"` // of the archive file (0 for a folder)
	Manifest *Manifest `json:"manifest,omitempty"`
	// Workflow is a workflow archive's manifest (then Manifest is nil).
	Workflow *WorkflowManifest `json:"workflow,omitempty"`
	Entries  []Entry           `json:"entries"`
	// Signatures are the manifest's signatures, unchecked (Verify with a keyring checks them).
	Signatures []ManifestSignature `json:"signatures,omitempty"`
	// Ensemble names the models of a Triton ensemble's steps, in order (the folder has no
	// model of its own).
	Ensemble []string `json:"ensemble,omitempty"`
}

// Inspect reads an archive's manifest and lists its files, without extracting or hashing
// them (Verify does that). A workflow archive (.war) is read too: its manifest is Workflow.
// A bare ONNX file or a Triton model folder shows the manifest the server makes up for it.
func Inspect(src string) (*Info, error) {
	if IsONNXFile(src) || IsTritonModel(src) {
		return inspectPlain(src)
	}
	format, err := Detect(src)
	if err != nil {
		return nil, err
	}
	info := &Info{Path: src, Format: format}
	var manifest []byte
	manifestPath := ManifestPath
	sigs := map[string][]byte{} // signatures files, by path
	keep := func(name string, r io.Reader) error {
		if path.Base(name) == path.Base(ManifestPath)+SignatureSuffix {
			b, err := io.ReadAll(io.LimitReader(r, 16<<20))
			sigs[name] = b
			return err
		}
		for _, mp := range []string{ManifestPath, WorkflowManifestPath} {
			if name == mp || strings.HasSuffix(name, "/"+mp) {
				if mp == WorkflowManifestPath && manifest != nil && manifestPath == ManifestPath {
					return nil // a model archive's: its own manifest wins
				}
				b, err := io.ReadAll(io.LimitReader(r, 16<<20))
				manifest, manifestPath = b, mp
				return err
			}
		}
		return nil
	}
	switch format {
	case Default:
		err = inspectZip(src, info, keep)
	case Tgz, Tzst:
		err = inspectTar(src, format, info, keep)
	case Folder:
		err = inspectFolder(src, info, keep)
	}
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		info.Size = st.Size()
	}
	prefix := ""
	for _, e := range info.Entries {
		if strings.HasSuffix(e.Path, "/"+manifestPath) {
			prefix = strings.TrimSuffix(e.Path, manifestPath)
		}
	}
	if manifest == nil {
		return nil, fmt.Errorf("%s: %w", src, ErrNoManifest)
	}
	if manifestPath == WorkflowManifestPath {
		info.Workflow, err = ParseWorkflowManifest(manifest)
	} else {
		info.Manifest, err = ParseManifest(manifest)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if b := sigs[prefix+manifestPath+SignatureSuffix]; b != nil {
		s, err := parseSigning(b, nil, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		info.Signatures = s.Signatures
	}
	entries := info.Entries[:0]
	for _, e := range info.Entries {
		e.Path = strings.TrimPrefix(e.Path, prefix)
		if e.Path != manifestPath && e.Path != manifestPath+SignatureSuffix {
			entries = append(entries, e)
		}
	}
	info.Entries = entries
	sort.Slice(info.Entries, func(i, j int) bool { return info.Entries[i].Path < info.Entries[j].Path })
	return info, nil
}

func inspectZip(src string, info *Info, keep func(string, io.Reader) error) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		method := "deflated"
		if f.Method == zip.Store {
			method = "stored"
		}
		info.Entries = append(info.Entries, Entry{Path: f.Name, Size: int64(f.UncompressedSize64), Compressed: int64(f.CompressedSize64), Method: method})
		if base := path.Base(f.Name); base == "MANIFEST.json" || base == "MANIFEST.json"+SignatureSuffix { // keep decides which
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			err = keep(f.Name, rc)
			rc.Close()
			if err != nil {
				return fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
		}
	}
	return nil
}

func inspectTar(src string, format Format, info *Info, keep func(string, io.Reader) error) error {
	return walkTar(src, format, nil, func(hdr *tar.Header, body io.Reader) error {
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		info.Entries = append(info.Entries, Entry{Path: hdr.Name, Size: hdr.Size})
		if err := keep(hdr.Name, body); err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return nil
	})
}

func inspectFolder(src string, info *Info, keep func(string, io.Reader) error) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		name := filepath.ToSlash(rel)
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		info.Entries = append(info.Entries, Entry{Path: name, Size: st.Size()})
		if base := strings.TrimSuffix(name, SignatureSuffix); base == ManifestPath || base == WorkflowManifestPath {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return keep(name, f)
		}
		return nil
	})
}
