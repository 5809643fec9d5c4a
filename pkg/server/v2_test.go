package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/clients"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// v2Output is an output of an Open Inference Protocol response.
type v2Output struct {
	Name       string
	Datatype   string
	Shape      []int64
	Data       []any
	Parameters struct {
		BinaryDataSize int `json:"binary_data_size"`
	}
}

type v2Response struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string
	Outputs      []v2Output
	Error        string
}

// v2Infer posts an OIP request (JSON, then binary data when given) and decodes the answer:
// its JSON part and the binary data after it.
func v2Infer(t *testing.T, url, doc string, blob []byte) (int, v2Response, []byte) {
	t.Helper()
	header := []string{"Content-Type", "application/json"}
	body := []byte(doc)
	if blob != nil {
		body = append(body, blob...)
		header = []string{"Content-Type", "application/octet-stream", "Inference-Header-Content-Length", strconv.Itoa(len(doc))}
	}
	status, b, h, err := send("POST", url, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	jsonPart, rest := b, []byte(nil)
	if n := h.Get("Inference-Header-Content-Length"); n != "" {
		k, _ := strconv.Atoi(n)
		jsonPart, rest = b[:k], b[k:]
	}
	var res v2Response
	if err := json.Unmarshal(jsonPart, &res); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return status, res, rest
}

// TestStrictReadiness: the server is ready (/v2/health/ready) once every model is, as
// Triton's default; with strict_readiness=false (--strict-readiness=false) as soon as it is up.
func TestStrictReadiness(t *testing.T) {
	for _, c := range []struct {
		flags map[string]string
		want  int
	}{{nil, 400}, {map[string]string{"strict_readiness": "false"}, 200}} {
		ts := emptyServer(t, c.flags)
		release := ts.reg.Hold() // a model loading, as at start
		code, body := call(t, "GET", ts.inference.URL+"/v2/health/ready", "")
		release()
		if code != c.want {
			t.Errorf("%v, a model loading: %d %s, want %d", c.flags, code, body, c.want)
		}
		if code, body := call(t, "GET", ts.inference.URL+"/v2/health/ready", ""); code != 200 {
			t.Errorf("%v, every model loaded: %d %s", c.flags, code, body)
		}
	}
}

// TestOpenInferenceProtocol: KServe v2 / Triton's HTTP API beside TorchServe's: metadata,
// health, and inference on raw tensors in JSON and binary tensor data, batched like any
// request, with the protocol's {"error"} on failures.
func TestOpenInferenceProtocol(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register iris 1.0", "POST", "/models?url=iris.mar&initial_workers=2&synchronous=true&batch_size=8&max_batch_delay=20", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"register iris 2.0", "POST", "/models?url=iris-v2.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	ts.registerArchive(t, archive.PackOptions{ModelName: "alltypes", SerializedFile: testenv.Path("pkg/engine/testdata/alltypes.onnx"), Handler: "tensor"}, "initial_workers=1")
	base := ts.inference.URL

	for _, x := range []exchange{
		{"server metadata", "GET", "/v2", "", nil, 200, "", `"binary_tensor_data",
    "classification",
    "model_configuration"`},
		{"live", "GET", "/v2/health/live", "", nil, 200, "", `"live": true`},
		{"ready", "GET", "/v2/health/ready", "", nil, 200, "", `"ready": true`},
		{"model metadata", "GET", "/v2/models/iris", "", nil, 200, "", `"datatype": "FP32"`},
		{"model metadata lists the versions", "GET", "/v2/models/iris/versions/2.0", "", nil, 200, "", `"versions": [
    "1.0",
    "2.0"
  ]`},
		{"model metadata: names with ':' and every datatype", "GET", "/v2/models/alltypes", "", nil, 200, "", `"name": "x:float16",
      "datatype": "FP16"`},
		{"model ready", "GET", "/v2/models/iris/versions/2.0/ready", "", nil, 200, "", `"ready": true`},
		{"unknown model", "GET", "/v2/models/nope", "", nil, 404, "ModelNotFoundException", `"error": "Model not found: nope"`},
		{"unknown version", "POST", "/v2/models/iris/versions/9/infer", "application/json", []byte(`{"inputs":[]}`), 404, "ModelVersionNotFoundException", `"error": "Model version: 9 does not exist`},
		{"unknown path", "GET", "/v2/trace/settings", "", nil, 404, "ResourceNotFoundException", `"error": "Requested resource is not found`},
		{"not JSON", "POST", "/v2/models/iris/infer", "application/json", []byte(`features`), 400, "BadRequestException", `"error": "request is not valid JSON`},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, base) })
	}
	if status, b, _, _ := send("POST", base+"/v2/models/iris/infer", []byte(`{}`), "Inference-Header-Content-Length", "x"); status != 400 ||
		!strings.Contains(string(b), `"error": "Inference-Header-Content-Length: \"x\" is not a length"`) {
		t.Errorf("bad header length: %d %s", status, b)
	}

	// JSON: the same answer as /predictions gives, with the request's id echoed
	rows := []float32{5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3}
	status, res, _ := v2Infer(t, base+"/v2/models/iris/infer", `{"id":"req-1","inputs":[{"name":"features","shape":[2,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2,6.7,3.0,5.2,2.3]}]}`, nil)
	if status != 200 || res.ModelName != "iris" || res.ModelVersion != "1.0" || res.ID != "req-1" || len(res.Outputs) != 1 {
		t.Fatalf("%d %+v", status, res)
	}
	_, b, _, _ := send("POST", base+"/predictions/iris", []byte(`[[5.1,3.5,1.4,0.2],[6.7,3.0,5.2,2.3]]`), "Content-Type", "application/json")
	var direct struct{ Outputs []v2Output }
	json.Unmarshal(b, &direct)
	if o := res.Outputs[0]; o.Name != "probabilities" || o.Datatype != "FP32" || fmt.Sprint(o.Shape) != "[2 3]" || fmt.Sprint(o.Data) != fmt.Sprint(direct.Outputs[0].Data) {
		t.Errorf("OIP output %+v, /predictions %+v", o, direct.Outputs)
	}

	// Triton's classification extension: each row's top classes, named from the archive's
	// index_to_name.json
	ts.registerArchive(t, archive.PackOptions{ModelName: "iris-labels", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor",
		ExtraFiles: []string{testenv.Path("samples/iris/index_to_name.json")}}, "initial_workers=1")
	status, res, _ = v2Infer(t, base+"/v2/models/iris-labels/infer", `{"inputs":[{"name":"features","shape":[2,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2,6.7,3.0,5.2,2.3]}],`+
		`"outputs":[{"name":"probabilities","parameters":{"classification":1}}]}`, nil)
	names := []string{"setosa", "versicolor", "virginica"}
	var classes []any
	for r := range 2 {
		row := direct.Outputs[0].Data[3*r : 3*r+3]
		best := 0
		for i := range row {
			if row[i].(float64) > row[best].(float64) {
				best = i
			}
		}
		classes = append(classes, fmt.Sprintf("%.6f:%d:%s", row[best].(float64), best, names[best]))
	}
	if status != 200 || len(res.Outputs) != 1 || res.Outputs[0].Datatype != "BYTES" || fmt.Sprint(res.Outputs[0].Shape) != "[2 1]" ||
		fmt.Sprint(res.Outputs[0].Data) != fmt.Sprint(classes) {
		t.Errorf("classification: %d %+v, want data %v", status, res, classes)
	}

	// binary tensor data in and out gives the same values
	blob := make([]byte, 0, 32)
	for _, x := range rows {
		blob = binary.LittleEndian.AppendUint32(blob, math.Float32bits(x))
	}
	status, res, out := v2Infer(t, base+"/v2/models/iris/infer",
		`{"inputs":[{"name":"features","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}],"parameters":{"binary_data_output":true}}`, blob)
	if status != 200 || len(res.Outputs) != 1 || res.Outputs[0].Parameters.BinaryDataSize != 24 || len(out) != 24 {
		t.Fatalf("binary: %d %+v, %d bytes", status, res, len(out))
	}
	for i, want := range direct.Outputs[0].Data {
		got := math.Float32frombits(binary.LittleEndian.Uint32(out[4*i:]))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("binary output %d: %v, JSON %v", i, got, want)
		}
	}

	// every element type, through binary data both ways (Identity: the bytes come back), and
	// the outputs asked for in the order asked, one of them as JSON
	var inputs, outputs []string
	blob = nil
	types := []struct {
		name, v2 string
		size     int
	}{{"float32", "FP32", 4}, {"float16", "FP16", 2}, {"float64", "FP64", 8}, {"int64", "INT64", 8}, {"int32", "INT32", 4},
		{"int8", "INT8", 1}, {"uint8", "UINT8", 1}, {"bool", "BOOL", 1}}
	for _, ty := range types {
		data := make([]byte, 2*3*ty.size)
		for i := range data {
			data[i] = byte(i*7 + len(ty.name))
		}
		if ty.name == "bool" {
			data = []byte{1, 0, 1, 1, 0, 0}
		}
		if ty.name == "float16" || ty.name == "float32" || ty.name == "float64" {
			for i := ty.size - 1; i < len(data); i += ty.size {
				data[i] = 0x3c // a finite, positive exponent: no NaN payloads to compare
			}
		}
		blob = append(blob, data...)
		inputs = append(inputs, fmt.Sprintf(`{"name":"x:%s","shape":[2,3],"datatype":"%s","parameters":{"binary_data_size":%d}}`, ty.name, ty.v2, len(data)))
		outputs = append([]string{fmt.Sprintf(`{"name":"y:%s","parameters":{"binary_data":true}}`, ty.name)}, outputs...)
	}
	inputs = append(inputs, `{"name":"k","shape":[],"datatype":"INT64","data":[21]}`)
	outputs = append(outputs, `{"name":"k_twice"}`)
	doc := `{"inputs":[` + strings.Join(inputs, ",") + `],"outputs":[` + strings.Join(outputs, ",") + `]}`
	status, res, out = v2Infer(t, base+"/v2/models/alltypes/infer", doc, blob)
	if status != 200 || len(res.Outputs) != len(types)+1 {
		t.Fatalf("alltypes: %d %+v", status, res)
	}
	for i, ty := range slicesReversed(types) {
		o := res.Outputs[i]
		if o.Name != "y:"+ty.name || o.Datatype != ty.v2 || fmt.Sprint(o.Shape) != "[2 3]" || o.Parameters.BinaryDataSize != 6*ty.size {
			t.Errorf("output %d: %+v, want y:%s %s", i, o, ty.name, ty.v2)
		}
	}
	if k := res.Outputs[len(types)]; k.Name != "k_twice" || k.Datatype != "INT64" || fmt.Sprint(k.Shape) != "[]" || fmt.Sprint(k.Data) != "[42]" {
		t.Errorf("k_twice %+v", k)
	}
	// the binary outputs come in the order asked: the inputs' blobs reversed
	var want []byte
	for i := len(types) - 1; i >= 0; i-- {
		off := 0
		for _, ty := range types[:i] {
			off += 6 * ty.size
		}
		want = append(want, blob[off:off+6*types[i].size]...)
	}
	if string(out) != string(want) {
		t.Errorf("binary outputs differ from the inputs:\n%v\n%v", out, want)
	}

	// 32 concurrent clients, batch size 8: each gets its own answer
	var wg sync.WaitGroup
	answers := make([]string, 32)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := fmt.Sprintf(`{"id":"%d","inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[%d,3,%d,1]}]}`, i, i%8, i%5)
			status, res, _ := v2Infer(t, base+"/v2/models/iris/versions/1.0/infer", d, nil)
			if status != 200 || res.ID != strconv.Itoa(i) {
				t.Errorf("client %d: %d %+v", i, status, res)
				return
			}
			answers[i] = fmt.Sprint(res.Outputs[0].Data)
		}()
	}
	wg.Wait()
	for i, got := range answers {
		d := fmt.Sprintf(`[[%d,3,%d,1]]`, i%8, i%5)
		_, b, _, _ := send("POST", base+"/predictions/iris/1.0", []byte(d), "Content-Type", "application/json")
		var alone struct{ Outputs []v2Output }
		json.Unmarshal(b, &alone)
		if got != fmt.Sprint(alone.Outputs[0].Data) {
			t.Errorf("client %d got %s, alone %v", i, got, alone.Outputs[0].Data)
		}
	}

	// not ready: a version with no workers answers 400 {"ready": false}
	exchange{"scale 2.0 to 0", "PUT", "/models/iris/2.0?min_worker=0&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	status, b, _, _ = send("GET", base+"/v2/models/iris/versions/2.0/ready", nil)
	if status != http.StatusBadRequest || !strings.Contains(string(b), `"ready": false`) {
		t.Errorf("model with no workers: %d %s", status, b)
	}
}

