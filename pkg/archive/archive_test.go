package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedTime = func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }

// sampleTree makes a folder of extra files with a subfolder, a hidden file and __pycache__.
func sampleTree(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "assets")
	for name, body := range map[string]string{
		"vocab.txt":            "a\nb\n",
		"sub/deeper/notes.md":  "# notes\n",
		".hidden":              "skip me",
		"__pycache__/x.pyc":    "skip me",
		"sub/__pycache__/y.py": "skip me",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func packDigits(t *testing.T, dir string, f Format, extra ...string) *Result {
	t.Helper()
	res, err := Pack(context.Background(), PackOptions{
		ModelName: "digits", Version: "1.0", SerializedFile: testenv.Path("samples/digits/model.onnx"), Handler: "image_classifier",
		ExtraFiles: append([]string{testenv.Path("samples/digits/index_to_name.json")}, extra...), ExportPath: dir, Format: f,
		Now: fixedTime, ArchiverVersion: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRoundTrip(t *testing.T) {
	assets := sampleTree(t)
	model, _ := os.ReadFile(testenv.Path("samples/digits/model.onnx"))
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			res := packDigits(t, dir, f, assets)
			if want := filepath.Join(dir, f.OutputName("digits")); res.Path != want {
				t.Errorf("wrote %s, want %s", res.Path, want)
			}
			if st, err := os.Stat(res.Path); err != nil {
				t.Error(err)
			} else if f != Folder && st.Mode().Perm() != 0o644 {
				t.Errorf("archive mode %v, want -rw-r--r--", st.Mode())
			}
			if got, err := Detect(res.Path); err != nil || (got != f && !(f == ZipStore && got == Default)) {
				t.Errorf("Detect = %v, %v", got, err)
			}
			wantFiles := []string{"index_to_name.json", "model.onnx", "sub/deeper/notes.md", "vocab.txt"}
			var got []string
			for _, x := range res.Manifest.Files {
				got = append(got, x.Path)
			}
			slices.Sort(got)
			if !slices.Equal(got, wantFiles) {
				t.Errorf("manifest files %v, want %v", got, wantFiles)
			}
			if _, err := Verify(context.Background(), res.Path, DefaultLimits()); err != nil {
				t.Fatalf("verify: %v", err)
			}
			info, err := Inspect(res.Path)
			if err != nil {
				t.Fatalf("inspect: %v", err)
			}
			if len(info.Entries) != len(wantFiles) || info.Manifest.Model.SerializedFile != "model.onnx" {
				t.Errorf("inspect: %+v", info)
			}
			dest := filepath.Join(t.TempDir(), "out")
			m, err := Extract(context.Background(), res.Path, dest, DefaultLimits())
			if err != nil {
				t.Fatalf("extract: %v", err)
			}
			if m.Model.ModelName != "digits" || m.Signature == nil || m.Signature.Inputs[0].Name != "input" {
				t.Errorf("manifest %+v", m)
			}
			if b, _ := os.ReadFile(filepath.Join(dest, "model.onnx")); !bytes.Equal(b, model) {
				t.Error("extracted model differs from the original")
			}
			if b, _ := os.ReadFile(filepath.Join(dest, "sub", "deeper", "notes.md")); string(b) != "# notes\n" {
				t.Errorf("nested extra file: %q", b)
			}
			o, err := Open(context.Background(), res.Path, filepath.Join(dir, "tmp"), DefaultLimits())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(o.Path("vocab.txt")); err != nil || len(o.Digest) != 64 {
				t.Errorf("open: %v digest %q", err, o.Digest)
			}
			o.Close()
			if f != Folder {
				if _, err := os.Stat(o.Dir); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("Close left %s", o.Dir)
				}
			}
			assertNoTemp(t, dir)
		})
	}
}

// TestPackNotes: packing a classifier as skl2onnx exports it notes how its sequence of maps
// is served, a model with a sequence of tensors that it is left out, and a model using a
// custom operator library's operators that the server will not load it.
func TestPackNotes(t *testing.T) {
	for model, want := range map[string]string{
		"zipmap":     `output "output_probability" is a sequence of maps (as skl2onnx's ZipMap writes probabilities): ts serves it as a tensor [rows, keys]`,
		"seqtensors": `output "parts" is a sequence of tensors, not a tensor: ts leaves it out`,
		"contrib":    `the model uses operators of ai.onnx.contrib, which ONNX Runtime does not implement`,
	} {
		res, err := Pack(context.Background(), PackOptions{ModelName: model, SerializedFile: testenv.Path("pkg/engine/testdata/" + model + ".onnx"),
			Handler: "tensor", ExportPath: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], want) {
			t.Errorf("%s: notes %q, want one containing %q", model, res.Notes, want)
		}
	}
}

