package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
)

// sequenceConfig is config.pbtxt of pkg/seqbatch/testdata/accumulate.onnx as a Triton
// sequence model: its four controls and two states (the running sum, and the inputs so far,
// which grows); batch (max_batch_size) 0 or more, an idle limit in µs (0: Triton's 1 s).
func sequenceConfig(batch int, idleMicroseconds int) string {
	dims := func(d string) string {
		if batch == 0 {
			return "1, " + d // the whole shape: no batch dimension added
		}
		return d
	}
	return fmt.Sprintf(`platform: "onnxruntime_onnx"
max_batch_size: %d
sequence_batching {
  max_sequence_idle_microseconds: %d
  oldest { max_queue_delay_microseconds: 20000 }
  control_input [
    { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
    { name: "END" control [ { kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] } ] },
    { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY int32_false_true: [ 0, 1 ] } ] },
    { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] }
  ]
  state [
    { input_name: "SUM_IN" output_name: "SUM_OUT" data_type: TYPE_INT32 dims: [ %s ] },
    { input_name: "HIST_IN" output_name: "HIST_OUT" data_type: TYPE_INT32 dims: [ %s ] }
  ]
}
`, batch, idleMicroseconds, dims("1"), dims("-1"))
}

// sequenceStep is one request of a sequence to a sequence model over REST; it answers the
// status and the outputs' data by name (or the error's message).
func sequenceStep(base, model string, params map[string]any, input ...int32) (int, map[string][]json.Number, string) {
	shape := []int{1, len(input)}
	if len(input) > 1 { // a batch of rows
		shape = []int{len(input), 1}
	}
	body, _ := json.Marshal(map[string]any{"parameters": params,
		"inputs": []map[string]any{{"name": "INPUT", "datatype": "INT32", "shape": shape, "data": input}}})
	status, b, _, err := send("POST", base+"/v2/models/"+model+"/infer", body)
	if err != nil {
		return 0, nil, err.Error()
	}
	var res struct {
		Outputs []struct {
			Name string
			Data []json.Number
		}
		Message string
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		return status, nil, string(b)
	}
	out := map[string][]json.Number{}
	for _, o := range res.Outputs {
		out[o.Name] = o.Data
	}
	return status, out, res.Message
}

func numbers(ns []json.Number) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = n.String()
	}
	return strings.Join(s, ",")
}

