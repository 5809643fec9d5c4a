package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
)

// ensembleConfig is config.pbtxt of an ensemble of iris (features → probabilities) and then
// plus (pkg/engine/testdata/passthrough.onnx: x → x and y = x + 1) on the probabilities.
const ensembleConfig = `name: "chain"
platform: "ensemble"
max_batch_size: 8
input [ { name: "IN" data_type: TYPE_FP32 dims: [ 4 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] }, { name: "PROB" data_type: TYPE_FP32 dims: [ 3 ] } ]
ensemble_scheduling {
  step [
    { model_name: "iris" model_version: -1 input_map { key: "features" value: "IN" } output_map { key: "probabilities" value: "P" } },
    { model_name: "plus" model_version: -1 input_map { key: "x" value: "P" } output_map [ { key: "y" value: "OUT" }, { key: "x" value: "PROB" } ] }
  ]
}
`

// TestTritonEnsemble: a Triton ensemble folder serves as Triton's ensemble scheduler does:
// each step a request to a registered model, the tensors flowing by input_map and
// output_map, over the Open Inference Protocol (REST and gRPC), /predictions, KServe v1 and
// explanations; it is ready, and serves, once its steps' models are registered; its config
// and metadata say ensemble; an ensemble whose steps make a cycle is refused.
func TestTritonEnsemble(t *testing.T) {
	ts := emptyServer(t, nil)
	copyFile(t, "pkg/engine/testdata/passthrough.onnx", filepath.Join(ts.store, "plus", "1", "model.onnx"))
	for name, cfg := range map[string]string{"chain": ensembleConfig, "orphan": strings.ReplaceAll(ensembleConfig, `"plus"`, `"absent"`), "loop": `platform: "ensemble" input [ { name: "IN" data_type: TYPE_FP32 dims: [ 3 ] } ]
output [ { name: "OUT" data_type: TYPE_FP32 dims: [ 3 ] } ]
ensemble_scheduling { step [
  { model_name: "plus" input_map { key: "x" value: "B" } output_map { key: "y" value: "A" } },
  { model_name: "plus" input_map { key: "x" value: "A" } output_map [ { key: "y" value: "B" }, { key: "x" value: "OUT" } ] } ] }`} {
		os.MkdirAll(filepath.Join(ts.store, name, "1"), 0o755)
		if err := os.WriteFile(filepath.Join(ts.store, name, "config.pbtxt"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exchange{"an ensemble whose steps make a cycle", "POST", "/models?url=loop", "", nil, 400, "InvalidModelException", "cycle"}.run(t, ts.management.URL)
	exchange{"register the ensemble", "POST", "/models?url=chain&synchronous=true", "", nil, 200, "", "registered"}.run(t, ts.management.URL)
	infer := []byte(`{"inputs": [{"name": "IN", "shape": [2, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}]}`)
	exchange{"not ready without its steps' models", "GET", "/v2/models/chain/ready", "", nil, 400, "", ""}.run(t, ts.inference.URL)
	exchange{"nor serving", "POST", "/v2/models/chain/infer", "application/json", infer, 503, "ServiceUnavailableException", "model iris is not registered"}.run(t, ts.inference.URL)
	for _, url := range []string{"iris.mar", "plus"} {
		exchange{"register " + url, "POST", "/models?url=" + url + "&synchronous=true&initial_workers=1", "", nil, 200, "", "registered"}.run(t, ts.management.URL)
	}
	exchange{"ready with them", "GET", "/v2/models/chain/ready", "", nil, 200, "", ""}.run(t, ts.inference.URL)

	var wg sync.WaitGroup
	for range 8 { // at once: the steps' models batch them
		wg.Go(func() {
			status, b, _, err := send("POST", ts.inference.URL+"/v2/models/chain/infer", infer)
			var res struct {
				Outputs []struct {
					Name  string
					Shape []int64
					Data  []float64
				}
			}
			if err != nil || status != 200 || json.Unmarshal(b, &res) != nil || len(res.Outputs) != 2 {
				t.Errorf("infer: %d %v %s", status, err, b)
				return
			}
			out, prob := res.Outputs[0], res.Outputs[1]
			if out.Name != "OUT" || prob.Name != "PROB" || len(out.Data) != 6 || len(prob.Data) != 6 {
				t.Errorf("outputs %+v", res.Outputs)
				return
			}
			for row := range 2 {
				total := 0.0
				for k := range 3 {
					i := 3*row + k
					total += prob.Data[i]
					if math.Abs(out.Data[i]-prob.Data[i]-1) > 1e-5 {
						t.Errorf("OUT %v is not PROB %v + 1", out.Data, prob.Data)
					}
				}
				if math.Abs(total-1) > 1e-4 {
					t.Errorf("row %d's probabilities %v do not add up to 1", row, prob.Data)
				}
			}
			if prob.Data[0] < 0.5 || prob.Data[5] < 0.5 {
				t.Errorf("probabilities %v: want setosa, then virginica", prob.Data)
			}
		})
	}
	wg.Wait()
	exchange{"/predictions", "POST", "/predictions/chain", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", `"name":"PROB"`}.run(t, ts.inference.URL)
	exchange{"KServe v1", "POST", "/v1/models/chain:predict", "application/json", []byte(`{"instances": [[5.1, 3.5, 1.4, 0.2]]}`), 200, "", `"PROB"`}.run(t, ts.inference.URL)
	exchange{"an explanation", "POST", "/explanations/chain", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", `"attributions"`}.run(t, ts.inference.URL)
	exchange{"a wrong shape", "POST", "/v2/models/chain/infer", "application/json",
		[]byte(`{"inputs": [{"name": "IN", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}`), 400, "BadRequestException", "shape"}.run(t, ts.inference.URL)
	nine := strings.Repeat("5.1, 3.5, 1.4, 0.2, ", 9)
	exchange{"more rows than max_batch_size", "POST", "/v2/models/chain/infer", "application/json",
		[]byte(`{"inputs": [{"name": "IN", "shape": [9, 4], "datatype": "FP32", "data": [` + strings.TrimSuffix(nine, ", ") + `]}]}`), 400, "BadRequestException", "batch-size must be \\u003c= 8 for 'chain'"}.run(t, ts.inference.URL)
	var described []api.Description
	getJSON(t, ts.management.URL+"/models/chain", &described)
	if d := described[0]; !slices.Equal(d.Ensemble, []string{"iris", "plus"}) || d.Sequences != nil {
		t.Errorf("describe: ensemble %v, sequences %v", d.Ensemble, d.Sequences)
	}
	exchange{"the metadata", "GET", "/v2/models/chain", "", nil, 200, "", `"platform": "ensemble"`}.run(t, ts.inference.URL)
	exchange{"the config's steps", "GET", "/v2/models/chain/config", "", nil, 200, "", `"model_name": "plus"`}.run(t, ts.inference.URL)

	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, ts, GRPCInference))
	res, err := oip.ModelInfer(context.Background(), &oippb.ModelInferRequest{ModelName: "chain", Inputs: []*oippb.ModelInferRequest_InferInputTensor{
		{Name: "IN", Datatype: "FP32", Shape: []int64{1, 4}, Contents: &oippb.InferTensorContents{Fp32Contents: []float32{5.1, 3.5, 1.4, 0.2}}}}})
	if err != nil || len(res.GetRawOutputContents()) != 2 {
		t.Fatalf("gRPC: %v %v", res, err)
	}
	prob := make([]float32, 3)
	binary.Read(bytes.NewReader(res.GetRawOutputContents()[1]), binary.LittleEndian, prob)
	if prob[0] < 0.5 {
		t.Errorf("gRPC PROB %v: want setosa", prob)
	}
	cfg, err := oip.ModelConfig(context.Background(), &oippb.ModelConfigRequest{Name: "chain"})
	if err != nil || cfg.GetConfig().GetPlatform() != "ensemble" || len(cfg.GetConfig().GetEnsembleScheduling().GetStep()) != 2 {
		t.Errorf("gRPC config: %v %v", cfg, err)
	}
	exchange{"unregister a step's model", "DELETE", "/models/plus", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"the ensemble then fails, naming it", "POST", "/v2/models/chain/infer", "application/json", infer, 503, "ServiceUnavailableException", "step 2 (model plus)"}.run(t, ts.inference.URL)

	// Triton's repository load of an ensemble loads its steps' models that are not loaded
	for _, m := range []string{"chain", "iris"} {
		exchange{"unregister " + m, "DELETE", "/models/" + m, "", nil, 200, "", ""}.run(t, ts.management.URL)
	}
	exchange{"load the ensemble", "POST", "/v2/repository/models/chain/load", "", nil, 200, "", "{}"}.run(t, ts.inference.URL)
	exchange{"its models came with it", "POST", "/v2/models/chain/infer", "application/json", infer, 200, "", `"name":"PROB"`}.run(t, ts.inference.URL)
	exchange{"loading one whose step's model the store lacks", "POST", "/v2/repository/models/orphan/load", "", nil, 404, "", "its step's model absent"}.run(t, ts.inference.URL)
	exchange{"it does not load either, as in Triton", "GET", "/v2/models/orphan", "", nil, 404, "", ""}.run(t, ts.inference.URL)
}
