package archive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

// tritonFolder writes a Triton model folder under a new store: config.pbtxt (none when
// config is ""), a version folder holding the digits sample for each version, and files
// (name → content) in the model folder.
func tritonFolder(t *testing.T, config string, versions []string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "digits")
	model, err := os.ReadFile(testenv.Path("samples/digits/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		os.MkdirAll(filepath.Join(dir, v), 0o755)
		if err := os.WriteFile(filepath.Join(dir, v, "model.onnx"), model, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if config != "" {
		files[TritonConfigFile] = config
	}
	for name, content := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestTritonVersions: the versions a version_policy serves, highest first.
func TestTritonVersions(t *testing.T) {
	have := []string{"1", "2", "10", "03", "x"} // "03" and "x" are not version folders
	for _, c := range []struct {
		name, policy string
		want         []string
		err          string
	}{
		{"no policy: the latest", "", []string{"10"}, ""},
		{"latest 2", "version_policy: { latest { num_versions: 2 } }", []string{"10", "2"}, ""},
		{"latest more than there are", "version_policy: { latest { num_versions: 9 } }", []string{"10", "2", "1"}, ""},
		{"all", "version_policy: { all { } }", []string{"10", "2", "1"}, ""},
		{"specific", "version_policy: { specific { versions: [1, 10, 1] } }", []string{"10", "1"}, ""},
		{"specific, missing", "version_policy: { specific { versions: [4] } }", nil, "no folder 4/"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := tritonFolder(t, c.policy+"\nmax_batch_size: 4\n", have, map[string]string{})
			cfg, err := ReadTritonConfig(dir)
			if err != nil {
				t.Fatal(err)
			}
			got, err := TritonVersions(dir, cfg)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("versions %v (err %v), want %v", got, err, c.want)
			}
		})
	}
	empty := tritonFolder(t, "max_batch_size: 1", nil, map[string]string{})
	if _, err := TritonVersions(empty, nil); err == nil {
		t.Error("a folder without versions: no error")
	}
}

// TestOpenTritonModel: a version of a Triton model folder opens as an archive: a temporary
// folder of links to the version's files, with a manifest made up from config.pbtxt and the
// label file turned into index_to_name.json; closing removes the links, not the model.
func TestOpenTritonModel(t *testing.T) {
	config := `
# as Triton's examples write them, with fields ts does not read
name: "digits-triton"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "input" data_type: TYPE_FP32 dims: [ 1, 8, 8 ] } ]
output [ { name: "logits" data_type: TYPE_FP32 dims: [ 10 ] label_filename: "labels.txt" } ]
optimization { execution_accelerators { cpu_execution_accelerator: [ { name: "openvino" } ] } }
parameters { key: "handler" value: { string_value: "image_classifier" } }
`
	dir := tritonFolder(t, config, []string{"1", "2"}, map[string]string{"labels.txt": "zero\none\r\ntwo\n", "warmup/input": "x"})
	if !IsTritonModel(dir) || IsONNXFile(dir) {
		t.Fatal("the folder is not taken for a Triton model")
	}
	tmp := t.TempDir()
	o, err := OpenVersion(context.Background(), dir, "1", tmp, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	m := o.Manifest.Model
	if m.ModelName != "digits-triton" || m.ModelVersion != "1" || m.Handler != "image_classifier" || m.SerializedFile != "model.onnx" || o.Format != TritonModel || o.Triton == nil {
		t.Errorf("manifest %+v, format %s", m, o.Format)
	}
	if target, err := os.Readlink(o.Path("model.onnx")); err != nil || target != filepath.Join(dir, "1", "model.onnx") {
		t.Errorf("model.onnx links to %q (%v)", target, err)
	}
	if _, err := os.Stat(o.Path("warmup/input")); err != nil {
		t.Errorf("the model folder's warmup/ is not there: %v", err)
	}
	var labels map[string]string
	b, _ := os.ReadFile(o.Path("index_to_name.json"))
	if err := json.Unmarshal(b, &labels); err != nil || labels["0"] != "zero" || labels["1"] != "one" || labels["2"] != "two" || len(labels) != 3 {
		t.Errorf("index_to_name.json %s (%v)", b, err)
	}
	latest, err := OpenVersion(context.Background(), dir, "", tmp, DefaultLimits())
	if err != nil || latest.Manifest.Model.ModelVersion != "2" {
		t.Fatalf("no version asked: %v, %v", latest, err)
	}
	if latest.Digest != o.Digest { // the same config and model bytes
		t.Errorf("digests %s and %s of the same files", latest.Digest, o.Digest)
	}
	for _, opened := range []*Opened{o, latest} {
		if err := opened.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(opened.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after Close", opened.Dir)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "1", "model.onnx")); err != nil {
		t.Errorf("Close removed the model itself: %v", err)
	}
	if _, err := OpenVersion(context.Background(), dir, "3", tmp, DefaultLimits()); err == nil || !strings.Contains(err.Error(), "no version folder 3/") {
		t.Errorf("a missing version: %v", err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("a failed open left %d folders", len(entries))
	}
	keyDir := t.TempDir()
	if _, err := GenerateKey(filepath.Join(keyDir, "k.key"), filepath.Join(keyDir, "k.pub"), false); err != nil {
		t.Fatal(err)
	}
	keys, err := LoadKeyring(filepath.Join(keyDir, "k.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenVersion(context.Background(), dir, "", tmp, Limits{Trusted: keys}); !errors.Is(err, ErrNotSigned) {
		t.Errorf("with trusted keys: %v, want ErrNotSigned", err)
	}
}

// TestTritonConfigRefused: what ts cannot serve as Triton would is refused with a reason.
func TestTritonConfigRefused(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{`platform: "tensorrt_plan"`, "ONNX models only"},
		{`backend: "python"`, "ONNX models only"},
		{`platform: "ensemble"`, "ensemble_scheduling"},
		{`platform: "onnxruntime_onnx" ensemble_scheduling { step [ { model_name: "a" model_version: -1 } ] }`, `platform "ensemble"`},
		{`model_operations { op_library_filename: "libcustom.so" }`, "custom operator"},
		{`max_batch_size: "eight"`, TritonConfigFile},
		{`default_model_filename: "../other.onnx"`, "file name"},
		{`output [ { name: "logits" label_filename: "/etc/passwd" } ]`, "label_filename"},
	} {
		dir := tritonFolder(t, c.config, []string{"1"}, map[string]string{})
		_, err := OpenVersion(context.Background(), dir, "", t.TempDir(), DefaultLimits())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.config, err, c.want)
		}
	}
}

// TestOpenONNXFile: a bare .onnx file opens with the external data it names, named after
// the file, with the tensor handler; the store lists it and Triton model folders.
func TestOpenONNXFile(t *testing.T) {
	src := testenv.Path("pkg/engine/testdata/external.onnx")
	if !IsONNXFile(src) || IsTritonModel(src) {
		t.Fatal("external.onnx is not taken for a bare ONNX file")
	}
	o, err := OpenVersion(context.Background(), src, "", t.TempDir(), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	m := o.Manifest.Model
	if m.ModelName != "external" || m.ModelVersion != "1.0" || m.Handler != PlainHandler || m.SerializedFile != "external.onnx" || o.Format != ONNXFile {
		t.Errorf("manifest %+v", m)
	}
	if _, err := os.Stat(o.Path("external.onnx.data")); err != nil {
		t.Errorf("the external data is not beside the model: %v", err)
	}

	// a model whose external data is outside its folder is refused, nothing linked there
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(t.TempDir(), "m", "escape.onnx")
	os.MkdirAll(filepath.Dir(escape), 0o755)
	os.WriteFile(escape, bytes.ReplaceAll(b, []byte("external.onnx.data"), []byte("../external.onxdat")), 0o644)
	tmp := t.TempDir()
	if _, err := OpenVersion(context.Background(), escape, "", tmp, DefaultLimits()); err == nil || !strings.Contains(err.Error(), `external data "../external.onxdat"`) {
		t.Errorf("external data outside the model's folder: %v", err)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("a refused model left %d folders", len(entries))
	}

	store := t.TempDir()
	os.WriteFile(filepath.Join(store, "a.onnx"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(store, "b.mar"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(store, "notes.txt"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(store, "triton", "1"), 0o755)
	os.MkdirAll(filepath.Join(store, "empty"), 0o755)
	os.MkdirAll(filepath.Join(store, "configured"), 0o755)
	os.WriteFile(filepath.Join(store, "configured", TritonConfigFile), nil, 0o644)
	got, err := List(store)
	if want := []string{"a.onnx", "b.mar", "configured", "triton"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("List: %v (%v), want %v", got, err, want)
	}
}

// TestInspectPlain: Inspect shows a bare ONNX file and a Triton model folder as the server
// sees them: the manifest made up for them, the model's signature, their files.
func TestInspectPlain(t *testing.T) {
	info, err := Inspect(testenv.Path("pkg/engine/testdata/external.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range info.Entries {
		paths = append(paths, e.Path)
	}
	if info.Format != ONNXFile || info.Manifest.Model.ModelName != "external" || info.Manifest.Signature == nil ||
		len(info.Manifest.Signature.Inputs) != 1 || info.Manifest.Signature.Inputs[0].Name != "x" || !slices.Equal(paths, []string{"external.onnx", "external.onnx.data"}) {
		t.Errorf("bare file: %+v, files %v", info.Manifest, paths)
	}
	dir := tritonFolder(t, `name: "d" output [ { name: "logits" label_filename: "l.txt" } ]`, []string{"4"}, map[string]string{"l.txt": "a\nb\n"})
	info, err = Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	paths = nil
	for _, e := range info.Entries {
		paths = append(paths, e.Path)
	}
	if info.Format != TritonModel || info.Manifest.Model.ModelVersion != "4" || len(info.Manifest.Signature.Outputs) != 1 || !slices.Equal(paths, []string{"index_to_name.json", "model.onnx"}) {
		t.Errorf("Triton folder: %+v, files %v", info.Manifest, paths)
	}
}

// TestStoreNames: the model names of store entries, and back.
func TestStoreNames(t *testing.T) {
	for entry, name := range map[string]string{"iris.mar": "iris", "a.b.tar.gz": "a.b", "m.tgz": "m", "m.tar.zst": "m", "resnet.onnx": "resnet", "R.ONNX": "R", "densenet": "densenet", "notes.txt": "notes.txt"} {
		if got := StoreName(entry); got != name {
			t.Errorf("StoreName(%q) = %q, want %q", entry, got, name)
		}
		if IsModelFileName(entry) == (entry == "densenet" || entry == "notes.txt") {
			t.Errorf("IsModelFileName(%q) = %v", entry, !IsModelFileName(entry))
		}
	}
	if got := StoreEntries("m"); !slices.Equal(got, []string{"m.mar", "m.tar.gz", "m.tgz", "m.tar.zst", "m", "m.onnx"}) {
		t.Errorf("StoreEntries: %v", got)
	}
}
