package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testmodels"
	"github.com/tsserve/ts/pkg/onnxgen"
	"github.com/tsserve/ts/pkg/registry"
)

// slowServer serves a generated model that takes about a second for 128 rows,
// with one worker, the given job queue size and response timeout (seconds).
func slowServer(t *testing.T, queue, timeout int) *testServer {
	t.Helper()
	return slowServerWith(t, map[string]string{"job_queue_size": fmt.Sprint(queue)}, timeout)
}

// slowServerWith is slowServer with the server's settings given.
func slowServerWith(t *testing.T, settings map[string]string, timeout int) *testServer {
	t.Helper()
	ts := emptyServer(t, settings)
	os.Rename(testmodels.SlowArchive(t), filepath.Join(ts.store, "slow.mar"))
	exchange{"register", "POST", fmt.Sprintf("/models?url=slow.mar&initial_workers=1&synchronous=true&response_timeout=%d", timeout), "", nil, 200, "", ""}.run(t, ts.management.URL)
	return ts
}

// rows is n rows of the slow model's input as a JSON body (small n) or raw bytes.
func rows(n int) []byte {
	row := "[" + strings.TrimSuffix(strings.Repeat("0.25,", 512), ",") + "]"
	return []byte(`{"inputs": {"x": [` + strings.TrimSuffix(strings.Repeat(row+",", n), ",") + `]}}`)
}

func rawRows(n int) (string, []byte) {
	return rawRowsFor("slow", n)
}

// rawRowsFor is rawRows for the slow model served under another name.
func rawRowsFor(model string, n int) (string, []byte) {
	v := make([]float32, n*512)
	for i := range v {
		v[i] = 0.25
	}
	return fmt.Sprintf("/predictions/%s?shape=%d,512", model, n), float32Bytes(v...)
}

// startRun sends n rows to the slow model in the background and returns once their run is
// under way: the channel gets the answer's status (0 if there was none), beside the version.
func startRun(t *testing.T, ts *testServer, n int) (chan int, *registry.Version) {
	return startRunOn(t, ts, "slow", n)
}

// startRunOn is startRun for the slow model served under another name.
func startRunOn(t *testing.T, ts *testServer, model string, n int) (chan int, *registry.Version) {
	t.Helper()
	path, body := rawRowsFor(model, n)
	status := make(chan int, 1)
	go func() {
		code, _, _, _ := send("POST", ts.inference.URL+path, body, "Content-Type", "application/octet-stream")
		status <- code // 0 when there was no answer
	}()
	v, err := ts.reg.Get(model, "")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); v.Info().Queue.Running == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the long request never ran")
		}
	}
	return status, v
}

// TestResponseTimeout: a request past responseTimeout gets 408, its run is stopped, and
// the worker serves the next request at once.
func TestResponseTimeout(t *testing.T) {
	ts := slowServer(t, 10, 1)
	start := time.Now()
	path, body := rawRows(2048) // several seconds of work
	exchange{"too slow", "POST", path, "application/octet-stream", body, 408, "RequestTimeoutException", "timed out after 1s (responseTimeout)"}.run(t, ts.inference.URL)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	start = time.Now()
	exchange{"next request", "POST", "/predictions/slow", "", rows(1), 200, "", `"shape":[1,2]`}.run(t, ts.inference.URL)
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("the worker stayed busy with the abandoned run: next request took %v", d)
	}
}

// TestDisconnectStopsRun: a client that gives up on a long request (here long before the
// response timeout) stops its run, so the worker serves the next request at once.
func TestDisconnectStopsRun(t *testing.T) {
	ts := slowServer(t, 10, 120)
	path, body := rawRows(2048) // several seconds of work
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", ts.inference.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("the long request was answered (%s) before the client gave up", res.Status)
	}
	start := time.Now()
	exchange{"next request", "POST", "/predictions/slow", "", rows(1), 200, "", `"shape":[1,2]`}.run(t, ts.inference.URL)
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("the worker stayed busy with the abandoned run: next request took %v", d)
	}
}

