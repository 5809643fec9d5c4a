package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/registry"
)

// Triton's generate extension, the text-oriented endpoints LLM clients call (tritonclient's
// generate, LiteLLM's triton provider): POST /v2/models/{model}[/versions/{v}]/generate
// answers one JSON object, generate_stream Server-Sent Events. A request is a JSON object of
// the model's inputs by name ("text_input") and its "parameters"; the answer holds
// "model_name", "model_version" and the outputs by name ("text_output"). A model served with
// the tensor handler runs on its inputs by name; a model with a custom handler gets the
// request as its body (application/json), and its answer is "text_output" (or, a JSON
// object, the answer's fields), each part it streams an event of generate_stream, read alike.

func (s *Server) generateRoutes(rt *router) {
	for _, stream := range []bool{false, true} {
		route := "/generate"
		if stream {
			route = "/generate_stream"
		}
		rt.handle("POST /v2/models/{model}"+route, s.generate(stream))
		rt.handle("POST /v2/models/{model}/versions/{version}"+route, s.generate(stream))
	}
}

// generate serves one of the endpoints (stream: generate_stream).
func (s *Server) generate(stream bool) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		return s.serveInference(w, r, r.PathValue("model"), r.PathValue("version"), func(v *registry.Version, priority int) (*handler.Response, error) {
			var events *eventStream
			if stream {
				events = &eventStream{w: w}
			}
			answer, err := s.generateOn(w, r, v, priority, events)
			if events == nil {
				if err != nil {
					return nil, err
				}
				answer.Body, answer.ContentType = append(answer.Body, '\n'), "application/json"
				return answer, nil
			}
			switch {
			case err != nil && !events.started: // nothing sent yet: the error's own status
				return nil, err
			case err != nil: // the status has gone: the error is the last event, as Triton's
				b, _ := json.Marshal(map[string]string{"error": errorOf(err).Message})
				answer = &handler.Response{Body: b}
			}
			if answer.Body != nil {
				if !events.started { // the handler's headers go with the one event (its status: 200, an event stream's)
					for k, vs := range answer.Header {
						w.Header()[k] = vs
					}
				}
				if err := events.send(answer.Body); err != nil {
					return nil, err
				}
			}
			return &handler.Response{}, nil
		})
	}
}

// generateOn answers a generate request on the version routed to: the answer's JSON object
// as its Body (nil when its parts went to events and nothing is left to send), with a custom
// handler's status and headers.
func (s *Server) generateOn(w http.ResponseWriter, r *http.Request, v *registry.Version, priority int, events *eventStream) (*handler.Response, error) {
	body, err := s.readWholeBody(w, r)
	if err != nil {
		return nil, err
	}
	fields, err := handler.DecodeGenerate(body)
	if err != nil {
		return nil, err
	}
	head := generateHead(v)
	switch {
	case v.Handler == handler.TensorHandler:
		inputs, err := handler.GenerateInputs(v.Inputs, fields)
		if err != nil {
			return nil, err
		}
		outputs, err := v.InferTensors(r.Context(), inputs, priority)
		if err != nil {
			return nil, err
		}
		if err := handler.CheckAnswerSize(outputs, s.cfg.MaxResponseSize); err != nil {
			return nil, err
		}
		b, err := handler.AppendGenerateOutputs(head, v.Outputs, outputs)
		if err != nil {
			return nil, err
		}
		return &handler.Response{Body: append(b, '}')}, nil
	case handler.IsBuiltin(v.Handler):
		return nil, apierror.BadRequest("model %s is served with the %s handler: generate takes a model served with the tensor handler (its inputs by name) or with a custom handler", v.Name, v.Handler)
	}
	req := &handler.Request{ID: w.Header().Get("X-Request-Id"), Header: r.Header,
		Inputs: []handler.Input{{Name: "body", ContentType: "application/json", Data: body}}}
	streamed := false
	if events != nil {
		req.Stream = func(part []byte, contentType string) error {
			streamed = true
			return events.send(generateAnswer(head, part, contentType))
		}
	}
	s.sequence(w, r, v, req)
	res, err := v.Infer(r.Context(), req, priority)
	if err != nil {
		return nil, err
	}
	if res.Status >= 400 { // the handler's own error status
		typ := apierror.TypeBadRequest
		if res.Status >= 500 {
			typ = apierror.TypeInternal
		}
		return nil, apierror.New(res.Status, typ, "%s", strings.TrimSpace(string(res.Body)))
	}
	answer := &handler.Response{Status: res.Status, Header: res.Header}
	if answer.Header.Get("Content-Type") != "" { // the answer is generate's JSON, whatever the handler's was
		answer.Header = answer.Header.Clone()
		answer.Header.Del("Content-Type")
	}
	if !streamed || len(res.Body) > 0 {
		answer.Body = generateAnswer(head, res.Body, res.ContentType)
	}
	return answer, nil
}

// generateAnswer is an answer (or a streamed part of one) of a custom handler: a JSON
// object's fields after the model's, anything else as text_output.
func generateAnswer(head, body []byte, contentType string) []byte {
	var compact bytes.Buffer
	if strings.HasPrefix(contentType, "application/json") && json.Compact(&compact, body) == nil && bytes.HasPrefix(compact.Bytes(), []byte("{")) {
		b := append([]byte{}, head...) // head serves every part
		if compact.Len() == 2 {        // {}
			return append(b, '}')
		}
		return append(append(b, ','), compact.Bytes()[1:]...)
	}
	return generateText(head, body)
}

// generateHead opens a generate answer: {"model_name": ..., "model_version": ... (no
// closing brace: the outputs follow).
func generateHead(v *registry.Version) []byte {
	name, _ := json.Marshal(v.Name)
	version, _ := json.Marshal(v.Version)
	b := append([]byte(`{"model_name":`), name...)
	b = append(b, `,"model_version":`...)
	return append(b, version...)
}

// generateText is an answer whose text_output is text.
func generateText(head, text []byte) []byte {
	out, _ := json.Marshal(string(text)) // invalid UTF-8 becomes U+FFFD
	b := append(append([]byte{}, head...), `,"text_output":`...)
	return append(append(b, out...), '}')
}

// eventStream writes Server-Sent Events: the status (200) and headers with the first.
type eventStream struct {
	w       http.ResponseWriter
	started bool
}

func (e *eventStream) send(data []byte) error {
	if !e.started {
		e.w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		e.w.Header().Set("Cache-Control", "no-cache")
		e.w.WriteHeader(http.StatusOK)
		e.started = true
	}
	if _, err := e.w.Write(append(append([]byte("data: "), data...), "\n\n"...)); err != nil {
		return err
	}
	if err := http.NewResponseController(e.w).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
