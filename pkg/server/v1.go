package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/tensor"
)

// KServe's v1 protocol (TensorFlow Serving's REST format), which TorchServe also answers on
// its inference API (KServe's default protocol for TorchServe): model list and readiness, and
// predict with instances (one item each) or columnar inputs.

// v1Concurrency is how many of a request's instances run at once; the batcher stacks them.
const v1Concurrency = 32

func (s *Server) v1Routes(rt *router) {
	rt.handle("GET /v1/models", s.v1List)
	rt.handle("GET /v1/models/{model}", s.v1Ready)
	// {model}:predict is one path segment
	rt.handle("POST /v1/models/{target}", s.v1Predict)
}

func (s *Server) v1List(w http.ResponseWriter, r *http.Request) error {
	names := []string{}
	for _, e := range s.reg.List() {
		names = append(names, e.Name)
	}
	return writeJSON(w, http.StatusOK, map[string][]string{"models": names})
}

// v1Ready: {"name", "ready"} for the default version, 503 when no worker is ready.
func (s *Server) v1Ready(w http.ResponseWriter, r *http.Request) error {
	v, err := s.reg.Get(r.PathValue("model"), "")
	if err != nil {
		return err
	}
	ready, code := v.Ready(), http.StatusOK
	if !ready {
		code = http.StatusServiceUnavailable
	}
	return writeJSON(w, code, map[string]any{"name": v.Name, "ready": ready})
}

// v1Predict serves POST /v1/models/{model}:predict. A model served by the tensor handler takes
// tensors: each instance is one item of its input (an object of input name → value for
// several inputs) and each prediction that item's output (an object of output name → value
// for several outputs), nested as JSON arrays; the columnar {"inputs"} answers {"outputs"}.
// Any other handler gets each instance as a request of its own (a string as text, anything
// else as JSON: {"data": "<base64>"} for the image handlers) and each prediction is its answer.
// {model}:explain answers {"explanations"}, each instance explained as /explanations does.
func (s *Server) v1Predict(w http.ResponseWriter, r *http.Request) error {
	target := r.PathValue("target")
	i := strings.LastIndexByte(target, ':')
	if i < 0 || (target[i+1:] != "predict" && target[i+1:] != "explain") {
		return apierror.ResourceNotFound()
	}
	return s.v1On(w, r, target[:i], "", target[i+1:] == "explain")
}

// v1On serves a KServe v1 predict request (an explain request when explain is set) on a
// version of the named model ("": the default, or one drawn from the traffic split).
func (s *Server) v1On(w http.ResponseWriter, r *http.Request, name, version string, explain bool) error {
	return s.serveInference(w, r, name, version, func(v *registry.Version, priority int) (*handler.Response, error) {
		body, err := s.readWholeBody(w, r)
		if err != nil {
			return nil, err
		}
		req, err := handler.DecodeV1(body)
		if err != nil {
			return nil, err
		}
		var b []byte
		switch {
		case explain:
			b, err = v1Handler(r, w.Header().Get("X-Request-Id"), v, req, "explanations", func(ctx context.Context, req *handler.Request) (*handler.Response, error) {
				return v.Explain(ctx, req, priority)
			})
		case v.Handler == handler.TensorHandler:
			b, err = s.v1Tensors(r.Context(), v, req, priority)
		default:
			b, err = v1Handler(r, w.Header().Get("X-Request-Id"), v, req, "predictions", func(ctx context.Context, req *handler.Request) (*handler.Response, error) {
				return v.Infer(ctx, req, priority)
			})
		}
		if err != nil {
			return nil, err
		}
		return &handler.Response{Body: b, ContentType: "application/json"}, nil
	})
}

