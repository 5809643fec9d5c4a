package server

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/explain"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/tensor"
)

// The Open Inference Protocol (KServe v2, Triton's HTTP API) on the inference API: server
// and model metadata, health, and inference on raw tensors (JSON or binary tensor data),
// beside TorchServe's paths. Inference goes through the model's batcher and workers like
// /predictions, but not through its handler: OIP speaks tensors.

func (s *Server) v2Routes(rt *router) {
	rt.handle("GET /v2", s.v2Server)
	rt.handle("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	rt.handle("GET /v2/health/ready", s.v2ServerReady)
	rt.handle("GET /v2/models/{model}", s.v2Model)
	rt.handle("GET /v2/models/{model}/versions/{version}", s.v2Model)
	rt.handle("POST /v2/repository/index", s.v2RepositoryIndex)
	rt.handle("POST /v2/repository/models/{model}/load", s.v2RepositoryControl)
	rt.handle("POST /v2/repository/models/{model}/unload", s.v2RepositoryControl)
	rt.handle("GET /v2/models/stats", s.v2Stats)
	rt.handle("GET /v2/models/{model}/stats", s.v2Stats)
	rt.handle("GET /v2/models/{model}/versions/{version}/stats", s.v2Stats)
	rt.handle("GET /v2/models/{model}/config", s.v2ModelConfig)
	rt.handle("GET /v2/models/{model}/versions/{version}/config", s.v2ModelConfig)
	rt.handle("GET /v2/models/{model}/ready", s.v2ModelReady)
	rt.handle("GET /v2/models/{model}/versions/{version}/ready", s.v2ModelReady)
	rt.handle("POST /v2/models/{model}/infer", s.v2Infer)
	rt.handle("POST /v2/models/{model}/versions/{version}/infer", s.v2Infer)
	rt.handle("POST /v2/models/{model}/explain", s.v2Explain)
	rt.handle("POST /v2/models/{model}/versions/{version}/explain", s.v2Explain)
	s.generateRoutes(rt)
	s.sharedMemoryRoutes(rt)
	s.loggingRoutes(rt)
	s.traceRoutes(rt)
}

// isV2 reports whether a request is on the OIP's paths, whose errors also carry the
// protocol's {"error": message}.
func isV2(r *http.Request) bool {
	return r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/")
}

func (s *Server) v2Server(w http.ResponseWriter, r *http.Request) error {
	extensions := []string{"binary_tensor_data", "classification", "model_configuration", "statistics", "model_repository", "schedule_policy", "trace"}
	if s.logLevel != nil {
		extensions = append(extensions, "logging")
	}
	if s.shm != nil {
		extensions = append(extensions, "system_shared_memory")
	}
	return writeJSON(w, http.StatusOK, map[string]any{"name": "ts", "version": s.version, "extensions": extensions})
}

// v2ServerReady: 200 when every default version has its workers ready (TorchServe's
// Healthy), or with strict_readiness off as soon as the server is up, else 400 as the
// protocol asks (a 4xx for false); 400 while the server drains.
func (s *Server) v2ServerReady(w http.ResponseWriter, r *http.Request) error {
	ready := !s.draining.Load() && (!s.cfg.StrictReadiness || s.reg.Health() == "Healthy")
	return writeJSON(w, readyStatus(ready), map[string]bool{"ready": ready})
}

func readyStatus(ready bool) int {
	if ready {
		return http.StatusOK
	}
	return http.StatusBadRequest
}

// v2Tensor is a tensor's metadata in the protocol.
type v2Tensor struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

func v2Tensors(infos []tensor.Info) []v2Tensor {
	out := make([]v2Tensor, len(infos))
	for i, info := range infos {
		out[i] = v2Tensor{Name: info.Name, Datatype: info.DType.V2Name(), Shape: info.Shape}
	}
	return out
}

// v2Model is the model metadata: every version of the model, and the inputs and outputs of
// the one asked for (the default without a version).
func (s *Server) v2Model(w http.ResponseWriter, r *http.Request) error {
	v, err := s.reg.Get(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		return err
	}
	entry, err := s.reg.Model(v.Name)
	if err != nil {
		return err
	}
	var versions []string
	for _, other := range entry.Versions {
		versions = append(versions, other.Version)
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"name": v.Name, "versions": versions, "platform": v.TritonPlatform(),
		"inputs": v2Tensors(v.Inputs), "outputs": v2Tensors(v.Outputs),
	})
}

