package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestORTCandidates(t *testing.T) {
	t.Setenv(EnvORTLib, "")
	if c := ORTCandidates("/flag/lib.so"); len(c) != 1 || c[0].Path != "/flag/lib.so" || c[0].Source != "--ort-lib" {
		t.Errorf("flag: %v", c)
	}
	t.Setenv(EnvORTLib, "/env/lib.so")
	if c := ORTCandidates("/flag/lib.so"); len(c) != 1 || c[0].Source != "--ort-lib" {
		t.Errorf("flag must win over %s: %v", EnvORTLib, c)
	}
	if c := ORTCandidates(""); len(c) != 1 || c[0].Path != "/env/lib.so" || c[0].Source != EnvORTLib {
		t.Errorf("env: %v", c)
	}
	t.Setenv(EnvORTLib, "")
	c := ORTCandidates("")
	var sources []string
	for _, x := range c {
		sources = append(sources, x.Source)
	}
	if len(c) < 2 || sources[0] != "beside the executable" || sources[len(sources)-1] != "set-up folder" {
		t.Errorf("default order: %v", sources)
	}
	// the set-up folder is found above the working directory (tests run in pkg/config)
	last := c[len(c)-1].Path
	if !strings.HasSuffix(last, filepath.Join(".ort", ORTPlatform(), ORTLibraryNames()[0])) {
		t.Errorf("set-up candidate %s", last)
	}
	if _, err := os.Stat(filepath.Dir(filepath.Dir(last))); err != nil {
		t.Errorf("set-up folder not found from the working directory: %v", err)
	}
}

func TestModelsToLoad(t *testing.T) {
	store := t.TempDir()
	list := func(string) ([]string, error) { return []string{"a.mar", "b.mar"}, nil }
	s := Server{ModelStore: store, LoadModels: []string{"digits=digits.mar,iris.mar", "all"}}
	got, err := s.ModelsToLoad(list)
	if err != nil {
		t.Fatal(err)
	}
	var names, files []string
	for _, m := range got {
		names = append(names, m.Name)
		files = append(files, m.File)
	}
	if !slices.Equal(names, []string{"digits", "", "", ""}) || !slices.Equal(files, []string{"digits.mar", "iris.mar", "a.mar", "b.mar"}) {
		t.Errorf("names %q files %q", names, files)
	}
	if got[0].Path != filepath.Join(store, "digits.mar") {
		t.Errorf("path %s", got[0].Path)
	}
	for _, bad := range []Server{
		{LoadModels: []string{"a.mar"}},
		{ModelStore: store, LoadModels: []string{"x=../secret.mar"}},
		{ModelStore: store, LoadModels: []string{"/etc/passwd"}},
	} {
		if _, err := bad.ModelsToLoad(list); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
