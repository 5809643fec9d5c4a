package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/trace"
)

// ts's inference headers' canonical keys, so that the inference path neither canonicalises nor
// allocates for them on every request.
var (
	keyPriority     = http.CanonicalHeaderKey(api.HeaderPriority)
	keyRouteKey     = http.CanonicalHeaderKey(api.HeaderRouteKey)
	keyModelVersion = http.CanonicalHeaderKey(api.HeaderModelVersion)
	// keyURLPath is the header TorchServe gives handlers the path's extra segments in.
	keyURLPath = http.CanonicalHeaderKey("url_path")
)

func (s *Server) inferenceRoutes() *router {
	rt := s.newRouter(Inference)
	rt.handle("/ping", s.ping) // TorchServe answers /ping whatever the method
	rt.handle("OPTIONS /{$}", s.apiDescription(Inference))
	rt.handle("GET /api-description", s.apiDescription(Inference))
	// TorchServe runs inference for any method but OPTIONS (curl -T sends PUT).
	rt.handle("/predictions/{model}", s.predict)
	rt.handle("/predictions/{model}/{version}", s.predict)
	// Segments after the version reach the handler as the request header url_path, as
	// TorchServe forwards them (its vLLM handler serves v1/chat/completions so).
	rt.handle("/predictions/{model}/{version}/{path...}", s.predict)
	rt.handle("/explanations/{model}", s.explainRoute)
	rt.handle("/explanations/{model}/{version}", s.explainRoute)
	rt.handle("/wfpredict/{name}", s.workflowPredict) // TorchServe runs workflows for any method
	// SageMaker's forms, which TorchServe also answers.
	rt.handle("/invocations", s.invoke)
	rt.handle("/models/{model}/invoke", s.invoke)
	s.v1Routes(rt)
	s.v2Routes(rt)
	legacy := legacyPredict(s)
	rt.fallback = func(r *http.Request) apiFunc {
		if fn := legacy(r); fn != nil {
			return rt.restrict("inference", fn)
		}
		return nil
	}
	return rt
}

// legacyPredict routes the forms MMS (TorchServe's predecessor) used, which TorchServe still
// answers: /{model}/predict and /{model}/{version}/predict. Any other path gets nil, and so
// do paths under the API's own first segments (/models/{m}/predict is not a legacy form).
func legacyPredict(s *Server) func(*http.Request) apiFunc {
	return func(r *http.Request) apiFunc {
		seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(seg) < 2 || len(seg) > 3 || seg[len(seg)-1] != "predict" || slices.Contains(seg, "") || reservedSegments[seg[0]] {
			return nil
		}
		return func(w http.ResponseWriter, r *http.Request) error {
			version := ""
			if len(seg) == 3 {
				version = seg[1]
			}
			return s.predictOn(w, r, seg[0], version, nil)
		}
	}
}

// reservedSegments are the inference API's first path segments, never a legacy model name.
var reservedSegments = map[string]bool{"ping": true, "predictions": true, "explanations": true, "invocations": true, "wfpredict": true, "models": true, "api-description": true, "v1": true, "v2": true}

// invoke serves SageMaker's POST /invocations?model_name=M and POST /models/{model}/invoke as
// TorchServe does: without a name, the only model loaded at start-up, else the request's
// model_name field (a form field; it is not passed on to the handler).
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("model")
	if name == "" {
		name = r.URL.Query().Get("model_name")
	}
	if name == "" {
		name = s.reg.StartupModel()
	}
	if name != "" {
		return s.predictOn(w, r, name, "", nil)
	}
	req, err := s.readRequest(w, r)
	if err != nil {
		return err
	}
	for i, in := range req.Inputs {
		if in.Name == "model_name" {
			name = string(in.Data)
			req.Inputs = slices.Delete(req.Inputs, i, i+1)
			break
		}
	}
	if name == "" {
		return apierror.BadRequest("Parameter model_name is required.")
	}
	return s.predictOn(w, r, name, "", req)
}

// ping answers TorchServe's health check: 200 Healthy or Partial Healthy, 500 Unhealthy.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	status := s.reg.Health()
	if s.draining.Load() {
		status = "Unhealthy"
	}
	code := http.StatusOK
	if status == "Unhealthy" {
		code = http.StatusInternalServerError
	}
	return writeJSON(w, code, map[string]string{"status": status})
}

// predict serves /predictions/{model}[/{version}[/{path...}]].
func (s *Server) predict(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("model") == "" { // "/predictions/": no model named, as TorchServe answers
		return apierror.ResourceNotFound()
	}
	if handled, err := s.enveloped(w, r, r.PathValue("model"), r.PathValue("version"), false); handled {
		return err
	}
	if path := r.PathValue("path"); path != "" {
		r.Header[keyURLPath] = []string{path}
	}
	return s.predictOn(w, r, r.PathValue("model"), r.PathValue("version"), nil)
}

