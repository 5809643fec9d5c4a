package archive

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ArchiveExtensions are the file names a model store's archives end with.
var ArchiveExtensions = []string{".mar", ".tar.gz", ".tgz", ".tar.zst"}

// List names the model archives in a model store, sorted: .mar, .tar.gz, .tgz and .tar.zst
// files, and folders holding a manifest (hidden names left out).
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
			if _, err := os.Stat(filepath.Join(dir, name, filepath.FromSlash(ManifestPath))); err == nil {
				out = append(out, name)
			}
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