func slicesReversed[T any](s []T) []T {
	out := make([]T, len(s))
	for i, x := range s {
		out[len(s)-1-i] = x
	}
	return out
}

// TestOIPRawRequest: the binary tensor data extension's raw request (Inference-Header-Content-
// Length 0, the body the one input's bytes) runs iris as its JSON form does and answers every
// output as binary data after the JSON header.
func TestOIPRawRequest(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	url := ts.inference.URL + "/v2/models/iris/infer"
	_, want, _ := v2Infer(t, url, `{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`, nil)
	status, b, h, err := send("POST", url, float32Bytes(5.1, 3.5, 1.4, 0.2), "Content-Type", "application/octet-stream", "Inference-Header-Content-Length", "0")
	if err != nil || status != 200 {
		t.Fatalf("raw request: %d %v %s", status, err, b)
	}
	k, err := strconv.Atoi(h.Get("Inference-Header-Content-Length"))
	if err != nil || k > len(b) {
		t.Fatalf("answer's Inference-Header-Content-Length %q", h.Get("Inference-Header-Content-Length"))
	}
	var res v2Response
	if err := json.Unmarshal(b[:k], &res); err != nil || len(res.Outputs) != 1 || res.Outputs[0].Parameters.BinaryDataSize != 12 || len(b)-k != 12 {
		t.Fatalf("answer %s + %d bytes", b[:k], len(b)-k)
	}
	for i := range 3 {
		got := math.Float32frombits(binary.LittleEndian.Uint32(b[k+4*i:]))
		if w := want.Outputs[0].Data[i].(float64); math.Abs(float64(got)-w) > 1e-6 {
			t.Errorf("probability %d: %g raw, %g from JSON", i, got, w)
		}
	}
	status, b, _, err = send("POST", url, float32Bytes(1, 2, 3), "Inference-Header-Content-Length", "0")
	if err != nil || status != 400 || !strings.Contains(string(b), "does not fit input") {
		t.Errorf("raw request of 3 values: %d %v %s", status, err, b)
	}
}