// TestTritonSequenceBatching: a Triton model folder whose config.pbtxt gives
// sequence_batching serves as Triton's sequence batcher does: each sequence's requests in
// order, the model given its start, end, ready and correlation id controls and, as implicit
// state, what its state outputs gave on the sequence's previous request (a state that grows
// too); a request that names no sequence,
// continues one not started (ended, or idle too long), or carries a batch is refused with
// 400, over REST and gRPC alike; /predictions takes TorchServe's sequence headers instead; an
// ensemble passes its request's sequence (parameters, or the headers) on to a sequence model
// among its steps;
// the clients see none of the control and state tensors.
func TestTritonSequenceBatching(t *testing.T) {
	ts := emptyServer(t, nil)
	for _, name := range []string{"acc", "acc0", "total"} {
		config := map[string]string{"acc": sequenceConfig(8, 0), "acc0": sequenceConfig(0, 300000),
			"total": `platform: "ensemble" max_batch_size: 8
input [ { name: "X" data_type: TYPE_INT32 dims: [ 1 ] } ]
output [ { name: "TOTAL" data_type: TYPE_INT32 dims: [ 1 ] } ]
ensemble_scheduling { step [ { model_name: "acc" input_map { key: "INPUT" value: "X" } output_map { key: "OUTPUT" value: "TOTAL" } } ] }`}[name]
		dir := filepath.Join(ts.store, name)
		if name == "total" {
			os.MkdirAll(filepath.Join(dir, "1"), 0o755)
		} else {
			copyFile(t, "pkg/seqbatch/testdata/accumulate.onnx", filepath.Join(dir, "1", "model.onnx"))
		}
		if err := os.WriteFile(filepath.Join(dir, "config.pbtxt"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
		exchange{"register " + name, "POST", "/models?url=" + name + "&synchronous=true&initial_workers=1", "", nil, 200, "", "registered"}.run(t, ts.management.URL)
	}

	// six sequences at once, in lockstep: each step's answer follows the sequence's own
	const sequences, steps = 6, 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}
	for s := range sequences {
		wg.Go(func() {
			id := any(uint64(18446744073709551615) - uint64(s)) // correlation ids up to 2^64-1
			sum, history := 0, []string{}
			for step := range steps {
				input := int32(10*s + step + 1)
				params := map[string]any{"sequence_id": id, "sequence_start": step == 0, "sequence_end": step == steps-1}
				status, out, msg := sequenceStep(ts.inference.URL, "acc", params, input)
				if status != 200 {
					fail("sequence %v step %d: %d %s", id, step, status, msg)
					return
				}
				sum += int(input)
				history = append(history, fmt.Sprint(input))
				flags := 4 // ready
				if step == 0 {
					flags++
				}
				if step == steps-1 {
					flags += 2
				}
				want := map[string]string{"OUTPUT": fmt.Sprint(sum), "HISTORY": strings.Join(history, ","), "FLAGS": fmt.Sprint(flags), "CORRID_OUT": fmt.Sprint(id)}
				for name, w := range want {
					if got := numbers(out[name]); got != w {
						fail("sequence %v step %d: %s %s, want %s", id, step, name, got, w)
					}
				}
				if len(out) != len(want) {
					fail("sequence %v step %d: outputs %v, want those of %v (no state)", id, step, out, want)
				}
			}
		})
	}
	wg.Wait()
	for _, e := range errs {
		t.Error(e)
	}
	var stats api.TritonStats
	getJSON(t, ts.inference.URL+"/v2/models/acc/stats", &stats)
	if st := stats.ModelStats[0]; st.InferenceCount != sequences*steps {
		t.Errorf("%d requests counted, want %d", st.InferenceCount, sequences*steps)
	}

	step := func(model string, params map[string]any, input ...int32) (int, map[string][]json.Number, string) {
		return sequenceStep(ts.inference.URL, model, params, input...)
	}
	for _, c := range []struct {
		name   string
		model  string
		params map[string]any
		input  []int32
		want   string
	}{
		{"no sequence", "acc", map[string]any{}, []int32{1}, "non-zero or non-empty correlation ID"},
		{"sequence 0", "acc", map[string]any{"sequence_id": 0, "sequence_start": true}, []int32{1}, "non-zero or non-empty correlation ID"},
		{"a sequence never started", "acc", map[string]any{"sequence_id": 99}, []int32{1}, "must specify the START flag"},
		{"a sequence ended", "acc", map[string]any{"sequence_id": uint64(18446744073709551615)}, []int32{1}, "must specify the START flag"},
		{"a string id for a UINT64 correlation id", "acc", map[string]any{"sequence_id": "abc", "sequence_start": true}, []int32{1}, `not the string "abc"`},
		{"a negative id", "acc", map[string]any{"sequence_id": -3, "sequence_start": true}, []int32{1}, "sequence_id must be a whole number"},
		{"a start flag that is no bool", "acc", map[string]any{"sequence_id": 5, "sequence_start": "yes"}, []int32{1}, "sequence_start must be true or false"},
		{"a batch of two", "acc", map[string]any{"sequence_id": 5, "sequence_start": true}, []int32{1, 2}, "batch-size 1"},
	} {
		if status, _, msg := step(c.model, c.params, c.input...); status != 400 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want 400 saying %q", c.name, status, msg, c.want)
		}
	}
	// /predictions: TorchServe's sequence headers name the sequence; a request without one
	// starts a sequence, whose id comes back in the header, as one with an id not running does
	predict := func(input int, header ...string) (id string, history string) {
		t.Helper()
		status, b, h, err := send("POST", ts.inference.URL+"/predictions/acc", []byte(fmt.Sprintf(`{"INPUT": [[%d]]}`, input)), header...)
		var res struct {
			Outputs []struct {
				Name string
				Data []json.Number
			}
		}
		if err != nil || status != 200 || json.Unmarshal(b, &res) != nil {
			t.Fatalf("/predictions/acc %v: %d %v %s", header, status, err, b)
		}
		for _, o := range res.Outputs {
			if o.Name == "HISTORY" {
				history = numbers(o.Data)
			}
		}
		return h.Get("ts_request_sequence_id"), history
	}
	id, history := predict(5)
	if id == "" || history != "5" {
		t.Fatalf("a prediction without a sequence: id %q, history %s", id, history)
	}
	if again, history := predict(3, "ts_request_sequence_id", id); again != id || history != "5,3" {
		t.Errorf("its next step: id %q, history %s; want %s and 5,3", again, history, id)
	}
	if _, history := predict(4, "ts_request_sequence_id", id, "ts_request_sequence_end", "true"); history != "5,3,4" {
		t.Errorf("its last step: history %s", history)
	}
	if _, history := predict(6, "ts_request_sequence_id", id); history != "6" {
		t.Errorf("the id after its sequence ended starts another: history %s", history)
	}
	if _, history := predict(7, "ts_request_sequence_id", id, "ts_request_sequence_start", "true"); history != "7" {
		t.Errorf("the start header starts it afresh: history %s", history)
	}
	exchange{"KServe v1", "POST", "/v1/models/acc:predict", "application/json", []byte(`{"instances": [[1]]}`), 400, "BadRequestException", "/v2/models/acc/infer"}.run(t, ts.inference.URL)
	exchange{"an explanation", "POST", "/v2/models/acc/explain", "application/json",
		[]byte(`{"inputs": [{"name": "INPUT", "shape": [1, 1], "datatype": "INT32", "data": [1]}]}`), 400, "BadRequestException", "sequence model"}.run(t, ts.inference.URL)

	// a start of a sequence that goes on restarts it; the model without a batch dimension
	// forgets a sequence idle past its limit (0.3 s)
	for _, s := range []struct {
		params map[string]any
		input  int32
		want   string
	}{
		{map[string]any{"sequence_id": 7, "sequence_start": true}, 3, "3"},
		{map[string]any{"sequence_id": 7}, 4, "3,4"},
		{map[string]any{"sequence_id": 7, "sequence_start": true}, 5, "5"},
	} {
		if status, out, msg := step("acc", s.params, s.input); status != 200 || numbers(out["HISTORY"]) != s.want {
			t.Errorf("%v: %d %s %v, want history %s", s.params, status, msg, out, s.want)
		}
	}
	if status, out, msg := step("acc0", map[string]any{"sequence_id": 8, "sequence_start": true}, 2); status != 200 || numbers(out["OUTPUT"]) != "2" {
		t.Fatalf("acc0: %d %s %v", status, msg, out)
	}
	if status, out, msg := step("acc0", map[string]any{"sequence_id": 8}, 2); status != 200 || numbers(out["OUTPUT"]) != "4" {
		t.Errorf("acc0's second step: %d %s %v", status, msg, out)
	}
	time.Sleep(600 * time.Millisecond)
	if status, _, msg := step("acc0", map[string]any{"sequence_id": 8}, 2); status != 400 || !strings.Contains(msg, "START flag") {
		t.Errorf("a step after the sequence's idle limit: %d %s", status, msg)
	}

	// an ensemble passes its request's sequence on to its steps' sequence models
	for i, want := range []string{"4", "9"} {
		body := fmt.Sprintf(`{"parameters": {"sequence_id": 555, "sequence_start": %v}, "inputs": [{"name": "X", "shape": [1, 1], "datatype": "INT32", "data": [%d]}]}`, i == 0, 4+i)
		status, b, _, err := send("POST", ts.inference.URL+"/v2/models/total/infer", []byte(body))
		var res struct {
			Outputs []struct{ Data []json.Number }
		}
		if err != nil || status != 200 || json.Unmarshal(b, &res) != nil || len(res.Outputs) != 1 || numbers(res.Outputs[0].Data) != want {
			t.Errorf("the ensemble's step %d: %d %v %s, want a total of %s", i+1, status, err, b, want)
		}
	}

	// and so does one through /predictions, with TorchServe's sequence headers (describe says
	// it is stateful, as its step is)
	exchange{"the ensemble described", "GET", "/models/total", "", nil, 200, "", `"stateful": true`}.run(t, ts.management.URL)
	status, b, h, err := send("POST", ts.inference.URL+"/predictions/total", []byte(`{"X": [[10]]}`))
	ensembleID := h.Get("ts_request_sequence_id")
	if err != nil || status != 200 || ensembleID == "" || !strings.Contains(string(b), `"data":[10]`) {
		t.Fatalf("/predictions/total without a sequence: %d %v %s, id %q", status, err, b, ensembleID)
	}
	status, b, h, err = send("POST", ts.inference.URL+"/predictions/total", []byte(`{"X": [[5]]}`), "ts_request_sequence_id", ensembleID)
	if err != nil || status != 200 || h.Get("ts_request_sequence_id") != ensembleID || !strings.Contains(string(b), `"data":[15]`) {
		t.Errorf("/predictions/total, the sequence's next step: %d %v %s, want a total of 15", status, err, b)
	}

	// gRPC: ModelInfer and ModelStreamInfer with the same parameters
	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, ts, GRPCInference))
	grpcStep := func(id int64, start, end bool, input int32) *oippb.ModelInferRequest {
		return &oippb.ModelInferRequest{ModelName: "acc", Parameters: map[string]*oippb.InferParameter{
			"sequence_id":    {ParameterChoice: &oippb.InferParameter_Int64Param{Int64Param: id}},
			"sequence_start": {ParameterChoice: &oippb.InferParameter_BoolParam{BoolParam: start}},
			"sequence_end":   {ParameterChoice: &oippb.InferParameter_BoolParam{BoolParam: end}},
		}, Inputs: []*oippb.ModelInferRequest_InferInputTensor{{Name: "INPUT", Datatype: "INT32", Shape: []int64{1, 1},
			Contents: &oippb.InferTensorContents{IntContents: []int32{input}}}}}
	}
	output := func(res *oippb.ModelInferResponse, name string) []int32 {
		i := slices.IndexFunc(res.GetOutputs(), func(o *oippb.ModelInferResponse_InferOutputTensor) bool { return o.GetName() == name })
		if i < 0 {
			return nil
		}
		raw := res.GetRawOutputContents()[i]
		v := make([]int32, len(raw)/4)
		binary.Read(bytes.NewReader(raw), binary.LittleEndian, v)
		return v
	}
	ctx := context.Background()
	if _, err := oip.ModelInfer(ctx, grpcStep(42, true, false, 1)); err != nil {
		t.Fatal(err)
	}
	res, err := oip.ModelInfer(ctx, grpcStep(42, false, true, 2))
	if err != nil || !slices.Equal(output(res, "HISTORY"), []int32{1, 2}) || len(res.GetOutputs()) != 4 {
		t.Errorf("gRPC steps: %v %v", res, err)
	}
	if _, err := oip.ModelInfer(ctx, grpcStep(42, false, false, 3)); err == nil || !strings.Contains(err.Error(), "START flag") {
		t.Errorf("gRPC step after the end: %v", err)
	}
	stream, err := oip.ModelStreamInfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(3) {
		if err := stream.Send(grpcStep(43, i == 0, i == 2, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	stream.CloseSend()
	for i := range 3 {
		r, err := stream.Recv()
		if err != nil || r.GetErrorMessage() != "" || !slices.Equal(output(r.GetInferResponse(), "OUTPUT"), []int32{int32((i + 1) * (i + 2) / 2)}) {
			t.Errorf("stream answer %d: %v %v", i, r, err)
		}
	}

	// what clients see of the model: its input and answered outputs, config.pbtxt's
	// sequence batcher, a stateful model
	var meta struct {
		Inputs, Outputs []struct{ Name string }
	}
	getJSON(t, ts.inference.URL+"/v2/models/acc", &meta)
	if len(meta.Inputs) != 1 || meta.Inputs[0].Name != "INPUT" || len(meta.Outputs) != 4 {
		t.Errorf("metadata %+v: want INPUT, and OUTPUT, HISTORY, FLAGS and CORRID_OUT", meta)
	}
	exchange{"the config's sequence batcher", "GET", "/v2/models/acc/config", "", nil, 200, "", `"kind": "CONTROL_SEQUENCE_CORRID"`}.run(t, ts.inference.URL)
	cfg, err := oip.ModelConfig(ctx, &oippb.ModelConfigRequest{Name: "acc"})
	if err != nil || len(cfg.GetConfig().GetSequenceBatching().GetState()) != 2 || cfg.GetConfig().GetDynamicBatching() != nil {
		t.Errorf("gRPC config: %v %v", cfg, err)
	}
	var described []api.Description
	getJSON(t, ts.management.URL+"/models/acc0", &described)
	if d := described[0]; !d.Stateful || d.SequenceMaxIdleMSec != 300 || d.Sequences == nil || *d.Sequences != 0 {
		t.Errorf("describe: stateful %v, sequenceMaxIdleMSec %d, sequences %v (want none held: they idled out)", d.Stateful, d.SequenceMaxIdleMSec, d.Sequences)
	}
	if status, _, msg := step("acc0", map[string]any{"sequence_id": 10, "sequence_start": true}, 1); status != 200 {
		t.Fatalf("acc0: %d %s", status, msg)
	}
	getJSON(t, ts.management.URL+"/models/acc0", &described)
	if d := described[0]; d.Sequences == nil || *d.Sequences != 1 {
		t.Errorf("describe after a sequence started: sequences %v, want 1", d.Sequences)
	}
}
