package onnxgen

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/internal/enginetest"
	"github.com/tsserve/ts/pkg/onnx"
	"github.com/tsserve/ts/pkg/tensor"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

// TestGeneratedModelRuns: the model loads in ONNX Runtime and computes Gemm(tanh chain).
func TestGeneratedModelRuns(t *testing.T) {
	for _, s := range []Spec{{Dim: 8, Out: 3}, {Dim: 16, Out: 4, Depth: 3}} {
		path := filepath.Join(t.TempDir(), "m.onnx")
		if err := Write(path, s); err != nil {
			t.Fatal(err)
		}
		sig, err := onnx.ReadFile(path)
		if err != nil || sig.Inputs[0].String() != fmt.Sprintf("x: float32[-1,%d]", s.Dim) || sig.Outputs[0].String() != fmt.Sprintf("y: float32[-1,%d]", s.Out) {
			t.Fatalf("signature %+v %v", sig, err)
		}
		sess, err := engine.Load(path, engine.Options{})
		if err != nil {
			t.Fatal(err)
		}
		in := make([]float32, 2*s.Dim)
		for i := range in {
			in[i] = float32(i%5) / 5
		}
		out, err := sess.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{2, int64(s.Dim)}, in)})
		sess.Close()
		if err != nil {
			t.Fatal(err)
		}
		v, _ := tensor.Values[float32](out[0])
		if len(v) != 2*s.Out {
			t.Fatalf("output %v", out[0].Shape)
		}
		for _, x := range v {
			if math.IsNaN(float64(x)) || math.Abs(float64(x)) > 100 {
				t.Fatalf("output values %v", v)
			}
		}
	}
}