// TestOIPThroughHandler: an OIP request of BYTES inputs to a model that takes no strings goes
// to the model's handler, as TorchServe's kservev2 envelope passes it: each element (here an
// image's base64 text) one request, each answer an output named predict (explain, on the
// protocol's explain); the tensor handler's models take tensors only.
func TestOIPThroughHandler(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register digits", "POST", "/models?url=digits.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	var images []string
	for _, d := range []string{"3", "7"} {
		b, err := os.ReadFile(testenv.Path("samples/digits/" + d + ".png"))
		if err != nil {
			t.Fatal(err)
		}
		images = append(images, base64.StdEncoding.EncodeToString(b))
	}
	body, _ := json.Marshal(map[string]any{"id": "k1", "inputs": []any{map[string]any{"name": "312a4eb0", "shape": []int{-1}, "datatype": "BYTES", "data": images}}})
	status, res, _ := v2Infer(t, ts.inference.URL+"/v2/models/digits/infer", string(body), nil)
	if status != 200 || res.ID != "k1" || res.ModelName != "digits" || len(res.Outputs) != 2 {
		t.Fatalf("%d %+v", status, res)
	}
	for i, want := range []string{"3", "7"} {
		o := res.Outputs[i]
		var scores map[string]float64
		if o.Name != "predict" || o.Datatype != "BYTES" || len(o.Data) != 1 || json.Unmarshal([]byte(fmt.Sprint(o.Data[0])), &scores) != nil {
			t.Fatalf("output %d: %+v", i, o)
		}
		best := ""
		for label, p := range scores {
			if best == "" || p > scores[best] {
				best = label
			}
		}
		if best != want {
			t.Errorf("image %d: %v, want %s first", i, scores, want)
		}
	}
	// and explained by the handler: the digits' attributions, shaped [1, 8, 8]
	status, res, _ = v2Infer(t, ts.inference.URL+"/v2/models/digits/explain?patch=4", string(body), nil)
	if status != 200 || len(res.Outputs) != 2 || res.Outputs[0].Name != "explain" || res.Outputs[0].Datatype != "FP64" ||
		fmt.Sprint(res.Outputs[0].Shape) != "[1 8 8]" || len(res.Outputs[0].Data) != 64 {
		t.Errorf("explain: %d %+v", status, res)
	}
	exchange{"tensor model, BYTES", "POST", "/v2/models/iris/infer", "application/json", []byte(`{"inputs": [{"name": "x", "datatype": "BYTES", "data": ["abc"]}]}`), 400, "BadRequestException", `model has no input \"x\"`}.run(t, ts.inference.URL)
	exchange{"not an image", "POST", "/v2/models/digits/infer", "application/json", []byte(`{"inputs": [{"name": "x", "datatype": "BYTES", "data": ["abc"]}]}`), 400, "BadRequestException", ""}.run(t, ts.inference.URL)
}

