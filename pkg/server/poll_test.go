package server

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestPollStore: Triton's poll mode on the model store. An archive replaced in the store
// (here: the same model and version, packed with batchSize 4) reloads its version; one
// replaced by a broken file leaves the loaded version serving; one with another version is
// registered beside as the default; archives unchanged are left alone.
func TestPollStore(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, nil)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"register digits", "POST", "/models?url=digits.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	describe := func(name string) api.Description {
		var d []api.Description
		getJSON(t, ts.management.URL+"/models/"+name, &d)
		return d[0]
	}
	before, digits := describe("iris"), describe("digits")
	seen := map[string]archiveStamp{}
	ts.srv.pollStore(ctx, seen) // the first look only records

	repack := func(version, yaml string) {
		t.Helper()
		res, err := archive.Pack(ctx, archive.PackOptions{ModelName: "iris", Version: version, SerializedFile: testenv.Path("samples/iris/model.onnx"),
			Handler: "tensor", ConfigFile: modelConfig(t, yaml), ExportPath: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(ts.store, "iris.mar")
		if err := os.Rename(res.Path, dst); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Duration(len(seen)) * time.Second) // a change the clock's resolution cannot hide
		os.Chtimes(dst, later, later)
	}

	repack("1.0", "batchSize: 4\n")
	ts.srv.pollStore(ctx, seen)
	after := describe("iris")
	if after.BatchSize != 4 || after.ArchiveSHA256 == before.ArchiveSHA256 || after.State != "READY" {
		t.Errorf("after the archive changed: batchSize %d, sha256 %s (was %s), state %s", after.BatchSize, after.ArchiveSHA256, before.ArchiveSHA256, after.State)
	}
	if d := describe("digits"); d.RegisteredAt != digits.RegisteredAt {
		t.Error("an unchanged archive was reloaded")
	}

	dst := filepath.Join(ts.store, "iris.mar")
	os.WriteFile(dst, []byte("not an archive"), 0o644)
	later := time.Now().Add(time.Hour)
	os.Chtimes(dst, later, later)
	ts.srv.pollStore(ctx, seen)
	exchange{"the loaded version serves on", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", ""}.run(t, ts.inference.URL)
	if d := describe("iris"); d.ArchiveSHA256 != after.ArchiveSHA256 {
		t.Error("a broken archive replaced the loaded version")
	}

	repack("2.0", "batchSize: 2\n")
	os.Chtimes(dst, later.Add(time.Hour), later.Add(time.Hour))
	ts.srv.pollStore(ctx, seen)
	var all []api.Description
	getJSON(t, ts.management.URL+"/models/iris/all", &all)
	if len(all) != 2 {
		t.Fatalf("after an archive of version 2.0: %d versions", len(all))
	}
	for _, d := range all {
		if d.ModelVersion == "2.0" && (!d.Default || d.BatchSize != 2) {
			t.Errorf("version 2.0: default %v, batchSize %d", d.Default, d.BatchSize)
		}
	}
}

// TestPollStoreNewArchives: with load_models=all, an archive that appears in the store while
// the server polls is registered; one there at the first look, or unregistered since and
// unchanged, is not; a broken new one is tried once, and again when it changes.
func TestPollStoreNewArchives(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, map[string]string{"load_models": "all", "default_workers_per_model": "1"})
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	seen := map[string]archiveStamp{}
	ts.srv.pollStore(ctx, seen) // records iris.mar, iris-v2.mar, digits.mar
	models := func() []string {
		var names []string
		for _, e := range ts.reg.List() {
			names = append(names, e.Name)
		}
		return names
	}
	exchange{"unregister iris", "DELETE", "/models/iris", "", nil, 200, "", ""}.run(t, ts.management.URL)
	if _, err := archive.Pack(ctx, archive.PackOptions{ModelName: "fresh", SerializedFile: testenv.Path("samples/iris/model.onnx"),
		Handler: "tensor", ExportPath: ts.store}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ts.store, "broken.mar"), []byte("not yet"), 0o644)
	ts.srv.pollStore(ctx, seen)
	if got := models(); !slices.Equal(got, []string{"fresh"}) {
		t.Fatalf("models after the new archives: %v, want [fresh] (iris unregistered stays out, those there at first are not loaded)", got)
	}
	exchange{"the new model serves", "POST", "/predictions/fresh", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", ""}.run(t, ts.inference.URL)

	// the broken archive, finished: tried again because it changed
	res, _ := archive.Pack(ctx, archive.PackOptions{ModelName: "late", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor", ExportPath: t.TempDir()})
	os.Rename(res.Path, filepath.Join(ts.store, "broken.mar"))
	ts.srv.pollStore(ctx, seen)
	if got := models(); !slices.Equal(got, []string{"fresh", "late"}) {
		t.Errorf("models after the broken archive was finished: %v", got)
	}
}
