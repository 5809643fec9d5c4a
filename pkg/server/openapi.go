package server

import (
	"net/http"
	"strconv"

	"github.com/tsserve/ts/pkg/tensor"
)

// op is one OpenAPI operation.
type op struct {
	Summary    string                    `json:"summary"`
	Parameters []map[string]any          `json:"parameters,omitempty"`
	Responses  map[string]map[string]any `json:"responses"`
}

func pathParam(name string) map[string]any {
	return map[string]any{"name": name, "in": "path", "required": true, "schema": map[string]string{"type": "string"}}
}

func queryParam(name, typ, desc string) map[string]any {
	return map[string]any{"name": name, "in": "query", "description": desc, "schema": map[string]string{"type": typ}}
}

func responses(codes ...int) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, c := range codes {
		out[strconv.Itoa(c)] = map[string]any{"description": http.StatusText(c)}
	}
	return out
}

// apiDescriptions are the OpenAPI 3.0.1 documents of the three APIs (OPTIONS /).
var apiDescriptions = map[string]map[string]map[string]op{
	Inference: {
		"/ping": {"get": {Summary: "Health: Healthy, Partial Healthy or Unhealthy", Responses: responses(200, 500)}},
		"/predictions/{model_name}": {"post": {Summary: "Predict with the default version (or a version drawn from the traffic split)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/predictions/{model_name}/{model_version}": {"post": {Summary: "Predict with a version",
			Parameters: []map[string]any{pathParam("model_name"), pathParam("model_version")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/predictions/{model_name}/{model_version}/{url_path}": {"post": {Summary: "Predict with a version; the rest of the path reaches the handler as the header url_path",
			Parameters: []map[string]any{pathParam("model_name"), pathParam("model_version"), pathParam("url_path")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/explanations/{model_name}": {"post": {Summary: "Explain a prediction of the default version: attributions by occlusion (target: the top class unless the query or a form field names one; patch: an image patch's side)",
			Parameters: []map[string]any{pathParam("model_name"), queryParam("target", "string", ""), queryParam("patch", "integer", "")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/explanations/{model_name}/{model_version}": {"post": {Summary: "Explain a prediction of a version",
			Parameters: []map[string]any{pathParam("model_name"), pathParam("model_version"), queryParam("target", "string", ""), queryParam("patch", "integer", "")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/invocations": {"post": {Summary: "SageMaker's form: predict with model_name (query or form field; the only start-up model when absent)",
			Parameters: []map[string]any{queryParam("model_name", "string", "")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/models/{model_name}/invoke": {"post": {Summary: "SageMaker's form: predict with the default version",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/{model_name}/predict": {"post": {Summary: "MMS's legacy form: predict with the default version",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/{model_name}/{model_version}/predict": {"post": {Summary: "MMS's legacy form: predict with a version",
			Parameters: []map[string]any{pathParam("model_name"), pathParam("model_version")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/wfpredict/{workflow_name}": {"post": {Summary: "Run a request through a workflow's DAG: the leaf's answer (several leaves: a JSON object by node name)",
			Parameters: []map[string]any{pathParam("workflow_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/v1/models": {"get": {Summary: "KServe v1: model names", Responses: responses(200)}},
		"/v1/models/{model_name}": {"get": {Summary: "KServe v1: model ready (503 when not)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 404, 503)}},
		"/v1/models/{model_name}:predict": {"post": {Summary: `KServe v1: {"instances": [...]} → {"predictions": [...]}, or {"inputs"} → {"outputs"}`,
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/v1/models/{model_name}:explain": {"post": {Summary: `KServe v1: {"instances": [...]} → {"explanations": [...]}, one explanation per instance`,
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/v2":              {"get": {Summary: "Open Inference Protocol: server metadata", Responses: responses(200)}},
		"/v2/health/live":  {"get": {Summary: "Open Inference Protocol: live", Responses: responses(200)}},
		"/v2/health/ready": {"get": {Summary: "Open Inference Protocol: ready (400 when not)", Responses: responses(200, 400)}},
		"/v2/models/{model_name}": {"get": {Summary: "Open Inference Protocol: model metadata (also /versions/{model_version})",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 404)}},
		"/v2/models/{model_name}/ready": {"get": {Summary: "Open Inference Protocol: model ready, 400 when not (also /versions/{model_version}/ready)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404)}},
		"/v2/models/{model_name}/infer": {"post": {Summary: "Open Inference Protocol: inference on tensors, JSON or binary tensor data (also /versions/{model_version}/infer)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/v2/models/{model_name}/explain": {"post": {Summary: `Open Inference Protocol: explain a request of tensors by occlusion (target, output, baseline as query parameters); the attributions as an output "explain" (also /versions/{model_version}/explain)`,
			Parameters: []map[string]any{pathParam("model_name"), queryParam("target", "string", ""), queryParam("output", "string", ""), queryParam("baseline", "number", "")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/v2/models/{model_name}/generate": {"post": {Summary: `Triton's generate extension: a JSON object of the model's inputs by name ("text_input") and "parameters"; the outputs by name ("text_output"), or a custom handler's answer as "text_output" (also /versions/{model_version}/generate)`,
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/v2/models/{model_name}/generate_stream": {"post": {Summary: "Triton's generate extension as Server-Sent Events: each part a custom handler streams is an event (also /versions/{model_version}/generate_stream)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404, 408, 413, 503)}},
		"/v2/models/{model_name}/config": {"get": {Summary: "Triton's model configuration (also /versions/{model_version}/config)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 404)}},
		"/v2/models/{model_name}/stats": {"get": {Summary: "Triton's statistics of the model's versions (also /v2/models/stats for every model, /versions/{model_version}/stats)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 404)}},
		"/v2/repository/index": {"post": {Summary: `Triton's model repository index ({"ready": true}: ready versions only)`, Responses: responses(200, 400)}},
		"/v2/repository/models/{model_name}/load": {"post": {Summary: "Triton's model repository: register {model_name}.mar from the model store with a worker at least (enable_model_api; not under token authorization)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404)}},
		"/v2/repository/models/{model_name}/unload": {"post": {Summary: "Triton's model repository: unregister every version of the model (enable_model_api; not under token authorization)",
			Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404)}},
	},
	Management: {
		"/models": {
			"get": {Summary: "List models", Parameters: []map[string]any{queryParam("limit", "integer", "page size (≤ 100)"), queryParam("next_page_token", "string", "offset")}, Responses: responses(200)},
			"post": {Summary: "Register a model", Parameters: []map[string]any{
				queryParam("url", "string", "archive in the model store (or an allowed URL)"), queryParam("model_name", "string", ""),
				queryParam("handler", "string", ""), queryParam("runtime", "string", ""), queryParam("batch_size", "integer", ""),
				queryParam("max_batch_delay", "integer", "ms"), queryParam("initial_workers", "integer", ""),
				queryParam("synchronous", "boolean", ""), queryParam("response_timeout", "integer", "s"), queryParam("startup_timeout", "integer", "s"),
			}, Responses: responses(200, 202, 400, 404, 409, 500)},
		},
		"/token": {"get": {Summary: "With the API key as bearer: a new inference or management key, written to the key file (token authorization on)",
			Parameters: []map[string]any{queryParam("type", "string", "inference or management")}, Responses: responses(200, 400)}},
		"/models/upload": {"post": {Summary: "Upload an archive (body) into the model store and register it (when enable_model_upload)", Parameters: []map[string]any{
			queryParam("filename", "string", "NAME.mar, .tar.gz, .tgz or .tar.zst"), queryParam("model_name", "string", ""),
			queryParam("initial_workers", "integer", ""), queryParam("synchronous", "boolean", ""),
		}, Responses: responses(200, 202, 400, 405, 409, 413, 500)}},
		"/models/{model_name}": {
			"get":    {Summary: "Describe the default version", Parameters: []map[string]any{pathParam("model_name"), queryParam("customized", "boolean", "add customizedMetadata: the ONNX model's own metadata")}, Responses: responses(200, 404)},
			"put":    {Summary: "Scale workers", Parameters: []map[string]any{pathParam("model_name"), queryParam("min_worker", "integer", ""), queryParam("max_worker", "integer", ""), queryParam("synchronous", "boolean", "")}, Responses: responses(200, 202, 400, 404, 500)},
			"delete": {Summary: "Unregister the default version", Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 403, 404, 408)},
		},
		"/models/{model_name}/{model_version}": {
			"get":    {Summary: "Describe a version (all: every version)", Parameters: []map[string]any{pathParam("model_name"), pathParam("model_version"), queryParam("customized", "boolean", "add customizedMetadata: the ONNX model's own metadata")}, Responses: responses(200, 404)},
			"put":    {Summary: "Scale a version's workers", Parameters: []map[string]any{pathParam("model_name"), pathParam("model_version")}, Responses: responses(200, 202, 400, 404, 500)},
			"delete": {Summary: "Unregister a version", Parameters: []map[string]any{pathParam("model_name"), pathParam("model_version")}, Responses: responses(200, 403, 404, 408)},
		},
		"/models/{model_name}/{model_version}/set-default": {"put": {Summary: "Make a version the default", Parameters: []map[string]any{pathParam("model_name"), pathParam("model_version")}, Responses: responses(200, 404)}},
		"/workflows": {
			"get": {Summary: "List workflows", Parameters: []map[string]any{queryParam("limit", "integer", "page size (≤ 100)"), queryParam("next_page_token", "string", "offset")}, Responses: responses(200)},
			"post": {Summary: "Register a workflow archive (.war) and start its models", Parameters: []map[string]any{
				queryParam("url", "string", "archive in the workflow store (or an allowed URL)"), queryParam("workflow_name", "string", ""),
				queryParam("response_timeout", "integer", "s"), queryParam("startup_timeout", "integer", "s"),
			}, Responses: responses(200, 400, 404, 409, 500)},
		},
		"/workflows/{workflow_name}": {
			"get":    {Summary: "Describe a workflow", Parameters: []map[string]any{pathParam("workflow_name")}, Responses: responses(200, 404)},
			"delete": {Summary: "Unregister a workflow and its models", Parameters: []map[string]any{pathParam("workflow_name")}, Responses: responses(200, 404)},
		},
		"/models/{model_name}/split": {
			"get":    {Summary: "Traffic split across versions", Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 404)},
			"put":    {Summary: `Set the traffic split: body {"1.0": 90, "2.0": 10} or ?weights=1.0:90,2.0:10`, Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 400, 404)},
			"delete": {Summary: "Remove the traffic split", Parameters: []map[string]any{pathParam("model_name")}, Responses: responses(200, 404)},
		},
	},
	Metrics: {
		"/metrics": {"get": {Summary: "Prometheus metrics", Responses: responses(200)}},
	},
}

func (s *Server) apiDescription(api string) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		return writeJSON(w, http.StatusOK, map[string]any{
			"openapi": "3.0.1",
			"info":    map[string]string{"title": "ts " + api + " API (TorchServe-compatible)", "version": "1"},
			"paths":   apiDescriptions[api],
		})
	}
}

// modelDescription answers OPTIONS /predictions/{model}: the model's inputs and outputs.
func (s *Server) modelDescription(w http.ResponseWriter, name, version string) error {
	v, err := s.reg.Get(name, version)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"openapi": "3.0.1",
		"info":    map[string]string{"title": "ts model " + v.Name, "version": v.Version},
		"paths": map[string]any{"/predictions/" + v.Name: map[string]any{"post": map[string]any{
			"summary": "Predict with " + v.Name + " (handler " + v.Handler + ")",
			"x-model": map[string][]tensor.Info{"inputs": v.Inputs, "outputs": v.Outputs},
		}}},
	})
}
