package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/tensor"
)

// V2Input is a named input tensor of an Open Inference Protocol request.
type V2Input struct {
	Name   string
	Tensor *tensor.Tensor
}

// V2Request is an Open Inference Protocol request body in Triton's binary tensor data
// extension: a JSON header of HeaderLen bytes, then each input's bytes.
type V2Request struct {
	Body      []byte
	HeaderLen int
}

// NewV2Request encodes inputs as binary tensor data, and asks for the outputs in binary too
// (the smallest answer to read).
func NewV2Request(inputs []V2Input) (*V2Request, error) {
	type param struct {
		BinaryDataSize int `json:"binary_data_size"`
	}
	type input struct {
		Name       string  `json:"name"`
		Shape      []int64 `json:"shape"`
		Datatype   string  `json:"datatype"`
		Parameters param   `json:"parameters"`
	}
	header := struct {
		Inputs     []input         `json:"inputs"`
		Parameters map[string]bool `json:"parameters"`
	}{Parameters: map[string]bool{"binary_data_output": true}}
	var blobs [][]byte
	for _, in := range inputs {
		blob := in.Tensor.Binary()
		blobs = append(blobs, blob)
		header.Inputs = append(header.Inputs, input{Name: in.Name, Shape: in.Tensor.Shape, Datatype: in.Tensor.DType.V2Name(), Parameters: param{len(blob)}})
	}
	body, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	r := &V2Request{HeaderLen: len(body)}
	for _, b := range blobs {
		body = append(body, b...)
	}
	r.Body = body
	return r, nil
}

// v2ModelPath is /v2/models/{name}[/versions/{version}].
func v2ModelPath(name, version string) string {
	p := "/v2/models/" + url.PathEscape(name)
	if version != "" {
		p += "/versions/" + url.PathEscape(version)
	}
	return p
}

// InferV2 is the Open Inference Protocol's POST /v2/models/{name}[/versions/{version}]/infer
// with a binary request; the answer's body is returned as it came.
func (c *Client) InferV2(ctx context.Context, name, version string, r *V2Request) (*Prediction, error) {
	h := http.Header{"Content-Type": {"application/octet-stream"}, api.HeaderV2HeaderLength: {strconv.Itoa(r.HeaderLen)}}
	res, b, err := c.do(ctx, http.MethodPost, c.Inference, c.InferenceToken, v2ModelPath(name, version)+"/infer", nil, bytes.NewReader(r.Body), h)
	if err != nil {
		return nil, err
	}
	return NewPrediction(b, res.Header.Get("Content-Type"), version, res.Header), nil
}

// ModelStatistics is Triton's GET /v2/models/{name}[/versions/{version}]/stats: what each of
// the model's versions (or the one) has served since it was registered.
func (c *Client) ModelStatistics(ctx context.Context, name, version string) ([]api.TritonModelStats, error) {
	var s api.TritonStats
	err := c.callJSON(ctx, c.Inference, c.InferenceToken, http.MethodGet, v2ModelPath(name, version)+"/stats", nil, nil, &s)
	return s.ModelStats, err
}

// tracePath is Triton's trace setting path, global ("") or a model's.
func tracePath(model string) string {
	if model == "" {
		return "/v2/trace/setting"
	}
	return v2ModelPath(model, "") + "/trace/setting"
}

// TraceSettings is Triton's GET /v2[/models/{model}]/trace/setting: the trace settings in
// effect (strings, and a list for trace_level), the global ones for model "".
func (c *Client) TraceSettings(ctx context.Context, model string) (map[string]any, error) {
	var s map[string]any
	return s, c.callJSON(ctx, c.Inference, c.InferenceToken, http.MethodGet, tracePath(model), nil, nil, &s)
}

// SetTraceSettings changes the trace settings given (a nil value clears a model's own) and
// answers those in effect.
func (c *Client) SetTraceSettings(ctx context.Context, model string, settings map[string]any) (map[string]any, error) {
	body, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	var s map[string]any
	return s, c.callJSON(ctx, c.Inference, c.InferenceToken, http.MethodPost, tracePath(model), nil, body, &s)
}
