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
			if _, err := os.Stat(filepath.Join(dir, name, filepath.FromSlash(ManifestPath))); err == nil || IsTritonModel(filepath.Join(dir, name)) {
				out = append(out, name)
			}
			continue
		}
		if strings.EqualFold(filepath.Ext(name), ".onnx") {
			out = append(out, name)
			continue
		}
		for _, ext := range ArchiveExtensions {
			if strings.HasSuffix(name, ext) {
				out = append(out, name)
				break
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// StoreName is the model name of a model store entry List names: a file's without its
// archive or .onnx extension, a folder's as it is.
func StoreName(entry string) string {
	for _, ext := range ArchiveExtensions {
		if strings.HasSuffix(entry, ext) {
			return strings.TrimSuffix(entry, ext)
		}
	}
	if strings.EqualFold(filepath.Ext(entry), ".onnx") {
		return strings.TrimSuffix(entry, filepath.Ext(entry))
	}
	return entry
}
