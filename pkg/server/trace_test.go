package server

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
)

// TestTraceExtension: Triton's trace settings over HTTP (global and per model, the
// client's mistakes as 400s with the protocol's error), and the trace a sampled request
// leaves in trace_file: its model and id, then REQUEST_START, QUEUE_START, COMPUTE_START,
// COMPUTE_END and REQUEST_END in order, through /predictions and /v2 infer alike.
func TestTraceExtension(t *testing.T) {
	file := filepath.Join(t.TempDir(), "trace.json")
	ts := emptyServer(t, map[string]string{"trace_file": file})
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	base := ts.inference.URL
	for _, e := range []exchange{
		{"global settings", "GET", "/v2/trace/setting", "", nil, 200, "", `"trace_rate": "1000"`},
		{"the extension listed", "GET", "/v2", "", nil, 200, "", `"trace"`},
		{"trace iris", "POST", "/v2/models/iris/trace/setting", "application/json", []byte(`{"trace_level": ["TIMESTAMPS"], "trace_rate": "1", "trace_count": "2"}`), 200, "", `"trace_count": "2"`},
		{"iris's settings", "GET", "/v2/models/iris/trace/setting", "", nil, 200, "", `"TIMESTAMPS"`},
		{"global unchanged", "GET", "/v2/trace/setting", "", nil, 200, "", `"OFF"`},
		{"unknown model", "GET", "/v2/models/nope/trace/setting", "", nil, 400, "BadRequestException", `"error": "Request for unknown model: 'nope' is not found"`},
		{"bad level", "POST", "/v2/trace/setting", "application/json", []byte(`{"trace_level": ["LOUD"]}`), 400, "BadRequestException", `is not OFF, TIMESTAMPS or TENSORS`},
		{"trace file", "POST", "/v2/trace/setting", "application/json", []byte(`{"trace_file": "/etc/x"}`), 400, "BadRequestException", `trace file location can not be updated through network protocol`},
		{"predict", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", ""},
		{"infer", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`), 200, "", ""},
		{"count spent", "GET", "/v2/models/iris/trace/setting", "", nil, 200, "", `"trace_count": "0"`},
		{"not traced", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", ""},
	} {
		e.run(t, base)
	}
	ts.srv.tracer.Close()
	b, err := os.ReadFile(file + ".0") // the count ran out: written at once, indexed
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		ID         int    `json:"id"`
		ModelName  string `json:"model_name"`
		RequestID  string `json:"request_id"`
		Timestamps []struct {
			Name string `json:"name"`
			NS   int64  `json:"ns"`
		} `json:"timestamps"`
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	stamps := map[int][]string{}
	times := map[int][]int64{}
	for _, e := range entries {
		if e.ModelName != "" && (e.ModelName != "iris" || e.RequestID == "") {
			t.Errorf("trace head %+v", e)
		}
		for _, s := range e.Timestamps {
			stamps[e.ID] = append(stamps[e.ID], s.Name)
			times[e.ID] = append(times[e.ID], s.NS)
		}
	}
	want := []string{"REQUEST_START", "QUEUE_START", "COMPUTE_START", "COMPUTE_END", "REQUEST_END"}
	if len(stamps) != 2 {
		t.Fatalf("%d traces, want 2 (trace_count): %s", len(stamps), b)
	}
	for id, names := range stamps {
		if !slices.Equal(names, want) || !slices.IsSorted(times[id]) {
			t.Errorf("trace %d: %v at %v, want %v in order", id, names, times[id], want)
		}
	}
}

// TestGRPCTraceSetting: the trace settings over the Open Inference Protocol's gRPC service,
// as over HTTP: read, changed for a model, a setting with no value cleared, and a mistake
// an InvalidArgument.
func TestGRPCTraceSetting(t *testing.T) {
	ctx := context.Background()
	ts := emptyServer(t, nil)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, ts, GRPCInference))
	value := func(vs ...string) *oippb.TraceSettingRequest_SettingValue {
		return &oippb.TraceSettingRequest_SettingValue{Value: vs}
	}
	res, err := oip.TraceSetting(ctx, &oippb.TraceSettingRequest{})
	if err != nil || !slices.Equal(res.GetSettings()["trace_level"].GetValue(), []string{"OFF"}) || res.GetSettings()["trace_rate"].GetValue()[0] != "1000" {
		t.Fatalf("global: %v %v", res, err)
	}
	res, err = oip.TraceSetting(ctx, &oippb.TraceSettingRequest{ModelName: "iris", Settings: map[string]*oippb.TraceSettingRequest_SettingValue{
		"trace_level": value("TIMESTAMPS", "TENSORS"), "trace_rate": value("5")}})
	if err != nil || !slices.Equal(res.GetSettings()["trace_level"].GetValue(), []string{"TIMESTAMPS", "TENSORS"}) || res.GetSettings()["trace_rate"].GetValue()[0] != "5" {
		t.Fatalf("iris: %v %v", res, err)
	}
	res, err = oip.TraceSetting(ctx, &oippb.TraceSettingRequest{ModelName: "iris", Settings: map[string]*oippb.TraceSettingRequest_SettingValue{"trace_rate": value()}})
	if err != nil || res.GetSettings()["trace_rate"].GetValue()[0] != "1000" {
		t.Errorf("iris's rate cleared: %v %v", res, err)
	}
	_, err = oip.TraceSetting(ctx, &oippb.TraceSettingRequest{Settings: map[string]*oippb.TraceSettingRequest_SettingValue{"trace_rate": value("0")}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("rate 0: %v, want InvalidArgument", err)
	}
	_, err = oip.TraceSetting(ctx, &oippb.TraceSettingRequest{ModelName: "nope"})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("unknown model: %v, want InvalidArgument", err)
	}
	_, err = oip.TraceSetting(ctx, &oippb.TraceSettingRequest{ModelName: "..", Settings: map[string]*oippb.TraceSettingRequest_SettingValue{"trace_rate": value("7")}})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("model ..: %v, want InvalidArgument", err)
	}
}