// TestTritonModelConfig: Triton's model configuration extension (tritonclient's
// get_model_config, perf_analyzer): a batching model has max_batch_size ts's batch size, dims
// without the batch dimension and the dynamic batcher's settings; a model that cannot batch
// (alltypes.onnx takes a scalar) has 0 and its full shapes.
func TestTritonModelConfig(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=2&synchronous=true&batch_size=8&max_batch_delay=20", "", nil, 200, "", ""}.run(t, ts.management.URL)
	ts.registerArchive(t, archive.PackOptions{ModelName: "alltypes", SerializedFile: testenv.Path("pkg/engine/testdata/alltypes.onnx"), Handler: "tensor"}, "initial_workers=1")
	type tensorConfig struct {
		Name     string
		DataType string `json:"data_type"`
		Dims     []int64
	}
	type config struct {
		Name            string
		Platform        string
		MaxBatchSize    int `json:"max_batch_size"`
		Input, Output   []tensorConfig
		DynamicBatching *struct {
			MaxQueueDelay int64 `json:"max_queue_delay_microseconds"`
		} `json:"dynamic_batching"`
		InstanceGroup []struct {
			Kind  string
			Count int
		} `json:"instance_group"`
	}
	get := func(path string) config {
		t.Helper()
		status, b, _, err := send("GET", ts.inference.URL+path, nil)
		var c config
		if err != nil || status != 200 || json.Unmarshal(b, &c) != nil {
			t.Fatalf("%s: %d %v %s", path, status, err, b)
		}
		return c
	}
	iris := get("/v2/models/iris/config")
	if iris.Name != "iris" || iris.Platform != "onnxruntime_onnx" || iris.MaxBatchSize != 8 || iris.DynamicBatching == nil || iris.DynamicBatching.MaxQueueDelay != 20000 ||
		fmt.Sprint(iris.Input) != "[{features TYPE_FP32 [4]}]" || fmt.Sprint(iris.Output) != "[{probabilities TYPE_FP32 [3]}]" ||
		len(iris.InstanceGroup) != 1 || iris.InstanceGroup[0].Kind != "KIND_CPU" || iris.InstanceGroup[0].Count != 2 {
		t.Errorf("iris: %+v", iris)
	}
	all := get("/v2/models/alltypes/versions/1.0/config")
	if all.MaxBatchSize != 0 || all.DynamicBatching != nil || len(all.Input) != 9 ||
		fmt.Sprint(all.Input[1]) != "{x:float16 TYPE_FP16 [-1 3]}" || fmt.Sprint(all.Input[8]) != "{k TYPE_INT64 []}" {
		t.Errorf("alltypes: %+v", all)
	}
	exchange{"unknown model", "GET", "/v2/models/nope/config", "", nil, 404, "ModelNotFoundException", `"error": "Model not found: nope"`}.run(t, ts.inference.URL)

	// ONNX Runtime's session options as the onnxruntime backend's parameters, in effect
	type sessionConfig struct {
		Parameters map[string]struct {
			StringValue string `json:"string_value"`
		}
		Optimization *struct{ Graph struct{ Level int } }
	}
	params := func(c sessionConfig) string {
		var kv []string
		for _, key := range slices.Sorted(maps.Keys(c.Parameters)) {
			kv = append(kv, key+"="+c.Parameters[key].StringValue)
		}
		return strings.Join(kv, " ")
	}
	var plain sessionConfig
	getJSON(t, ts.inference.URL+"/v2/models/iris/config", &plain)
	if got := params(plain); !regexp.MustCompile(`^enable_mem_arena=1 enable_mem_pattern=1 execution_mode=0 intra_op_thread_count=[1-9][0-9]*$`).MatchString(got) || plain.Optimization != nil {
		t.Errorf("iris's defaults: parameters %s, optimization %+v", got, plain.Optimization)
	}
	yaml := modelConfig(t, "executionMode: parallel\ninterOpThreads: 2\nintraOpThreads: 1\nmemPattern: false\ngraphOptimization: basic\nmemArenaShrinkage: cpu:0\nsessionConfig: {session.use_device_allocator_for_initializers: \"1\"}\n")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tuned", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor", ConfigFile: yaml}, "initial_workers=1")
	var tuned sessionConfig
	getJSON(t, ts.inference.URL+"/v2/models/tuned/config", &tuned)
	if got := params(tuned); got != "enable_mem_arena=1 enable_mem_pattern=0 execution_mode=1 inter_op_thread_count=2 intra_op_thread_count=1 memory.enable_memory_arena_shrinkage=cpu:0 session.use_device_allocator_for_initializers=1" ||
		tuned.Optimization == nil || tuned.Optimization.Graph.Level != -1 {
		t.Errorf("tuned: parameters %s, optimization %+v", got, tuned.Optimization)
	}
	exchange{"describe shows the options", "GET", "/models/tuned", "", nil, 200, "", `"executionMode": "parallel",
    "interOpThreads": 2,
    "memArena": true,
    "memPattern": false,
    "memArenaShrinkage": "cpu:0",
    "sessionConfig": {
      "session.use_device_allocator_for_initializers": "1"
    },`}.run(t, ts.management.URL)
}