func (s *Server) v2ModelReady(w http.ResponseWriter, r *http.Request) error {
	v, err := s.reg.Get(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		return err
	}
	ready := v.Ready()
	return writeJSON(w, readyStatus(ready), map[string]any{"name": v.Name, "ready": ready})
}

// v2Infer runs an OIP inference request. Without a version it goes where /predictions goes
// (the default version, or one drawn from the traffic split).
func (s *Server) v2Infer(w http.ResponseWriter, r *http.Request) error {
	return s.v2InferOf(w, r, r.PathValue("model"), r.PathValue("version"))
}

// v2InferOf runs an OIP inference request on a version of the named model.
func (s *Server) v2InferOf(w http.ResponseWriter, r *http.Request, name, version string) error {
	return s.serveInference(w, r, name, version, func(v *registry.Version, priority int) (*handler.Response, error) {
		res, err := s.v2InferOn(w, r, v, priority)
		if err != nil {
			return nil, err
		}
		return compressAnswer(r, res) // as Triton, when Accept-Encoding asks
	})
}

// v2InferOn answers an Open Inference Protocol request on the version routed to.
func (s *Server) v2InferOn(w http.ResponseWriter, r *http.Request, v *registry.Version, priority int) (*handler.Response, error) {
	headerLen := -1
	if h := r.Header.Get(api.HeaderV2HeaderLength); h != "" {
		var err error
		if headerLen, err = strconv.Atoi(h); err != nil || headerLen < 0 {
			return nil, apierror.BadRequest("%s: %q is not a length", api.HeaderV2HeaderLength, h)
		}
	}
	body, err := s.readWholeBody(w, r)
	if err != nil {
		return nil, err
	}
	req, err := handler.DecodeV2(body, headerLen, v.Inputs, v.Outputs, s.sharedMemory())
	if err != nil {
		return v2ViaHandler(r, w, v, body, headerLen, err, "predict", func(ctx context.Context, req *handler.Request) (*handler.Response, error) {
			return v.Infer(ctx, req, priority)
		})
	}
	if req.Priority != 0 {
		if p, ok := v.TritonPriority(req.Priority); ok {
			priority = p // Triton's level, for a model whose config.pbtxt has priority_levels
		}
	}
	ctx := r.Context()
	if req.Timeout > 0 { // the batcher applies it where the model allows it
		ctx = batch.WithMaxQueueTime(ctx, time.Duration(min(req.Timeout, math.MaxInt64/1000))*time.Microsecond)
	}
	outputs, err := v.InferStep(ctx, req.Sequence, req.Inputs, priority)
	if err != nil {
		return nil, err
	}
	if err := handler.CheckAnswerSize(handler.V2Answered(req, v.Outputs, outputs), s.cfg.MaxResponseSize); err != nil {
		return nil, err
	}
	var labels map[int]string
	if slices.ContainsFunc(req.Outputs, func(o handler.V2Output) bool { return o.Classification > 0 }) {
		if labels, err = v.Labels(); err != nil {
			return nil, apierror.New(http.StatusInternalServerError, apierror.TypeInternal, "Model %s: cannot read its class labels: %v", v.Name, err)
		}
	}
	res, jsonLen, err := handler.EncodeV2(v.Name, v.Version, req, v.Outputs, outputs, labels, s.sharedMemory())
	if err != nil {
		return nil, err
	}
	if jsonLen < 0 {
		return &handler.Response{Body: res, ContentType: "application/json"}, nil
	}
	return &handler.Response{Body: res, ContentType: "application/octet-stream",
		Header: http.Header{api.HeaderV2HeaderLength: {strconv.Itoa(jsonLen)}}}, nil
}

// v2Explanation is the answer to an OIP explain request: TorchServe's (an output named
// "explain"), one output per input hidden, with the target and its score as parameters.
type v2Explanation struct {
	ModelName    string              `json:"model_name"`
	ModelVersion string              `json:"model_version"`
	ID           string              `json:"id,omitempty"`
	Parameters   v2ExplainParameters `json:"parameters"`
	Outputs      []handler.V2Answer  `json:"outputs"`
}

type v2ExplainParameters struct {
	Target string  `json:"target"`
	Score  float64 `json:"score"`
}

