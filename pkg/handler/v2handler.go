package handler

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"

	"github.com/tsserve/ts/pkg/tensor"
)

// V2HandlerRequest is an Open Inference Protocol request that a model's handler answers
// rather than its tensors, as TorchServe's kservev2 envelope passes it: every input is
// BYTES (an image's bytes or base64 text, a text) for a model that takes no strings, and
// each element is one request to the handler.
type V2HandlerRequest struct {
	ID string
	// Bodies are the elements of the inputs, in order, each one request's body.
	Bodies [][]byte
}

// DecodeV2Handler reads body as a V2HandlerRequest when it is one: JSON (no binary data),
// every input BYTES with its data given, and a model (inputs) that takes no strings.
func DecodeV2Handler(body []byte, inputs []tensor.Info) (*V2HandlerRequest, bool) {
	for _, in := range inputs {
		if in.DType == tensor.String {
			return nil, false
		}
	}
	var doc struct {
		ID     any `json:"id"`
		Inputs []struct {
			Datatype string `json:"datatype"`
			Data     any    `json:"data"`
		} `json:"inputs"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Inputs) == 0 {
		return nil, false
	}
	req := &V2HandlerRequest{}
	req.ID, _ = doc.ID.(string)
	for _, in := range doc.Inputs {
		if !strings.EqualFold(in.Datatype, "BYTES") || in.Data == nil {
			return nil, false
		}
		var add func(v any) bool
		add = func(v any) bool {
			switch x := v.(type) {
			case string:
				req.Bodies = append(req.Bodies, []byte(x))
			case []any:
				for _, e := range x {
					if !add(e) {
						return false
					}
				}
			default:
				return false
			}
			return true
		}
		if !add(in.Data) {
			return nil, false
		}
	}
	return req, len(req.Bodies) > 0
}

// V2Answer is one output of an Open Inference Protocol answer.
type V2Answer struct {
	Name       string            `json:"name"`
	Datatype   string            `json:"datatype"`
	Shape      []int64           `json:"shape"`
	Data       any               `json:"data"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// V2HandlerOutput is one handler answer as an Open Inference Protocol output named predict,
// as TorchServe's kservev2 envelope names it: numbers (a number, or nested lists of them) as
// FP64 or INT64 with their shape, anything else as one BYTES element, the answer's text
// (JSON compacted).
func V2HandlerOutput(answer []byte) V2Answer {
	var v any
	if json.Unmarshal(answer, &v) == nil {
		if shape, values, ok := numericJSON(v); ok {
			out := V2Answer{Name: "predict", Datatype: "INT64", Shape: shape, Data: values}
			for _, x := range values {
				if x != float64(int64(x)) {
					out.Datatype = "FP64"
				}
			}
			return out
		}
	}
	text := strings.TrimSpace(string(answer))
	var compact bytes.Buffer
	if json.Compact(&compact, answer) == nil {
		text = compact.String()
	}
	return V2Answer{Name: "predict", Datatype: "BYTES", Shape: []int64{1}, Data: []string{text}}
}

// numericJSON flattens a JSON number, or a regular nested list of numbers, with its shape.
func numericJSON(v any) (shape []int64, values []float64, ok bool) {
	switch x := v.(type) {
	case float64:
		return []int64{1}, []float64{x}, true
	case []any:
		if len(x) == 0 {
			return nil, nil, false
		}
		var inner []int64
		for i, e := range x {
			s, vs, ok := numericJSON(e)
			if !ok {
				return nil, nil, false
			}
			if _, scalar := e.(float64); scalar {
				s = nil
			}
			if i > 0 && !slices.Equal(s, inner) {
				return nil, nil, false
			}
			inner = s
			values = append(values, vs...)
		}
		return append([]int64{int64(len(x))}, inner...), values, true
	}
	return nil, nil, false
}