// TestUnregisterDuringRun: a client that gives up on unregistering (so ts unloads at once)
// while a long request runs on its caller's goroutine: the request fails with 503, the
// process does not crash on the unloaded session, and the server keeps serving.
func TestUnregisterDuringRun(t *testing.T) {
	ts := slowServer(t, 10, 120)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	long, _ := startRun(t, ts, 2048) // several seconds of work
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "DELETE", ts.management.URL+"/models/slow", nil)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	select {
	case code := <-long:
		if code != http.StatusServiceUnavailable {
			t.Errorf("the long request: %d, want 503 (its model was unloaded)", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the long request did not end after its model was unloaded")
	}
	exchange{"still serving", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", `"shape":[1,3]`}.run(t, ts.inference.URL)
}

// TestScaleToZeroDuringRun: scaling a model to zero workers while a request runs on its
// caller's goroutine unloads the model after that run, which is answered.
func TestScaleToZeroDuringRun(t *testing.T) {
	ts := slowServer(t, 10, 120)
	long, v := startRun(t, ts, 256) // about two seconds of work
	exchange{"scale to zero", "PUT", "/models/slow?min_worker=0&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	if code := <-long; code != http.StatusOK {
		t.Errorf("the request in flight while scaling to zero: %d, want 200", code)
	}
	if st := v.Info().State; st != registry.StateStopped {
		t.Errorf("state after scaling to zero: %s, want %s", st, registry.StateStopped)
	}
}

// TestQueueFull: with the worker busy and the queue full, TorchServe's 503, or a 429 with
// Retry-After where job_queue_full_status asks for it (also in the Open Inference Protocol's
// error shape); a bad job_queue_full_status stops start-up.
func TestQueueFull(t *testing.T) {
	tests := []struct {
		status    string // job_queue_full_status; "": the default
		want      int
		typ, text string
	}{
		{"", 503, "ServiceUnavailableException", `has no worker to serve inference request`},
		{"429", 429, "TooManyRequestsException", `Model \"slow\" has its job queue full (jobQueueSize 1): try again later`},
	}
	for _, tt := range tests {
		t.Run("status "+tt.status, func(t *testing.T) {
			settings := map[string]string{"job_queue_size": "1"}
			if tt.status != "" {
				settings["job_queue_full_status"] = tt.status
			}
			ts := slowServerWith(t, settings, 1) // response_timeout 1 s: the first request ends by then
			var wg sync.WaitGroup
			codes := make([]int, 2)
			for i := range codes {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					path, body := rawRows(1024)
					res, err := http.Post(ts.inference.URL+path, "application/octet-stream", bytes.NewReader(body))
					if err == nil {
						codes[i] = res.StatusCode
						res.Body.Close()
					}
				}(i)
				time.Sleep(100 * time.Millisecond) // the first runs, the second queues
			}
			// the queue (size 1) holds the second request before the third is sent
			v, err := ts.reg.Get("slow", "")
			if err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(900 * time.Millisecond); v.Info().Queue.Pending < 1; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the second request never queued")
				}
			}
			res, err := http.Post(ts.inference.URL+"/predictions/slow", "application/json", bytes.NewReader(rows(1)))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var e apierror.Error
			if json.Unmarshal(body, &e) != nil || res.StatusCode != tt.want || e.Code != tt.want || e.Type != tt.typ || !strings.Contains(e.Message, strings.ReplaceAll(tt.text, `\"`, `"`)) {
				t.Errorf("queue full: %d %s, want %d %s %s", res.StatusCode, body, tt.want, tt.typ, tt.text)
			}
			if retry := res.Header.Get("Retry-After"); (tt.want == 429) != (retry == "1") {
				t.Errorf("Retry-After %q with %d", retry, tt.want)
			}
			if tt.want == 429 { // the Open Inference Protocol's shape, with its "error"
				exchange{"queue full, v2", "POST", "/v2/models/slow/infer", "", []byte(`{"inputs": [{"name": "x", "shape": [1, 512], "datatype": "FP32", "data": [` + strings.TrimSuffix(strings.Repeat("0.25,", 512), ",") + `]}]}`),
					429, "TooManyRequestsException", `"error": "Model \"slow\" has its job queue full`}.run(t, ts.inference.URL)
			}
			wg.Wait()
			if codes[0] != http.StatusRequestTimeout {
				t.Errorf("first request: %d, want 408 (it outlives responseTimeout)", codes[0])
			}
		})
	}
	for _, bad := range []string{"500", "0", "many"} {
		if _, err := config.Load(config.Inputs{Flags: map[string]string{"job_queue_full_status": bad}}); err == nil || !strings.Contains(err.Error(), "job_queue_full_status") {
			t.Errorf("job_queue_full_status %s: %v, want an error naming the key", bad, err)
		}
	}
}

