package onnx

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

func TestReadFile(t *testing.T) {
	cases := []struct {
		path    string
		inputs  []string
		outputs []string
	}{
		{"samples/digits/model.onnx", []string{"input: float32[-1,1,8,8]"}, []string{"logits: float32[-1,10]"}},
		{"samples/digits/model_fp16.onnx", []string{"input: float16[-1,1,8,8]"}, []string{"logits: float16[-1,10]"}},
		{"samples/iris/model.onnx", []string{"features: float32[-1,4]"}, []string{"probabilities: float32[-1,3]"}},
		{"pkg/engine/testdata/alltypes.onnx",
			[]string{"x:float32: float32[-1,3]", "x:float16: float16[-1,3]", "x:float64: float64[-1,3]", "x:int64: int64[-1,3]",
				"x:int32: int32[-1,3]", "x:int8: int8[-1,3]", "x:uint8: uint8[-1,3]", "x:bool: bool[-1,3]", "k: int64[]"},
			[]string{"y:float32: float32[-1,3]", "y:float16: float16[-1,3]", "y:float64: float64[-1,3]", "y:int64: int64[-1,3]",
				"y:int32: int32[-1,3]", "y:int8: int8[-1,3]", "y:uint8: uint8[-1,3]", "y:bool: bool[-1,3]", "k_twice: int64[]"}},
	}
	for _, c := range cases {
		t.Run(c.path, func(t *testing.T) {
			m, err := ReadFile(testenv.Path(c.path))
			if err != nil {
				t.Fatal(err)
			}
			check := func(kind string, got []string, want []string) {
				if len(got) != len(want) {
					t.Fatalf("%s: got %v, want %v", kind, got, want)
				}
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("%s %d: got %q, want %q", kind, i, got[i], want[i])
					}
				}
			}
			var ins, outs []string
			for _, i := range m.Inputs {
				ins = append(ins, i.String())
			}
			for _, o := range m.Outputs {
				outs = append(outs, o.String())
			}
			check("inputs", ins, c.inputs)
			check("outputs", outs, c.outputs)
			if m.IRVersion < 3 {
				t.Errorf("IR version %d", m.IRVersion)
			}
		})
	}
	m, err := ReadFile(testenv.Path("samples/digits/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Inputs[0].DimNames[0] != "batch" || m.Opset != 13 || m.ProducerName != "pytorch" {
		t.Errorf("dim names %q, opset %d, producer %q", m.Inputs[0].DimNames, m.Opset, m.ProducerName)
	}
}

// TestNonTensorOutputs: a sequence of maps (skl2onnx's ZipMap) reads as a tensor [rows,
// keys] of its values; another output that is not a tensor (a sequence of tensors) is left
// out, with a note; a model with no output ts can serve is refused.
func TestNonTensorOutputs(t *testing.T) {
	m, err := ReadFile(testenv.Path("pkg/engine/testdata/zipmap.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, o := range m.Outputs {
		outs = append(outs, o.String())
	}
	if want := []string{"output_label: int64[-1]", "output_probability: float32[-1,-1]"}; !slices.Equal(outs, want) {
		t.Errorf("outputs %q, want %q", outs, want)
	}
	if !slices.Equal(m.FromMaps, []string{"output_probability"}) || m.Unserved != nil {
		t.Errorf("from maps %q, unserved %v", m.FromMaps, m.Unserved)
	}
	m, err = ReadFile(testenv.Path("pkg/engine/testdata/seqtensors.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []NonTensor{{Name: "parts", Kind: "a sequence of tensors"}}; len(m.Outputs) != 1 || len(m.Unserved) != 1 || m.Unserved[0] != want[0] {
		t.Errorf("outputs %v, unserved %v, want y and %v", m.Outputs, m.Unserved, want)
	}
	if note := m.Unserved[0].Note(); !strings.Contains(note, `output "parts" is a sequence of tensors, not a tensor: ts leaves it out`) {
		t.Errorf("note %q", note)
	}
	_, err = ReadFile(testenv.Path("pkg/engine/testdata/seqonly.onnx"))
	if err == nil || errors.Is(err, ErrNotONNX) || !strings.Contains(err.Error(), `no output is a tensor ("parts" is a sequence of tensors): ts serves tensor outputs only`) {
		t.Errorf("a model with a sequence as its only output: %v", err)
	}
}

// TestNoShape: an input and output whose shape the file leaves out (not even a rank) read
// as any shape, which is not a scalar's.
func TestNoShape(t *testing.T) {
	m, err := ReadFile(testenv.Path("pkg/engine/testdata/norank.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Inputs[0].String() + " " + m.Outputs[0].String(); got != "x: float32[...] y: float32[...]" {
		t.Errorf("signature %q", got)
	}
	m, err = ReadFile(testenv.Path("pkg/engine/testdata/alltypes.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if k := m.Inputs[len(m.Inputs)-1]; k.AnyShape() || k.NamedShape() != "[]" {
		t.Errorf("the scalar k reads as %v", k)
	}
}

// TestExternalData: a model that keeps its weights in another file names that file.
func TestExternalData(t *testing.T) {
	m, err := ReadFile(testenv.Path("pkg/engine/testdata/external.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.ExternalData, []string{"external.onnx.data"}) {
		t.Errorf("external data %q, want external.onnx.data", m.ExternalData)
	}
	if m, err = ReadFile(testenv.Path("samples/iris/model.onnx")); err != nil || m.ExternalData != nil {
		t.Errorf("iris: external data %q, %v", m.ExternalData, err)
	}
}

func TestHint(t *testing.T) {
	for name, hinted := range map[string]bool{"model.pt": true, "weights.PTH": true, "model.safetensors": true, "clf.joblib": true,
		"saved_model.pb": true, "model.onnx": false, "notes.txt": false, "model": false} {
		if got := Hint(name) != ""; got != hinted {
			t.Errorf("Hint(%q): %q", name, Hint(name))
		}
	}
}

func TestNotONNX(t *testing.T) {
	png, err := os.ReadFile(testenv.Path("samples/digits/3.png"))
	if err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(testenv.Path("samples/iris/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":     {},
		"png":       png,
		"json":      []byte(`{"inputs": {"x": [1, 2, 3]}}`),
		"text":      []byte("hello, world\n"),
		"truncated": model[:len(model)/2],
		"zeros":     make([]byte, 1000),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(b), int64(len(b)))
			if !errors.Is(err, ErrNotONNX) {
				t.Errorf("err = %v, want ErrNotONNX", err)
			}
		})
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing.onnx")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ReadFile(t.TempDir()); err == nil {
		t.Error("a folder read as a model")
	}
}

func FuzzRead(f *testing.F) {
	model, err := os.ReadFile(testenv.Path("samples/iris/model.onnx"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(model)
	f.Add([]byte{0x08, 0x07, 0x3a, 0x02, 0x5a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Read(bytes.NewReader(b), int64(len(b)))
		if err == nil && (m.IRVersion <= 0) {
			t.Fatalf("accepted a model without an IR version")
		}
	})
}
