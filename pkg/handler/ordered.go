package handler

import (
	"bytes"
	"encoding/json"
)

// scores is a JSON object of label → score that keeps its order (highest first), as
// TorchServe's Python dicts do.
type scores []scored

type scored struct {
	Label string
	Score float64
}

// MarshalJSON writes the pairs in order.
func (s scores) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(p.Label)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		if !finite(p.Score) {
			b.WriteString("null") // a model's NaN or infinity: JSON has no such number
			continue
		}
		v, err := json.Marshal(p.Score)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// jsonResponse renders v as TorchServe does (two-space indent, trailing newline).
func jsonResponse(v any) (*Response, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return &Response{Body: append(b, '\n'), ContentType: "application/json"}, nil
}
