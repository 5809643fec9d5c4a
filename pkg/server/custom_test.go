package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/api/grpc/inferencepb"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// customServer serves iris through a Python custom handler from pkg/handler/testdata, with
// the given model-config.yaml lines (none when empty).
func customServer(t *testing.T, handlerFile, name, yaml string) *testServer {
	t.Helper()
	ts := emptyServer(t, nil)
	opts := archive.PackOptions{
		ModelName: name, SerializedFile: testenv.Path("samples/iris/model.onnx"),
		Handler:    testenv.Path("pkg/handler/testdata", handlerFile),
		ExtraFiles: []string{testenv.Path("templates/python/ts_handler.py"), testenv.Path("samples/iris/index_to_name.json")},
	}
	if yaml != "" {
		opts.ConfigFile = modelConfig(t, yaml)
	}
	ts.registerArchive(t, opts, "initial_workers=1&response_timeout=2")
	return ts
}

// TestCustomHandlerFailures: a custom handler's errors reach the client with their code; a
// process that crashes, hangs or writes garbage fails its request with a 5xx (507 when it
// was killed as the out-of-memory killer kills, as TorchServe answers for an exit code of
// 137) and is replaced; the next request is served.
func TestCustomHandlerFailures(t *testing.T) {
	ts := customServer(t, "unruly.py", "unruly", "")
	ok := exchange{"normal", "POST", "/predictions/unruly", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"state": {`}
	ok.run(t, ts.inference.URL)
	for _, x := range []exchange{
		{"handler error", "POST", "/predictions/unruly", "", []byte("error"), 422, "BadRequestException", "you asked for an error"},
		{"handler exception", "POST", "/predictions/unruly", "", []byte("exception"), 500, "InternalServerException", "ValueError: an unexpected bug"},
		{"preprocess answers None", "POST", "/predictions/unruly", "", []byte("none"), 500, "InternalServerException", "preprocess answered None; it must answer the model's inputs"},
		{"preprocess answers a ragged list", "POST", "/predictions/unruly", "", []byte("ragged"), 500, "InternalServerException",
			`input 'features' (float32): cannot make a tensor of the list given: the list is not rectangular: 5 elements for shape [2, 4]`},
		{"crash", "POST", "/predictions/unruly", "", []byte("crash"), 500, "InternalServerException", "crashing on purpose"},
		{"after the crash", "POST", "/predictions/unruly", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"probabilities"`},
		{"garbage", "POST", "/predictions/unruly", "", []byte("garbage"), 500, "InternalServerException", "not a protocol frame"},
		{"after the garbage", "POST", "/predictions/unruly", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"probabilities"`},
		{"killed, as by the out-of-memory killer", "POST", "/predictions/unruly", "", []byte("killed"), 507, "InternalServerException", "the handler process was killed (SIGKILL"},
		{"after the kill", "POST", "/predictions/unruly", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"probabilities"`},
		{"extra path segments reach the handler as url_path", "POST", "/predictions/unruly/1.0/v1/chat/completions", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"url_path": "v1/chat/completions"`},
		{"no url_path without them", "POST", "/predictions/unruly/1.0", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"url_path": null`},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, ts.inference.URL) })
	}
	start := time.Now()
	exchange{"hang", "POST", "/predictions/unruly", "", []byte("hang"), 500, "InternalServerException", "did not answer within 2s"}.run(t, ts.inference.URL)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the hang took %v to fail", d)
	}
	// the third failure in a row waits TorchServe's backoff (1 s) before restarting
	ok.run(t, ts.inference.URL)
}

// TestCustomHandlerQueueFull: requests waiting for a busy custom handler's process are
// bounded by jobQueueSize: one more gets TorchServe's 503 at once, and those waiting are
// served once the process is free (here: replaced after hanging past its timeout).
func TestCustomHandlerQueueFull(t *testing.T) {
	ts := customServer(t, "unruly.py", "unruly", "jobQueueSize: 2\n")
	hang := sendLater("POST", ts.inference.URL+"/predictions/unruly", []byte("hang"))
	time.Sleep(300 * time.Millisecond) // the hang has the one process
	var served, refused int
	for _, s := range sendTogether(ts.inference.URL+"/predictions/unruly", "text/plain", "5.1,3.5,1.4,0.2", "6.3,3.3,6.0,2.5", "5.9,3.0,4.2,1.5") {
		switch {
		case s.status == 200:
			served++
		case s.status == 503 && strings.Contains(string(s.body), "has no worker to serve inference request"):
			refused++
		default:
			t.Errorf("%d %s %v", s.status, s.body, s.err)
		}
	}
	if served != 2 || refused != 1 {
		t.Errorf("%d served and %d refused, want 2 served after the hang and 1 refused by a queue of 2", served, refused)
	}
	if status, text := hang(t, 10*time.Second); status != 500 || !strings.Contains(text, "did not answer within 2s") {
		t.Errorf("the hang: %d %s", status, text)
	}
}

