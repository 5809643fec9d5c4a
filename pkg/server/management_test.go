package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zip"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/api/grpc/managementpb"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/metrics"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/trace"
)

type testServer struct {
	inference, management, metrics *httptest.Server
	store                          string
	reg                            *registry.Registry
	srv                            *Server
}

// emptyServer serves nothing yet; its model store holds iris.mar (1.0), iris-v2.mar (2.0)
// and digits.mar.
func emptyServer(t testing.TB, flags map[string]string) *testServer {
	t.Helper()
	store := t.TempDir()
	for _, a := range []struct{ name, version, model, handler, file string }{
		{"iris", "1.0", "samples/iris/model.onnx", "tensor", "iris.mar"},
		{"iris", "2.0", "samples/iris/model.onnx", "tensor", "iris-v2.mar"},
		{"digits", "1.0", "samples/digits/model.onnx", "image_classifier", "digits.mar"},
	} {
		res, err := archive.Pack(context.Background(), archive.PackOptions{
			ModelName: a.name, Version: a.version, SerializedFile: testenv.Path(a.model), Handler: a.handler, ExportPath: t.TempDir(),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(res.Path, filepath.Join(store, a.file)); err != nil {
			t.Fatal(err)
		}
	}
	if flags == nil {
		flags = map[string]string{}
	}
	flags["model_store"] = store
	cfg, err := config.Load(config.Inputs{Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	tracer := trace.New(cfg.Trace, quiet)
	reg := registry.New(registry.Options{TempDir: t.TempDir(), Logger: quiet, Defaults: registry.DefaultsFrom(cfg),
		OnBatch: m.Batch, OnHandlerMetric: m.Custom, OnRemoved: m.Forget, Tracer: tracer})
	t.Cleanup(func() { reg.Close(context.Background()) })
	srv := New(reg, Options{Settings: cfg, Logger: quiet, Metrics: m, Tracer: tracer})
	ts := &testServer{store: store, reg: reg, srv: srv}
	for _, x := range []struct {
		api string
		dst **httptest.Server
	}{{Inference, &ts.inference}, {Management, &ts.management}, {Metrics, &ts.metrics}} {
		h, _ := srv.Handler(x.api)
		*x.dst = httptest.NewServer(h)
		t.Cleanup((*x.dst).Close)
	}
	return ts
}

// TestManagementLifecycle walks register, scale, versions, set-default, split and
// unregister, with TorchServe's status codes and messages, including the edge cases of
// TorchServe's own management API tests.
func TestManagementLifecycle(t *testing.T) {
	ts := emptyServer(t, nil)
	m := ts.management.URL
	steps := []exchange{
		{"register without url", "POST", "/models", "", nil, 400, "BadRequestException", "Parameter url is required."},
		{"register empty url", "POST", "/models?url=", "", nil, 404, "ModelNotFoundException", "empty url"},
		{"register bad runtime", "POST", "/models?url=iris.mar&runtime=python4", "", nil, 400, "BadRequestException", "\"message\": \"Invalid RuntimeType value: python4\""},
		{"register relative path", "POST", "/models?url=..%2Firis.mar", "", nil, 400, "BadRequestException", "Relative path is not allowed in url: ../iris.mar"},
		{"register relative path in a folder", "POST", "/models?url=a/../../iris.mar", "", nil, 400, "BadRequestException", "Relative path is not allowed in url: a/../../iris.mar"},
		{"register outside the store", "POST", "/models?url=/etc/passwd", "", nil, 400, "BadRequestException", "Given URL /etc/passwd does not match any allowed URL(s)"},
		{"register file url outside the store", "POST", "/models?url=file:///etc/passwd", "", nil, 400, "BadRequestException", "Given URL file:///etc/passwd does not match any allowed URL(s)"},
		{"register http url, not allowed", "POST", "/models?url=http://127.0.0.1:1/x.mar", "", nil, 400, "BadRequestException", "Given URL http://127.0.0.1:1/x.mar does not match any allowed URL(s)"},
		{"register missing archive", "POST", "/models?url=nope.mar", "", nil, 404, "ModelNotFoundException", "nope.mar"},
		{"register, no workers", "POST", "/models?url=iris.mar", "", nil, 200, "", `Model \"iris\" Version: 1.0 registered with 0 initial workers. Use scale workers API to add workers for the model.`},
		{"register again", "POST", "/models?url=iris.mar", "", nil, 409, "ConflictStatusException", "Model version 1.0 is already registered for model iris"},
		{"register, unknown handler, no workers", "POST", "/models?url=digits.mar&handler=invalidHandler", "", nil, 200, "", `Model \"digits\" Version: 1.0 registered with 0 initial workers.`},
		{"describe says why", "GET", "/models/digits", "", nil, 200, "", `"error": "handler \"invalidHandler\" is neither built in (image_classifier, `},
		{"scale the unknown handler", "PUT", "/models/digits?min_worker=1&synchronous=true", "", nil, 500, "InternalServerException",
			`Failed to start workers for model digits version: 1.0: handler \"invalidHandler\" is neither built in`},
		{"unregister it", "DELETE", "/models/digits", "", nil, 200, "", `Model \"digits\" unregistered`},
		{"register, unknown handler, with workers", "POST", "/models?url=digits.mar&handler=invalidHandler&initial_workers=1&synchronous=true", "", nil, 400, "InvalidModelException",
			`handler \"invalidHandler\" is neither built in`},
		{"register, handler overridden", "POST", "/models?url=digits.mar&handler=tensor&initial_workers=1&synchronous=true", "", nil, 200, "", `registered with 1 initial workers`},
		{"the override serves", "POST", "@/predictions/digits", "", []byte(`[[` + strings.Repeat(`[0,0,0,0,0,0,0,0],`, 7) + `[0,0,0,0,0,0,0,0]]]`), 200, "", `"outputs"`},
		{"unregister the override", "DELETE", "/models/digits", "", nil, 200, "", `Model \"digits\" unregistered`},
		{"register with workers waits by default (TorchServe's code)", "POST", "/models?url=digits.mar&initial_workers=1", "", nil, 200, "", `Model \"digits\" Version: 1.0 registered with 1 initial workers"`},
		{"unregister the waited one", "DELETE", "/models/digits", "", nil, 200, "", `Model \"digits\" unregistered`},
		{"register, synchronous=false", "POST", "/models?url=digits.mar&initial_workers=1&synchronous=false", "", nil, 202, "", `"status": "Processing worker updates..."`},
		{"unregister the async one", "DELETE", "/models/digits?synchronous=true", "", nil, 200, "", `Model \"digits\" unregistered`},
		{"register, synchronous not a boolean (false)", "POST", "/models?url=digits.mar&initial_workers=1&synchronous=-1", "", nil, 202, "", `"status": "Processing worker updates..."`},
		{"unregister that one", "DELETE", "/models/digits", "", nil, 200, "", `Model \"digits\" unregistered`},
		{"register with a JSON body waits by default", "POST", "/models", "application/json", []byte(`{"url": "digits.mar", "initial_workers": 1}`), 200, "", `registered with 1 initial workers"`},
		{"unregister the JSON one", "DELETE", "/models/digits", "", nil, 200, "", `Model \"digits\" unregistered`},
		{"register, startup timeout 0, workers", "POST", "/models?url=digits.mar&startup_timeout=0&initial_workers=3&synchronous=true", "", nil, 500, "InternalServerException", "startupTimeout is 0"},
		{"register, startup timeout 0, no workers", "POST", "/models?url=digits.mar&startup_timeout=0", "", nil, 200, "", `registered with 0 initial workers`},
		{"unregister it again", "DELETE", "/models/digits", "", nil, 200, "", `Model \"digits\" unregistered`},
		{"register beyond the worker limit", "POST", "/models?url=iris-v2.mar&initial_workers=5000", "", nil, 400, "InvalidModelException", "minWorkers (from register request) must be ≤ 1024, got 5000"},
		{"infer with no worker", "POST", "@/predictions/iris", "", []byte(`[[1,2,3,4]]`), 503, "ServiceUnavailableException", `Model \"iris\" has no worker to serve inference request. Please use scale workers API to add workers.`},
		{"infer a named version with no worker", "POST", "@/predictions/iris/1.0", "", []byte(`[[1,2,3,4]]`), 503, "ServiceUnavailableException", `Model \"iris\" Version 1.0 has no worker to serve inference request. Please use scale workers API to add workers.`},
		{"scale min > max", "PUT", "/models/iris?min_worker=2&max_worker=1", "", nil, 400, "BadRequestException", `"max_worker cannot be less than min_worker."`},
		{"scale max -1", "PUT", "/models/iris?max_worker=-1", "", nil, 400, "BadRequestException", ""},
		{"scale min -1 (TorchServe's 500)", "PUT", "/models/iris?min_worker=-1", "", nil, 500, "InternalServerException", "Failed to start workers for model iris version: 1.0: min_worker must be 0 or more, got -1"},
		{"scale min -1, max -1", "PUT", "/models/iris?min_worker=-1&max_worker=-1", "", nil, 500, "InternalServerException", "min_worker must be 0 or more, got -1"},
		{"scale min -1, synchronously", "PUT", "/models/iris?min_worker=-1&synchronous=true", "", nil, 500, "InternalServerException", "min_worker must be 0 or more, got -1"},
		{"scale beyond the limit", "PUT", "/models/iris?min_worker=1000000&synchronous=true", "", nil, 400, "BadRequestException", "min_worker 1000000 is more than ts allows per model (1024)"},
		{"scale unknown model", "PUT", "/models/nope?min_worker=1", "", nil, 404, "ModelNotFoundException", ""},
		{"scale unknown version", "PUT", "/models/iris/9.9?min_worker=1", "", nil, 404, "ModelVersionNotFoundException", ""},
		{"scale sync", "PUT", "/models/iris?min_worker=1&synchronous=true", "", nil, 200, "", "Workers scaled to 1 for model: iris"},
		{"infer", "POST", "@/predictions/iris", "", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", `"probabilities"`},
		{"scale async, unknown params", "PUT", "/models/iris/1.0?min_worker=1&number_gpu=2&timeout=3", "", nil, 202, "", "Processing worker updates..."},
		{"register by JSON body, bad batch values fall back", "POST", "/models", "application/json",
			[]byte(`{"url": "iris-v2.mar", "initial_workers": 1, "synchronous": true, "batch_size": "dd", "max_batch_delay": "junk"}`),
			200, "", `Model \"iris\" Version: 2.0 registered with 1 initial workers`},
		{"describe all versions", "GET", "/models/iris/all", "", nil, 200, "", `"modelVersion": "2.0"`},
		{"set default to unknown version", "PUT", "/models/iris/9.9/set-default", "", nil, 404, "ModelVersionNotFoundException", ""},
		{"set default", "PUT", "/models/iris/2.0/set-default", "", nil, 200, "", `Default version successfully updated for model \"iris\" to \"2.0\"`},
		{"describe default", "GET", "/models/iris", "", nil, 200, "", `"modelVersion": "2.0"`},
		{"split, unknown version", "PUT", "/models/iris/split", "", []byte(`{"1.0": 90, "9.9": 10}`), 404, "ModelVersionNotFoundException", ""},
		{"split, bad body", "PUT", "/models/iris/split", "", []byte(`90/10`), 400, "BadRequestException", ""},
		{"split", "PUT", "/models/iris/split", "", []byte(`{"1.0": 90, "2.0": 10}`), 200, "", `"2.0": 10`},
		{"split by query", "PUT", "/models/iris/split?weights=1.0:50,2.0:50", "", nil, 200, "", `"1.0": 50`},
		{"get split", "GET", "/models/iris/split", "", nil, 200, "", `"2.0": 50`},
		{"delete split", "DELETE", "/models/iris/split", "", nil, 200, "", "Traffic split"},
		{"unregister the default while others exist", "DELETE", "/models/iris/2.0", "", nil, 403, "IllegalArgumentException", "Cannot remove default version for model iris"},
		{"unregister unknown version", "DELETE", "/models/iris/9.9", "", nil, 404, "ModelVersionNotFoundException", ""},
		{"unregister a version", "DELETE", "/models/iris/1.0", "", nil, 200, "", `Model \"iris\" unregistered`},
		{"list, empty limit and token", "GET", "/models?limit=&next_page_token=", "", nil, 200, "", `"modelName": "iris"`},
		{"unregister the last, trailing slash", "DELETE", "/models/iris/?synchronous=true", "", nil, 200, "", `Model \"iris\" unregistered`},
		{"unregister unknown", "DELETE", "/models/iris", "", nil, 404, "ModelNotFoundException", ""},
		{"list empty", "GET", "/models", "", nil, 200, "", `"models": []`},
	}
	for _, x := range steps {
		base := m
		if strings.HasPrefix(x.path, "@") {
			base, x.path = ts.inference.URL, x.path[1:]
		}
		t.Run(x.name, func(t *testing.T) { x.run(t, base) })
		if t.Failed() {
			return
		}
		if x.name == "scale async, unknown params" {
			waitReady(t, ts.reg, "iris", "1.0")
		}
	}
}

// TestRegisterPyTorchArchive: an archive torch-model-archiver made for a PyTorch model (no
// signature in its manifest, model.pt inside) is refused with a 400 that says what to do, and
// no temporary path.
func TestRegisterPyTorchArchive(t *testing.T) {
	ts := emptyServer(t, nil)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range map[string]string{
		"MAR-INF/MANIFEST.json": `{"runtime": "python", "model": {"modelName": "resnet", "serializedFile": "model.pt", "handler": "image_classifier", "modelVersion": "1.0"}, "archiverVersion": "0.9.0"}`,
		"model.pt":              "PK\x03\x04 a PyTorch checkpoint is a zip of pickles",
	} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts.store, "resnet.mar"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	exchange{"register", "POST", "/models?url=resnet.mar&initial_workers=1&synchronous=true", "", nil, 400, "InvalidModelException",
		`model resnet: its serialized file model.pt is not an ONNX model: ts serves ONNX models: export it to ONNX first`}.run(t, ts.management.URL)
}

func waitReady(t *testing.T, reg *registry.Registry, name, version string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if v, err := reg.Get(name, version); err == nil && v.Info().State == registry.StateReady {
			return
		}
	}
	t.Fatalf("%s %s did not become ready", name, version)
}

func TestModelAPIDisabled(t *testing.T) {
	ts := emptyServer(t, map[string]string{"enable_model_api": "false"})
	for _, x := range []exchange{
		{"register", "POST", "/models?url=iris.mar", "", nil, 405, "MethodNotAllowedException", ""},
		{"unregister", "DELETE", "/models/iris", "", nil, 405, "MethodNotAllowedException", ""},
		{"list still works", "GET", "/models", "", nil, 200, "", ""},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, ts.management.URL) })
	}
}

// TestRegisterJSONBody: with a JSON body, its values win over the query's (TorchServe reads
// the body alone), large numbers keep their value, and null is not given.
func TestRegisterJSONBody(t *testing.T) {
	ts := emptyServer(t, nil)
	for _, x := range []exchange{
		{"register", "POST", "/models?model_name=fromquery&response_timeout=5", "application/json",
			[]byte(`{"url": "iris.mar", "model_name": "frombody", "response_timeout": 1000000, "handler": null}`), 200, "", `Model \"frombody\" Version: 1.0 registered`},
		{"describe", "GET", "/models/frombody", "", nil, 200, "", `"responseTimeout": 1000000,`},
		{"null is not given: the manifest's handler", "GET", "/models/frombody", "", nil, 200, "", `"handler": "tensor",`},
		{"not registered under the query's name", "GET", "/models/fromquery", "", nil, 404, "ModelNotFoundException", ""},
		{"not an object", "POST", "/models", "application/json", []byte(`["iris.mar"]`), 400, "BadRequestException", "request body is not a JSON object"},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, ts.management.URL) })
	}
}

