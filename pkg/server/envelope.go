package server

import (
	"net/http"

	"github.com/tsserve/ts/pkg/config"
)

// TorchServe's service envelopes (service_envelope): /predictions and /explanations read and
// answer bodies of another protocol, as TorchServe's envelopes unwrap and wrap them for its
// handlers: json and kserve KServe v1's ({"instances"} in, {"predictions"} or
// {"explanations"} out, as /v1/models/{m}:predict and :explain), kservev2 the Open Inference
// Protocol's tensors (as /v2/models/{m}/infer and /explain). Those paths serve the same
// without an envelope; the envelope keeps the clients of a TorchServe so configured on
// TorchServe's paths.

// enveloped serves a /predictions (or, explain, /explanations) request to a version of the
// named model in the settings' envelope; handled is false when there is none (or the method
// sends no body: OPTIONS still describes the model).
func (s *Server) enveloped(w http.ResponseWriter, r *http.Request, name, version string, explain bool) (handled bool, err error) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		return false, nil
	}
	switch s.cfg.ServiceEnvelope {
	case config.EnvelopeJSON, config.EnvelopeKServe:
		return true, s.v1On(w, r, name, version, explain)
	case config.EnvelopeKServeV2:
		if explain {
			return true, s.v2ExplainOf(w, r, name, version)
		}
		return true, s.v2InferOf(w, r, name, version)
	}
	return false, nil
}
