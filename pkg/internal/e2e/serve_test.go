package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/onnxgen"
	"github.com/tsserve/ts/pkg/tensor"
)

func pack(t *testing.T, store, name, version, model string, extra ...string) {
	t.Helper()
	args := []string{"--model-name", name, "--version", version, "--serialized-file", model, "--handler", "tensor", "--export-path", t.TempDir()}
	args = append(args, extra...)
	out := run(t, "tsarchive", append(args, "-o", "json")...)
	var res struct{ Path string }
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("tsarchive -o json: %v\n%s", err, out)
	}
	if err := os.Rename(res.Path, filepath.Join(store, fmt.Sprintf("%s-%s.mar", name, version))); err != nil {
		t.Fatal(err)
	}
}

func mustStatus(t *testing.T, method, url string, body []byte, want int) []byte {
	t.Helper()
	code, b := request(t, method, url, body)
	if code != want {
		t.Fatalf("%s %s: %d, want %d\n%s", method, url, code, want, b)
	}
	return b
}

type tensorAnswer struct {
	Outputs []struct {
		Name  string
		Shape []int64
		Data  []float64
	}
}

// TestServeLifecycle drives the real `ts serve` through registration, scaling, versions,
// a measured 90/10 traffic split, inference checked against ONNX Runtime, unregistering,
// and a restart that restores the snapshot.
func TestServeLifecycle(t *testing.T) {
	store := t.TempDir()
	iris := testenv.Path("samples/iris/model.onnx")
	pack(t, store, "iris", "1.0", iris)
	pack(t, store, "iris", "2.0", iris)
	conf := filepath.Join(t.TempDir(), "config.properties")
	snapshot := filepath.Join(t.TempDir(), "snapshot.json")
	os.WriteFile(conf, []byte(fmt.Sprintf("model_store=%s\nenable_model_snapshot=true\nmodel_snapshot_file=%s\nnumber_of_netty_threads=4\n", store, snapshot)), 0o644)

	srv := testenv.StartServer(t, "--ts-config", conf)
	srv.WaitHealthy(t)
	if !strings.Contains(srv.Log(), "number_of_netty_threads is not supported") {
		t.Error("no warning for an unsupported key")
	}
	m, inf := srv.Management, srv.Inference
	mustStatus(t, "POST", m+"/models?url=iris-1.0.mar&initial_workers=1&synchronous=true", nil, 200)
	mustStatus(t, "POST", m+"/models?url=iris-2.0.mar&initial_workers=1&synchronous=true&batch_size=8&max_batch_delay=5", nil, 200)
	mustStatus(t, "PUT", m+"/models/iris/1.0?min_worker=2&synchronous=true", nil, 200)
	var desc []struct {
		ModelVersion string
		MinWorkers   int
		Workers      []struct{ Status string }
		BatchSize    int
		Default      bool
	}
	json.Unmarshal(mustStatus(t, "GET", m+"/models/iris/all", nil, 200), &desc)
	if len(desc) != 2 || desc[0].MinWorkers != 2 || len(desc[0].Workers) != 2 || !desc[0].Default || desc[1].BatchSize != 8 {
		t.Fatalf("describe: %+v", desc)
	}

	// inference, checked against ONNX Runtime run directly on the same model
	if _, err := engine.Init(config.ORTCandidates("")); err != nil {
		t.Fatal(err)
	}
	sess, err := engine.Load(iris, engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	flowers := []float32{5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3}
	direct, err := sess.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{2, 4}, flowers)})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := direct[0].Float64s()
	var got tensorAnswer
	json.Unmarshal(mustStatus(t, "POST", inf+"/predictions/iris/2.0", []byte(`{"inputs": {"features": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}`), 200), &got)
	if len(got.Outputs) != 1 || len(got.Outputs[0].Data) != len(want) {
		t.Fatalf("answer %+v", got)
	}
	for i := range want {
		if math.Abs(got.Outputs[0].Data[i]-want[i]) > 1e-6 {
			t.Fatalf("served %v, ONNX Runtime %v", got.Outputs[0].Data, want)
		}
	}

	// a 90/10 split, measured over 2,000 requests
	mustStatus(t, "PUT", m+"/models/iris/split", []byte(`{"1.0": 90, "2.0": 10}`), 200)
	counts := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				res, err := http.Post(inf+"/predictions/iris", "application/json", strings.NewReader(`[[5.1, 3.5, 1.4, 0.2]]`))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				mu.Lock()
				counts[res.Header.Get("X-TS-Model-Version")]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if share := float64(counts["1.0"]) / 2000; counts["1.0"]+counts["2.0"] != 2000 || share < 0.85 || share > 0.95 {
		t.Errorf("split 90/10 served %v", counts)
	}
	t.Logf("split 90/10 served %v", counts)

	// unregister version 2.0; restart; the snapshot brings back iris 1.0 with 2 workers
	mustStatus(t, "DELETE", m+"/models/iris/2.0", nil, 200)
	if err := srv.Stop(t); err != nil {
		t.Fatalf("ts serve exited with %v after SIGTERM\n%s", err, srv.Log())
	}
	if b, err := os.ReadFile(snapshot); err != nil || !strings.Contains(string(b), `"minWorkers": 2`) || strings.Contains(string(b), `"2.0"`) {
		t.Fatalf("snapshot: %v\n%s", err, b)
	}
	srv = testenv.StartServer(t, "--ts-config", conf)
	srv.WaitHealthy(t)
	json.Unmarshal(mustStatus(t, "GET", srv.Management+"/models/iris", nil, 200), &desc)
	if len(desc) != 1 || desc[0].ModelVersion != "1.0" || desc[0].MinWorkers != 2 {
		t.Fatalf("restored: %+v", desc)
	}
	mustStatus(t, "POST", srv.Inference+"/predictions/iris", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200)
	mustStatus(t, "GET", srv.Management+"/models/iris/2.0", nil, 404)
}

