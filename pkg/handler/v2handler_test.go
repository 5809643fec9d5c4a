package handler

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

func TestDecodeV2Handler(t *testing.T) {
	image := []tensor.Info{{Name: "input", DType: tensor.Float32, Shape: []int64{-1, 1, 8, 8}}}
	for _, c := range []struct {
		name, body string
		inputs     []tensor.Info
		bodies     string // the bodies, or "" when the request is not a handler's
		id         string
	}{
		{"one image", `{"id": "q", "inputs": [{"name": "312a", "shape": [-1], "datatype": "BYTES", "data": ["aGk="]}]}`, image, "[aGk=]", "q"},
		{"nested, two inputs", `{"inputs": [{"name": "a", "datatype": "BYTES", "data": [["x", "y"]]}, {"name": "b", "datatype": "bytes", "data": ["z"]}]}`, image, "[x y z]", ""},
		{"a tensor input", `{"inputs": [{"name": "input", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}`, image, "", ""},
		{"BYTES and FP32", `{"inputs": [{"name": "a", "datatype": "BYTES", "data": ["x"]}, {"name": "b", "datatype": "FP32", "data": [1]}]}`, image, "", ""},
		{"binary data", `{"inputs": [{"name": "a", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": 5}}]}`, image, "", ""},
		{"a model of strings", `{"inputs": [{"name": "text", "datatype": "BYTES", "data": ["x"]}]}`, []tensor.Info{{Name: "text", DType: tensor.String, Shape: []int64{-1}}}, "", ""},
		{"numbers in BYTES", `{"inputs": [{"name": "a", "datatype": "BYTES", "data": [1]}]}`, image, "", ""},
		{"not JSON", `inputs`, image, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, ok := DecodeV2Handler([]byte(c.body), c.inputs)
			if !ok {
				if c.bodies != "" {
					t.Errorf("not taken, want bodies %s", c.bodies)
				}
				return
			}
			got := make([]string, len(req.Bodies))
			for i, b := range req.Bodies {
				got[i] = string(b)
			}
			if fmt.Sprint(got) != c.bodies || req.ID != c.id {
				t.Errorf("bodies %v id %q, want %s %q", got, req.ID, c.bodies, c.id)
			}
		})
	}
}

func TestV2HandlerOutput(t *testing.T) {
	for _, c := range []struct{ answer, want string }{
		{`1`, `{"name":"predict","datatype":"INT64","shape":[1],"data":[1]}`},
		{`[0.5, 2]`, `{"name":"predict","datatype":"FP64","shape":[2],"data":[0.5,2]}`},
		{`[[1, 2], [3, 4], [5, 6]]`, `{"name":"predict","datatype":"INT64","shape":[3,2],"data":[1,2,3,4,5,6]}`},
		{`[[1, 2], [3]]`, `{"name":"predict","datatype":"BYTES","shape":[1],"data":["[[1,2],[3]]"]}`},
		{"{\n  \"cat\": 0.9\n}\n", `{"name":"predict","datatype":"BYTES","shape":[1],"data":["{\"cat\":0.9}"]}`},
		{`not json`, `{"name":"predict","datatype":"BYTES","shape":[1],"data":["not json"]}`},
	} {
		b, _ := json.Marshal(V2HandlerOutput([]byte(c.answer)))
		if string(b) != c.want {
			t.Errorf("%q: %s\nwant %s", c.answer, b, c.want)
		}
	}
}