// v1Tensors runs a v1 request on a tensor model.
func (s *Server) v1Tensors(ctx context.Context, v *registry.Version, req *handler.V1Request, priority int) ([]byte, error) {
	if req.Columnar {
		inputs, err := handler.V1Tensors(req.Inputs, v.Inputs)
		if err != nil {
			return nil, err
		}
		outputs, err := v.InferTensors(ctx, inputs, priority)
		if err != nil {
			return nil, err
		}
		if err := handler.CheckAnswerSize(outputs, s.cfg.MaxResponseSize); err != nil {
			return nil, err
		}
		b, err := handler.AppendV1Value([]byte(`{"outputs":`), outputs, v.Outputs, false)
		if err != nil {
			return nil, err
		}
		return append(b, "}\n"...), nil
	}
	items := make([][]*tensor.Tensor, len(req.Instances))
	for i, inst := range req.Instances {
		inputs, err := handler.V1Tensors(inst, v.Inputs)
		if err != nil {
			return nil, apierror.BadRequest("instance %d: %v", i, err)
		}
		items[i] = inputs
	}
	answers := make([][]*tensor.Tensor, len(items))
	err := eachInstance(ctx, len(items), func(ctx context.Context, i int) error {
		outputs, err := v.InferTensors(ctx, items[i], priority)
		answers[i] = outputs
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := handler.CheckAnswerSize(slices.Concat(answers...), s.cfg.MaxResponseSize); err != nil {
		return nil, err
	}
	b := []byte(`{"predictions":[`)
	for i, outputs := range answers {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = handler.AppendV1Value(b, outputs, v.Outputs, true); err != nil {
			return nil, err
		}
	}
	return append(b, "]}\n"...), nil
}

// eachInstance runs fn for each of n instances, v1Concurrency at a time (the batcher stacks
// them), and returns the first error; ctx ends for the others then.
func eachInstance(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(v1Concurrency)
	for i := range n {
		g.Go(func() error { return fn(gctx, i) })
	}
	return g.Wait()
}

// v1Handler runs each instance of a v1 request through the model's handler (run: a
// prediction or an explanation), each with the request's id (the X-Request-Id the server
// gave it), and answers the list of answers under key.
func v1Handler(r *http.Request, id string, v *registry.Version, req *handler.V1Request, key string,
	run func(ctx context.Context, req *handler.Request) (*handler.Response, error)) ([]byte, error) {
	if req.Columnar {
		return nil, apierror.BadRequest(`model %s (handler %s) takes "instances", one request each; "inputs" is for tensor models`, v.Name, v.Handler)
	}
	inputs := make([]handler.Input, len(req.Instances))
	for i, inst := range req.Instances {
		inputs[i] = handler.Input{Name: "body", ContentType: "application/json"}
		obj, _ := inst.(map[string]any)
		encoded, isB64 := obj["b64"].(string)
		switch text, isText := inst.(string); {
		case isText:
			inputs[i].Data, inputs[i].ContentType = []byte(text), "text/plain; charset=utf-8"
		case isB64 && len(obj) == 1: // TensorFlow Serving's binary value, an image's bytes
			data, err := base64.StdEncoding.DecodeString(encoded)
			if err != nil {
				return nil, apierror.BadRequest("instance %d: \"b64\" is not base64: %v", i, err)
			}
			inputs[i].Data, inputs[i].ContentType = data, "application/octet-stream"
		default:
			inputs[i].Data, _ = json.Marshal(inst) // decoded from JSON: it marshals
		}
	}
	responses, err := eachRequest(r, id, inputs, run)
	if err != nil {
		return nil, err
	}
	answers := make([]json.RawMessage, len(responses))
	for i, res := range responses {
		if json.Valid(res.Body) {
			answers[i] = res.Body
		} else {
			answers[i], _ = json.Marshal(string(res.Body))
		}
	}
	return json.MarshalIndent(map[string]any{key: answers}, "", "  ")
}

// eachRequest runs each input as a request of its own to the model's handler (run: a
// prediction or an explanation), v1Concurrency at a time, each with the request's id, headers
// and query, and answers the responses in order.
func eachRequest(r *http.Request, id string, inputs []handler.Input,
	run func(ctx context.Context, req *handler.Request) (*handler.Response, error)) ([]*handler.Response, error) {
	responses := make([]*handler.Response, len(inputs))
	err := eachInstance(r.Context(), len(inputs), func(ctx context.Context, i int) error {
		res, err := run(ctx, &handler.Request{ID: id, Header: r.Header.Clone(), Query: r.URL.Query(), Inputs: inputs[i : i+1]})
		responses[i] = res
		return err
	})
	return responses, err
}