// TestCustomHandlerGivesUp: as TorchServe, processes that keep failing are started again only
// until maxRetryTimeoutInSec has passed since the first failure (0 here: not at all); then
// requests get 503 at once and /ping says Unhealthy, until a scale starts them again.
func TestCustomHandlerGivesUp(t *testing.T) {
	ts := customServer(t, "unruly.py", "unruly", "maxRetryTimeoutInSec: 0\n")
	ok := exchange{"normal", "POST", "/predictions/unruly", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"probabilities"`}
	for _, x := range []exchange{
		ok,
		{"crash", "POST", "/predictions/unruly", "", []byte("crash"), 500, "InternalServerException", "crashing on purpose"},
		{"given up", "POST", "/predictions/unruly", "", []byte("5.1,3.5,1.4,0.2"), 503, "ServiceUnavailableException",
			"custom handler of model unruly has failed for 0s with no success (maxRetryTimeoutInSec 0): not started again; scale the model to try again"},
		{"unhealthy", "GET", "/ping", "", nil, 500, "", `"Unhealthy"`},
	} {
		x.run(t, ts.inference.URL)
	}
	exchange{"described", "GET", "/models/unruly", "", nil, 200, "", `"status": "ERROR"`}.run(t, ts.management.URL)
	exchange{"scale", "PUT", "/models/unruly?min_worker=1&synchronous=true", "", nil, 200, "", "Workers scaled to 1"}.run(t, ts.management.URL)
	ok.run(t, ts.inference.URL)
	exchange{"healthy", "GET", "/ping", "", nil, 200, "", `"Healthy"`}.run(t, ts.inference.URL)
}

// TestCustomHandlerTakesOver: a handler with inference() answers by itself, and its custom
// metrics reach the metrics API.
func TestCustomHandlerTakesOver(t *testing.T) {
	ts := customServer(t, "takeover.py", "echo", "")
	exchange{"echo", "POST", "/predictions/echo", "", []byte("hello"), 200, "", `"reversed": "olleh"`}.run(t, ts.inference.URL)
	res, err := http.Get(ts.metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := `ts_custom_echocalls{kind="test",model_name="echo",model_version="1.0"} 1`; !strings.Contains(string(b), want) {
		t.Errorf("metrics lack %s", want)
	}
	// Its ONNX Runtime session serves no request: scaling does not reload it for a new
	// thread plan (on 2 cores or more, 1 worker plans 2+ threads and 2 workers fewer).
	v, err := ts.reg.Get("echo", "")
	if err != nil {
		t.Fatal(err)
	}
	threads := v.Info().Threads
	exchange{"scale", "PUT", "/models/echo?min_worker=2&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	if got := v.Info().Threads; got != threads {
		t.Errorf("scaling reloaded the unused session: %d threads, then %d", threads, got)
	}
	exchange{"echo after scaling", "POST", "/predictions/echo", "", []byte("abc"), 200, "", `"reversed": "cba"`}.run(t, ts.inference.URL)
}

// TestHandlerOnlyArchive: as with torch-model-archiver, an archive may hold no model when its
// custom handler runs its own (defines inference): it registers and serves with no ONNX
// Runtime session. A handler without inference, or a built-in handler, cannot do without one:
// registering with workers is a 400, scaling a version registered without workers a 500.
func TestHandlerOnlyArchive(t *testing.T) {
	ts := emptyServer(t, nil)
	kit := []string{testenv.Path("templates/python/ts_handler.py")}
	ts.storeArchive(t, archive.PackOptions{ModelName: "echo", Handler: testenv.Path("pkg/handler/testdata/takeover.py"), ExtraFiles: kit})
	ts.storeArchive(t, archive.PackOptions{ModelName: "unruly", Handler: testenv.Path("pkg/handler/testdata/unruly.py"), ExtraFiles: kit})
	noInference := "its manifest names no serializedFile, and its handler unruly.py does not define inference: a handler without an .onnx model must run its own"
	m, i := ts.management.URL, ts.inference.URL
	for _, x := range []exchange{
		{"built-in handler", "POST", m + "/models?url=echo.mar&handler=tensor&initial_workers=1&synchronous=true", "", nil, 400, "InvalidModelException",
			"model echo: its manifest names no serializedFile, the .onnx model the built-in handler tensor runs"},
		{"register", "POST", m + "/models?url=echo.mar&initial_workers=1&synchronous=true", "", nil, 200, "", "registered with 1 initial workers"},
		{"serves", "POST", i + "/predictions/echo", "", []byte("hello"), 200, "", `"reversed": "olleh"`},
		{"describe", "GET", m + "/models/echo", "", nil, 200, "", `"inputs": [],`},
		{"no model metadata", "GET", m + "/models/echo?customized=true", "", nil, 200, "", `"state": "READY"`},
		{"scale", "PUT", m + "/models/echo?min_worker=2&synchronous=true", "", nil, 200, "", "Workers scaled to 2"},
		{"serves after scaling", "POST", i + "/predictions/echo", "", []byte("abc"), 200, "", `"reversed": "cba"`},
		{"no tensors to take", "POST", i + "/v2/models/echo/infer", "", []byte(`{"inputs": []}`), 400, "BadRequestException", "takes requests only through /predictions/echo"},
		{"no inference, with workers", "POST", m + "/models?url=unruly.mar&initial_workers=1&synchronous=true", "", nil, 400, "InvalidModelException", noInference},
		{"no inference, no workers", "POST", m + "/models?url=unruly.mar", "", nil, 200, "", "registered with 0 initial workers"},
		{"scaled", "PUT", m + "/models/unruly?min_worker=1&synchronous=true", "", nil, 500, "InternalServerException", noInference},
	} {
		x.run(t, "")
	}
	res, err := http.Get(m + "/models/echo?customized=true")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(b), "customizedMetadata") {
		t.Errorf("model metadata described for an archive with no model:\n%s", b)
	}
}

// TestGoHandlerTemplate builds templates/go and serves iris through it.
func TestGoHandlerTemplate(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "handler")
	cmd := exec.Command("go", "build", "-o", bin, "./templates/go")
	cmd.Dir = testenv.Root()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ts := emptyServer(t, nil)
	ts.registerArchive(t, archive.PackOptions{ModelName: "irisgo", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: bin}, "initial_workers=2")
	exchange{"two flowers", "POST", "/predictions/irisgo", "", []byte("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3"), 200, "", `"species": "virginica"`}.run(t, ts.inference.URL)
	exchange{"bad csv", "POST", "/predictions/irisgo", "", []byte("5.1,3.5"), 400, "BadRequestException", "want four numbers"}.run(t, ts.inference.URL)
}

// TestPythonSampleHandler serves samples/custom/iris_handler.py as its README packs it.
func TestPythonSampleHandler(t *testing.T) {
	ts := emptyServer(t, nil)
	kit, labels := testenv.Path("templates/python/ts_handler.py"), testenv.Path("samples/iris/index_to_name.json")
	ts.registerArchive(t, archive.PackOptions{
		ModelName: "iriscsv", SerializedFile: testenv.Path("samples/iris/model.onnx"),
		Handler: testenv.Path("samples/custom/iris_handler.py"), ExtraFiles: []string{kit, labels},
	}, "initial_workers=1")
	exchange{"csv", "POST", "/predictions/iriscsv", "", []byte("5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"), 200, "", `"species": "virginica"`}.run(t, ts.inference.URL)
	exchange{"bad csv", "POST", "/predictions/iriscsv", "", []byte("1,2,x,4"), 400, "BadRequestException", "four numbers"}.run(t, ts.inference.URL)
	res, err := http.Get(ts.metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `ts_custom_irisflowers{model_name="iriscsv",model_version="1.0"} 2`) {
		t.Errorf("the handler's IrisFlowers counter is not exposed")
	}

	// POST /models's handler parameter overrides the manifest's: an archive packed for the
	// tensor handler, with the custom handler among its extra files, served through it.
	ts.registerArchive(t, archive.PackOptions{ // the handler overridden at registration
		ModelName: "irisover", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor",
		ExtraFiles: []string{testenv.Path("samples/custom/iris_handler.py"), kit, labels},
	}, "handler=iris_handler.py&initial_workers=1")
	exchange{"csv through the override", "POST", "/predictions/irisover", "", []byte("6.7,3.0,5.2,2.3\n"), 200, "", `"species": "virginica"`}.run(t, ts.inference.URL)

	// the same handler as written for TorchServe, packed as its README packs it
	ts.registerArchive(t, archive.PackOptions{
		ModelName: "irists", SerializedFile: testenv.Path("samples/iris/model.onnx"),
		Handler: testenv.Path("samples/custom/torchserve_iris_handler.py"), ExtraFiles: []string{labels},
	}, "initial_workers=1")
	status, body, _, err := send("POST", ts.inference.URL+"/predictions/irists", []byte(`{"flowers": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}`), "Content-Type", "application/json")
	var answers []struct {
		Species     string
		Probability float64
	}
	if err != nil || status != 200 || json.Unmarshal(body, &answers) != nil || len(answers) != 2 ||
		answers[0].Species != "setosa" || answers[1].Species != "virginica" || answers[0].Probability < 0.5 {
		t.Errorf("the TorchServe-style sample answered %d %s %v", status, body, err)
	}
	exchange{"JSON without its content type", "POST", "/predictions/irists", "", []byte(`{"flowers": [[6.7, 3.0, 5.2, 2.3]]}`), 200, "", `"species": "virginica"`}.run(t, ts.inference.URL)
	exchange{"not flowers", "POST", "/predictions/irists", "application/json", []byte(`{"flowers": [[1, 2]]}`), 400, "BadRequestException", "four numbers"}.run(t, ts.inference.URL)
}

// TestRequestIDReachesHandler: a custom handler sees the request's id, the X-Request-Id the
// server answers with, on /predictions and on KServe v1's predict.
func TestRequestIDReachesHandler(t *testing.T) {
	ts := customServer(t, "unruly.py", "unruly", "")
	for _, c := range []struct{ path, body string }{
		{"/predictions/unruly", "5.1,3.5,1.4,0.2"},
		{"/v1/models/unruly:predict", `{"instances": ["5.1,3.5,1.4,0.2"]}`},
	} {
		status, body, h, err := send("POST", ts.inference.URL+c.path, []byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		id := h.Get("X-Request-Id")
		if status != 200 || id == "" || !strings.Contains(string(body), `"request_id": "`+id+`"`) {
			t.Errorf("%s: %d, X-Request-Id %q, answer %s", c.path, status, id, body)
		}
	}
}

// TestTorchServeHandlerFiles serves handler files written for TorchServe, unchanged and
// without ts's kit in the archive: a module-level handle(data, context) (initialised with
// handle(None, context)), a function the handler names (file.py:function) and a file of one
// class with initialize and handle. Inputs arrive decoded as TorchServe decodes them (JSON
// parsed, text as str, else bytes); set_response_content_type and set_response_status shape
// the answer; an exception is TorchServe's 503 "Prediction failed", a PredictionException
// its own code.
func TestTorchServeHandlerFiles(t *testing.T) {
	ts := emptyServer(t, nil)
	fnFile := testenv.Path("pkg/handler/testdata/torchserve_fn.py")
	yaml := modelConfig(t, "minWorkers: 1\nhandler:\n  labels:\n    0: negative\n    1: positive\n")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tsfn", Handler: fnFile, ConfigFile: yaml}, "initial_workers=1")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tsshout", Handler: fnFile + ":shout"}, "initial_workers=1")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tscls", Handler: testenv.Path("pkg/handler/testdata/torchserve_class.py")}, "initial_workers=1")
	// a ts handler (it imports ts_handler and calls run) needs no copy of the kit either
	ts.registerArchive(t, archive.PackOptions{ModelName: "echo", Handler: testenv.Path("pkg/handler/testdata/takeover.py")}, "initial_workers=1")
	i := ts.inference.URL
	for _, x := range []exchange{
		{"JSON arrives parsed", "POST", i + "/predictions/tsfn", "application/json", []byte(`{"a": [1, 2]}`), 200, "",
			"\"kind\": \"dict\",\n  \"value\": {\n    \"a\": [\n      1,\n      2\n    ]\n  },\n  \"initialised\": 1,"},
		{"text arrives as str", "POST", i + "/predictions/tsfn", "text/plain", []byte("hello"), 200, "", "\"kind\": \"str\",\n  \"value\": \"hello\""},
		{"anything else as bytes", "POST", i + "/predictions/tsfn", "application/octet-stream", []byte{0, 1, 2}, 200, "", "\"kind\": \"bytes\",\n  \"length\": 3"},
		{"the context's model and headers", "POST", i + "/predictions/tsfn/1.0/v1/chat", "text/plain", []byte("x"), 200, "", "\"url_path\": \"v1/chat\",\n  \"model\": \"tsfn\""},
		{"the whole model-config.yaml, integer keys and all", "POST", i + "/predictions/tsfn", "text/plain", []byte("x"), 200, "", "\"labels\": {\n    \"0\": \"negative\",\n    \"1\": \"positive\"\n  }"},
		{"an exception", "POST", i + "/predictions/tsfn", "text/plain", []byte("fail"), 503, "", "Prediction failed: ValueError: asked to fail"},
		{"a PredictionException", "POST", i + "/predictions/tsfn", "text/plain", []byte("refuse"), 418, "", "refused on purpose"},
		{"no answer", "POST", i + "/predictions/tsfn", "text/plain", []byte("nothing"), 503, "", "Invalid model predict output: the handler must return a list, one answer per request; it returned an empty list"},
		{"still serving", "POST", i + "/predictions/tsfn", "text/plain", []byte("again"), 200, "", `"value": "again"`},
		{"a named entry point", "POST", i + "/predictions/tsshout", "text/plain", []byte("quiet"), 200, "", "QUIET"},
		{"a class", "POST", i + "/predictions/tscls", "text/plain", []byte("one"), 200, "", "\"initialised\": true,\n  \"calls\": 1,\n  \"has_model_dir\": true,\n  \"input\": \"one\",\n  \"module\": \"torchserve_class\""},
		{"the same instance", "POST", i + "/predictions/tscls", "text/plain", []byte("two"), 200, "", `"calls": 2,`},
		{"a ts handler without the kit in its archive", "POST", i + "/predictions/echo", "", []byte("hello"), 200, "", `"reversed": "olleh"`},
	} {
		x.run(t, "")
	}
	// a handler that runs its model: each call is the request's run in Triton's statistics
	if _, body, _, err := send("GET", i+"/v2/models/echo/stats", nil); err != nil ||
		!strings.Contains(string(body), `"inference_count": 1,`) || !strings.Contains(string(body), `"execution_count": 1,`) {
		t.Errorf("echo's statistics: %s %v, want one request in one run", body, err)
	}
	// TorchServe's metrics API: the cached gauge's last value, the counter's sum
	_, metrics, _, err := send("GET", ts.metrics.URL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`ts_custom_handleseconds{Stage="handle",model_name="tscls",model_version="1.0"} 0.5`,
		`ts_custom_rows{Kind="rows",model_name="tscls",model_version="1.0"} 2`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	status, body, header, err := send("POST", i+"/predictions/tsfn", []byte("as text"), "Content-Type", "text/plain")
	if err != nil || status != 201 || string(body) != "plain answer" || !strings.HasPrefix(header.Get("Content-Type"), "text/plain") || header.Get("X-Answer-Kind") != "plain" || header.Get("Content-Length") != "12" {
		t.Errorf("set_response_status, set_response_content_type and set_response_header: %d %q %v %v", status, body, header, err)
	}
	status, body, header, err = send("POST", i+"/predictions/tsfn", []byte("processor"), "Content-Type", "text/plain", "Accept", "application/json", "X-Tag", "t1")
	if err != nil || status != 202 || header.Get("X-Via") != "request_processor" || header.Get("Content-Type") != "application/x-processed" ||
		string(body) != `{"accept": "application/json", "tag": "t1", "status": 202, "phrase": "Accepted", "content_type": "application/x-processed"}` {
		t.Errorf("context.request_processor: %d %q %v %v", status, body, header, err)
	}
}

// TestTorchServeOnnxHandler serves iris through handler files written for TorchServe's
// BaseHandler, whose self.model is the archive's ONNX model: ts runs it (batched, in ONNX
// Runtime) when the handler calls self.model.run, as many times as the handler asks; the
// answers are the model's, as the tensor handler gives them.
func TestTorchServeOnnxHandler(t *testing.T) {
	ts := emptyServer(t, nil)
	model := testenv.Path("samples/iris/model.onnx")
	ts.storeArchive(t, archive.PackOptions{ModelName: "tsonnx", SerializedFile: model, Handler: testenv.Path("pkg/handler/testdata/torchserve_onnx.py")})
	ts.storeArchive(t, archive.PackOptions{ModelName: "tsplain", SerializedFile: model, Handler: testenv.Path("pkg/handler/testdata/torchserve_default.py")})
	ts.storeArchive(t, archive.PackOptions{ModelName: "tsnomodel", Handler: testenv.Path("pkg/handler/testdata/torchserve_default.py")})
	ts.storeArchive(t, archive.PackOptions{ModelName: "tsbadwarm", SerializedFile: model, Handler: testenv.Path("pkg/handler/testdata/torchserve_badwarm.py")})
	ts.storeArchive(t, archive.PackOptions{ModelName: "tslabels", SerializedFile: model, Handler: testenv.Path("pkg/handler/testdata/torchserve_labels.py"),
		ExtraFiles: []string{testenv.Path("samples/iris/index_to_name.json")}, ConfigFile: modelConfig(t, "handler:\n  profile: true\n")})
	m, i := ts.management.URL, ts.inference.URL
	// a warm-up run in initialize that the model refuses: the workers fail, as TorchServe's
	exchange{"a refused warm-up", "POST", m + "/models?url=tsbadwarm.mar&initial_workers=1", "", nil, 500, "InternalServerException",
		`Failed to start workers for model tsbadwarm version: 1.0: custom handler answered \"error\" to init, want ready: input \"features\" must have shape [-1,4], got [1,3]`}.run(t, "")
	for _, url := range []string{"iris.mar", "tsonnx.mar", "tsplain.mar", "tsnomodel.mar", "tslabels.mar"} {
		exchange{"register " + url, "POST", m + "/models?url=" + url + "&initial_workers=1", "", nil, 200, "", "registered with 1 initial workers"}.run(t, "")
	}
	flowers := `[[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]`
	_, direct, _, err := send("POST", i+"/predictions/iris", []byte(flowers), "Content-Type", "application/json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Outputs []struct{ Data []float64 } `json:"outputs"`
	}
	if err := json.Unmarshal(direct, &want); err != nil || len(want.Outputs) != 1 || len(want.Outputs[0].Data) != 6 {
		t.Fatalf("iris through the tensor handler: %s %v", direct, err)
	}
	near := func(got, want []float64) bool {
		if len(got) != len(want) {
			return false
		}
		for k := range got {
			if math.Abs(got[k]-want[k]) > 1e-6 {
				return false
			}
		}
		return true
	}
	status, body, _, err := send("POST", i+"/predictions/tsonnx", []byte(`{"flowers": `+flowers+`}`), "Content-Type", "application/json")
	var got struct {
		Probabilities [][]float64 `json:"probabilities"`
		FirstAlone    []float64   `json:"first_alone"`
		Input         string      `json:"input"`
		Warm          []float64   `json:"warm"` // a run in initialize, on the first flower
	}
	if err != nil || status != 200 || json.Unmarshal(body, &got) != nil || len(got.Probabilities) != 2 {
		t.Fatalf("tsonnx: %d %s %v", status, body, err)
	}
	if !near(append(got.Probabilities[0], got.Probabilities[1]...), want.Outputs[0].Data) || !near(got.FirstAlone, want.Outputs[0].Data[:3]) || !near(got.Warm, want.Outputs[0].Data[:3]) || got.Input != "features" {
		t.Errorf("tsonnx answered %s; the model's outputs are %v", body, want.Outputs[0].Data)
	}
	status, body, _, err = send("POST", i+"/predictions/tsplain", []byte(flowers[:len(`[[5.1, 3.5, 1.4, 0.2]`)]+"]"), "Content-Type", "application/json")
	var row []float64
	if err != nil || status != 200 || json.Unmarshal(body, &row) != nil || !near(row, want.Outputs[0].Data[:3]) {
		t.Errorf("tsplain: %d %s %v; want %v", status, body, err, want.Outputs[0].Data[:3])
	}
	// BaseHandler's self.mapping, map_class_to_label and timed (profile: true)
	status, body, _, err = send("POST", i+"/predictions/tslabels", []byte(`[5.1, 3.5, 1.4, 0.2]`), "Content-Type", "application/json")
	var labelled map[string]float64
	if err != nil || status != 200 || json.Unmarshal(body, &labelled) != nil || len(labelled) != 3 ||
		!near([]float64{labelled["setosa"], labelled["versicolor"], labelled["virginica"]}, want.Outputs[0].Data[:3]) {
		t.Errorf("tslabels: %d %s %v; want setosa, versicolor, virginica: %v", status, body, err, want.Outputs[0].Data[:3])
	}
	exchange{"an explanation: get_insights", "POST", i + "/explanations/tslabels", "application/json", []byte(`[5.1, 3.5, 1.4, 0.2]`), 200, "",
		"\"explained\": [\n    5.1,\n    3.5,\n    1.4,\n    0.2\n  ],\n  \"rows\": 1,\n  \"target\": 0,\n  \"model_file\": \"model.onnx\""}.run(t, "")
	exchange{"described by describe_handle", "GET", m + "/models/tslabels?customized=true", "", nil, 200, "",
		"\"customizedMetadata\": {\n      \"labels\": [\n        \"setosa\",\n        \"versicolor\",\n        \"virginica\"\n      ]\n    }"}.run(t, "")
	exchange{"no describe_handle: the model's metadata", "GET", m + "/models/tsplain?customized=true", "", nil, 200, "", `"irVersion"`}.run(t, "")
	exchange{"no get_insights", "POST", i + "/explanations/tsplain", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 501, "", "defines no get_insights"}.run(t, "")
	_, metrics, _, err := send("GET", ts.metrics.URL+"/metrics", nil)
	for _, want := range []string{`ts_custom_ts_handler_preprocess{model_name="tslabels",model_version="1.0"}`, `ts_custom_handlertime{model_name="tslabels",model_version="1.0"}`} {
		if err != nil || !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s (%v)", want, err)
		}
	}
	for _, x := range []exchange{
		{"a run the model refuses", "POST", i + "/predictions/tsplain", "application/json", []byte(`[[1, 2, 3]]`), 400, "", "features"},
		{"still serving", "POST", i + "/predictions/tsplain", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", ""},
		{"no model to run", "POST", i + "/predictions/tsnomodel", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 500, "", "no ONNX model"},
		// scaled to no worker, a handler that runs inference itself answers no more (its
		// process answered on), as TorchServe's 503
		{"scale to 0", "PUT", m + "/models/tsplain?min_worker=0&synchronous=true", "", nil, 200, "", "Workers scaled to 0"},
		{"no worker", "POST", i + "/predictions/tsplain", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 503, "ServiceUnavailableException", "has no worker"},
		{"scale to 1 again", "PUT", m + "/models/tsplain?min_worker=1&synchronous=true", "", nil, 200, "", "Workers scaled to 1"},
		{"serving again", "POST", i + "/predictions/tsplain", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", ""},
	} {
		x.run(t, "")
	}
}

// handlerProcesses are the custom handler processes of model this test process runs (its
// children whose environment names the model), by pid, with their command lines.
func handlerProcesses(t *testing.T, model string) map[int][]string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	procs := map[int][]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after its ")"
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		environ, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) || !slices.Contains(strings.Split(string(environ), "\x00"), "TS_MODEL_NAME="+model) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		procs[pid] = strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	}
	return procs
}

