package client

import (
	"testing"

	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/tensor"
)

// TestNewV2Request: the binary request reads back, through the server's decoder, as the
// tensors given (numbers and strings), asking for binary outputs.
func TestNewV2Request(t *testing.T) {
	x := tensor.New([]int64{2, 2}, []float32{1, 2, 3, 4})
	ids := tensor.New([]int64{1}, []int64{7})
	words := tensor.NewStrings([]int64{2}, []string{"a", "bcd"})
	r, err := NewV2Request([]V2Input{{"x", x}, {"ids:0", ids}, {"words", words}})
	if err != nil {
		t.Fatal(err)
	}
	infos := []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 2}}, {Name: "ids:0", DType: tensor.Int64, Shape: []int64{1}}, {Name: "words", DType: tensor.String, Shape: []int64{-1}}}
	req, err := handler.DecodeV2(r.Body, r.HeaderLen, infos, []tensor.Info{{Name: "y", DType: tensor.Float32}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []*tensor.Tensor{x, ids, words} {
		if !tensor.Equal(req.Inputs[i], want) {
			t.Errorf("input %d: %+v, want %+v", i, req.Inputs[i], want)
		}
	}
	if !req.BinaryOutput {
		t.Error("binary outputs not asked for")
	}
}