// TestSIGTERMDrains: SIGTERM during a burst of requests loses none of them.
func TestSIGTERMDrains(t *testing.T) {
	store := t.TempDir()
	slow := filepath.Join(t.TempDir(), "slow.onnx")
	// about a millisecond per item on one core: the burst is still in the queue at SIGTERM
	if err := onnxgen.Write(slow, onnxgen.Spec{Dim: 256, Out: 4, Depth: 16}); err != nil {
		t.Fatal(err)
	}
	pack(t, store, "slow", "1.0", slow)
	conf := filepath.Join(t.TempDir(), "config.properties")
	os.WriteFile(conf, []byte("job_queue_size=1000\n"), 0o644)
	srv := testenv.StartServer(t, "--ts-config", conf, "--model-store", store, "--models", "slow=slow-1.0.mar", "--workers", "1")
	srv.WaitHealthy(t)
	row := "[" + strings.TrimSuffix(strings.Repeat("0.5,", 256), ",") + "]"
	body := `{"inputs": {"x": [` + row + `]}}`
	const burst = 200
	var wg sync.WaitGroup
	codes := make(chan int, burst)
	for i := 0; i < burst; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.Post(srv.Inference+"/predictions/slow", "application/json", strings.NewReader(body))
			if err != nil {
				codes <- -1
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	// SIGTERM once the burst is queued
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var d []struct{ JobQueueStatus struct{ PendingRequests int } }
		_, b := request(t, "GET", srv.Management+"/models/slow", nil)
		json.Unmarshal(b, &d)
		if len(d) == 1 && d[0].JobQueueStatus.PendingRequests >= burst/4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	srv.Cmd.Process.Signal(syscall.SIGTERM)
	wg.Wait()
	close(codes)
	bad := map[int]int{}
	for c := range codes {
		if c != 200 {
			bad[c]++
		}
	}
	if len(bad) > 0 {
		t.Errorf("requests lost at SIGTERM: %v (status → count; -1: connection error)", bad)
	}
	if err := srv.Stop(t); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, srv.Log())
	}
}