// v2Explain serves POST /v2/models/{model}[/versions/{version}]/explain: the request's tensors
// explained as the tensor handler explains them (docs/explain.md; query parameters target,
// output, baseline), whatever the archive's handler. The attributions of each input hidden
// come back as an output named "explain" (TorchServe's name; "explain:INPUT" when there are
// several), shaped like the input, with the input's name among its parameters. BYTES inputs
// to a model that takes no strings are explained by its handler instead, as /explanations
// explains them, each answer an output named explain.
func (s *Server) v2Explain(w http.ResponseWriter, r *http.Request) error {
	return s.v2ExplainOf(w, r, r.PathValue("model"), r.PathValue("version"))
}

// v2ExplainOf runs an OIP explain request on a version of the named model.
func (s *Server) v2ExplainOf(w http.ResponseWriter, r *http.Request, name, version string) error {
	return s.serveInference(w, r, name, version, func(v *registry.Version, priority int) (*handler.Response, error) {
		body, err := s.readWholeBody(w, r)
		if err != nil {
			return nil, err
		}
		req, err := handler.DecodeV2(body, -1, v.Inputs, v.Outputs, s.sharedMemory())
		if err != nil {
			return v2ViaHandler(r, w, v, body, -1, err, "explain", func(ctx context.Context, req *handler.Request) (*handler.Response, error) {
				return v.Explain(ctx, req, priority)
			})
		}
		plan, attributions, err := v.ExplainTensors(r.Context(), req.Inputs, r.URL.Query(), priority)
		if err != nil {
			return nil, err
		}
		res := v2Explanation{ModelName: v.Name, ModelVersion: v.Version, ID: req.ID,
			Parameters: v2ExplainParameters{Target: plan.Target, Score: plan.Base}}
		for _, i := range plan.Hidden {
			name := "explain"
			if len(plan.Hidden) > 1 {
				name += ":" + v.Inputs[i].Name
			}
			res.Outputs = append(res.Outputs, handler.V2Answer{Name: name, Datatype: "FP64", Shape: req.Inputs[i].Shape,
				Data:       explain.Spread(int(req.Inputs[i].Len()), plan.Features, i, attributions),
				Parameters: map[string]string{"input": v.Inputs[i].Name}})
		}
		b, err := json.Marshal(res)
		if err != nil {
			return nil, err
		}
		return &handler.Response{Body: append(b, '\n'), ContentType: "application/json", Header: plan.Header()}, nil
	})
}

// v2ViaHandler answers an OIP request whose tensors did not decode (decodeErr) through the
// model's handler when it is what TorchServe's kservev2 envelope passes a handler: JSON with
// every input BYTES (an image's bytes or base64 text, a text) for a model that takes no strings
// and has a handler other than tensor. Each element is a request to the handler (run: a
// prediction or an explanation), run as the instances of KServe v1 are, and each answer an
// output named name (predict, explain). Any other request gets decodeErr.
func v2ViaHandler(r *http.Request, w http.ResponseWriter, v *registry.Version, body []byte, headerLen int, decodeErr error, name string,
	run func(ctx context.Context, req *handler.Request) (*handler.Response, error)) (*handler.Response, error) {
	if v.Handler == handler.TensorHandler || headerLen >= 0 {
		return nil, decodeErr
	}
	req, ok := handler.DecodeV2Handler(body, v.Inputs)
	if !ok {
		return nil, decodeErr
	}
	inputs := make([]handler.Input, len(req.Bodies))
	for i, b := range req.Bodies {
		inputs[i] = handler.Input{Name: "body", Data: b}
	}
	requestID := w.Header().Get("X-Request-Id")
	responses, err := eachRequest(r, requestID, inputs, run)
	if err != nil {
		return nil, err
	}
	answers := make([]handler.V2Answer, len(responses))
	for i, res := range responses {
		answers[i] = handler.V2HandlerOutput(res.Body)
		answers[i].Name = name
	}
	id := req.ID
	if id == "" {
		id = requestID
	}
	b, err := json.Marshal(map[string]any{"id": id, "model_name": v.Name, "model_version": v.Version, "outputs": answers})
	if err != nil {
		return nil, err
	}
	return &handler.Response{Body: append(b, '\n'), ContentType: "application/json"}, nil
}