// waitProcesses waits until model has n handler processes, failing the test after 10 s.
func waitProcesses(t *testing.T, model string, n int) map[int][]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		procs := handlerProcesses(t, model)
		if len(procs) == n {
			return procs
		}
		if time.Now().After(deadline) {
			t.Fatalf("model %s has %d handler processes, want %d", model, len(procs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCustomHandlerScaleToZero: as TorchServe's workers, a custom handler's processes all
// stop when its model is scaled to 0 (requests then get 503) and one starts at once when it
// is scaled up again, so that a handler that no longer starts fails the scale with its
// reason.
func TestCustomHandlerScaleToZero(t *testing.T) {
	ts := customServer(t, "unruly.py", "zeroed", "")
	m, i := ts.management.URL, ts.inference.URL
	ok := exchange{"served", "POST", "/predictions/zeroed", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"probabilities"`}
	ok.run(t, i)
	procs := waitProcesses(t, "zeroed", 1)
	// its description comes from its process (the handler's describe, as TorchServe's
	// describe_handle); at 0 workers none starts for it: the ONNX model's metadata instead
	exchange{"described by its handler", "GET", "/models/zeroed?customized=true", "", nil, 200, "", `"describe": "True"`}.run(t, m)
	// a request waiting for the process, busy with another, gets 503 once scaled to 0
	// rather than wait for its timeout
	go send("POST", i+"/predictions/zeroed", []byte("hang"))
	time.Sleep(300 * time.Millisecond)
	waiting := sendLater("POST", i+"/predictions/zeroed", []byte("5.1,3.5,1.4,0.2"))
	time.Sleep(300 * time.Millisecond)
	exchange{"scale to 0", "PUT", "/models/zeroed?min_worker=0&synchronous=true", "", nil, 200, "", "Workers scaled to 0"}.run(t, m)
	if status, body := waiting(t, 20*time.Second); status != 503 || !strings.Contains(body, "has no worker") {
		t.Errorf("the request waiting when scaled to 0: %d %s", status, body)
	}
	waitProcesses(t, "zeroed", 0)
	exchange{"no worker", "POST", "/predictions/zeroed", "", []byte("5.1,3.5,1.4,0.2"), 503, "ServiceUnavailableException", "has no worker"}.run(t, i)
	exchange{"described by its model at 0 workers", "GET", "/models/zeroed?customized=true", "", nil, 200, "", `"irVersion"`}.run(t, m)
	if n := len(handlerProcesses(t, "zeroed")); n != 0 {
		t.Errorf("describing the model at 0 workers started %d handler processes", n)
	}

	exchange{"scale to 2", "PUT", "/models/zeroed?min_worker=2&synchronous=true", "", nil, 200, "", "Workers scaled to 2"}.run(t, m)
	if n := len(handlerProcesses(t, "zeroed")); n != 1 {
		t.Errorf("scaled up from 0: %d handler processes, want 1 started at once", n)
	}
	ok.run(t, i)

	// the handler file, broken while scaled to 0: the next scale fails saying why
	var handlerFile string
	for _, argv := range procs {
		handlerFile = argv[len(argv)-1]
	}
	if !strings.HasSuffix(handlerFile, "unruly.py") {
		t.Fatalf("the handler's command line ends with %q, not its file", handlerFile)
	}
	exchange{"scale to 0 again", "PUT", "/models/zeroed?min_worker=0&synchronous=true", "", nil, 200, "", "Workers scaled to 0"}.run(t, m)
	waitProcesses(t, "zeroed", 0)
	if err := os.WriteFile(handlerFile, []byte("raise SystemExit('broken on purpose')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exchange{"a scale that cannot start the handler", "PUT", "/models/zeroed?min_worker=1&synchronous=true", "", nil, 500, "InternalServerException", "broken on purpose"}.run(t, m)
	exchange{"still no worker", "POST", "/predictions/zeroed", "", []byte("5.1,3.5,1.4,0.2"), 503, "ServiceUnavailableException", ""}.run(t, i)
	exchange{"described", "GET", "/models/zeroed", "", nil, 200, "", `"state": "FAILED"`}.run(t, m)
}

// TestCustomHandlerUnloadAfterIdle: an idle model's custom handler processes stop with it,
// and the next request, which waits for the model to load again, is served by a new one,
// whether the handler runs the archive's model (unruly) or its own (takeover).
func TestCustomHandlerUnloadAfterIdle(t *testing.T) {
	for _, c := range []struct{ file, body, want string }{
		{"unruly.py", "5.1,3.5,1.4,0.2", `"probabilities"`},
		{"takeover.py", "hello", `"reversed": "olleh"`},
	} {
		t.Run(c.file, func(t *testing.T) {
			name := strings.TrimSuffix(c.file, ".py")
			ts := customServer(t, c.file, name, "unloadAfterIdle: 1\n")
			ok := exchange{"served", "POST", "/predictions/" + name, "", []byte(c.body), 200, "", c.want}
			ok.run(t, ts.inference.URL)
			waitProcesses(t, name, 1)
			waitProcesses(t, name, 0) // unloaded after a second idle
			exchange{"idle", "GET", "/models/" + name, "", nil, 200, "", `"state": "IDLE"`}.run(t, ts.management.URL)
			ok.run(t, ts.inference.URL)
			procs := handlerProcesses(t, name)
			if len(procs) != 1 {
				t.Fatalf("after the request that loaded it again: %d handler processes, want 1", len(procs))
			}
			// a load again that fails (its model file broken while idle) fails the request
			// waiting for it with 503
			var dir string
			for _, argv := range procs {
				dir = filepath.Dir(argv[len(argv)-1])
			}
			waitProcesses(t, name, 0)
			if err := os.WriteFile(filepath.Join(dir, "model.onnx"), []byte("not a model"), 0o644); err != nil {
				t.Fatal(err)
			}
			status, body := sendLater("POST", ts.inference.URL+"/predictions/"+name, []byte(c.body))(t, 20*time.Second)
			if status != 503 || !strings.Contains(body, "has no worker") {
				t.Errorf("the request that found the load failing: %d %s", status, body)
			}
			exchange{"failed", "GET", "/models/" + name, "", nil, 200, "", `"state": "FAILED"`}.run(t, ts.management.URL)
		})
	}
	// a handler that runs its own model, with none in its archive, is idle from when its
	// process starts (it was unloaded at once after registering: no model load set the time)
	t.Run("no model", func(t *testing.T) {
		ts := emptyServer(t, nil)
		ts.registerArchive(t, archive.PackOptions{ModelName: "nomodel", Handler: testenv.Path("pkg/handler/testdata/takeover.py"),
			ConfigFile: modelConfig(t, "unloadAfterIdle: 2\n")}, "initial_workers=1")
		time.Sleep(time.Second) // four idle checks
		exchange{"ready after registering", "GET", "/models/nomodel", "", nil, 200, "", `"state": "READY"`}.run(t, ts.management.URL)
		if n := len(handlerProcesses(t, "nomodel")); n != 1 {
			t.Errorf("%d handler processes a second after registering, want 1", n)
		}
		waitProcesses(t, "nomodel", 0) // unloaded after two seconds idle
		exchange{"idle", "GET", "/models/nomodel", "", nil, 200, "", `"state": "IDLE"`}.run(t, ts.management.URL)
	})
}

// numpyPython is a Python interpreter with numpy. CI must have one (.ci/run installs
// python3-numpy, and sets TS_NO_NUMPY when it cannot); elsewhere the test is skipped with a
// note.
func numpyPython(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(name); err == nil && exec.Command(p, "-c", "import numpy").Run() == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" && os.Getenv("TS_NO_NUMPY") == "" {
		t.Fatal("no python3 with numpy; CI needs one to test the Python kit with numpy")
	}
	t.Skip("no python3 with numpy (apt-get install python3-numpy): the Python kit is not exercised with numpy")
	return ""
}

// TestPythonKitArrays: a Python handler's outputs answer alike whether its Python has numpy
// (numpy arrays) or not (the kit's Tensor): tolist() nested by the shape, len, a row, shape,
// dtype, ravel(), and the array itself in the answer; so does the default postprocess, which
// failed with numpy (an array is not JSON), and a TorchServe handler's self.model.run.
func TestPythonKitArrays(t *testing.T) {
	python := numpyPython(t)
	hidden := t.TempDir() // put on PYTHONPATH: a numpy that cannot be imported
	if err := os.WriteFile(filepath.Join(hidden, "numpy.py"), []byte("raise ImportError('numpy hidden by the test')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	iris, texts := testenv.Path("samples/iris/model.onnx"), "hello\n\nwörld ✓\n"+strings.Repeat("long ", 100)
	cases := []struct{ handler, model, onnx, body string }{
		{"kit_arrays.py", "arrays", iris, "5.1,3.5,1.4,0.2;6.3,3.3,6.0,2.5"},
		{"kit_arrays.py", "default", iris, "5.1,3.5,1.4,0.2;6.3,3.3,6.0,2.5"},
		{"torchserve_onnx.py", "torchserve", iris, `{"flowers": [[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]}`},
		{"kit_strings.py", "strings", testenv.Path("pkg/engine/testdata/strings.onnx"), texts}, // same = Identity(text)
	}
	config := modelConfig(t, "handler:\n  python: "+python+"\n")
	answers := map[string][]string{}
	var want [][]float64 // the model's probabilities, through the tensor handler
	for _, withNumpy := range []bool{true, false} {
		if !withNumpy {
			t.Setenv("PYTHONPATH", hidden) // the handlers' processes start with it
		}
		ts := emptyServer(t, nil)
		for _, c := range cases {
			ts.registerArchive(t, archive.PackOptions{ModelName: c.model, SerializedFile: c.onnx, Handler: testenv.Path("pkg/handler/testdata", c.handler), ConfigFile: config}, "initial_workers=1")
			status, body, _, err := send("POST", ts.inference.URL+"/predictions/"+c.model, []byte(c.body), "Content-Type", "application/json")
			if err != nil || status != 200 {
				t.Fatalf("%s, numpy %v: %d %s %v", c.model, withNumpy, status, body, err)
			}
			answers[c.model] = append(answers[c.model], string(body))
		}
		if want == nil {
			exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
			_, body, _, err := send("POST", ts.inference.URL+"/predictions/iris", []byte(`[[5.1, 3.5, 1.4, 0.2], [6.3, 3.3, 6.0, 2.5]]`), "Content-Type", "application/json")
			var direct struct {
				Outputs []struct{ Data []float64 } `json:"outputs"`
			}
			if err != nil || json.Unmarshal(body, &direct) != nil || len(direct.Outputs) != 1 || len(direct.Outputs[0].Data) != 6 {
				t.Fatalf("iris through the tensor handler: %s %v", body, err)
			}
			want = [][]float64{direct.Outputs[0].Data[:3], direct.Outputs[0].Data[3:]}
		}
	}
	for _, c := range cases {
		if a := answers[c.model]; a[0] != a[1] {
			t.Errorf("%s answered with numpy:\n%s\nand without:\n%s", c.model, a[0], a[1])
		}
	}

	near := func(got [][]float64) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if len(got[i]) != len(want[i]) {
				return false
			}
			for k := range got[i] {
				if math.Abs(got[i][k]-want[i][k]) > 1e-6 {
					return false
				}
			}
		}
		return true
	}
	var arrays struct {
		Rows  [][]float64 `json:"rows"`
		AsIs  [][]float64 `json:"as_is"`
		First []float64   `json:"first"`
		Flat  []float64   `json:"flat"`
		Len   int         `json:"len"`
		Shape []int       `json:"shape"`
		Dtype string      `json:"dtype"`
	}
	if err := json.Unmarshal([]byte(answers["arrays"][1]), &arrays); err != nil {
		t.Fatal(err)
	}
	if !near(arrays.Rows) || !near(arrays.AsIs) || !near([][]float64{arrays.First, want[1]}) || len(arrays.Flat) != 6 ||
		!near([][]float64{arrays.Flat[:3], arrays.Flat[3:]}) || arrays.Len != 2 || fmt.Sprint(arrays.Shape) != "[2 3]" || arrays.Dtype != "float32" {
		t.Errorf("arrays answered %s; the model's outputs are %v", answers["arrays"][1], want)
	}
	var plain struct{ Probabilities [][]float64 }
	if err := json.Unmarshal([]byte(answers["default"][1]), &plain); err != nil || !near(plain.Probabilities) {
		t.Errorf("the default postprocess answered %s; the model's outputs are %v", answers["default"][1], want)
	}
	var strs struct {
		Same  []string `json:"same"`
		AsIs  []string `json:"as_is"`
		First string   `json:"first"`
		Len   int      `json:"len"`
	}
	lines := strings.Split(texts, "\n")
	if err := json.Unmarshal([]byte(answers["strings"][1]), &strs); err != nil || !slices.Equal(strs.Same, lines) ||
		!slices.Equal(strs.AsIs, lines) || strs.First != lines[0] || strs.Len != len(lines) {
		t.Errorf("the strings model answered %s; want %q", answers["strings"][1], lines)
	}
	var torchserve struct{ Probabilities [][]float64 }
	if err := json.Unmarshal([]byte(answers["torchserve"][1]), &torchserve); err != nil || !near(torchserve.Probabilities) {
		t.Errorf("the TorchServe handler answered %s; the model's outputs are %v", answers["torchserve"][1], want)
	}
}

// batchAnswer is what torchserve_batch.py answers a request of a batch.
type batchAnswer struct {
	Body      string `json:"body"`
	Batch     int    `json:"batch"`
	Place     int    `json:"place"`
	ID        string `json:"id"`
	Tag       string `json:"tag"`
	BatchSize int    `json:"batch_size"`
}

// sent is one answer of sendTogether.
type sent struct {
	status int
	body   []byte
	header http.Header
	err    error
}

// sendTogether sends a request per body to url at once, each with its body as X-Tag, and
// waits for every answer.
func sendTogether(url string, ctype string, bodies ...string) []sent {
	out := make([]sent, len(bodies))
	done := make(chan struct{})
	for k, b := range bodies {
		go func() {
			defer func() { done <- struct{}{} }()
			s := &out[k]
			s.status, s.body, s.header, s.err = send("POST", url, []byte(b), "Content-Type", ctype, "X-Tag", b)
		}()
	}
	for range bodies {
		<-done
	}
	return out
}

// TestTorchServeHandlerBatches serves handler files written for TorchServe with batch_size
// 4, as TorchServe's batch inference: requests sent together reach handle in one list, a
// full batch at once and a partial one after max_batch_delay; each request gets its own
// answer, status, headers and streamed part; an exception or a list of the wrong length
// fails the whole batch (TorchServe's 503s), as does a process that dies (500, and it is
// replaced); a client that leaves the queue is not in the
// batch; jobQueueSize bounds the queue, and describe counts it; BaseHandler's defaults run the model on the
// batch's rows together, each request answered with its own row. A ts handler that defines
// inference_batch gets batches too.
func TestTorchServeHandlerBatches(t *testing.T) {
	ts := emptyServer(t, nil)
	h := testenv.Path("pkg/handler/testdata/torchserve_batch.py")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tsfull", Handler: h}, "initial_workers=1&batch_size=4&max_batch_delay=10000")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tsdelay", Handler: h}, "initial_workers=1&batch_size=4&max_batch_delay=500")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tsbounded", Handler: h, ConfigFile: modelConfig(t, "jobQueueSize: 2\n")}, "initial_workers=1&batch_size=4&max_batch_delay=1000")
	ts.registerArchive(t, archive.PackOptions{ModelName: "kitbatch", Handler: testenv.Path("pkg/handler/testdata/kit_batch.py")}, "initial_workers=1&batch_size=3&max_batch_delay=10000")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tsrows", SerializedFile: testenv.Path("samples/iris/model.onnx"),
		Handler: testenv.Path("pkg/handler/testdata/torchserve_default.py")}, "initial_workers=1&batch_size=4&max_batch_delay=10000")
	m, i := ts.management.URL, ts.inference.URL
	exchange{"register iris", "POST", m + "/models?url=iris.mar&initial_workers=1", "", nil, 200, "", "registered with 1 initial workers"}.run(t, "")
	answers := func(what string, got []sent, status int) []batchAnswer {
		t.Helper()
		var out []batchAnswer
		for _, s := range got {
			var a batchAnswer
			if s.err != nil || s.status != status || json.Unmarshal(s.body, &a) != nil {
				t.Fatalf("%s: %d %s %v, want %d and an answer", what, s.status, s.body, s.err, status)
			}
			out = append(out, a)
		}
		return out
	}

	// a full batch goes at once (the delay is 10 s); each answer is its own request's
	start := time.Now()
	bodies := []string{"a", "b", "c", "d"}
	places := map[int]bool{}
	for k, a := range answers("a full batch", sendTogether(i+"/predictions/tsfull", "text/plain", bodies...), 200) {
		if a.Body != bodies[k] || a.Tag != bodies[k] || a.Batch != 4 || a.ID == "" || a.BatchSize != 4 {
			t.Errorf("request %q answered %+v, want its own body and tag in a batch of 4 (batch_size 4)", bodies[k], a)
		}
		places[a.Place] = true
	}
	if len(places) != 4 {
		t.Errorf("places in the batch %v, want 0-3 once each", places)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("a full batch took %v: it waited for max_batch_delay (10 s)", took)
	}
	// describe counts a request waiting for its batch; three more fill it
	first := sendLater("POST", i+"/predictions/tsfull", []byte("w"))
	var pending int
	for deadline := time.Now().Add(5 * time.Second); pending != 1 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var d []struct {
			JobQueueStatus struct{ PendingRequests int } `json:"jobQueueStatus"`
		}
		if _, body, _, err := send("GET", m+"/models/tsfull", nil); err == nil && json.Unmarshal(body, &d) == nil && len(d) == 1 {
			pending = d[0].JobQueueStatus.PendingRequests
		}
	}
	if pending != 1 {
		t.Errorf("describe: %d requests pending, want the 1 waiting for its batch", pending)
	}
	for _, a := range answers("a batch completed", sendTogether(i+"/predictions/tsfull", "text/plain", "x", "y", "z"), 200) {
		if a.Batch != 4 {
			t.Errorf("%+v, want a batch of 4 with the request that waited", a)
		}
	}
	if status, text := first(t, 5*time.Second); status != 200 || !strings.Contains(text, `"batch": 4`) {
		t.Errorf("the request that waited: %d %s, want a batch of 4", status, text)
	}
	// the batches are in Triton's statistics and the metrics, as the ONNX Runtime batches are
	var st struct {
		ModelStats []struct {
			InferenceCount int64 `json:"inference_count"`
			ExecutionCount int64 `json:"execution_count"`
			BatchStats     []struct {
				BatchSize int64 `json:"batch_size"`
			} `json:"batch_stats"`
		} `json:"model_stats"`
	}
	if _, body, _, err := send("GET", i+"/v2/models/tsfull/stats", nil); err != nil || json.Unmarshal(body, &st) != nil || len(st.ModelStats) != 1 ||
		st.ModelStats[0].InferenceCount != 8 || st.ModelStats[0].ExecutionCount != 2 || len(st.ModelStats[0].BatchStats) != 1 || st.ModelStats[0].BatchStats[0].BatchSize != 4 {
		t.Errorf("statistics: %s %v, want 8 requests in 2 batches of 4", body, err)
	}
	if _, metrics, _, err := send("GET", ts.metrics.URL+"/metrics", nil); err != nil || !strings.Contains(string(metrics), `ts_batch_size_bucket{model_name="tsfull",model_version="1.0",le="4"} 2`) {
		t.Errorf("metrics lack tsfull's two batches of 4 (%v)", err)
	}
	// a partial batch goes after max_batch_delay
	start = time.Now()
	for _, a := range answers("a partial batch", sendTogether(i+"/predictions/tsdelay", "text/plain", "x", "y"), 200) {
		if a.Batch != 2 {
			t.Errorf("%+v, want a batch of the 2 requests sent", a)
		}
	}
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Errorf("a partial batch went after %v, before max_batch_delay (500 ms)", took)
	}
	// each request its own status
	got := sendTogether(i+"/predictions/tsfull", "text/plain", "teapot", "a", "b", "c")
	for k, s := range got {
		if want := map[bool]int{true: 418, false: 200}[k == 0]; s.status != want {
			t.Errorf("request %d of a batch: %d %s, want %d", k, s.status, s.body, want)
		}
	}
	// a streamed part each, in front of its answer
	for k, s := range sendTogether(i+"/predictions/tsfull", "text/plain", "stream", "a", "b", "c") {
		var a batchAnswer
		if cut := bytes.IndexByte(s.body, ';'); s.err != nil || s.status != 200 || cut < 0 || json.Unmarshal(s.body[cut+1:], &a) != nil {
			t.Fatalf("request %d of a streamed batch: %d %s %v, want a part, then an answer", k, s.status, s.body, s.err)
		}
		if prefix := fmt.Sprintf("part %d;", a.Place); !bytes.HasPrefix(s.body, []byte(prefix)) || a.Batch != 4 {
			t.Errorf("request %d: %s, want its own part %q first, in a batch of 4", k, s.body, prefix)
		}
	}
	// whole-batch failures
	for _, s := range sendTogether(i+"/predictions/tsfull", "text/plain", "fail", "a", "b", "c") {
		if s.status != 503 || !strings.Contains(string(s.body), "Prediction failed: ValueError: one request failed the batch") {
			t.Errorf("an exception: %d %s, want 503 Prediction failed for every request of the batch", s.status, s.body)
		}
	}
	for _, s := range sendTogether(i+"/predictions/tsfull", "text/plain", "short", "a", "b", "c") {
		if s.status != 503 || !strings.Contains(string(s.body), "number of batch response mismatched: 3 answers for a batch of 4 requests") {
			t.Errorf("too few answers: %d %s, want 503 for every request of the batch", s.status, s.body)
		}
	}
	// a process that dies fails its batch (TorchServe's worker died) and is replaced
	for _, s := range sendTogether(i+"/predictions/tsfull", "text/plain", "crash", "a", "b", "c") {
		if s.status != 500 || !strings.Contains(string(s.body), "the handler process exited") {
			t.Errorf("a crash: %d %s, want 500 for every request of the batch", s.status, s.body)
		}
	}
	for _, a := range answers("after a crash", sendTogether(i+"/predictions/tsfull", "text/plain", "a", "b", "c", "d"), 200) {
		if a.Batch != 4 {
			t.Errorf("after a crash: %+v, want a batch of 4", a)
		}
	}
	// a client that leaves before its batch goes is not in it
	leaver := &http.Client{Timeout: 200 * time.Millisecond}
	if res, err := leaver.Post(i+"/predictions/tsdelay", "text/plain", strings.NewReader("gone")); err == nil {
		res.Body.Close()
		t.Fatalf("a request of a partial batch answered within 200 ms (%s): max_batch_delay is 500 ms", res.Status)
	}
	time.Sleep(100 * time.Millisecond)
	for _, a := range answers("after a client left", sendTogether(i+"/predictions/tsdelay", "text/plain", "p", "q"), 200) {
		if a.Batch != 2 {
			t.Errorf("%+v: the batch holds %d requests, want the 2 still waiting", a, a.Batch)
		}
	}
	// jobQueueSize 2: a third request waiting is refused
	got = sendTogether(i+"/predictions/tsbounded", "text/plain", "a", "b", "c")
	var refused int
	for _, s := range got {
		if s.status == 503 && strings.Contains(string(s.body), "has no worker to serve inference request") {
			refused++
		} else if s.status != 200 {
			t.Errorf("a bounded queue: %d %s", s.status, s.body)
		}
	}
	if refused != 1 {
		t.Errorf("%d of 3 requests refused by a queue of 2, want 1", refused)
	}
	// a ts handler with inference_batch, its headers set per place
	placed := map[string]bool{}
	for k, s := range sendTogether(i+"/predictions/kitbatch", "text/plain", "x", "y", "z") {
		var a batchAnswer
		if s.err != nil || s.status != 200 || json.Unmarshal(s.body, &a) != nil || a.Body != []string{"x", "y", "z"}[k] || a.Batch != 3 {
			t.Fatalf("inference_batch, request %d: %d %s %v, want its body in a batch of 3", k, s.status, s.body, s.err)
		}
		placed[s.header.Get("X-Place")] = true
	}
	if len(placed) != 3 || !placed["0"] || !placed["2"] {
		t.Errorf("X-Place headers %v, want 0, 1 and 2", placed)
	}
	for _, s := range sendTogether(i+"/predictions/kitbatch", "text/plain", "short", "y", "z") {
		if s.status != 500 || !strings.Contains(string(s.body), "inference_batch must answer a list, one answer per request: 2 answers for a batch of 3") {
			t.Errorf("inference_batch answering too few: %d %s, want 500 for every request of the batch", s.status, s.body)
		}
	}
	// BaseHandler's defaults on a batch: the requests' rows through the model together
	flowers := []string{"[[5.1, 3.5, 1.4, 0.2]]", "[[6.3, 3.3, 6.0, 2.5]]", "[[5.9, 3.0, 4.2, 1.5]]", "[[4.9, 3.0, 1.4, 0.2]]"}
	rows := sendTogether(i+"/predictions/tsrows", "application/json", flowers...)
	for k, f := range flowers {
		_, body, _, err := send("POST", i+"/predictions/iris", []byte(f), "Content-Type", "application/json")
		var want struct {
			Outputs []struct{ Data []float64 } `json:"outputs"`
		}
		var row []float64
		if err != nil || json.Unmarshal(body, &want) != nil || len(want.Outputs) != 1 || rows[k].status != 200 || json.Unmarshal(rows[k].body, &row) != nil {
			t.Fatalf("flower %d: iris %s %v; through BaseHandler %d %s %v", k, body, err, rows[k].status, rows[k].body, rows[k].err)
		}
		if len(row) != len(want.Outputs[0].Data) {
			t.Fatalf("flower %d answered %v, want %v", k, row, want.Outputs[0].Data)
		}
		for c := range row {
			if math.Abs(row[c]-want.Outputs[0].Data[c]) > 1e-6 {
				t.Errorf("flower %d answered %v, want the model's %v", k, row, want.Outputs[0].Data)
				break
			}
		}
	}
}

// TestContinuousBatching: TorchServe's continuous batching for a handler file that generates
// (torchserve_generate.py): each request gets its tokens in order, each a part of its answer,
// until its stopping criterion ends it; a request that comes while another generates joins
// its batches at once, and the handler's ts_stream_next header stays between handler and
// server.
func TestContinuousBatching(t *testing.T) {
	ts := emptyServer(t, nil)
	ts.registerArchive(t, archive.PackOptions{ModelName: "gen", Handler: testenv.Path("pkg/handler/testdata/torchserve_generate.py"),
		ConfigFile: modelConfig(t, "minWorkers: 1\nmaxWorkers: 1\nbatchSize: 4\nmaxBatchDelay: 100\ncontinuousBatching: true\n")}, "")
	exchange{"described", "GET", "/models/gen", "", nil, 200, "", `"continuousBatching": true,`}.run(t, ts.management.URL)
	type token struct {
		Token string
		Batch int
		Pid   int
	}
	generate := func(prompt string, tokens int) ([]token, http.Header) {
		status, body, header, err := send("POST", ts.inference.URL+"/predictions/gen", fmt.Appendf(nil, `{"prompt": %q, "tokens": %d}`, prompt, tokens),
			"Content-Type", "application/json")
		if err != nil || status != 200 {
			t.Errorf("%s: %d %s %v", prompt, status, body, err)
			return nil, header
		}
		var got []token
		for d := json.NewDecoder(bytes.NewReader(body)); d.More(); {
			var tok token
			if err := d.Decode(&tok); err != nil {
				t.Errorf("%s: %v in %s", prompt, err, body)
				break
			}
			got = append(got, tok)
		}
		return got, header
	}
	check := func(prompt string, tokens int, got []token) {
		t.Helper()
		if len(got) != tokens {
			t.Errorf("%s: %d tokens %+v, want %d", prompt, len(got), got, tokens)
			return
		}
		for i, tok := range got {
			if tok.Token != fmt.Sprintf("%s%d", prompt, i+1) {
				t.Errorf("%s: token %d is %q, want %s%d", prompt, i, tok.Token, prompt, i+1)
			}
		}
	}
	// one request alone: its tokens, one call each
	got, header := generate("solo", 3)
	check("solo", 3, got)
	if header.Get("ts_stream_next") != "" {
		t.Errorf("the handler's ts_stream_next reached the client: %v", header)
	}
	// a long request, and one that comes while it generates: it joins the batches at once
	long := make(chan []token, 1)
	go func() {
		got, _ := generate("long", 40) // 40 steps of 20 ms: it generates for 0.8 s at least
		long <- got
	}()
	time.Sleep(300 * time.Millisecond)
	short, _ := generate("short", 3)
	check("short", 3, short)
	longGot := <-long
	check("long", 40, longGot)
	if len(short) == 3 && (short[0].Batch != 2 || short[2].Batch != 2) {
		t.Errorf("the request that came while another generated: batches %+v, want it beside the other's (2)", short)
	}
	// several at once: each its own tokens, in order
	var wg sync.WaitGroup
	for i, n := range []int{1, 4, 7, 2, 5} {
		wg.Go(func() {
			prompt := fmt.Sprintf("p%d-", i)
			got, _ := generate(prompt, n)
			check(prompt, n, got)
		})
	}
	wg.Wait()
	// a stateful model: a request of a sequence whose generation runs joins its batches
	// (TorchServe's sequence continuous batching, where such a request may cancel it)
	ts.registerArchive(t, archive.PackOptions{ModelName: "seqgen", Handler: testenv.Path("pkg/handler/testdata/torchserve_generate.py"),
		ConfigFile: modelConfig(t, "minWorkers: 1\nmaxWorkers: 1\nbatchSize: 4\nmaxBatchDelay: 100\ncontinuousBatching: true\nsequenceBatching: true\n")}, "")
	seqGenerate := func(prompt string, tokens int, header ...string) []token {
		header = append([]string{"Content-Type", "application/json", "ts_request_sequence_id", "chat"}, header...)
		status, body, _, err := send("POST", ts.inference.URL+"/predictions/seqgen", fmt.Appendf(nil, `{"prompt": %q, "tokens": %d}`, prompt, tokens), header...)
		var got []token
		for d := json.NewDecoder(bytes.NewReader(body)); err == nil && status == 200 && d.More(); {
			var tok token
			if d.Decode(&tok) != nil {
				break
			}
			got = append(got, tok)
		}
		return got
	}
	go func() { long <- seqGenerate("first", 40) }()
	time.Sleep(300 * time.Millisecond)
	second := seqGenerate("second", 2)
	check("second", 2, second)
	check("first", 40, <-long)
	if len(second) == 2 && second[0].Batch != 2 {
		t.Errorf("a request of a sequence whose generation runs: batches %+v, want it beside the generation (2)", second)
	}
	// the end header ends a generating request's sequence after its last step, not its
	// first: until then the one sequence maxNumSequence allows stays open
	go func() { long <- seqGenerate("ending", 40, "ts_request_sequence_end", "true") }()
	time.Sleep(300 * time.Millisecond)
	exchange{"a new sequence while the last request of the open one generates", "POST", "/predictions/seqgen", "application/json",
		[]byte(`{"prompt": "new", "tokens": 1}`), 503, "ServiceUnavailableException", "maxNumSequence"}.run(t, ts.inference.URL)
	check("ending", 40, <-long)
	exchange{"a new sequence once it ended", "POST", "/predictions/seqgen", "application/json",
		[]byte(`{"prompt": "new", "tokens": 1}`), 200, "", `"token": "new1"`}.run(t, ts.inference.URL)
	// a client that leaves mid-generation: its request takes no more steps, so a request
	// after it has its batches to itself
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.inference.URL+"/predictions/gen", strings.NewReader(`{"prompt": "left", "tokens": 500}`))
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err == nil {
		io.Copy(io.Discard, res.Body) // until the context ends it
		res.Body.Close()
	}
	time.Sleep(100 * time.Millisecond)
	after, _ := generate("after", 2)
	check("after", 2, after)
	if len(after) == 2 && (after[0].Batch != 1 || after[1].Batch != 1) {
		t.Errorf("after a client left mid-generation: batches %+v, want the request alone (1)", after)
	}
	// TorchServe's gRPC StreamPredictions: a message per step
	c, _ := grpcClients(t, ts)
	stream, err := c.StreamPredictions(context.Background(), &inferencepb.PredictionsRequest{ModelName: "gen",
		Input: map[string][]byte{"body": []byte(`{"prompt": "r", "tokens": 3}`)}})
	if err != nil {
		t.Fatal(err)
	}
	var messages []string
	for _, m := range receiveAll(t, stream) {
		var tok token
		json.Unmarshal(m.GetPrediction(), &tok)
		messages = append(messages, tok.Token)
	}
	if strings.Join(messages, " ") != "r1 r2 r3" {
		t.Errorf("StreamPredictions: messages %q, want r1 r2 r3", messages)
	}
	// Triton's generate_stream: an event per step, its JSON answer's fields beside the model's
	status, body, _, err := send("POST", ts.inference.URL+"/v2/models/gen/generate_stream", []byte(`{"prompt": "g", "tokens": 3}`))
	if err != nil || status != 200 || strings.Count(string(body), "data: ") != 3 {
		t.Fatalf("generate_stream: %d %s %v", status, body, err)
	}
	for i := 1; i <= 3; i++ {
		if want := fmt.Sprintf(`data: {"model_name":"gen","model_version":"1.0","token":"g%d",`, i); !strings.Contains(string(body), want) {
			t.Errorf("generate_stream lacks %s: %s", want, body)
		}
	}
}