// explainRoute serves /explanations/{model}[/{version}]: TorchServe's explanations, any method
// but OPTIONS (which describes the model), as its predictions.
func (s *Server) explainRoute(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("model") == "" {
		return apierror.ResourceNotFound()
	}
	if handled, err := s.enveloped(w, r, r.PathValue("model"), r.PathValue("version"), true); handled {
		return err
	}
	return s.handleOn(w, r, r.PathValue("model"), r.PathValue("version"), nil, (*registry.Version).Explain)
}

// predictOn runs one inference request on a version of the named model ("": the default, or
// one drawn from the traffic split); OPTIONS describes the model instead. req is the request
// already read, or nil to read it once the model is found.
func (s *Server) predictOn(w http.ResponseWriter, r *http.Request, name, version string, req *handler.Request) error {
	return s.handleOn(w, r, name, version, req, (*registry.Version).Infer)
}

// handleOn runs one request through a version's handler (run: a prediction or an
// explanation), as predictOn describes.
func (s *Server) handleOn(w http.ResponseWriter, r *http.Request, name, version string, req *handler.Request,
	run func(v *registry.Version, ctx context.Context, req *handler.Request, priority int) (*handler.Response, error)) error {
	if r.Method == http.MethodOptions {
		return s.modelDescription(w, name, version)
	}
	return s.serveInference(w, r, name, version, func(v *registry.Version, priority int) (*handler.Response, error) {
		in := req
		if in == nil {
			var err error
			if in, err = s.readRequest(w, r); err != nil {
				return nil, err
			}
		}
		if !handler.IsBuiltin(v.Handler) {
			if in.Stream == nil {
				in.Stream = streamTo(w)
			}
		}
		s.sequence(w, r, v, in)
		return run(v, r.Context(), in, priority)
	})
}

// sequence reads a stateful model's sequence (sequenceBatching, or config.pbtxt's
// sequence_batching): its id from the request (its header, or a gRPC request's field), a new
// "ts-seq-<uuid>" (for a Triton sequence model a number) when there is none, answered
// in the same header for the client's next request; and whether the request starts or ends
// it (their headers). Other models' requests are left as they are.
func (s *Server) sequence(w http.ResponseWriter, r *http.Request, v *registry.Version, req *handler.Request) {
	if !v.Stateful() {
		return
	}
	keys := s.cfg.SequenceHeaders
	if req.Sequence == "" {
		req.Sequence = r.Header.Get(keys.ID)
	}
	switch {
	case req.Sequence != "":
	case handler.IsBuiltin(v.Handler): // a Triton sequence model's: a number fits any correlation id input
		req.Sequence = strconv.FormatUint(rand.Uint64()>>1|1, 10)
	default:
		req.Sequence = "ts-seq-" + uuid.NewString()
	}
	req.SequenceStart = req.SequenceStart || r.Header.Get(keys.Start) != ""
	req.SequenceEnd = req.SequenceEnd || r.Header.Get(keys.End) != ""
	w.Header().Set(keys.ID, req.Sequence)
}