// TestRegisterFromStoreFolder registers an archive in a folder of the model store, as
// TorchServe does (it joins the url to the store), and its modelUrl keeps the folder.
func TestRegisterFromStoreFolder(t *testing.T) {
	ts := emptyServer(t, nil)
	if err := os.Mkdir(filepath.Join(ts.store, "team"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(ts.store, "digits.mar"), filepath.Join(ts.store, "team", "digits.mar")); err != nil {
		t.Fatal(err)
	}
	for _, x := range []exchange{
		{"register", "POST", "/models?url=team/digits.mar", "", nil, 200, "", `Model \"digits\" Version: 1.0 registered`},
		{"describe", "GET", "/models/digits", "", nil, 200, "", `"modelUrl": "team/digits.mar"`},
		{"missing in the folder", "POST", "/models?url=team/nope.mar", "", nil, 404, "ModelNotFoundException", "Model not found in model store: team/nope.mar"},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, ts.management.URL) })
	}
}

// TestAllowedURLs: archives from allowed http(s) urls are downloaded into the model store
// and, as TorchServe does (its API tests register, unregister and register again the same
// url), deleted from it when unregistered, or at once when they do not register.
func TestAllowedURLs(t *testing.T) {
	archiveBytes, err := os.ReadFile(filepath.Join(emptyServer(t, nil).store, "iris.mar"))
	if err != nil {
		t.Fatal(err)
	}
	served := t.TempDir()
	if err := os.Mkdir(filepath.Join(served, "models"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"remote.mar": archiveBytes, "junk.mar": []byte("not an archive")} {
		if err := os.WriteFile(filepath.Join(served, "models", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files := httptest.NewServer(http.FileServer(http.Dir(served)))
	t.Cleanup(files.Close)
	ts := emptyServer(t, map[string]string{"allowed_urls": files.URL + "/models/.*"})
	inStore := func(name string) bool {
		_, err := os.Stat(filepath.Join(ts.store, name))
		return err == nil
	}
	remote := files.URL + "/models/remote.mar"
	for _, x := range []exchange{
		{"not allowed", "POST", "/models?url=" + files.URL + "/elsewhere/x.mar", "", nil, 400, "BadRequestException", "does not match any allowed URL(s)"},
		{"allowed but missing", "POST", "/models?url=" + files.URL + "/models/missing.mar", "", nil, 400, "DownloadArchiveException", "Failed to download archive from"},
		{"allowed", "POST", "/models?url=" + remote + "&model_name=remote&initial_workers=1&synchronous=true", "", nil, 200, "", "registered with 1 initial workers"},
		{"file already in the store", "POST", "/models?url=" + remote + "&model_name=other", "", nil, 500, "InternalServerException", "Model file already exists remote.mar"},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, ts.management.URL) })
	}
	if !inStore("remote.mar") {
		t.Fatal("the download is not in the model store")
	}
	exchange{"unregister", "DELETE", "/models/remote", "", nil, 200, "", `Model \"remote\" unregistered`}.run(t, ts.management.URL)
	if inStore("remote.mar") {
		t.Error("the downloaded archive stayed in the model store after its model was unregistered")
	}
	exchange{"register the url again", "POST", "/models?url=" + remote + "&model_name=remote", "", nil, 200, "", "registered with 0 initial workers"}.run(t, ts.management.URL)
	exchange{"a download that is no archive", "POST", "/models?url=" + files.URL + "/models/junk.mar", "", nil, 400, "InvalidModelException", "invalid model archive junk.mar: not a model archive (not a zip"}.run(t, ts.management.URL)
	if inStore("junk.mar") {
		t.Error("a downloaded archive that failed to register stayed in the model store")
	}
	// A model archive put in the store by hand stays when its model goes.
	exchange{"register from the store", "POST", "/models?url=digits.mar", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"unregister it", "DELETE", "/models/digits", "", nil, 200, "", ""}.run(t, ts.management.URL)
	if !inStore("digits.mar") {
		t.Error("unregistering removed an archive the server did not download")
	}
}

// TestDescribe checks the fields TorchServe clients read and ts's additions.
func TestDescribe(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register", "POST", "/models?url=digits.mar&initial_workers=2&synchronous=true&batch_size=4&max_batch_delay=7", "", nil, 200, "", ""}.run(t, ts.management.URL)
	res, err := http.Get(ts.management.URL + "/models/digits")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var d []api.Description
	if err := json.Unmarshal(body, &d); err != nil || len(d) != 1 {
		t.Fatalf("%v %v", err, d)
	}
	// newer TorchServe's fields, after startupTimeout as it writes them: worker retries, the
	// queue policy, and those of features ts has no use for, at TorchServe's values for a
	// model using none, on a CPU
	if !regexp.MustCompile(`"startupTimeout": 120,\s+"maxRetryTimeoutInSec": 300,\s+"clientTimeoutInMills": 0,\s+` +
		`"parallelType": "",\s+"parallelLevel": 0,\s+"deviceType": "cpu",\s+"continuousBatching": false,\s+"useJobTicket": false,\s+` +
		`"useVenv": false,\s+"stateful": false,\s+"sequenceMaxIdleMSec": 0,\s+"sequenceTimeoutMSec": 0,\s+"maxNumSequence": 1,\s+"maxSequenceJobQueueSize": 1,\s+"loadedAtStartup": false,`).Match(body) {
		t.Errorf("describe lacks TorchServe's fields from maxRetryTimeoutInSec to loadedAtStartup, in its order:\n%s", body)
	}
	// TorchServe's worker fields, in its order; ts's workers share the server's process
	if !regexp.MustCompile(`"status": "READY",\s+"memoryUsage": [1-9][0-9]*,\s+"pid": [0-9]+,\s+"gpu": false,\s+"gpuUsage": "N/A",`).Match(body) {
		t.Errorf("describe's workers lack TorchServe's memoryUsage, pid and gpuUsage:\n%s", body)
	}
	got := d[0]
	if pid := got.Workers[0].PID; pid != os.Getpid() {
		t.Errorf("worker pid %d, want the server's %d", pid, os.Getpid())
	}
	if got.MinWorkers != 2 || len(got.Workers) != 2 || got.Workers[0].Status != "READY" || got.BatchSize != 4 || got.MaxBatchDelay != 7 ||
		got.State != registry.StateReady || !got.Default || len(got.ArchiveSHA256) != 64 || got.Inputs[0].Name != "input" ||
		got.SettingSources["batchSize"] != registry.FromRegister || got.SettingSources["responseTimeout"] != registry.FromDefault ||
		got.JobQueueStatus.RemainingCapacity != 100 || !got.Batching.Batchable || got.IntraOpThreads < 1 {
		t.Errorf("describe: %+v", got)
	}
}

func TestMetricsAPI(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"register with batching", "POST", "/models?url=iris.mar&model_name=iris8&batch_size=8&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"infer", "POST", "/predictions/iris", "", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", ""}.run(t, ts.inference.URL)
	res, err := http.Get(ts.metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`ts_inference_requests_total{model_name="iris",model_version="1.0",hostname=`, `Requests2XX{Level="Host",Hostname=`, `ts_batch_size_bucket`, `ts_http_requests_total{api="inference",class="2XX"} 1`, `ts_workers_ready{model_name="iris",model_version="1.0"} 1`, `ts_queue_pending{`,
		`ts_batching{model_name="iris",model_version="1.0"} 0`, `ts_batching{model_name="iris8",model_version="1.0"} 1`,
		`ts_batch_speedup{model_name="iris8",model_version="1.0"} 0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	// an unregistered model's series go (as Triton drops an unloaded model's); the other's stay
	exchange{"unregister", "DELETE", "/models/iris", "", nil, 200, "", ""}.run(t, ts.management.URL)
	res, err = http.Get(ts.metrics.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(b), `model_name="iris"`) || strings.Contains(string(b), `ModelName="iris"`) {
		t.Errorf("metrics of the unregistered model remain:\n%s", grepLines(string(b), `"iris"`))
	}
	if !strings.Contains(string(b), `ts_batching{model_name="iris8",model_version="1.0"} 1`) {
		t.Error("the other model's metrics went too")
	}
}

// grepLines are the lines of s that hold sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestDescribeCustomized: with customized=true, describe carries what the ONNX model says of
// itself, its metadata_props included, and the class names its archive gives; without it,
// nothing.
func TestDescribeCustomized(t *testing.T) {
	ts := emptyServer(t, nil)
	model, err := os.ReadFile(testenv.Path("samples/iris/model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	// a field may come anywhere in a protobuf message: append ModelProto.metadata_props (14)
	for _, kv := range [][2]string{{"author", "ts tests"}, {"labels", "setosa,versicolor,virginica"}} {
		var entry []byte
		entry = protowire.AppendTag(entry, 1, protowire.BytesType)
		entry = protowire.AppendString(entry, kv[0])
		entry = protowire.AppendTag(entry, 2, protowire.BytesType)
		entry = protowire.AppendString(entry, kv[1])
		model = protowire.AppendTag(model, 14, protowire.BytesType)
		model = protowire.AppendBytes(model, entry)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	ts.registerArchive(t, archive.PackOptions{ModelName: "meta", SerializedFile: path, Handler: "tensor"}, "")
	ts.registerArchive(t, archive.PackOptions{ModelName: "named", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor",
		ExtraFiles: []string{testenv.Path("samples/iris/index_to_name.json")}}, "")
	get := func(query string) []api.Description {
		t.Helper()
		model := "meta"
		if strings.HasPrefix(query, "named") {
			model, query = "named", strings.TrimPrefix(query, "named")
		}
		res, err := http.Get(ts.management.URL + "/models/" + model + query)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var d []api.Description
		if err := json.NewDecoder(res.Body).Decode(&d); err != nil || len(d) != 1 {
			t.Fatalf("%v %v", err, d)
		}
		return d
	}
	if d := get(""); d[0].CustomizedMetadata != nil {
		t.Errorf("customizedMetadata without customized=true: %+v", d[0].CustomizedMetadata)
	}
	var m api.ModelMetadata
	raw := get("?customized=true")[0].CustomizedMetadata
	if err := json.Unmarshal(raw, &m); err != nil || m.ProducerName != "pytorch" || m.IRVersion < 3 || m.Opset < 7 ||
		m.Metadata["author"] != "ts tests" || m.Metadata["labels"] != "setosa,versicolor,virginica" || m.Labels != nil {
		t.Errorf("customizedMetadata %s (%v)", raw, err)
	}
	var named api.ModelMetadata
	raw = get("named?customized=true")[0].CustomizedMetadata
	if err := json.Unmarshal(raw, &named); err != nil || !maps.Equal(named.Labels, map[string]string{"0": "setosa", "1": "versicolor", "2": "virginica"}) {
		t.Errorf("customizedMetadata of a model with index_to_name.json: %s (%v)", raw, err)
	}
}

// TestRegisterUnknownRuntime: an archive whose manifest names a runtime TorchServe does not
// know is refused (TorchServe: "Runtime is not defined or invalid").
func TestRegisterUnknownRuntime(t *testing.T) {
	ts := emptyServer(t, nil)
	res, err := archive.Pack(context.Background(), archive.PackOptions{ModelName: "java", SerializedFile: testenv.Path("samples/iris/model.onnx"),
		Handler: "tensor", ExportPath: ts.store, Format: archive.Folder})
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(res.Path, archive.ManifestPath)
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, bytes.Replace(b, []byte(`"runtime": "python"`), []byte(`"runtime": "java"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	exchange{"register", "POST", "/models?url=java&initial_workers=1&synchronous=true", "", nil, 400, "InvalidModelException",
		"Invalid RuntimeType value: java (one of python, python3, LSP, onnx)"}.run(t, ts.management.URL)
}

// managementRow is a row of TorchServe's management API tests
// (testdata/torchserve/management_data.txt).
type managementRow struct {
	method, path string
	status       int
	grpcCode     int // -1: none given
	kind, name   string
}

// torchServeCollection reads TorchServe's management API test rows and starts a server whose
// allowed_urls let in a local file server holding their archives (the digits sample under
// TorchServe's names); it returns the server and the rows, {{remote}} replaced.
func torchServeCollection(t *testing.T) (*testServer, []managementRow) {
	t.Helper()
	digits, err := os.ReadFile(filepath.Join(emptyServer(t, nil).store, "digits.mar"))
	if err != nil {
		t.Fatal(err)
	}
	archives := map[string]bool{"squeezenet1_1.mar": true, "mnist.mar": true, "densenet161.mar": true, "resnet-152-batch.mar": true, "resnet-18.mar": true}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, "/mar_files/"); ok && archives[name] {
			w.Write(digits)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(files.Close)
	remote := files.URL + "/mar_files"
	ts := emptyServer(t, map[string]string{"allowed_urls": regexp.QuoteMeta(remote) + "/.*"})
	data, err := os.ReadFile(filepath.Join("testdata", "torchserve", "management_data.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []managementRow
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			t.Fatalf("row %q: want METHOD, path, status, gRPC code, type and name separated by tabs", line)
		}
		row := managementRow{method: f[0], path: strings.ReplaceAll(f[1], "{{remote}}", remote), grpcCode: -1, kind: f[4], name: f[5]}
		if row.status, err = strconv.Atoi(f[2]); err != nil {
			t.Fatalf("row %q: %v", line, err)
		}
		if f[3] != "-" {
			if row.grpcCode, err = strconv.Atoi(f[3]); err != nil {
				t.Fatalf("row %q: %v", line, err)
			}
		}
		rows = append(rows, row)
	}
	if len(rows) != 82 {
		t.Fatalf("%d rows, want TorchServe's 82", len(rows))
	}
	return ts, rows
}

// TestTorchServeManagementCollection replays TorchServe's own management API tests
// (testdata/torchserve/management_data.txt), row by row in their order, against a server on
// 127.0.0.1, with their archives downloaded from a local file server: each row must get the
// status TorchServe answers.
func TestTorchServeManagementCollection(t *testing.T) {
	ts, rows := torchServeCollection(t)
	for i, row := range rows {
		status, body, _, err := send(row.method, ts.management.URL+"/"+row.path, nil)
		if err != nil {
			t.Fatalf("row %d (%s): %v", i+1, row.name, err)
		}
		if status != row.status {
			t.Errorf("row %d (%s): %s %s: status %d, TorchServe's %d\n%s", i+1, row.name, row.method, row.path, status, row.status, body)
		}
	}
}

// TestTorchServeManagementCollectionGRPC replays the same rows over the gRPC management API
// as TorchServe's gRPC test does (test_gRPC_management_apis.py): the path's segments give
// model_name and model_version, the query's non-blank values the request's fields (numbers
// as integers, synchronous true when given at all); a row whose values do not fit the
// request message is skipped, as the test skips it. A call that fails must fail with the
// code the row gives, when it gives one.
func TestTorchServeManagementCollectionGRPC(t *testing.T) {
	ts, rows := torchServeCollection(t)
	_, mgmt := grpcClients(t, ts)
	ctx := context.Background()
	fields := map[string][]string{
		"register":    {"url", "model_name", "handler", "runtime", "batch_size", "max_batch_delay", "initial_workers", "synchronous", "response_timeout"},
		"scale":       {"model_name", "model_version", "min_worker", "max_worker", "number_gpu", "synchronous", "timeout"},
		"unregister":  {"model_name", "model_version"},
		"set_default": {"model_name", "model_version"},
		"describe":    {"model_name", "model_version"},
		"list":        {"limit", "next_page_token"},
	}
	numbers := []string{"min_worker", "max_worker", "initial_workers", "timeout", "number_gpu", "batch_size", "max_batch_delay", "response_timeout", "limit", "next_page_token"}
	checked := 0
	for i, row := range rows {
		path, query, _ := strings.Cut(row.path, "?")
		p := map[string]string{}
		if seg := strings.Split(path, "/"); len(seg) > 1 {
			p["model_name"] = seg[1]
			if len(seg) == 3 {
				p["model_version"] = seg[2]
			}
		}
		if row.kind != "register" && row.kind != "scale" && row.kind != "list" {
			query = "" // the test reads only the path of these
		}
		q, _ := url.ParseQuery(query)
		for k, vs := range q {
			if vs[0] != "" { // parse_qsl leaves blank values out
				p[k] = vs[0]
			}
		}
		n := map[string]int32{}
		skip := false
		for k, v := range p {
			if !slices.Contains(fields[row.kind], k) {
				skip = true // not a field of the request message
			}
			if slices.Contains(numbers, k) {
				x, err := strconv.Atoi(v)
				skip = skip || err != nil
				n[k] = int32(x)
			}
		}
		if skip {
			continue
		}
		sync := p["synchronous"] != ""
		var err error
		switch row.kind {
		case "register":
			_, err = mgmt.RegisterModel(ctx, &managementpb.RegisterModelRequest{Url: p["url"], ModelName: p["model_name"], Handler: p["handler"], Runtime: p["runtime"],
				BatchSize: n["batch_size"], MaxBatchDelay: n["max_batch_delay"], InitialWorkers: n["initial_workers"], Synchronous: sync, ResponseTimeout: n["response_timeout"]})
		case "scale":
			_, err = mgmt.ScaleWorker(ctx, &managementpb.ScaleWorkerRequest{ModelName: p["model_name"], ModelVersion: p["model_version"],
				MinWorker: n["min_worker"], MaxWorker: n["max_worker"], NumberGpu: n["number_gpu"], Synchronous: sync, Timeout: n["timeout"]})
		case "unregister":
			_, err = mgmt.UnregisterModel(ctx, &managementpb.UnregisterModelRequest{ModelName: p["model_name"], ModelVersion: p["model_version"]})
		case "set_default":
			_, err = mgmt.SetDefault(ctx, &managementpb.SetDefaultRequest{ModelName: p["model_name"], ModelVersion: p["model_version"]})
		case "describe":
			_, err = mgmt.DescribeModel(ctx, &managementpb.DescribeModelRequest{ModelName: p["model_name"], ModelVersion: p["model_version"]})
		case "list":
			_, err = mgmt.ListModels(ctx, &managementpb.ListModelsRequest{Limit: n["limit"], NextPageToken: n["next_page_token"]})
		default:
			t.Fatalf("row %d (%s): unknown type %q", i+1, row.name, row.kind)
		}
		if err != nil && row.grpcCode >= 0 {
			checked++
			if got := status.Code(err); int(got) != row.grpcCode {
				t.Errorf("row %d (%s): %v, TorchServe's code %s", i+1, row.name, err, codes.Code(row.grpcCode))
			}
		}
		if err == nil && row.grpcCode >= 0 {
			t.Errorf("row %d (%s): the call succeeded where TorchServe's fails with %s", i+1, row.name, codes.Code(row.grpcCode))
		}
	}
	if checked < 10 {
		t.Errorf("only %d rows checked a gRPC code", checked)
	}
}
