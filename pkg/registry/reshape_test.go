package registry

import (
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/tensor"
)

// TestReshaper: config.pbtxt's reshapes turn a request's inputs into the model's shapes (a
// row's values to a scalar, −1 sized by the rest) and the model's outputs into dims; a
// reshape that cannot fit dims is refused, and so is a request that cannot take it.
func TestReshaper(t *testing.T) {
	inputs := []tensor.Info{{Name: "k", DType: tensor.Int64, Shape: []int64{-1}}, {Name: "x", DType: tensor.Float32, Shape: []int64{-1, 2, -1}}}
	outputs := []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 6}}}
	cfg, err := archive.ParseTritonConfig([]byte(`max_batch_size: 4
input [ { name: "k" data_type: TYPE_INT64 dims: [ 1 ] reshape: { shape: [ ] } },
        { name: "x" data_type: TYPE_FP32 dims: [ -1 ] reshape: { shape: [ 2, -1 ] } } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 2, 3 ] reshape: { shape: [ 6 ] } } ]`))
	if err != nil {
		t.Fatal(err)
	}
	r, shown, answered, err := newReshaper(cfg, inputs, outputs)
	if err != nil || r == nil {
		t.Fatal(r, err)
	}
	if !slices.Equal(shown[0].Shape, []int64{-1, 1}) || !slices.Equal(shown[1].Shape, []int64{-1, -1}) || !slices.Equal(answered[0].Shape, []int64{-1, 2, 3}) {
		t.Errorf("requests see %v and %v", shown, answered)
	}
	k := tensor.New([]int64{3, 1}, []int64{1, 2, 3})
	x := tensor.New([]int64{3, 4}, make([]float32, 12))
	in, err := r.in([]*tensor.Tensor{k, x}, inputs)
	if err != nil || !slices.Equal(in[0].Shape, []int64{3}) || !slices.Equal(in[1].Shape, []int64{3, 2, 2}) {
		t.Fatalf("inputs reshaped to %v %v: %v", in[0].Shape, in[1].Shape, err)
	}
	if !slices.Equal(k.Shape, []int64{3, 1}) {
		t.Error("the request's own tensor was changed")
	}
	out, err := r.out([]*tensor.Tensor{tensor.New([]int64{3, 6}, make([]float32, 18))}, outputs)
	if err != nil || !slices.Equal(out[0].Shape, []int64{3, 2, 3}) {
		t.Errorf("output reshaped to %v: %v", out[0].Shape, err)
	}
	if _, err := r.in([]*tensor.Tensor{k, tensor.New([]int64{3, 3}, make([]float32, 9))}, inputs); err == nil || !strings.Contains(err.Error(), `input "x"`) {
		t.Errorf("3 values a row into [2, -1]: %v", err)
	}
	for _, c := range []struct{ config, want string }{
		{`input [ { name: "x" dims: [ 5 ] reshape: { shape: [ 2, 2 ] } } ]`, "5 elements against 4"},
		{`input [ { name: "x" dims: [ -1, -1 ] reshape: { shape: [ 4 ] } } ]`, "at most one"},
	} {
		cfg, _ := archive.ParseTritonConfig([]byte(c.config))
		if _, _, _, err := newReshaper(cfg, inputs, outputs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.config, err, c.want)
		}
	}
	if r, _, _, err := newReshaper(cfg0(t), inputs, outputs); r != nil || err != nil {
		t.Errorf("no reshape: %v %v", r, err)
	}
}

func cfg0(t *testing.T) *oippb.ModelConfig {
	cfg, err := archive.ParseTritonConfig([]byte(`max_batch_size: 4`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
