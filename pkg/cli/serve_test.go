package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestModelFiles: ts serve's model arguments name the model store's models as --models
// does, whether ts serve runs in the store's folder or elsewhere; others keep their
// absolute path, and one in neither place stops start-up.
func TestModelFiles(t *testing.T) {
	store, elsewhere := t.TempDir(), t.TempDir()
	for _, f := range []string{filepath.Join(store, "a.mar"), filepath.Join(elsewhere, "b.mar"), filepath.Join(elsewhere, "c.mar"), filepath.Join(store, "c.mar")} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		dir, arg        string
		name, url, path string
		fails           bool
	}{
		{dir: store, arg: "a.mar", url: "a.mar", path: filepath.Join(store, "a.mar")},
		{dir: store, arg: "./a.mar", url: "./a.mar", path: filepath.Join(store, "a.mar")},
		{dir: store, arg: "first=a.mar", name: "first", url: "a.mar", path: filepath.Join(store, "a.mar")},
		{dir: elsewhere, arg: "a.mar", url: "a.mar", path: filepath.Join(store, "a.mar")},
		{dir: elsewhere, arg: "b.mar", url: filepath.Join(elsewhere, "b.mar"), path: filepath.Join(elsewhere, "b.mar")},
		// here and in the store, two different files: the one here
		{dir: elsewhere, arg: "c.mar", url: filepath.Join(elsewhere, "c.mar"), path: filepath.Join(elsewhere, "c.mar")},
		{dir: elsewhere, arg: filepath.Join(store, "a.mar"), url: filepath.Join(store, "a.mar"), path: filepath.Join(store, "a.mar")},
		{dir: store, arg: "nothere.mar", fails: true},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.dir)+"/"+tt.arg, func(t *testing.T) {
			t.Chdir(tt.dir)
			c := ServeCmd{Files: []string{tt.arg}}
			specs, err := c.modelFiles(store)
			if tt.fails {
				if err == nil {
					t.Fatalf("no error, specs %+v", specs)
				}
				return
			}
			if err != nil || len(specs) != 1 {
				t.Fatalf("specs %+v, err %v", specs, err)
			}
			s := specs[0]
			if s.Name != tt.name || s.URL != tt.url || s.Path != tt.path {
				t.Errorf("name %q url %q path %q, want %q %q %q", s.Name, s.URL, s.Path, tt.name, tt.url, tt.path)
			}
		})
	}
}
