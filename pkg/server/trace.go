package server

import (
	"errors"
	"io"
	"net/http"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/trace"
)

// Triton's trace extension on the inference port: GET and POST
// /v2[/models/{model}]/trace/setting show and change which requests are traced
// (tritonclient's get_trace_settings and update_trace_settings); a traced request's
// timestamps (REQUEST_START, QUEUE_START, COMPUTE_START, COMPUTE_END, REQUEST_END) and, at
// level TENSORS, its tensors go to trace_file as Triton writes them (package trace).

func (s *Server) traceRoutes(rt *router) {
	rt.handle("GET /v2/trace/setting", s.traceSetting)
	rt.handle("POST /v2/trace/setting", s.traceSetting)
	rt.handle("GET /v2/models/{model}/trace/setting", s.traceSetting)
	rt.handle("POST /v2/models/{model}/trace/setting", s.traceSetting)
}

func (s *Server) traceSetting(w http.ResponseWriter, r *http.Request) error {
	model := r.PathValue("model")
	if model != "" {
		if _, err := s.reg.Model(model); err != nil {
			return apierror.BadRequest("Request for unknown model: '%s' is not found", model) // Triton's words
		}
	}
	if r.Method == http.MethodGet {
		return writeJSON(w, http.StatusOK, s.tracer.Get(model))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		return apierror.BadRequest("cannot read the request body: %v", err)
	}
	settings, err := s.tracer.Update(model, body)
	if errors.Is(err, trace.ErrBadSetting) {
		return apierror.BadRequest("%v", err)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, settings)
}