// TestTritonStatistics: Triton's statistics extension counts what each version served:
// requests that succeeded and failed, items and runs, time queued and running, runs by batch
// size; for every model, one model, or one version.
func TestTritonStatistics(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	ts.registerArchive(t, archive.PackOptions{ModelName: "alltypes", SerializedFile: testenv.Path("pkg/engine/testdata/alltypes.onnx"), Handler: "tensor"}, "initial_workers=1")
	base := ts.inference.URL
	for i := 0; i < 3; i++ {
		exchange{"two rows", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]`), 200, "", ""}.run(t, base)
	}
	exchange{"two rows through the protocol", "POST", "/v2/models/iris/infer", "application/json",
		[]byte(`{"inputs":[{"name":"features","shape":[2,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2,6.7,3.0,5.2,2.3]}]}`), 200, "", ""}.run(t, base)
	exchange{"a bad request", "POST", "/predictions/iris", "application/json", []byte(`[[5.1]]`), 400, "BadRequestException", ""}.run(t, base)

	type duration struct{ Count, NS int64 }
	type stats struct {
		Name           string
		Version        string
		LastInference  int64 `json:"last_inference"`
		InferenceCount int64 `json:"inference_count"`
		ExecutionCount int64 `json:"execution_count"`
		InferenceStats struct {
			Success, Fail, Queue duration
			ComputeInfer         duration `json:"compute_infer"`
			ComputeInput         duration `json:"compute_input"`
		} `json:"inference_stats"`
		BatchStats []struct {
			BatchSize    int64    `json:"batch_size"`
			ComputeInfer duration `json:"compute_infer"`
		} `json:"batch_stats"`
	}
	get := func(path string) []stats {
		t.Helper()
		status, b, _, err := send("GET", base+path, nil)
		var res struct {
			ModelStats []stats `json:"model_stats"`
		}
		if err != nil || status != 200 || json.Unmarshal(b, &res) != nil {
			t.Fatalf("%s: %d %v %s", path, status, err, b)
		}
		return res.ModelStats
	}
	for _, path := range []string{"/v2/models/iris/stats", "/v2/models/iris/versions/1.0/stats"} {
		got := get(path)
		if len(got) != 1 {
			t.Fatalf("%s: %+v", path, got)
		}
		s := got[0]
		is := s.InferenceStats
		if s.Name != "iris" || s.Version != "1.0" || s.InferenceCount != 8 || s.ExecutionCount != 4 || s.LastInference < time.Now().Add(-time.Minute).UnixMilli() ||
			is.Success.Count != 4 || is.Success.NS <= 0 || is.Fail.Count != 1 || is.Queue.Count != 4 || is.ComputeInfer.Count != 4 || is.ComputeInfer.NS <= 0 ||
			is.ComputeInput.Count != 4 || is.ComputeInfer.NS > is.Success.NS ||
			len(s.BatchStats) != 1 || s.BatchStats[0].BatchSize != 2 || s.BatchStats[0].ComputeInfer.Count != 4 {
			t.Errorf("%s: %+v", path, s)
		}
	}
	if all := get("/v2/models/stats"); len(all) != 2 || all[0].Name != "alltypes" || all[0].InferenceStats.Success.Count != 0 || all[1].Name != "iris" {
		t.Errorf("every model: %+v", all)
	}
	exchange{"unknown model", "GET", "/v2/models/nope/stats", "", nil, 404, "ModelNotFoundException", `"error": "Model not found: nope"`}.run(t, base)
}

// TestTritonRepositoryIndex: Triton's model repository extension: the index lists the
// registered versions and their states, then the models of the store that load could
// register ({"ready": true}: the ready ones only); unload
// unregisters every version of a model, load registers {model}.mar from the model store with
// its workers (a model registered already stays as it is); with enable_model_api off both
// are refused.
func TestTritonRepositoryIndex(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"register digits, no workers", "POST", "/models?url=digits.mar", "", nil, 200, "", ""}.run(t, ts.management.URL)
	base := ts.inference.URL
	index := func(body string) string {
		t.Helper()
		status, b, _, err := send("POST", base+"/v2/repository/index", []byte(body))
		var got []map[string]string
		if err != nil || status != 200 || json.Unmarshal(b, &got) != nil {
			t.Fatalf("index %s: %d %v %s", body, status, err, b)
		}
		return fmt.Sprint(got)
	}
	want := "[map[name:digits reason:no worker: scale the model (PUT /models on the management API) state:UNAVAILABLE version:1.0] map[name:iris reason: state:READY version:1.0]" +
		" map[name:iris-v2 reason:unloaded state:UNAVAILABLE]]" // iris-v2.mar: in the store, not registered
	if got := index(""); got != want {
		t.Errorf("index: %s\nwant %s", got, want)
	}
	if got := index(`{"ready": true}`); got != "[map[name:iris reason: state:READY version:1.0]]" {
		t.Errorf("ready index: %s", got)
	}
	exchange{"register iris 2.0", "POST", "/models?url=iris-v2.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	features := []byte(`{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`)
	for _, x := range []exchange{
		{"unload both versions", "POST", "/v2/repository/models/iris/unload", "", nil, 200, "", "{}"},
		{"iris is gone", "GET", "/v2/models/iris", "", nil, 404, "ModelNotFoundException", ""},
		{"unload again", "POST", "/v2/repository/models/iris/unload", "", nil, 404, "ModelNotFoundException", `"error": "Model not found: iris"`},
		{"the index lists iris.mar as unloaded", "POST", "/v2/repository/index", "", nil, 200, "", `"name": "iris",
    "state": "UNAVAILABLE",
    "reason": "unloaded"`},
		{"load iris.mar", "POST", "/v2/repository/models/iris/load", "", nil, 200, "", "{}"},
		{"iris serves", "POST", "/v2/models/iris/infer", "application/json", features, 200, "", `"model_version":"1.0"`},
		{"load digits: registered with no worker, reloaded to serve", "POST", "/v2/repository/models/digits/load", "", nil, 200, "", "{}"},
		{"load a model the store lacks", "POST", "/v2/repository/models/nope/load", "", nil, 404, "ModelNotFoundException", `no nope.mar`},
		{"bad index request", "POST", "/v2/repository/index", "application/json", []byte(`{"ready":`), 400, "BadRequestException", `not valid JSON`},
	} {
		x.run(t, base)
	}
	if got, want := index(""), "[map[name:digits reason: state:READY version:1.0] map[name:iris reason: state:READY version:1.0] map[name:iris-v2 reason:unloaded state:UNAVAILABLE]]"; got != want {
		t.Errorf("index after unloading and loading iris and loading digits: %s\nwant %s", got, want)
	}

	off := emptyServer(t, map[string]string{"enable_model_api": "false"})
	for _, path := range []string{"/v2/repository/models/iris/load", "/v2/repository/models/iris/unload"} {
		exchange{path, "POST", path, "", nil, 400, "BadRequestException", "model control is off"}.run(t, off.inference.URL)
	}
}

// TestWarmupShown: a model's warm-up (model-config.yaml) runs when it registers, on every
// element type (alltypes.onnx: eight of them and an int64 scalar, on random data); describe
// shows it with its time, and Triton's model configuration as model_warmup.
func TestWarmupShown(t *testing.T) {
	ts := emptyServer(t, nil)
	ts.registerArchive(t, archive.PackOptions{ModelName: "alltypes", SerializedFile: testenv.Path("pkg/engine/testdata/alltypes.onnx"), Handler: "tensor",
		ConfigFile: modelConfig(t, "warmup: {runs: 2, data: random}\n")}, "initial_workers=1")
	ts.registerArchive(t, archive.PackOptions{ModelName: "digits", SerializedFile: testenv.Path("samples/digits/model.onnx"), Handler: "tensor",
		ConfigFile: modelConfig(t, "batchSize: 8\nwarmup: 3\n")}, "initial_workers=1")

	var described []api.Description
	getJSON(t, ts.management.URL+"/models/alltypes", &described)
	w := described[0].Warmup
	if w == nil || w.Runs != 2 || w.Data != "random" || len(w.BatchSizes) != 0 || w.TimeMS < 0 || w.TimeMS > described[0].LoadTimeMS ||
		described[0].SettingSources["warmup"] != "model-config.yaml" {
		t.Errorf("alltypes: warm-up %+v (load %d ms, from %s)", w, described[0].LoadTimeMS, described[0].SettingSources["warmup"])
	}
	getJSON(t, ts.management.URL+"/models/digits", &described)
	if w := described[0].Warmup; w == nil || w.Runs != 3 || w.Data != "zero" || fmt.Sprint(w.BatchSizes) != "[1 8]" {
		t.Errorf("digits: warm-up %+v", w)
	}

	type warmup struct {
		Name      string
		BatchSize int `json:"batch_size"`
		Count     int
		Inputs    map[string]struct {
			DataType   string `json:"data_type"`
			Dims       []int64
			ZeroData   bool `json:"zero_data"`
			RandomData bool `json:"random_data"`
		}
	}
	var config struct {
		ModelWarmup []warmup `json:"model_warmup"`
	}
	getJSON(t, ts.inference.URL+"/v2/models/digits/config", &config)
	if got := fmt.Sprintf("%+v", config.ModelWarmup); got != "[{Name:batch 1 BatchSize:1 Count:3 Inputs:map[input:{DataType:TYPE_FP32 Dims:[1 8 8] ZeroData:true RandomData:false}]} "+
		"{Name:batch 8 BatchSize:8 Count:3 Inputs:map[input:{DataType:TYPE_FP32 Dims:[1 8 8] ZeroData:true RandomData:false}]}]" {
		t.Errorf("digits' model_warmup: %s", got)
	}
	var pb oippb.ModelConfig // as the gRPC ModelConfig answers it
	if _, body, _, err := send("GET", ts.inference.URL+"/v2/models/digits/config", nil); err != nil || protoJSON.Unmarshal(body, &pb) != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if w := pb.GetModelWarmup(); len(w) != 2 || w[1].GetBatchSize() != 8 || w[1].GetCount() != 3 || !w[1].GetInputs()["input"].GetZeroData() ||
		fmt.Sprint(w[1].GetInputs()["input"].GetDims()) != "[1 8 8]" || w[1].GetInputs()["input"].GetDataType() != oippb.DataType_TYPE_FP32 {
		t.Errorf("digits' model_warmup over gRPC: %v", w)
	}
	config.ModelWarmup = nil
	getJSON(t, ts.inference.URL+"/v2/models/alltypes/config", &config)
	if len(config.ModelWarmup) != 1 || config.ModelWarmup[0].BatchSize != 1 || len(config.ModelWarmup[0].Inputs) != 9 ||
		fmt.Sprint(config.ModelWarmup[0].Inputs["k"].Dims) != "[]" || fmt.Sprint(config.ModelWarmup[0].Inputs["x:bool"].Dims) != "[1 3]" ||
		!config.ModelWarmup[0].Inputs["k"].RandomData {
		t.Errorf("alltypes' model_warmup: %+v", config.ModelWarmup)
	}
}

// getJSON reads a 200 answer's JSON into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	status, b, _, err := send("GET", url, nil)
	if err != nil || status != 200 {
		t.Fatalf("GET %s: %d %v %s", url, status, err, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, b)
	}
}

// TestResponseCacheShown: a model with responseCache: true answers again from the server's
// response cache, through /predictions and the Open Inference Protocol alike; describe,
// Triton's statistics and the metrics API count its hits and misses.
func TestResponseCacheShown(t *testing.T) {
	ts := emptyServer(t, nil) // the default response_cache_size
	ts.registerArchive(t, archive.PackOptions{ModelName: "irisc", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor",
		ConfigFile: modelConfig(t, "responseCache: true\n")}, "initial_workers=1")
	var answers []string
	for range 2 {
		status, body, _ := post(t, ts.inference.URL+"/predictions/irisc", []byte(`[[5.1, 3.5, 1.4, 0.2]]`))
		if status != 200 {
			t.Fatalf("%d %s", status, body)
		}
		answers = append(answers, string(body))
	}
	status, res, _ := v2Infer(t, ts.inference.URL+"/v2/models/irisc/infer", `{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`, nil)
	if status != 200 || answers[0] != answers[1] || len(res.Outputs) != 1 {
		t.Fatalf("answers %q, v2 %d %+v", answers, status, res)
	}

	var pb oippb.ModelConfig // as the gRPC ModelConfig answers it
	if _, body, _, err := send("GET", ts.inference.URL+"/v2/models/irisc/config", nil); err != nil || protoJSON.Unmarshal(body, &pb) != nil || !pb.GetResponseCache().GetEnable() {
		t.Errorf("response_cache: %v %s", err, body)
	}
	var described []api.Description
	getJSON(t, ts.management.URL+"/models/irisc", &described)
	if c := described[0].ResponseCache; c == nil || !c.Active || c.Hits != 2 || c.Misses != 1 {
		t.Errorf("describe: %+v, want active, 2 hits, 1 miss", c)
	}
	var stats struct {
		ModelStats []struct {
			ExecutionCount int64 `json:"execution_count"`
			InferenceStats struct {
				CacheHit  struct{ Count, NS int64 } `json:"cache_hit"`
				CacheMiss struct{ Count, NS int64 } `json:"cache_miss"`
			} `json:"inference_stats"`
		} `json:"model_stats"`
	}
	getJSON(t, ts.inference.URL+"/v2/models/irisc/stats", &stats)
	if len(stats.ModelStats) != 1 {
		t.Fatalf("stats %+v", stats)
	}
	if s := stats.ModelStats[0]; s.ExecutionCount != 1 || s.InferenceStats.CacheHit.Count != 2 || s.InferenceStats.CacheMiss.Count != 1 || s.InferenceStats.CacheMiss.NS <= 0 {
		t.Errorf("statistics %+v", s)
	}
	_, text, _, err := send("GET", ts.metrics.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ts_cache_hits_total{model_name="irisc",model_version="1.0"} 2`, `ts_cache_misses_total{model_name="irisc",model_version="1.0"} 1`,
		"ts_cache_entries 1", "ts_cache_max_bytes 6.7108864e+07", "ts_cache_evictions_total 0"} {
		if !strings.Contains(string(text), want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(string(text), `ts_cache_hits_total{model_name="iris"`) {
		t.Error("a model without the cache has cache metrics")
	}
}

// TestTritonLoadConfig: a repository load with Triton's configuration override
// (tritonclient's load_model(name, config=...)), over HTTP and gRPC: max_batch_size,
// dynamic_batching's delay (µs, rounded up to ms) and preferred sizes, and the instance
// counts become the version's settings, from the register request, also when it reloads a
// loaded model; files (uploads not allowed) and other parameters are refused.
func TestTritonLoadConfig(t *testing.T) {
	ts := emptyServer(t, nil)
	config := func(c string) []byte {
		b, _ := json.Marshal(map[string]any{"parameters": map[string]string{"config": c}})
		return b
	}
	override := `{"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 2500, "preferred_batch_size": [4, 8]}, "instance_group": [{"count": 2, "kind": "KIND_CPU"}]}`
	for _, e := range []exchange{
		{"a file, uploads not allowed", "POST", "/v2/repository/models/iris/load", "application/json", []byte(`{"parameters": {"config": "{}", "file:1/model.onnx": "AAAA"}}`), 400, "BadRequestException", "needs uploads allowed"},
		{"not a configuration", "POST", "/v2/repository/models/iris/load", "application/json", config(`{"max_batch_size": "eight"}`), 400, "BadRequestException", "not a model configuration"},
		{"preferred past the batch", "POST", "/v2/repository/models/iris/load", "application/json", config(`{"max_batch_size": 4, "dynamic_batching": {"preferred_batch_size": [8]}}`), 400, "", "preferredBatchSizes: 8 is not between 1 and batchSize 4"},
		{"load with a configuration", "POST", "/v2/repository/models/iris/load", "application/json", config(override), 200, "", "{}"},
	} {
		e.run(t, ts.inference.URL)
	}
	var described []api.Description
	getJSON(t, ts.management.URL+"/models/iris", &described)
	d := described[0]
	if d.BatchSize != 8 || d.MaxBatchDelay != 3 || fmt.Sprint(d.Batching.PreferredBatchSizes) != "[4 8]" || d.MinWorkers != 2 || len(d.Workers) != 2 ||
		d.SettingSources["batchSize"] != "register request" || d.SettingSources["preferredBatchSizes"] != "register request" {
		t.Errorf("iris: batch %d, delay %d, preferred %v, workers %d/%d, sources %v", d.BatchSize, d.MaxBatchDelay, d.Batching.PreferredBatchSizes, d.MinWorkers, len(d.Workers), d.SettingSources)
	}
	// loaded again with another configuration: reloaded with it, its workers kept
	exchange{"again, another configuration", "POST", "/v2/repository/models/iris/load", "application/json", config(`{"max_batch_size": 2}`), 200, "", "{}"}.run(t, ts.inference.URL)
	getJSON(t, ts.management.URL+"/models/iris", &described)
	if d := described[0]; d.BatchSize != 2 || d.MinWorkers != 2 || d.State != "READY" {
		t.Errorf("reloaded iris: batch %d, workers %d, %s", d.BatchSize, d.MinWorkers, d.State)
	}

	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, ts, GRPCInference))
	if _, err := oip.RepositoryModelLoad(context.Background(), &oippb.RepositoryModelLoadRequest{ModelName: "digits",
		Parameters: map[string]*oippb.ModelRepositoryParameter{"config": {ParameterChoice: &oippb.ModelRepositoryParameter_StringParam{StringParam: `{"max_batch_size": 4}`}}}}); err != nil {
		t.Fatal(err)
	}
	getJSON(t, ts.management.URL+"/models/digits", &described)
	if described[0].BatchSize != 4 || described[0].MinWorkers != 1 {
		t.Errorf("digits over gRPC: batch %d, workers %d", described[0].BatchSize, described[0].MinWorkers)
	}
}

// TestTritonReload: Triton's load of a loaded model reloads it from the model store: the new
// archive loads beside the old one, which answers every request meanwhile (none fails), then
// serves; an archive that fails to load leaves the old one serving.
func TestTritonReload(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"load iris", "POST", "/v2/repository/models/iris/load", "", nil, 200, "", "{}"}.run(t, ts.inference.URL)
	digest := func() string {
		var described []api.Description
		getJSON(t, ts.management.URL+"/models/iris", &described)
		return described[0].ArchiveSHA256
	}
	before := digest()
	// the store's iris.mar replaced by another archive of iris 1.0 (a model-config.yaml more)
	ts.storeArchive(t, archive.PackOptions{ModelName: "iris", Version: "1.0", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor",
		ConfigFile: modelConfig(t, "batchSize: 4\n")})

	failures := make(chan string, 100)
	stop := clients.Loop(4, func(int) bool {
		if status, b, _, err := send("POST", ts.inference.URL+"/predictions/iris", []byte(`[[5.1, 3.5, 1.4, 0.2]]`)); err != nil || status != 200 {
			select {
			case failures <- fmt.Sprintf("%d %v %s", status, err, b):
			default:
			}
		}
		return true
	})
	exchange{"reload iris", "POST", "/v2/repository/models/iris/load", "", nil, 200, "", "{}"}.run(t, ts.inference.URL)
	time.Sleep(100 * time.Millisecond)
	stop()
	close(failures)
	for f := range failures {
		t.Errorf("a request during the reload failed: %s", f)
	}
	after := digest()
	if after == before {
		t.Errorf("iris was not reloaded: archive %s", after)
	}
	var described []api.Description
	getJSON(t, ts.management.URL+"/models/iris", &described)
	if d := described[0]; d.BatchSize != 4 || d.MinWorkers != 1 || d.State != "READY" {
		t.Errorf("reloaded iris: batch %d, workers %d, %s", d.BatchSize, d.MinWorkers, d.State)
	}

	// a broken archive: the reload fails, the loaded iris goes on serving
	if err := os.WriteFile(filepath.Join(ts.store, "iris.mar"), []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	exchange{"reload a broken archive", "POST", "/v2/repository/models/iris/load", "", nil, 400, "InvalidModelException", "invalid model archive"}.run(t, ts.inference.URL)
	if d := digest(); d != after {
		t.Errorf("a failed reload replaced iris: %s, was %s", d, after)
	}
	exchange{"still serving", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", `"shape":[1,3]`}.run(t, ts.inference.URL)
}

// TestTritonLoadFiles: with uploads allowed, a repository load may send the model's files
// and configuration (Triton's file override, tritonclient's load_model(name, config=...,
// files=...)), over HTTP and gRPC: they make a model folder outside the model store, which
// serves; a load of other files replaces it, an unload or unregister removes it; a path out
// of the folder, files without a configuration and bad base64 are refused.
func TestTritonLoadFiles(t *testing.T) {
	ts := emptyServer(t, map[string]string{"enable_model_upload": "true"})
	iris, err := os.ReadFile(testenv.Path("samples/iris/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	load := func(params map[string]string) []byte {
		b, _ := json.Marshal(map[string]any{"parameters": params})
		return b
	}
	model := base64.StdEncoding.EncodeToString(iris)
	for _, e := range []exchange{
		{"files without a configuration", "POST", "/v2/repository/models/sent/load", "", load(map[string]string{"file:1/model.onnx": model}), 400, "BadRequestException", `sends the model's configuration too`},
		{"a path out of the folder", "POST", "/v2/repository/models/sent/load", "", load(map[string]string{"config": "{}", "file:../model.onnx": model}), 400, "BadRequestException", "without .."},
		{"not base64", "POST", "/v2/repository/models/sent/load", "", load(map[string]string{"config": "{}", "file:1/model.onnx": "%%"}), 400, "BadRequestException", "not base64"},
		{"load sent files", "POST", "/v2/repository/models/sent/load", "", load(map[string]string{"config": `{"max_batch_size": 4}`, "file:1/model.onnx": model}), 200, "", "{}"},
		{"which serve", "POST", "/v2/models/sent/infer", "", []byte(`{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`), 200, "", `"probabilities"`},
		{"with their configuration", "GET", "/v2/models/sent/config", "", nil, 200, "", `"max_batch_size": 4`},
	} {
		e.run(t, ts.inference.URL)
	}
	loadDir := func() string { // the folder of the files model sent was loaded from
		ts.srv.loadDirsMu.Lock()
		defer ts.srv.loadDirsMu.Unlock()
		return ts.srv.loadDirs["sent"]
	}
	first := loadDir()
	if _, err := os.Stat(filepath.Join(first, "sent", "1", "model.onnx")); err != nil || strings.HasPrefix(first, ts.store) {
		t.Fatalf("the sent files' folder %q: %v (want one outside the model store)", first, err)
	}
	oip := oippb.NewGRPCInferenceServiceClient(grpcDial(t, ts, GRPCInference))
	passthrough, err := os.ReadFile(testenv.Path("pkg/engine/testdata/passthrough.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oip.RepositoryModelLoad(context.Background(), &oippb.RepositoryModelLoadRequest{ModelName: "sent", Parameters: map[string]*oippb.ModelRepositoryParameter{
		"config":            {ParameterChoice: &oippb.ModelRepositoryParameter_StringParam{StringParam: "{}"}},
		"file:1/model.onnx": {ParameterChoice: &oippb.ModelRepositoryParameter_BytesParam{BytesParam: passthrough}}}}); err != nil {
		t.Fatal(err)
	}
	exchange{"the files loaded over gRPC serve", "POST", "/v2/models/sent/infer", "", []byte(`{"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}`), 200, "", `"name":"y"`}.run(t, ts.inference.URL)
	if _, err := os.Stat(first); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the first files' folder is still there: %v", err)
	}
	second := loadDir()
	exchange{"unload", "POST", "/v2/repository/models/sent/unload", "", nil, 200, "", "{}"}.run(t, ts.inference.URL)
	if _, err := os.Stat(second); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the files' folder outlived the unload: %v", err)
	}
	exchange{"load sent files again", "POST", "/v2/repository/models/sent/load", "", load(map[string]string{"config": "{}", "file:1/model.onnx": model}), 200, "", "{}"}.run(t, ts.inference.URL)
	third := loadDir()
	exchange{"unregister through the management API", "DELETE", "/models/sent", "", nil, 200, "", "unregistered"}.run(t, ts.management.URL)
	if _, err := os.Stat(third); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the files' folder outlived the unregister: %v", err)
	}
}