// ONNX Runtime prints its own error lines to stderr, apart from ts's log: a run that fails
// on the input (an id past lookup.onnx's table) is answered 400 with the reason, and logged
// by ts at debug, where ONNX Runtime's own line shows too.
func TestRuntimeLogLines(t *testing.T) {
	store := t.TempDir()
	pack(t, store, "lookup", "1.0", testenv.Path("pkg/engine/testdata/lookup.onnx"))
	for _, debug := range []bool{false, true} {
		level := map[bool]string{false: "info", true: "debug"}[debug]
		srv := testenv.StartServer(t, "--model-store", store, "--models", "lookup=lookup-1.0.mar", "--workers", "1", "--log-level", level)
		srv.WaitHealthy(t)
		b := mustStatus(t, "POST", srv.Inference+"/predictions/lookup", []byte("[[1, 2, 3, 12]]"), 400)
		if !strings.Contains(string(b), "its Gather operator failed: indices element out of data bounds, idx=12") {
			t.Errorf("the answer does not say why: %s", b)
		}
		mustStatus(t, "POST", srv.Inference+"/predictions/lookup", []byte("[[1, 2, 3, 9]]"), 200)
		const logged = `level=DEBUG msg="request rejected" method=POST uri=/predictions/lookup code=400`
		for deadline := time.Now().Add(5 * time.Second); debug && !strings.Contains(srv.Log(), logged) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		log := srv.Log()
		if got := strings.Contains(log, logged); got != debug {
			t.Errorf("--log-level %s: ts logged the rejection: %v, want %v:\n%s", level, got, debug, log)
		}
		if got := strings.Contains(log, "[E:onnxruntime"); got != debug {
			t.Errorf("--log-level %s: ONNX Runtime's own error line shown: %v, want %v:\n%s", level, got, debug, log)
		}
		srv.Stop(t)
	}
}

// TestLoadModelsURLs: load_models entries are urls, found as POST /models finds its url: a
// name in a folder of the model store, an http URL that allowed_urls lets in (downloaded into
// the store, and used again at the next start), a URL with "=" in its query; an entry
// refused is logged and the others load.
func TestLoadModelsURLs(t *testing.T) {
	store := t.TempDir()
	pack(t, store, "iris", "1.0", testenv.Path("samples/iris/model.onnx"))
	remote := t.TempDir()
	pack(t, remote, "remote", "1.0", testenv.Path("samples/iris/model.onnx"))
	archiveBytes, err := os.ReadFile(filepath.Join(remote, "remote-1.0.mar"))
	if err != nil {
		t.Fatal(err)
	}
	files := testenv.FileServer(t, "/mars/remote.mar", archiveBytes)
	if err := os.Mkdir(filepath.Join(store, "team"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(store, "iris-1.0.mar"), filepath.Join(store, "team", "iris.mar")); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "config.properties")
	os.WriteFile(conf, []byte("allowed_urls="+files.URL+"/mars/.*\n"), 0o644)
	srv := testenv.StartServer(t, "--ts-config", conf, "--model-store", store,
		"--models", "flowers=team/iris.mar,remote="+files.URL+"/mars/remote.mar?token=a=b,bad=../elsewhere.mar")
	srv.WaitHealthy(t)
	for _, name := range []string{"flowers", "remote"} {
		body := mustStatus(t, "POST", srv.Inference+"/predictions/"+name, []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200)
		if !strings.Contains(string(body), `"probabilities"`) {
			t.Errorf("%s: %s", name, body)
		}
	}
	if _, err := os.Stat(filepath.Join(store, "remote.mar")); err != nil {
		t.Errorf("the download is not in the model store: %v", err)
	}
	mustStatus(t, "GET", srv.Management+"/models/bad", nil, 404)
	if !strings.Contains(srv.Log(), "Relative path is not allowed in url: ../elsewhere.mar") {
		t.Errorf("the refused entry is not logged:\n%s", srv.Log())
	}
	if err := srv.Stop(t); err != nil {
		t.Fatal(err)
	}

	// the same command again: the archive downloaded last time is used (POST /models would
	// refuse it: "Model file already exists"), even with its source gone
	files.Close()
	srv = testenv.StartServer(t, "--ts-config", conf, "--model-store", store, "--models", "remote="+files.URL+"/mars/remote.mar?token=a=b")
	srv.WaitHealthy(t)
	mustStatus(t, "POST", srv.Inference+"/predictions/remote", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200)
	if !strings.Contains(srv.Log(), "using the archive already downloaded into the model store") {
		t.Errorf("no word of the archive used again:\n%s", srv.Log())
	}
}
