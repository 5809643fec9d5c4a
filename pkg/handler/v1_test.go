package handler

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

func TestDecodeV1(t *testing.T) {
	for _, c := range []struct {
		name, body string
		instances  int
		columnar   bool
		err        string
	}{
		{"instances", `{"instances": [[1, 2], [3, 4]]}`, 2, false, ""},
		{"columnar", `{"inputs": {"x": [[1, 2]]}}`, 0, true, ""},
		{"both", `{"instances": [1], "inputs": [1]}`, 0, false, `both "instances" and "inputs"`},
		{"neither", `{"data": [1]}`, 0, false, `no "instances"`},
		{"no instances in the list", `{"instances": []}`, 0, false, `"instances" must be a list of one or more items, not an array`},
		{"instances not a list", `{"instances": 3}`, 0, false, `not 3`},
		{"not an object", `[[1, 2]]`, 0, false, `must be a JSON object {"instances": [...]} or {"inputs": ...}, not an array`},
		{"not JSON", `instances`, 0, false, "not valid JSON"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := DecodeV1([]byte(c.body))
			if failsAs(t, err, c.err) {
				return
			}
			if len(req.Instances) != c.instances || req.Columnar != c.columnar {
				t.Fatalf("%+v", req)
			}
		})
	}
}

func TestV1Tensors(t *testing.T) {
	one := []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 2}}}
	fixed := []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{1, 2, 2}}} // exported with a batch of 1
	two := []tensor.Info{{Name: "ids", DType: tensor.Int64, Shape: []int64{-1, 2}}, {Name: "k", DType: tensor.Int64, Shape: []int64{}}}
	decode := func(s string) any {
		var v any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		dec.Decode(&v)
		return v
	}
	for _, c := range []struct {
		name   string
		inputs []tensor.Info
		value  string
		shapes string
		err    string
	}{
		{"one input: the item itself", one, `[1, 2]`, "[[1 2]]", ""},
		{"one input: named", one, `{"x": [1, 2]}`, "[[1 2]]", ""},
		{"one input: a batch (columnar)", one, `[[1, 2], [3, 4]]`, "[[2 2]]", ""},
		{"a fixed batch of 1: the item", fixed, `[[1, 2], [3, 4]]`, "[[1 2 2]]", ""},
		{"a fixed batch of 1: the batch", fixed, `[[[1, 2], [3, 4]]]`, "[[1 2 2]]", ""},
		{"a fixed batch of 1: the item's values flat", fixed, `[1, 2, 3, 4]`, "[[1 2 2]]", ""},
		{"a fixed batch of 1: two items", fixed, `[[[1, 2], [3, 4]], [[1, 2], [3, 4]]]`, "", "must have shape [1,2,2], got [2,2,2]"},
		{"two inputs: named", two, `{"ids": [7, 8], "k": 3}`, "[[1 2] []]", ""},
		{"two inputs: not named", two, `[7, 8]`, "", "takes 2 inputs: send an object of input name → value"},
		{"unknown input", two, `{"ids": [7, 8], "k": 3, "z": 1}`, "", `no input "z"`},
		{"missing input", two, `{"ids": [7, 8]}`, "", `input "k" is missing`},
		{"wrong shape", one, `[1, 2, 3]`, "", "must have shape [-1,2], got [1,3]"},
		{"an object that is not named inputs", one, `{"y": [1, 2]}`, "", `an object's keys name the model's inputs: x (float32[-1,2])`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ts, err := V1Tensors(decode(c.value), c.inputs)
			if failsAs(t, err, c.err) {
				return
			}
			var shapes [][]int64
			for _, x := range ts {
				shapes = append(shapes, x.Shape)
			}
			if got := fmt.Sprint(shapes); got != c.shapes {
				t.Errorf("shapes %s, want %s", got, c.shapes)
			}
		})
	}
}

func TestAppendV1Value(t *testing.T) {
	infos := []tensor.Info{{Name: "p", DType: tensor.Float32}, {Name: "label", DType: tensor.String}, {Name: "n", DType: tensor.Int64}}
	p := tensor.New([]int64{1, 2, 2}, []float32{0.5, 1, float32(math.Inf(1)), 2})
	label := tensor.NewStrings([]int64{1}, []string{"cat"})
	n := tensor.New([]int64{}, []int64{7})
	for _, c := range []struct {
		name    string
		outputs []*tensor.Tensor
		item    bool
		want    string
	}{
		{"one output, an item: nested, batch dimension dropped", []*tensor.Tensor{p}, true, `[[0.5,1],[null,2]]`},
		{"one output, a batch", []*tensor.Tensor{p}, false, `[[[0.5,1],[null,2]]]`},
		{"several outputs: an object; a scalar stays a value", []*tensor.Tensor{p, label, n}, true, `{"p":[[0.5,1],[null,2]],"label":"cat","n":7}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := AppendV1Value(nil, c.outputs, infos[:len(c.outputs)], c.item)
			if err != nil || string(b) != c.want || !json.Valid(b) {
				t.Errorf("got %s (%v), want %s", b, err, c.want)
			}
		})
	}
}
