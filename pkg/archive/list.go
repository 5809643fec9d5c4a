package archive

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ArchiveExtensions are the file names a model store's archives end with.
var ArchiveExtensions = []string{".mar", ".tar.gz", ".tgz", ".tar.zst"}

// List names the models in a model store, sorted: .mar, .tar.gz, .tgz and .tar.zst files,
// folders holding a manifest, bare .onnx files and Triton model folders (hidden names left
// out).
func List(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			if IsModelFolder(filepath.Join(dir, name)) {
				out = append(out, name)
			}
			continue
		}
		if modelExt(name) != "" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// IsModelFileName tells whether a file name is a model's the model store holds: an
// archive's (ArchiveExtensions) or a bare ONNX file's (.onnx, in any case).
func IsModelFileName(name string) bool { return modelExt(name) != "" }

// modelExt is the extension that makes name a model file's, or "".
func modelExt(name string) string {
	for _, ext := range ArchiveExtensions {
		if strings.HasSuffix(name, ext) {
			return ext
		}
	}
	if ext := filepath.Ext(name); strings.EqualFold(ext, ".onnx") {
		return ext
	}
	return ""
}

// StoreName is the model name of a model store entry List names: a file's without its
// archive or .onnx extension, a folder's as it is.
func StoreName(entry string) string {
	return strings.TrimSuffix(entry, modelExt(entry))
}

// StoreEntries are the model store entries a model name may stand for, in the order
// Triton's load looks for them: its archives, a folder of that name (an archive's or a
// Triton model's), its bare .onnx file.
func StoreEntries(name string) []string {
	var out []string
	for _, ext := range ArchiveExtensions {
		out = append(out, name+ext)
	}
	return append(out, name, name+".onnx")
}