// TestPackExternalData: a model's external data file goes into the archive beside it, also
// when given again with --extra-files (once); a missing one, or one outside the model's
// folder, fails the packing; --fp16 refuses such a model. Extra files given twice are stored
// once.
func TestPackExternalData(t *testing.T) {
	model := testenv.Path("pkg/engine/testdata/external.onnx")
	data := testenv.Path("pkg/engine/testdata/external.onnx.data")
	names := func(res *Result) []string {
		var out []string
		for _, f := range res.Manifest.Files {
			out = append(out, f.Path)
		}
		slices.Sort(out)
		return out
	}
	res, err := Pack(context.Background(), PackOptions{ModelName: "ext", SerializedFile: model, Handler: "tensor", ExportPath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res); !slices.Equal(got, []string{"external.onnx", "external.onnx.data"}) {
		t.Errorf("files %q", got)
	}
	labels := testenv.Path("samples/iris/index_to_name.json")
	res, err = Pack(context.Background(), PackOptions{ModelName: "ext", SerializedFile: model, Handler: "tensor", ExportPath: t.TempDir(),
		ExtraFiles: []string{labels, filepath.Join(filepath.Dir(data), ".", "external.onnx.data"), labels}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res); !slices.Equal(got, []string{"external.onnx", "external.onnx.data", "index_to_name.json"}) {
		t.Errorf("files %q", got)
	}
	if _, err := Pack(context.Background(), PackOptions{ModelName: "ext", SerializedFile: model, Handler: "tensor", ExportPath: t.TempDir(), FP16: true}); err == nil ||
		!strings.Contains(err.Error(), "--fp16 converts weights stored in the model file; this model keeps them in external.onnx.data") {
		t.Errorf("--fp16: %v", err)
	}
	alone := filepath.Join(t.TempDir(), "external.onnx")
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(alone, b, 0o644)
	out := t.TempDir()
	if _, err := Pack(context.Background(), PackOptions{ModelName: "ext", SerializedFile: alone, Handler: "tensor", ExportPath: out}); err == nil ||
		!strings.Contains(err.Error(), "serialized file: its external data: stat ") {
		t.Errorf("without its data file: %v", err)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("a failed packing left %v", left)
	}
	escaping := filepath.Join(t.TempDir(), "escaping.onnx")
	os.WriteFile(escaping, bytes.Replace(b, []byte("external.onnx.data"), []byte("../etc/passwd.data"), 1), 0o644)
	if _, err := Pack(context.Background(), PackOptions{ModelName: "ext", SerializedFile: escaping, Handler: "tensor", ExportPath: t.TempDir()}); err == nil ||
		!strings.Contains(err.Error(), `its external data "../etc/passwd.data" is not a path below the model's folder`) {
		t.Errorf("external data outside the folder: %v", err)
	}
}

// TestDefaultStoresWeights: the default .mar stores the weights and deflates small files.
func TestDefaultStoresWeights(t *testing.T) {
	res := packDigits(t, t.TempDir(), Default)
	zr, err := zip.OpenReader(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	methods := map[string]uint16{}
	for _, f := range zr.File {
		methods[f.Name] = f.Method
	}
	if methods["model.onnx"] != zip.Store || methods["index_to_name.json"] != zip.Deflate || methods[ManifestPath] != zip.Deflate {
		t.Errorf("methods %v", methods)
	}
}

func TestGoldenManifest(t *testing.T) {
	req := filepath.Join(t.TempDir(), "requirements.txt")
	os.WriteFile(req, []byte("numpy\n"), 0o644)
	res, err := Pack(context.Background(), PackOptions{
		ModelName: "iris", Version: "2.1", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor",
		ExtraFiles: []string{testenv.Path("samples/iris/index_to_name.json")}, ExportPath: t.TempDir(),
		RequirementsFile: req, Description: "iris flowers",
		Now: fixedTime, ArchiverVersion: "test",
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(res.Manifest, "", "  ")
	golden := filepath.Join("testdata", "golden_manifest.json")
	if *update {
		os.WriteFile(golden, append(got, '\n'), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got)+"\n" != string(want) {
		t.Errorf("manifest differs from %s (rerun with -update if intended):\n%s", golden, got)
	}
}

// TestTorchServeArchive reads a .mar laid out by torch-model-archiver, without ts's fields.
func TestTorchServeArchive(t *testing.T) {
	src := filepath.Join("testdata", "torchserve.mar")
	m, err := Verify(context.Background(), src, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if m.Model.ModelName != "iris" || m.Model.ModelVersion != "2.0" || m.Model.Handler != "tensor" || len(m.Files) != 0 || m.Signature != nil {
		t.Errorf("manifest %+v", m)
	}
	if m.Created().Year() != 2025 {
		t.Errorf("createdOn %q", m.CreatedOn)
	}
	o, err := Open(context.Background(), src, t.TempDir(), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := os.Stat(o.Path("model.onnx")); err != nil {
		t.Error(err)
	}
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestPackHandlerOnly: with no --serialized-file (a custom handler that runs its own model,
// as torch-model-archiver allows), the archive holds the handler, names no model and records
// no signature, and reads back whole.
func TestPackHandlerOnly(t *testing.T) {
	res, err := Pack(context.Background(), PackOptions{ModelName: "echo", Handler: testenv.Path("pkg/handler/testdata/takeover.py"), ExportPath: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Verify(context.Background(), res.Path, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Model.SerializedFile != "" || m.Signature != nil || m.Model.Handler != "takeover.py" || len(m.Files) != 1 || m.Files[0].Path != "takeover.py" {
		t.Errorf("manifest: %+v, files %+v", m.Model, m.Files)
	}
	raw, _ := json.Marshal(m)
	if strings.Contains(string(raw), "serializedFile") {
		t.Errorf("the manifest names a serializedFile: %s", raw)
	}
}

func TestPackErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	good := PackOptions{ModelName: "m", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor", ExportPath: dir}
	cases := []struct {
		name string
		edit func(*PackOptions)
		want string
	}{
		{"bad name", func(o *PackOptions) { o.ModelName = "-bad/name" }, "invalid model name"},
		{"empty name", func(o *PackOptions) { o.ModelName = "" }, "invalid model name"},
		{"bad version", func(o *PackOptions) { o.Version = "1/2" }, "invalid model version"},
		{"unknown runtime", func(o *PackOptions) { o.Runtime = "java" }, "Invalid RuntimeType value: java (one of python, python3, LSP, onnx)"},
		{"missing model", func(o *PackOptions) { o.SerializedFile = filepath.Join(dir, "nope.onnx") }, "no such file"},
		{"no model for a built-in handler", func(o *PackOptions) { o.SerializedFile = "" }, "--serialized-file is required: the .onnx model the built-in handler tensor runs"},
		{"fp16 with no model", func(o *PackOptions) {
			o.SerializedFile, o.Handler, o.FP16 = "", testenv.Path("pkg/handler/testdata/takeover.py"), true
		}, "--fp16 converts the weights of --serialized-file, and none is given"},
		{"not onnx", func(o *PackOptions) { o.SerializedFile = testenv.Path("samples/digits/3.png") }, "not an ONNX model"},
		{"unknown handler", func(o *PackOptions) { o.Handler = "nonexistent_handler" }, `unknown handler "nonexistent_handler"`},
		{"no handler", func(o *PackOptions) { o.Handler = "" }, "--handler is required"},
		{"unknown format", func(o *PackOptions) { o.Format = "rar" }, `unknown archive format "rar"`},
		{"export path is a file", func(o *PackOptions) { o.ExportPath = notDir }, "is not a folder"},
		{"missing extra file", func(o *PackOptions) { o.ExtraFiles = []string{filepath.Join(dir, "nope.json")} }, "extra file"},
		{"missing config", func(o *PackOptions) { o.ConfigFile = filepath.Join(dir, "nope.yaml") }, "config file"},
		{"duplicate names", func(o *PackOptions) {
			o.ExtraFiles = []string{testenv.Path("samples/iris/index_to_name.json"), testenv.Path("samples/digits/index_to_name.json")}
		}, "would both be stored"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := good
			c.edit(&o)
			_, err := Pack(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "m.mar")); err == nil {
				t.Error("an archive was written")
			}
			assertNoTemp(t, dir)
		})
	}
}

func TestForce(t *testing.T) {
	for _, f := range []Format{Default, Folder} {
		t.Run(string(f), func(t *testing.T) {
			dir := t.TempDir()
			first := packDigits(t, dir, f)
			before, _ := os.ReadFile(filepath.Join(first.Path, ManifestPath))
			if f != Folder {
				before, _ = os.ReadFile(first.Path)
			}
			o := PackOptions{ModelName: "digits", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor", ExportPath: dir, Format: f}
			if _, err := Pack(context.Background(), o); err == nil || !strings.Contains(err.Error(), "already exists; use --force") {
				t.Fatalf("second pack without force: %v", err)
			}
			after, _ := os.ReadFile(filepath.Join(first.Path, ManifestPath))
			if f != Folder {
				after, _ = os.ReadFile(first.Path)
			}
			if !bytes.Equal(before, after) {
				t.Error("the existing archive was changed without --force")
			}
			o.Force = true
			res, err := Pack(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Verify(context.Background(), res.Path, DefaultLimits())
			if err != nil || m.Model.Handler != "tensor" {
				t.Errorf("forced archive: %v %+v", err, m)
			}
			assertNoTemp(t, dir)
		})
	}
}

// TestCancelLeavesNothing cancels packing half-way through a large file.
func TestCancelLeavesNothing(t *testing.T) {
	big := filepath.Join(t.TempDir(), "zeros.txt")
	f, _ := os.Create(big)
	f.Truncate(4 << 30) // sparse: costs no disk
	f.Close()
	for _, format := range Formats {
		t.Run(string(format), func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel()
			_, err := Pack(ctx, PackOptions{ModelName: "m", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor",
				ExtraFiles: []string{big}, ExportPath: dir, Format: format})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v, want the deadline", err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}

// zipOf builds a zip from name → content; a name ending in "@link" becomes a symlink.
func zipOf(t *testing.T, files [][2]string) string {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		name, body := f[0], f[1]
		h := &zip.FileHeader{Name: strings.TrimSuffix(name, "@link"), Method: zip.Deflate}
		if strings.HasSuffix(name, "@link") {
			h.SetMode(os.ModeSymlink | 0o777)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), "bad.mar")
	os.WriteFile(p, b.Bytes(), 0o644)
	return p
}

func manifestFor(files map[string]string) string {
	m := Manifest{Runtime: "python", Model: Model{ModelName: "m", ModelVersion: "1.0", SerializedFile: "model.onnx", Handler: "tensor"}}
	for name, body := range files {
		sum := sha256hex([]byte(body))
		m.Files = append(m.Files, File{Path: name, Size: int64(len(body)), SHA256: sum})
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestBadArchives(t *testing.T) {
	good := map[string]string{"model.onnx": "weights"}
	man := manifestFor(good)
	bigZeros := strings.Repeat("\x00", 8<<20)
	valid := packDigits(t, t.TempDir(), Default).Path
	validBytes, _ := os.ReadFile(valid)
	corrupt := bytes.Clone(validBytes)
	i := bytes.Index(corrupt, []byte("ir_version")) // inside the stored model
	if i < 0 {
		i = 200
	}
	corrupt[i+40] ^= 0xff
	write := func(b []byte) string {
		p := filepath.Join(t.TempDir(), "x.mar")
		os.WriteFile(p, b, 0o644)
		return p
	}
	cases := []struct {
		name string
		path string
		lim  Limits
		want error
	}{
		{"zip slip", zipOf(t, [][2]string{{"../evil.txt", "x"}, {ManifestPath, man}, {"model.onnx", "weights"}}), Limits{}, ErrUnsafePath},
		{"absolute path", zipOf(t, [][2]string{{"/etc/evil", "x"}, {ManifestPath, man}}), Limits{}, ErrUnsafePath},
		{"backslash slip", zipOf(t, [][2]string{{`..\evil`, "x"}, {ManifestPath, man}}), Limits{}, ErrUnsafePath},
		{"symlink", zipOf(t, [][2]string{{"model.onnx@link", "/etc/passwd"}, {ManifestPath, man}}), Limits{}, ErrUnsafePath},
		{"duplicate entry", zipOf(t, [][2]string{{"model.onnx", "weights"}, {"model.onnx", "weights"}, {ManifestPath, man}}), Limits{}, ErrDuplicateEntry},
		{"zip bomb ratio", zipOf(t, [][2]string{{"zeros.bin", bigZeros}, {ManifestPath, man}, {"model.onnx", "weights"}}), Limits{MaxRatio: 100}, ErrCompressionRatio},
		{"size limit", zipOf(t, [][2]string{{"model.onnx", "weights"}, {"zeros.bin", bigZeros}, {ManifestPath, man}}), Limits{MaxSize: 1 << 20}, ErrTooLarge},
		{"too many files", zipOf(t, [][2]string{{"a", ""}, {"b", ""}, {"c", ""}, {ManifestPath, man}}), Limits{MaxFiles: 2}, ErrTooManyFiles},
		{"no manifest", zipOf(t, [][2]string{{"model.onnx", "weights"}}), Limits{}, ErrNoManifest},
		{"missing serialized file", zipOf(t, [][2]string{{ManifestPath, manifestFor(nil)}}), Limits{}, ErrMissingModel},
		{"listed file missing", zipOf(t, [][2]string{{ManifestPath, manifestFor(map[string]string{"model.onnx": "weights", "labels.json": "{}"})}, {"model.onnx", "weights"}}), Limits{}, ErrMissingFile},
		{"file differs", zipOf(t, [][2]string{{ManifestPath, man}, {"model.onnx", "tampered"}}), Limits{}, ErrDigestMismatch},
		{"extra file", zipOf(t, [][2]string{{ManifestPath, man}, {"model.onnx", "weights"}, {"extra.py", "import os"}}), Limits{}, ErrExtraFile},
		{"truncated", write(validBytes[:len(validBytes)*2/3]), Limits{}, ErrCorrupt},
		{"corrupt byte", write(corrupt), Limits{}, ErrCorrupt},
		{"not an archive", write([]byte("just some text")), Limits{}, ErrUnknownFormat},
		{"tar link", tarOf(t, []tarFile{{name: "m/link", link: "../../etc/passwd"}, {name: "m/" + ManifestPath, body: man}}), Limits{}, ErrUnsafePath},
		{"tar slip", tarOf(t, []tarFile{{name: "../x", body: "x"}, {name: ManifestPath, body: man}}), Limits{}, ErrUnsafePath},
		{"tar bomb ratio", tarOf(t, []tarFile{{name: "zeros.bin", body: bigZeros}, {name: ManifestPath, body: man}, {name: "model.onnx", body: "weights"}}), Limits{MaxRatio: 100}, ErrCompressionRatio},
		{"tar two top folders", tarOf(t, []tarFile{{name: "a/model.onnx", body: "weights"}, {name: "b/" + ManifestPath, body: man}}), Limits{}, ErrNoManifest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(context.Background(), c.path, c.lim)
			if !errors.Is(err, c.want) {
				t.Errorf("verify: %v, want %v", err, c.want)
			}
			dest := filepath.Join(t.TempDir(), "out")
			if _, err := Extract(context.Background(), c.path, dest, c.lim); !errors.Is(err, c.want) {
				t.Errorf("extract: %v, want %v", err, c.want)
			}
			if _, err := os.Stat(dest); !errors.Is(err, os.ErrNotExist) {
				t.Error("a failed extraction left its folder")
			}
			assertNoTemp(t, filepath.Dir(dest))
			if _, err := os.Stat(filepath.Join(filepath.Dir(dest), "..", "evil.txt")); err == nil {
				t.Error("zip slip wrote outside the destination")
			}
		})
	}
}

func TestFolderLinks(t *testing.T) {
	dir := packDigits(t, t.TempDir(), Folder).Path
	if _, err := Verify(context.Background(), dir, DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/etc/passwd", filepath.Join(dir, "passwd"))
	if _, err := Verify(context.Background(), dir, DefaultLimits()); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("link outside the folder: %v", err)
	}
}

type tarFile struct{ name, body, link string }

func tarOf(t *testing.T, files []tarFile) string {
	t.Helper()
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}
		if f.link != "" {
			h = &tar.Header{Name: f.name, Linkname: f.link, Typeflag: tar.TypeSymlink}
		}
		tw.WriteHeader(h)
		io.WriteString(tw, f.body)
	}
	tw.Close()
	gz.Close()
	p := filepath.Join(t.TempDir(), "bad.tar.gz")
	os.WriteFile(p, b.Bytes(), 0o644)
	return p
}

// TestExtraFilesPatterns: --extra-files takes wildcard patterns (quoted, the shell leaves them);
// a pattern that matches nothing is an error.
func TestExtraFilesPatterns(t *testing.T) {
	src := t.TempDir()
	for _, name := range []string{"a.json", "b.json", "notes.txt"} {
		os.WriteFile(filepath.Join(src, name), []byte(name), 0o644)
	}
	o := PackOptions{ModelName: "m", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor",
		ExportPath: t.TempDir(), Format: Folder, ExtraFiles: []string{filepath.Join(src, "*.json")}}
	res, err := Pack(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a.json": true, "b.json": true, "notes.txt": false} {
		if _, err := os.Stat(filepath.Join(res.Path, name)); (err == nil) != want {
			t.Errorf("%s in the archive: %v, want %v", name, err == nil, want)
		}
	}
	o.ExtraFiles, o.Force = []string{filepath.Join(src, "*.yaml")}, true
	if _, err := Pack(context.Background(), o); err == nil || !strings.Contains(err.Error(), "matches no file") {
		t.Errorf("a pattern matching nothing: %v", err)
	}
}