// TestTritonQueueTimeout: Triton's request parameter timeout (µs) shortens the time a
// request may wait in the queue where config.pbtxt's queue policy allows it
// (allow_timeout_override): with the one worker busy, a request asking for 100 ms is
// rejected with 503 after about that long, while one asking for nothing waits its turn;
// describe and Triton's config show the policy.
func TestTritonQueueTimeout(t *testing.T) {
	ts := emptyServer(t, nil)
	dir := filepath.Join(ts.store, "queued")
	os.MkdirAll(filepath.Join(dir, "1"), 0o755)
	if err := onnxgen.Write(filepath.Join(dir, "1", "model.onnx"), onnxgen.Spec{Dim: 512, Out: 2, Depth: 800}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.pbtxt"), []byte(`
max_batch_size: 256
dynamic_batching { default_queue_policy { timeout_action: REJECT default_timeout_microseconds: 60000000 allow_timeout_override: true } }
instance_group [ { count: 1 kind: KIND_CPU } ]
`), 0o644)
	exchange{"register", "POST", "/models?url=queued&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	var d []api.Description
	getJSON(t, ts.management.URL+"/models/queued", &d)
	if b := d[0].Batching; len(d) != 1 || b.MaxQueueTime != 60000 || b.MaxQueueTimeAction != "reject" || !b.AllowQueueTimeOverride {
		t.Errorf("describe: %+v", d)
	}
	exchange{"Triton's config", "GET", "/v2/models/queued/config", "", nil, 200, "", `"allow_timeout_override": true`}.run(t, ts.inference.URL)
	exchange{"the extension listed", "GET", "/v2", "", nil, 200, "", `"schedule_policy"`}.run(t, ts.inference.URL)

	row := `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,512],"data":[` + strings.TrimSuffix(strings.Repeat("0.25,", 512), ",") + `]}]` // parameters follow
	long, _ := startRunOn(t, ts, "queued", 256)                                                                                                // about two seconds of work
	patient := make(chan int, 1)
	go func() {
		code, _, _, _ := send("POST", ts.inference.URL+"/v2/models/queued/infer", []byte(row+"}"), "Content-Type", "application/json")
		patient <- code
	}()
	start := time.Now()
	exchange{"a request asking for 100 ms in the queue", "POST", "/v2/models/queued/infer", "application/json",
		[]byte(row + `,"parameters":{"timeout":100000}}`), 503, "ServiceUnavailableException", "waited longer than its timeout (100ms) in the queue"}.run(t, ts.inference.URL)
	if took := time.Since(start); took > time.Second {
		t.Errorf("the request asking for 100 ms was rejected after %v", took)
	}
	if code := <-long; code != 200 {
		t.Errorf("the long request: %d", code)
	}
	if code := <-patient; code != 200 {
		t.Errorf("the request asking for no timeout: %d, want 200 after its wait", code)
	}
}
