package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// copyFile copies a file of the repository to dst, making its folder.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(testenv.Path(src))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTritonModelRepository: a Triton model repository's model folders and bare .onnx
// files in the model store are served as they are, through TorchServe's and Triton's APIs:
// every version the policy serves (the highest the default), the label file for Triton's
// classification extension, config.pbtxt's settings in describe and in Triton's config;
// poll mode registers a version folder added later as the new default.
func TestTritonModelRepository(t *testing.T) {
	ts := emptyServer(t, map[string]string{"enable_model_api": "true"})
	digits := filepath.Join(ts.store, "digits-triton")
	for _, v := range []string{"1", "2"} {
		copyFile(t, "samples/digits/model.onnx", filepath.Join(digits, v, "model.onnx"))
	}
	labels := make([]string, 10)
	for i := range labels {
		labels[i] = fmt.Sprintf("digit %d", i)
	}
	os.WriteFile(filepath.Join(digits, "labels.txt"), []byte(strings.Join(labels, "\n")+"\n"), 0o644)
	os.WriteFile(filepath.Join(digits, "config.pbtxt"), []byte(`
platform: "onnxruntime_onnx"
max_batch_size: 8
version_policy: { all { } }
input [ { name: "input" data_type: TYPE_FP32 dims: [ 1, 8, 8 ] } ]
output [ { name: "logits" data_type: TYPE_FP32 dims: [ 10 ] label_filename: "labels.txt" } ]
dynamic_batching { max_queue_delay_microseconds: 500 priority_levels: 2 default_priority_level: 2 default_queue_policy { max_queue_size: 3 } }
instance_group [ { count: 1 kind: KIND_CPU } ]
parameters { key: "handler" value: { string_value: "image_classifier" } }
`), 0o644)
	copyFile(t, "samples/iris/model.onnx", filepath.Join(ts.store, "flowers.onnx"))

	exchange{"register the Triton model", "POST", "/models?url=digits-triton&synchronous=true", "", nil, 200, "", `Version: 2 registered with 1 initial workers`}.run(t, ts.management.URL)
	var all []api.Description
	getJSON(t, ts.management.URL+"/models/digits-triton/all", &all)
	if len(all) != 2 {
		t.Fatalf("%d versions registered, want 1 and 2", len(all))
	}
	for _, d := range all {
		if d.Default != (d.ModelVersion == "2") || d.BatchSize != 8 || d.MaxBatchDelay != 1 || d.MinWorkers != 1 {
			t.Errorf("version %s: default %v, batchSize %d, maxBatchDelay %d, workers %d", d.ModelVersion, d.Default, d.BatchSize, d.MaxBatchDelay, d.MinWorkers)
		}
	}
	png, err := os.ReadFile(testenv.Path("samples/digits/3.png"))
	if err != nil {
		t.Fatal(err)
	}
	exchange{"the image classifier names classes from labels.txt", "POST", "/predictions/digits-triton/1", "image/png", png, 200, "", `"digit 3"`}.run(t, ts.inference.URL)

	pixels := make([]string, 64)
	for i := range pixels {
		pixels[i] = fmt.Sprint(i % 16)
	}
	infer := `{"inputs":[{"name":"input","shape":[1,1,8,8],"datatype":"FP32","data":[` + strings.Join(pixels, ",") + `]}],` +
		`"outputs":[{"name":"logits","parameters":{"classification":1}}]}`
	exchange{"Triton's classification extension", "POST", "/v2/models/digits-triton/infer", "application/json", []byte(infer), 200, "", `:digit `}.run(t, ts.inference.URL)
	exchange{"the config answers config.pbtxt's policy and label file", "GET", "/v2/models/digits-triton/config", "", nil, 200, "", `"label_filename": "labels.txt"`}.run(t, ts.inference.URL)
	exchange{"and its priority levels", "GET", "/v2/models/digits-triton/config", "", nil, 200, "", `"default_priority_level": 2,`}.run(t, ts.inference.URL)
	exchange{"each level's queue bound", "GET", "/v2/models/digits-triton/config", "", nil, 200, "", `"max_queue_size": 3`}.run(t, ts.inference.URL)
	exchange{"the whole queue holds both levels'", "GET", "/models/digits-triton", "", nil, 200, "", `"jobQueueSize": 6,`}.run(t, ts.management.URL)
	highest := strings.Replace(infer, `"outputs"`, `"parameters":{"priority":1},"outputs"`, 1)
	exchange{"a request at Triton's highest level", "POST", "/v2/models/digits-triton/infer", "application/json", []byte(highest), 200, "", `:digit `}.run(t, ts.inference.URL)
	exchange{"a priority that is no level", "POST", "/v2/models/digits-triton/infer", "application/json", []byte(strings.Replace(highest, `"priority":1`, `"priority":-1`, 1)), 400, "BadRequestException", "parameter priority"}.run(t, ts.inference.URL)
	var cfg struct {
		VersionPolicy map[string]any `json:"version_policy"`
	}
	getJSON(t, ts.inference.URL+"/v2/models/digits-triton/config", &cfg)
	if _, ok := cfg.VersionPolicy["all"]; !ok {
		t.Errorf("version_policy %v, want all", cfg.VersionPolicy)
	}

	exchange{"Triton's load of a bare .onnx in the store", "POST", "/v2/repository/models/flowers/load", "", nil, 200, "", ""}.run(t, ts.inference.URL)
	exchange{"the bare model serves with the tensor handler", "POST", "/predictions/flowers", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", `"probabilities"`}.run(t, ts.inference.URL)
	exchange{"POST /models of a bare .onnx", "POST", "/models?url=flowers.onnx&model_name=flowers2&initial_workers=1&synchronous=true", "", nil, 200, "", `flowers2\" Version: 1.0 registered`}.run(t, ts.management.URL)
	exchange{"which serves", "POST", "/predictions/flowers2", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", `"probabilities"`}.run(t, ts.inference.URL)

	// poll mode: a new version folder registers, as the default
	seen := map[string]archiveStamp{}
	ts.srv.pollStore(context.Background(), seen)
	copyFile(t, "samples/digits/model.onnx", filepath.Join(digits, "3", "model.onnx"))
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(digits, "3", "model.onnx"), later, later)
	ts.srv.pollStore(context.Background(), seen)
	getJSON(t, ts.management.URL+"/models/digits-triton/all", &all)
	var versions []string
	for _, d := range all {
		versions = append(versions, d.ModelVersion)
		if d.Default != (d.ModelVersion == "3") {
			t.Errorf("after version 3 appeared: version %s default %v", d.ModelVersion, d.Default)
		}
	}
	slices.Sort(versions)
	if !slices.Equal(versions, []string{"1", "2", "3"}) {
		t.Errorf("versions after the poll: %v", versions)
	}
}

// TestTritonModelRefused: a Triton model ts cannot serve is refused with 400 and a reason,
// and the store's other models go on.
func TestTritonModelRefused(t *testing.T) {
	ts := emptyServer(t, nil)
	dir := filepath.Join(ts.store, "plan")
	copyFile(t, "samples/iris/model.onnx", filepath.Join(dir, "1", "model.onnx"))
	os.WriteFile(filepath.Join(dir, "config.pbtxt"), []byte(`platform: "tensorrt_plan"`), 0o644)
	exchange{"a TensorRT plan", "POST", "/models?url=plan", "", nil, 400, "InvalidModelException", "ONNX models only"}.run(t, ts.management.URL)
	var res struct{ Models []json.RawMessage }
	getJSON(t, ts.management.URL+"/models", &res)
	if len(res.Models) != 0 {
		t.Errorf("%d models registered", len(res.Models))
	}
	exchange{"the store's archives still register", "POST", "/models?url=iris.mar&synchronous=true&initial_workers=1", "", nil, 200, "", ""}.run(t, ts.management.URL)
}

// TestEmptyInputs: a tensor empty in a dynamic dimension after the first (a sequence of no
// tokens, a cache of no past) runs and answers an empty output; one without rows is a 400.
func TestEmptyInputs(t *testing.T) {
	ts := emptyServer(t, nil)
	copyFile(t, "pkg/engine/testdata/masked.onnx", filepath.Join(ts.store, "masked.onnx"))
	exchange{"register", "POST", "/models?url=masked.onnx&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	infer := func(shape string) []byte {
		return []byte(`{"inputs":[{"name":"ids","shape":` + shape + `,"datatype":"INT32","data":[]},{"name":"mask","shape":` + shape + `,"datatype":"BOOL","data":[]}]}`)
	}
	exchange{"no tokens", "POST", "/v2/models/masked/infer", "application/json", infer("[2,0]"), 200, "", `{"name":"y","datatype":"INT32","shape":[2,0],"data":[]}`}.run(t, ts.inference.URL)
	exchange{"no rows", "POST", "/v2/models/masked/infer", "application/json", infer("[0,3]"), 400, "BadRequestException", `input \"ids\" is empty`}.run(t, ts.inference.URL)
}

// TestCompressedRequests: as Triton's HTTP server, a request body sent with Content-Encoding
// gzip or deflate is decompressed (within max_request_size once decompressed), and an Open
// Inference Protocol answer is compressed as Accept-Encoding asks; another encoding is a 415.
func TestCompressedRequests(t *testing.T) {
	ts := emptyServer(t, map[string]string{"max_request_size": "4096"})
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	body := []byte(`{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`)
	compress := func(enc string, b []byte) []byte {
		var buf bytes.Buffer
		var w io.WriteCloser = gzip.NewWriter(&buf)
		if enc == "deflate" {
			w = zlib.NewWriter(&buf)
		}
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	for _, enc := range []string{"gzip", "deflate"} {
		status, got, h, err := send("POST", ts.inference.URL+"/v2/models/iris/infer", compress(enc, body), "Content-Encoding", enc, "Accept-Encoding", enc+";q=1, identity;q=0.5")
		if err != nil || status != 200 || h.Get("Content-Encoding") != enc {
			t.Fatalf("%s: %d %v, Content-Encoding %q\n%s", enc, status, err, h.Get("Content-Encoding"), got)
		}
		var r io.Reader
		if enc == "gzip" {
			r, err = gzip.NewReader(bytes.NewReader(got))
		} else {
			r, err = zlib.NewReader(bytes.NewReader(got))
		}
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(r)
		if err != nil || !strings.Contains(string(plain), `"name":"probabilities"`) {
			t.Errorf("%s answer: %s (%v)", enc, plain, err)
		}
	}
	// a TorchServe prediction takes a compressed body too, and answers plainly (as TorchServe)
	status, got, h, err := send("POST", ts.inference.URL+"/predictions/iris", compress("gzip", []byte(`[[5.1, 3.5, 1.4, 0.2]]`)), "Content-Type", "application/json", "Content-Encoding", "gzip", "Accept-Encoding", "gzip")
	if err != nil || status != 200 || h.Get("Content-Encoding") != "" || !strings.Contains(string(got), "probabilities") {
		t.Errorf("/predictions: %d %v %q %s", status, err, h.Get("Content-Encoding"), got)
	}
	// past max_request_size once decompressed: 413, however small the compressed body
	bomb := compress("gzip", bytes.Repeat([]byte(" "), 1<<20))
	status, got, _, err = send("POST", ts.inference.URL+"/v2/models/iris/infer", bomb, "Content-Encoding", "gzip")
	if err != nil || status != 413 {
		t.Errorf("a body of 1 MiB, %d bytes compressed: %d %v %s", len(bomb), status, err, got)
	}
	status, got, h, err = send("POST", ts.inference.URL+"/v2/models/iris/infer", body, "Content-Encoding", "br")
	if err != nil || status != 415 || !strings.Contains(string(got), "UnsupportedMediaTypeException") || h.Get("Accept-Encoding") != "gzip, deflate" {
		t.Errorf("brotli: %d %v %s", status, err, got)
	}
	status, got, _, _ = send("POST", ts.inference.URL+"/v2/models/iris/infer", []byte("not gzip"), "Content-Encoding", "gzip")
	if status != 400 || !strings.Contains(string(got), "cannot read the request body") {
		t.Errorf("corrupt gzip: %d %s", status, got)
	}
}

// TestAcceptedEncoding: the compression an Accept-Encoding header asks for.
func TestAcceptedEncoding(t *testing.T) {
	for header, want := range map[string]string{
		"":                              "",
		"gzip":                          "gzip",
		"deflate, gzip":                 "gzip",
		"deflate;q=1, gzip;q=0.5":       "deflate",
		"gzip;q=0":                      "",
		"br, identity":                  "",
		" GZIP ; q=0.8 , deflate;q=0.2": "gzip",
		"gzip;q=oops, deflate":          "deflate",
	} {
		if got := acceptedEncoding(header); got != want {
			t.Errorf("%q: %q, want %q", header, got, want)
		}
	}
}

// TestTritonReshape: config.pbtxt's reshapes apply as in Triton: requests give an input in
// its dims (the digits model's 8×8 image as 64 values a row) and get an output in its dims
// (logits as [1, 10] a row), the model taking and giving its own shapes, with the same
// answers as the model without them; the config shows them; a reshape whose elements do not
// match dims is refused at registration.
func TestTritonReshape(t *testing.T) {
	ts := emptyServer(t, nil)
	for name, cfg := range map[string]string{
		"flat": `max_batch_size: 8 input [ { name: "input" data_type: TYPE_FP32 dims: [ 64 ] reshape: { shape: [ 1, 8, 8 ] } } ]
output [ { name: "logits" data_type: TYPE_FP32 dims: [ 1, 10 ] reshape: { shape: [ 10 ] } } ]`,
		"plain": `max_batch_size: 8`,
		"wrong": `max_batch_size: 8 input [ { name: "input" data_type: TYPE_FP32 dims: [ 64 ] reshape: { shape: [ 1, 8, 9 ] } } ]`,
	} {
		copyFile(t, "samples/digits/model.onnx", filepath.Join(ts.store, name, "1", "model.onnx"))
		os.WriteFile(filepath.Join(ts.store, name, "config.pbtxt"), []byte(cfg), 0o644)
	}
	exchange{"a reshape that does not fit dims", "POST", "/models?url=wrong", "", nil, 400, "InvalidModelException", "reshape [1 8 9] does not fit dims [64]"}.run(t, ts.management.URL)
	for _, name := range []string{"flat", "plain"} {
		exchange{"register " + name, "POST", "/models?url=" + name + "&synchronous=true&initial_workers=1", "", nil, 200, "", ""}.run(t, ts.management.URL)
	}
	pixels := make([]string, 128)
	for i := range pixels {
		pixels[i] = fmt.Sprint((i * 7) % 17)
	}
	data := strings.Join(pixels, ",")
	logits := func(model, shape string) ([]int64, []float64) {
		t.Helper()
		status, b, _, err := send("POST", ts.inference.URL+"/v2/models/"+model+"/infer",
			[]byte(`{"inputs": [{"name": "input", "shape": `+shape+`, "datatype": "FP32", "data": [`+data+`]}]}`))
		var res struct {
			Outputs []struct {
				Shape []int64
				Data  []float64
			}
		}
		if err != nil || status != 200 || json.Unmarshal(b, &res) != nil || len(res.Outputs) != 1 {
			t.Fatalf("%s: %d %v %s", model, status, err, b)
		}
		return res.Outputs[0].Shape, res.Outputs[0].Data
	}
	shape, flat := logits("flat", "[2, 64]")
	_, plain := logits("plain", "[2, 1, 8, 8]")
	if !slices.Equal(shape, []int64{2, 1, 10}) || len(flat) != 20 {
		t.Fatalf("reshaped logits: shape %v, %d values; want [2 1 10]", shape, len(flat))
	}
	for i := range flat {
		if math.Abs(flat[i]-plain[i]) > 1e-5 {
			t.Fatalf("reshaped logits %v differ from the model's own %v", flat, plain)
		}
	}
	exchange{"the model's shape is not the request's", "POST", "/v2/models/flat/infer", "application/json",
		[]byte(`{"inputs": [{"name": "input", "shape": [2, 1, 8, 8], "datatype": "FP32", "data": [` + data + `]}]}`), 400, "BadRequestException", "shape"}.run(t, ts.inference.URL)
	exchange{"the metadata shows dims", "GET", "/v2/models/flat", "", nil, 200, "", `"shape": [
        -1,
        64
      ]`}.run(t, ts.inference.URL)
	exchange{"the config its reshape", "GET", "/v2/models/flat/config", "", nil, 200, "", `"reshape": {`}.run(t, ts.inference.URL)
	exchange{"/predictions takes dims too", "POST", "/predictions/flat", "application/json", []byte(`[[` + strings.Join(pixels[:64], ",") + `]]`), 200, "", `"logits"`}.run(t, ts.inference.URL)
}

// TestTritonQuickstart: Triton's quickstart model folder (densenet_onnx: max_batch_size 0,
// its input and output reshaped, a label file; here a warm-up too) serves as it is: the classification
// extension answers labels for a [3, 224, 224] image tensor, and the image classifier,
// named in the folder's parameters, classifies a PNG.
func TestTritonQuickstart(t *testing.T) {
	ts := emptyServer(t, nil)
	dir := filepath.Join(ts.store, "densenet_onnx")
	copyFile(t, "pkg/server/testdata/triton/densenet_like.onnx", filepath.Join(dir, "1", "model.onnx"))
	labels := make([]string, 1000)
	for i := range labels {
		labels[i] = fmt.Sprintf("class %d", i)
	}
	os.WriteFile(filepath.Join(dir, "densenet_labels.txt"), []byte(strings.Join(labels, "\n")+"\n"), 0o644)
	config := `name: "densenet_onnx"
platform: "onnxruntime_onnx"
max_batch_size : 0
input [ { name: "data_0" data_type: TYPE_FP32 format: FORMAT_NCHW dims: [ 3, 224, 224 ] reshape { shape: [ 1, 3, 224, 224 ] } } ]
output [ { name: "fc6_1" data_type: TYPE_FP32 dims: [ 1000 ] reshape { shape: [ 1, 1000, 1, 1 ] } label_filename: "densenet_labels.txt" } ]
model_warmup [ { name: "zeros" batch_size: 1 inputs { key: "data_0" value: { data_type: TYPE_FP32 dims: [ 3, 224, 224 ] zero_data: true } } } ]
`
	os.WriteFile(filepath.Join(dir, "config.pbtxt"), []byte(config), 0o644)
	exchange{"register", "POST", "/models?url=densenet_onnx&synchronous=true&initial_workers=1", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"warmed up in the model's shape (model_warmup gives dims)", "GET", "/models/densenet_onnx", "", nil, 200, "", `"runs": 1`}.run(t, ts.management.URL)
	pixels := strings.TrimSuffix(strings.Repeat("0.5,", 3*224*224), ",")
	status, b, _, err := send("POST", ts.inference.URL+"/v2/models/densenet_onnx/infer", []byte(`{"inputs": [{"name": "data_0", "shape": [3, 224, 224], "datatype": "FP32", "data": [`+pixels+`]}],
		"outputs": [{"name": "fc6_1", "parameters": {"classification": 3}}]}`))
	var res struct {
		Outputs []struct {
			Shape []int64
			Data  []string
		}
	}
	if err != nil || status != 200 || json.Unmarshal(b, &res) != nil || len(res.Outputs) != 1 || len(res.Outputs[0].Data) != 3 {
		t.Fatalf("classification: %d %v %s", status, err, b)
	}
	for _, c := range res.Outputs[0].Data { // value:index:label
		if parts := strings.Split(c, ":"); len(parts) != 3 || parts[2] != "class "+parts[1] {
			t.Errorf("class %q is not value:index:label", c)
		}
	}
	os.WriteFile(filepath.Join(dir, "config.pbtxt"), []byte(config+`parameters { key: "handler" value: { string_value: "image_classifier" } }`), 0o644)
	exchange{"register with the image classifier", "POST", "/models?url=densenet_onnx&model_name=images&synchronous=true&initial_workers=1", "", nil, 200, "", ""}.run(t, ts.management.URL)
	png, err := os.ReadFile(testenv.Path("samples/digits/3.png"))
	if err != nil {
		t.Fatal(err)
	}
	exchange{"an image classified", "POST", "/predictions/images", "image/png", png, 200, "", `"class `}.run(t, ts.inference.URL)
}