// streamTo sends the parts of a custom handler's answer to the client as they come, as
// TorchServe does (HTTP/1.1 chunked transfer encoding, a chunk each): the first part sends
// the status (200) and headers, with its content type. serveInference then writes the last
// part (its status and headers are ignored: they are sent), or, on a failure, the error's
// JSON as the last part.
func streamTo(w http.ResponseWriter) func(part []byte, contentType string) error {
	started := false
	return func(part []byte, contentType string) error {
		if !started {
			if contentType != "" {
				w.Header().Set("Content-Type", contentType)
			}
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if _, err := w.Write(part); err != nil {
			return err
		}
		if err := http.NewResponseController(w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return nil
	}
}

// serveInference answers an inference request on the version routed to (the one named, else
// the default or one drawn from the traffic split): it reads the priority header, counts the
// request in the metrics, names the version that answered, and writes what run answers.
func (s *Server) serveInference(w http.ResponseWriter, r *http.Request, name, version string,
	run func(v *registry.Version, priority int) (*handler.Response, error)) error {
	start := time.Now()
	v, err := s.reg.Route(name, version, handler.HeaderValue(r.Header, keyRouteKey))
	if err != nil {
		return err
	}
	code := http.StatusOK
	if s.metrics != nil {
		defer func() { s.metrics.Request(v.Name, v.Version, code, time.Since(start)) }()
	}
	if tr := s.tracer.Sample(v.Name, v.Version, w.Header()); tr != nil {
		tr.StampAt(trace.RequestStart, start)
		defer func() {
			tr.Stamp(trace.RequestEnd)
			tr.Finish()
		}()
		// run reads r's context: the traced request's carries its trace for the registry
		*r = *r.WithContext(trace.With(r.Context(), tr))
	}
	fail := func(err error) error {
		code = errorOf(err).Code
		return err
	}
	w.Header()[keyModelVersion] = []string{v.Version}
	priority, err := registry.ParsePriority(handler.HeaderValue(r.Header, keyPriority))
	if err != nil {
		return fail(apierror.BadRequest("%s: %v", api.HeaderPriority, err))
	}
	res, err := run(v, priority)
	var noWorker *registry.NoWorkerError
	if version != "" && errors.As(err, &noWorker) {
		// TorchServe's message names the version the URL named
		err = &registry.NoWorkerError{Model: noWorker.Model, Version: version}
	}
	if err != nil {
		return fail(err)
	}
	if err := s.checkResponseSize(len(res.Body)); err != nil {
		return fail(err)
	}
	if res.ContentType != "" {
		w.Header().Set("Content-Type", res.ContentType)
	}
	for k, vs := range res.Header {
		w.Header()[k] = vs
	}
	if res.Status != 0 {
		code = res.Status
	}
	w.WriteHeader(code)
	_, err = w.Write(res.Body)
	return err
}

// checkResponseSize refuses an answer of n bytes larger than max_response_size (a 500, as
// TorchServe's), saying how to get one.
func (s *Server) checkResponseSize(n int) error {
	if int64(n) <= s.cfg.MaxResponseSize {
		return nil
	}
	return handler.ResponseTooLarge(int64(n), s.cfg.MaxResponseSize, false)
}

// readRequest turns the HTTP request into handler inputs: each multipart or form field is
// an input with its own name; any other body (and a "form" that is not one: notAForm) is one
// input named "body".
func (s *Server) readRequest(w http.ResponseWriter, r *http.Request) (*handler.Request, error) {
	if prepared, ok := r.Body.(preparedBody); ok { // a gRPC prediction's inputs
		req := prepared.req
		req.ID, req.Header = w.Header().Get("X-Request-Id"), r.Header
		return req, nil
	}
	if err := limitRequest(w, r, s.cfg.MaxRequestSize); err != nil {
		return nil, err
	}
	req := &handler.Request{ID: w.Header().Get("X-Request-Id"), Header: r.Header}
	if r.URL.RawQuery != "" {
		req.Query = r.URL.Query()
	}
	ctype := r.Header.Get("Content-Type")
	var media string
	var params map[string]string
	if strings.HasPrefix(ctype, "multipart/") || strings.HasPrefix(ctype, "application/x-www-form-urlencoded") {
		media, params, _ = mime.ParseMediaType(ctype)
	}
	switch {
	case media == "multipart/form-data":
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, bodyError(err)
			}
			data, err := io.ReadAll(part)
			if err != nil {
				return nil, bodyError(err)
			}
			req.Inputs = append(req.Inputs, handler.Input{Name: part.FormName(), ContentType: part.Header.Get("Content-Type"), Data: data})
		}
	case media == "application/x-www-form-urlencoded":
		data, err := readBody(r)
		if err != nil {
			return nil, bodyError(err)
		}
		if ctype, ok := notAForm(data); ok {
			req.Inputs = append(req.Inputs, handler.Input{Name: "body", ContentType: ctype, Data: data})
			break
		}
		form, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, bodyError(err)
		}
		for name, values := range form {
			for _, v := range values {
				req.Inputs = append(req.Inputs, handler.Input{Name: name, Data: []byte(v)})
			}
		}
	default:
		data, err := readBody(r)
		if err != nil {
			return nil, bodyError(err)
		}
		req.Inputs = append(req.Inputs, handler.Input{Name: "body", ContentType: ctype, Data: data})
	}
	return req, nil
}

// notAForm reports whether a body sent as application/x-www-form-urlencoded is really the data
// itself, and its content type then: curl -d and --data-binary send that type by default, so
// `curl -d @input.json` sends JSON under it. A JSON document, binary bytes (not UTF-8 text,
// or with control characters), or text with no name=value pair is taken as one input named
// "body"; anything else is parsed as a form, as TorchServe does (`curl -d "data=café"`
// included: curl does not percent-encode it).
func notAForm(data []byte) (string, bool) {
	switch {
	case json.Valid(data):
		return "application/json", true
	case !utf8.Valid(data) || bytes.ContainsFunc(data, func(r rune) bool { return r < ' ' && r != '\t' && r != '\r' && r != '\n' }):
		return "application/octet-stream", true
	case !bytes.ContainsRune(data, '='):
		return "text/plain; charset=utf-8", true
	}
	return "", false
}

// readWholeBody reads a request's whole body within max_request_size, as a tensor protocol's
// request (/v2, /v1) is read: one document, no form fields.
func (s *Server) readWholeBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if err := limitRequest(w, r, s.cfg.MaxRequestSize); err != nil {
		return nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, bodyError(err)
	}
	return body, nil
}

// readBody reads the whole body, in one allocation when its length is known.
func readBody(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= 64<<20 {
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, err
		}
		if extra, err := r.Body.Read(make([]byte, 1)); extra > 0 || (err != nil && err != io.EOF) {
			if err == nil {
				err = errors.New("body longer than its Content-Length")
			}
			return nil, err
		}
		return b, nil
	}
	return io.ReadAll(r.Body)
}

// limitBody caps the request body at max bytes. A body whose declared length is already
// larger is refused (413) before any of it is read, so a client that sent "Expect:
// 100-continue" is not asked to send it.
func limitBody(w http.ResponseWriter, r *http.Request, max int64) error {
	if r.ContentLength > max {
		return &http.MaxBytesError{Limit: max}
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	return nil
}

func bodyError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return apierror.BadRequest("cannot read the request body: %s", strings.TrimSpace(err.Error()))
}
