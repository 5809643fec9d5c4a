package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/internal/clients"
	"github.com/tsserve/ts/pkg/internal/enginetest"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/internal/testmodels"
	"github.com/tsserve/ts/pkg/tensor"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

func irisArchive(t testing.TB, version string, yaml string) string {
	t.Helper()
	return modelArchive(t, "iris", version, testenv.Path("samples/iris/model.onnx"), yaml)
}

// modelArchive packs model with the tensor handler and, when yaml is not empty, a
// model-config.yaml holding it.
func modelArchive(t testing.TB, name, version, model, yaml string) string {
	t.Helper()
	o := archive.PackOptions{ModelName: name, Version: version, SerializedFile: model, Handler: "tensor", ExportPath: t.TempDir()}
	if yaml != "" {
		p := filepath.Join(t.TempDir(), "model-config.yaml")
		os.WriteFile(p, []byte(yaml), 0o644)
		o.ConfigFile = p
	}
	res, err := archive.Pack(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return res.Path
}

func newRegistry(t *testing.T, d Defaults) *Registry {
	r := New(Options{TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Defaults: d, Cores: 4})
	t.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func ptr(n int) *int { return &n }

func TestHealth(t *testing.T) {
	r := newRegistry(t, Defaults{})
	if h := r.Health(); h != "Healthy" {
		t.Errorf("empty registry: %s", h)
	}
	release := r.Hold()
	if h := r.Health(); h != "Unhealthy" {
		t.Errorf("while start-up models load: %s", h)
	}
	release()
	if _, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", ""), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true}); err != nil {
		t.Fatal(err)
	}
	if h := r.Health(); h != "Healthy" {
		t.Errorf("one ready model: %s", h)
	}
	// a model whose load fails (startupTimeout 0) and wants a worker: some but not all ready
	_, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "2.0", ""), Name: "broken",
		Overrides: Overrides{InitialWorkers: ptr(1), StartupTimeout: ptr(0)}})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, r, "broken", StateFailed)
	if h := r.Health(); h != "Partial Healthy" {
		t.Errorf("one ready, one failed: %s", h)
	}
	v, _ := r.Get("broken", "")
	if info := v.Info(); !strings.Contains(info.Error, "startupTimeout") {
		t.Errorf("failure reason %q", info.Error)
	}
}

func waitState(t *testing.T, r *Registry, name, state string) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if v, err := r.Get(name, ""); err == nil && v.Info().State == state {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s never reached %s", name, state)
}

func TestSettingsPrecedence(t *testing.T) {
	yaml := "minWorkers: 2\nmaxWorkers: 3\nbatchSize: 4\nmaxBatchDelay: 20\npreferredBatchSizes: [2, 4]\nadaptiveBatching: true\nmaxRetryTimeoutInSec: 60\nhandler:\n  topk: 3\n"
	props := map[string]map[string]config.ModelConfig{"iris": {"1.0": {BatchSize: ptr(16), ResponseTimeout: ptr(30), JobQueueSize: ptr(7)}}}
	r := newRegistry(t, Defaults{Models: props})
	v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", yaml), Overrides: Overrides{MaxBatchDelay: ptr(5)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	s := v.Settings()
	checks := []struct {
		key      string
		got, val int
		source   string
	}{
		{"minWorkers", s.MinWorkers, 2, FromYAML},
		{"maxWorkers", s.MaxWorkers, 3, FromYAML},
		{"batchSize", s.BatchSize, 4, FromYAML},
		{"maxBatchDelay", s.MaxBatchDelay, 5, FromRegister},
		{"responseTimeout", s.ResponseTimeout, 30, FromProperties},
		{"jobQueueSize", s.JobQueueSize, 7, FromProperties},
		{"startupTimeout", s.StartupTimeout, 120, FromDefault},
		{"maxRetryTimeoutInSec", s.MaxRetryTimeout, 60, FromYAML},
	}
	for _, c := range checks {
		if c.got != c.val || s.Sources[c.key] != c.source {
			t.Errorf("%s = %d from %s, want %d from %s", c.key, c.got, s.Sources[c.key], c.val, c.source)
		}
	}
	if !s.AdaptiveBatching || len(s.PreferredBatchSizes) != 2 {
		t.Errorf("%+v", s)
	}
	if info := v.Info(); info.Threads != 2 || len(info.Workers) != 2 {
		t.Errorf("4 cores, 2 workers: %d threads, %d workers", info.Threads, len(info.Workers))
	}
	for yaml, want := range map[string]string{
		"batchSize: 0\n":                                           "batchSize",
		"intraOpThreads: 5000\n":                                   "intraOpThreads (from model-config.yaml) must be ≤ 1024",
		"minWorkers: 100000\nmaxWorkers: 100000\n":                 "minWorkers (from model-config.yaml) must be ≤ 1024",
		"maxRetryTimeoutInSec: -1\n":                               "maxRetryTimeoutInSec (from model-config.yaml) must be ≥ 0",
		"maxQueueTimeAction: drop\n":                               `maxQueueTimeAction (from model-config.yaml) must be reject or delay, got "drop"`,
		"priorityQueuePolicies: {5: {maxQueueTimeAction: drop}}\n": `priorityQueuePolicies (from model-config.yaml): priority 5: maxQueueTimeAction must be reject or delay, got "drop"`,
		"graphOptimization: max\n":                                 `graphOptimization (from model-config.yaml): unknown graph optimisation level "max"`,
		"executionMode: concurrent\n":                              `executionMode (from model-config.yaml): unknown execution mode "concurrent"`,
		"interOpThreads: -1\n":                                     "interOpThreads (from model-config.yaml) must be between 0 and 1024, got -1",
		"memArenaShrinkage: disk:0\n":                              `memArenaShrinkage (from model-config.yaml): memory arena shrinkage "disk:0"`,
		"memArena: false\nmemArenaShrinkage: cpu:0\n":              `memArenaShrinkage (from model-config.yaml): memory arena shrinkage "cpu:0": the CPU memory arena is off`,
		"sessionConfig: {\"\": \"1\"}\n":                           "sessionConfig (from model-config.yaml): an entry has no key",
		"memArenaShrinkage: gpu:0\n":                               `memory arena shrinkage "gpu:0": the model runs on cpu, not on gpu:0`,
	} {
		if _, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "3.0", yaml)}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad yaml %q: %v, want an error saying %q", yaml, err, want)
		}
	}
}

// TestSessionSettings: model-config.yaml's ONNX Runtime session options reach the session:
// parallel execution with six inter-op threads starts the threads of its inter-op pool.
func TestSessionSettings(t *testing.T) {
	r := newRegistry(t, Defaults{})
	threads := func() int {
		entries, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	before := threads()
	yaml := "executionMode: Parallel\ninterOpThreads: 6\nintraOpThreads: 1\nmemArena: true\nmemPattern: false\nmemArenaShrinkage: CPU:0\nsessionConfig: {session.disable_prepacking: \"1\"}\n"
	v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", yaml), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if added := threads() - before; added < 5 {
		t.Errorf("%d threads started, want at least the inter-op pool's 5", added)
	}
	s := v.Settings()
	if s.ExecutionMode != "parallel" || s.InterOpThreads != 6 || !s.MemArena || s.MemPattern || s.MemArenaShrinkage != "cpu:0" ||
		s.Sources["executionMode"] != FromYAML || s.Sources["memPattern"] != FromYAML || s.Sources["memArenaShrinkage"] != FromYAML ||
		s.SessionConfig["session.disable_prepacking"] != "1" || s.Sources["sessionConfig"] != FromYAML {
		t.Errorf("executionMode %q, interOpThreads %d, memArena %v, memPattern %v, sources %v", s.ExecutionMode, s.InterOpThreads, s.MemArena, s.MemPattern, s.Sources)
	}
	out, err := v.InferTensors(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})}, 0)
	if err != nil || len(out) == 0 {
		t.Fatalf("inference: %v", err)
	}
}

// A server-wide setting that was configured (config.properties, the environment, a flag)
// is the source describe names, not "default".
func TestServerSettingSources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "config.properties")
	os.WriteFile(file, []byte("job_queue_size=7\ndefault_workers_per_model=3\n"), 0o644)
	cfg, err := config.Load(config.Inputs{ConfigFile: file, Flags: map[string]string{"intra_op_threads": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	r := newRegistry(t, DefaultsFrom(cfg))
	v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", "batchSize: 4\n"), Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	s := v.Settings()
	for key, want := range map[string]string{
		"jobQueueSize":    "job_queue_size (file " + file + ")",
		"minWorkers":      "default_workers_per_model (file " + file + ")",
		"intraOpThreads":  "intra_op_threads (--intra-op-threads)",
		"responseTimeout": FromDefault,
		"batchSize":       FromYAML,
	} {
		if s.Sources[key] != want {
			t.Errorf("%s from %q, want %q", key, s.Sources[key], want)
		}
	}
	if s.JobQueueSize != 7 || s.MinWorkers != 3 || s.IntraOpThreads != 1 {
		t.Errorf("job queue %d, workers %d, threads %d; want 7, 3, 1", s.JobQueueSize, s.MinWorkers, s.IntraOpThreads)
	}
}

// TorchServe's model-config.yaml names for the queue policy: clientTimeoutInMills is
// maxQueueTime unless that is set too; useJobTicket turns the job ticket on.
func TestTorchServeQueueKeys(t *testing.T) {
	r := newRegistry(t, Defaults{})
	cases := []struct {
		yaml      string
		queueTime int
		ticket    bool
	}{
		{"clientTimeoutInMills: 250\nuseJobTicket: true\n", 250, true},
		{"clientTimeoutInMills: 250\nmaxQueueTime: 40\n", 40, false},
		{"", 0, false},
	}
	for i, c := range cases {
		v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, fmt.Sprintf("%d.0", i+1), c.yaml)})
		if err != nil {
			t.Fatal(err)
		}
		s := v.Settings()
		want := FromYAML
		if c.yaml == "" {
			want = FromDefault
		}
		if s.MaxQueueTime != c.queueTime || s.UseJobTicket != c.ticket || s.Sources["maxQueueTime"] != want {
			t.Errorf("%q: maxQueueTime %d (from %s), useJobTicket %v; want %d (from %s), %v",
				c.yaml, s.MaxQueueTime, s.Sources["maxQueueTime"], s.UseJobTicket, c.queueTime, want, c.ticket)
		}
		if s.MaxQueueTimeAction != QueueTimeReject || s.AllowQueueTimeOverride {
			t.Errorf("%q: maxQueueTimeAction %q, allowQueueTimeOverride %v; want reject, false", c.yaml, s.MaxQueueTimeAction, s.AllowQueueTimeOverride)
		}
	}
	// Triton's queue policy, in ts's names
	v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "9.0", "maxQueueTime: 40\nmaxQueueTimeAction: delay\nallowQueueTimeOverride: true\n")})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Settings(); s.MaxQueueTimeAction != QueueTimeDelay || !s.AllowQueueTimeOverride || s.Sources["maxQueueTimeAction"] != FromYAML {
		t.Errorf("maxQueueTimeAction %q from %s, allowQueueTimeOverride %v", s.MaxQueueTimeAction, s.Sources["maxQueueTimeAction"], s.AllowQueueTimeOverride)
	}
	// a priority's own policy; its action is reject unless it says otherwise
	v, err = r.Register(context.Background(), Spec{Path: irisArchive(t, "10.0", "priorityQueuePolicies:\n  10: {jobQueueSize: 2, maxQueueTime: 20}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Settings(); s.PriorityQueuePolicies[10] != (PriorityQueuePolicy{JobQueueSize: 2, MaxQueueTime: 20, MaxQueueTimeAction: QueueTimeReject}) || s.Sources["priorityQueuePolicies"] != FromYAML {
		t.Errorf("priorityQueuePolicies %v from %s", s.PriorityQueuePolicies, s.Sources["priorityQueuePolicies"])
	}
}

func TestRouteAndSplit(t *testing.T) {
	r := newRegistry(t, Defaults{})
	for _, ver := range []string{"1.0", "2.0"} {
		if _, err := r.Register(context.Background(), Spec{Path: irisArchive(t, ver, "")}); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := r.Route("iris", "", ""); v.Version != "1.0" {
		t.Errorf("default route: %s", v.Version)
	}
	for _, bad := range []map[string]int{{"1.0": 1, "9.0": 1}, {"1.0": -1, "2.0": 2}, {"1.0": 0, "2.0": 0}} {
		if err := r.SetSplit("iris", bad); err == nil {
			t.Errorf("split %v accepted", bad)
		}
	}
	if err := r.SetSplit("iris", map[string]int{"1.0": 1, "2.0": 1}); err != nil {
		t.Fatal(err)
	}
	// a route key always lands on the same version
	for _, key := range []string{"alice", "bob", "carol"} {
		first, _ := r.Route("iris", "", key)
		for i := 0; i < 20; i++ {
			if v, _ := r.Route("iris", "", key); v != first {
				t.Fatalf("key %s moved from %s to %s", key, first.Version, v.Version)
			}
		}
	}
	// unregistering a version drops it from the split
	if _, err := r.Unregister(context.Background(), "iris", "2.0"); err != nil {
		t.Fatal(err)
	}
	if s := r.Split("iris"); len(s) != 1 || s["1.0"] != 1 {
		t.Errorf("split after unregister: %v", s)
	}
	snap := r.Snapshot()
	if len(snap.Models) != 1 || !snap.Models[0].Default || snap.Models[0].SplitWeight != 1 {
		t.Errorf("snapshot %+v", snap)
	}
}

// TestBatchedAnswersMatchDirect: 32 concurrent clients with batch size 8 each get exactly
// their own answer, checked against ONNX Runtime run directly, while workers scale up and
// down under the load; no request fails.
func TestBatchedAnswersMatchDirect(t *testing.T) {
	r := newRegistry(t, Defaults{})
	v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", "batchSize: 8\nmaxBatchDelay: 2\n"),
		Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := engine.Load(testenv.Path("samples/iris/model.onnx"), engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	flower := func(c, k int) []float32 {
		return []float32{4 + float32(c%8)*0.5, 2 + float32(k%5)*0.4, 1 + float32((c+k)%7)*0.9, 0.1 + float32(c%3)*0.8}
	}
	want := func(x []float32) []float32 {
		out, err := direct.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, x)})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := tensor.Values[float32](out[0])
		return v
	}
	stopScaling := scaleInBackground(t, v, 20*time.Millisecond, 3, 1, 2, 4, 1) // while the clients run
	// ask sends client c's request k and checks its answer against the direct run.
	ask := func(c, k int) error {
		x := flower(c, k)
		body, _ := json.Marshal([][]float32{x})
		res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: body}}}, 0)
		if err != nil {
			return fmt.Errorf("client %d request %d: %v", c, k, err)
		}
		var got struct{ Outputs []struct{ Data []float32 } }
		json.Unmarshal(res.Body, &got)
		exp := want(x)
		for i := range exp {
			if math.Abs(float64(got.Outputs[0].Data[i]-exp[i])) > 1e-6 {
				return fmt.Errorf("client %d request %d got %v, want %v", c, k, got.Outputs[0].Data, exp)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for k := 0; k < 25; k++ {
				if err := ask(c, k); err != nil {
					errs <- err
					return
				}
			}
		}(c)
	}
	wg.Wait()
	stopScaling()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Whether requests met in a batch depends on the machine's timing: go on until they did.
	batched := burstsUntil(32, 0, func(c, burst int) {
		if err := ask(c, 25+burst); err != nil {
			t.Error(err)
		}
	}, func() bool { return v.Info().Queue.MeanBatchItems > 1 })
	if !batched {
		t.Errorf("no batching happened: %+v", v.Info().Queue)
	}
}

// scaleInBackground scales v to each of counts in turn, every interval, over and over, until
// the returned stop is called (which waits for a scale in progress).
func scaleInBackground(t *testing.T, v *Version, every time.Duration, counts ...int) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for k := 0; ; k++ {
			select {
			case <-quit:
				return
			case <-time.After(every):
			}
			n := counts[k%len(counts)]
			if err := v.Scale(context.Background(), n, n); err != nil {
				t.Error(err)
			}
		}
	}()
	return func() {
		close(quit)
		<-done
	}
}

// burstsUntil sends bursts of n concurrent requests (send(client, burst) each) until done
// reports true, after at least minBursts bursts and for at most 10 s; it reports whether
// done came true. Whether requests meet in a batch depends on the machine's timing.
func burstsUntil(n, minBursts int, send func(client, burst int), done func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for burst := 0; ; burst++ {
		if burst >= minBursts && done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		var wg sync.WaitGroup
		for c := 0; c < n; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				send(c, burst)
			}()
		}
		wg.Wait()
	}
}

// Scaling keeps workers × threads ≈ cores: the model is reloaded with the new plan while
// requests go on, unless the model fixes its intraOpThreads.
func TestScaleReplansThreads(t *testing.T) {
	log, logger := testenv.NewLog()
	r := New(Options{TempDir: t.TempDir(), Cores: 4, Logger: logger})
	t.Cleanup(func() { r.Close(context.Background()) })
	v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", ""), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int64
	stopClients := clients.Loop(4, func(int) bool { // requests throughout
		res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(`[[5.1, 3.5, 1.4, 0.2]]`)}}}, 0)
		if err != nil {
			t.Errorf("during scaling: %v", err)
			return false
		}
		if !strings.Contains(string(res.Body), `"probabilities"`) {
			t.Errorf("answer %s", res.Body)
		}
		served.Add(1)
		return true
	})
	defer stopClients() // also when the test fails early
	steps := []struct{ workers, threads, replans int }{
		{1, 4, 0}, {2, 2, 1}, {4, 1, 2}, {8, 1, 2}, {3, 1, 2}, {1, 4, 3},
	}
	for _, s := range steps {
		if err := v.Scale(context.Background(), s.workers, s.workers); err != nil {
			t.Fatal(err)
		}
		before := served.Load()
		for deadline := time.Now().Add(10 * time.Second); served.Load() < before+20; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) { // the new plan serves
				t.Fatalf("%d workers: %d requests answered in 10 s", s.workers, served.Load()-before)
			}
		}
		if got, replans := v.Info().Threads, strings.Count(log.String(), "thread plan changed"); got != s.threads || replans != s.replans {
			t.Errorf("%d workers: %d threads after %d reloads, want %d after %d", s.workers, got, replans, s.threads, s.replans)
		}
	}
	stopClients()

	fixed, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "2.0", "intraOpThreads: 3\n"), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := fixed.Scale(context.Background(), 4, 4); err != nil {
		t.Fatal(err)
	}
	if got := fixed.Info().Threads; got != 3 || strings.Count(log.String(), "thread plan changed") != 3 {
		t.Errorf("intraOpThreads 3 set: %d threads after scaling, log:\n%s", got, log.String())
	}
}

// A run that picked the old session just before replan swapped it, and found it closed,
// runs again on the new one instead of failing.
func TestRunMovesToTheNewSession(t *testing.T) {
	r := newRegistry(t, Defaults{})
	v, err := r.Register(context.Background(), Spec{Path: testmodels.SlowArchive(t), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	rows := func(n int64) []*tensor.Tensor {
		return []*tensor.Tensor{tensor.New([]int64{n, 512}, make([]float32, n*512))}
	}
	providers, askedGPU := v.providers()
	next, _, err := v.newSession(1, providers[0], askedGPU)
	if err != nil {
		t.Fatal(err)
	}
	old := v.session.Load()
	long := make(chan error, 1)
	go func() { // holds the old session for about a second (longer than the sleeps below)
		_, err := old.Run(context.Background(), rows(128))
		long <- err
	}()
	for deadline := time.Now().Add(time.Minute); old.Running() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the long run never started")
		}
	}
	closed := make(chan struct{})
	go func() { // as replan does: waits for the long run
		old.Close()
		close(closed)
	}()
	time.Sleep(100 * time.Millisecond)
	moved := make(chan error, 1)
	go func() { // picks the old session, then waits behind Close
		_, err := v.runFor(context.Background(), 0, rows(1))
		moved <- err
	}()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-long:
		t.Fatal("the long run ended before the swap: the test's timing does not hold on this machine")
	default:
	}
	v.session.Store(next) // before the long run ends
	if err := <-long; err != nil {
		t.Errorf("the run on the old session: %v", err)
	}
	<-closed
	if err := <-moved; err != nil {
		t.Errorf("the run that found the old session closed: %v, want it run on the new one", err)
	}
}

func TestUnbatchable(t *testing.T) {
	batch := []int64{-1, 3}
	cases := []struct {
		name            string
		inputs, outputs []tensor.Info
		want            string
	}{
		{"dynamic first dimensions", []tensor.Info{{Name: "x", Shape: batch}}, []tensor.Info{{Name: "y", Shape: batch}}, ""},
		{"scalar input", []tensor.Info{{Name: "x", Shape: batch}, {Name: "k", Shape: []int64{}}}, []tensor.Info{{Name: "y", Shape: batch}}, `input "k" is a scalar`},
		{"no declared shape", []tensor.Info{{Name: "x", Shape: batch}}, []tensor.Info{{Name: "y"}}, `output "y" has no declared shape`},
		{"fixed input batch", []tensor.Info{{Name: "img:0", Shape: []int64{1, 224, 224, 3}}}, []tensor.Info{{Name: "y", Shape: batch}}, `input "img:0" has a fixed first dimension (1)`},
		{"fixed output", []tensor.Info{{Name: "x", Shape: batch}}, []tensor.Info{{Name: "y", Shape: batch}, {Name: "n", Shape: []int64{4}}}, `output "n" has a fixed first dimension (4)`},
	}
	for _, c := range cases {
		if got := unbatchable(c.inputs, c.outputs); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// registerTestModel registers the engine's test model pkg/engine/testdata/NAME.onnx with the
// tensor handler, the given model-config.yaml and one worker, on a registry (2 cores) that
// logs into the returned log.
func registerTestModel(t *testing.T, name, yaml string) (*Version, *testenv.Log) {
	t.Helper()
	path := modelArchive(t, name, "1.0", testenv.Path("pkg/engine/testdata/"+name+".onnx"), yaml)
	log, logger := testenv.NewLog()
	r := New(Options{TempDir: t.TempDir(), Cores: 2, Logger: logger})
	t.Cleanup(func() { r.Close(context.Background()) })
	v, err := r.Register(context.Background(), Spec{Path: path, Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	return v, log
}

// A run that ONNX Runtime cannot allocate memory for (hungry.onnx, asked for 4 TB) gets
// TorchServe's 507, not the 503 of other failed runs; the next request is served.
func TestOutOfResourcesIs507(t *testing.T) {
	v, _ := registerTestModel(t, "hungry", "")
	infer := func(n string) error {
		_, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(`{"inputs": {"n": [` + n + `]}}`)}}}, 0)
		return err
	}
	err := infer("1000000000000")
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Code != http.StatusInsufficientStorage || ae.Type != apierror.TypeInternal || !strings.HasPrefix(ae.Message, "Out of resources: ") {
		t.Errorf("a run asking for 4 TB: %#v, want a 507 InternalServerException \"Out of resources: ...\"", err)
	}
	if err := infer("1000"); err != nil {
		t.Errorf("the next request: %v", err)
	}
}

// A model that declares no shape for its input serves requests of any shape, one at a time
// (nothing says which dimension is a batch), and says so.
func TestAnyShapeServed(t *testing.T) {
	v, _ := registerTestModel(t, "norank", "batchSize: 4\n")
	if why := v.Info().Unbatchable; why != `input "x" has no declared shape` {
		t.Errorf("not batchable because %q", why)
	}
	for body, want := range map[string]string{
		`[[1, -2], [3, -4]]`:         `"shape":[2,2],"dtype":"float32","data":[1,0,3,0]`,
		`{"inputs": {"x": [-1, 2]}}`: `"shape":[2],"dtype":"float32","data":[0,2]`,
		`{"inputs": {"x": -3}}`:      `"shape":[],"dtype":"float32","data":[0]`,
		`{"inputs": {"x": [[[5]]]}}`: `"shape":[1,1,1],"dtype":"float32","data":[5]`,
	} {
		res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(body)}}}, 0)
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if !strings.Contains(string(res.Body), want) {
			t.Errorf("%s: %s, want %s", body, res.Body, want)
		}
	}
}

// A model whose weights are in an external data file is packed with it and serves.
func TestExternalDataServed(t *testing.T) {
	v, _ := registerTestModel(t, "external", "")
	res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(`[[1, 1, 1, 1]]`)}}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"data":[1.8,2.2,2.6]`; !strings.Contains(string(res.Body), want) {
		t.Errorf("%s, want %s", res.Body, want)
	}
}

// A classifier as skl2onnx exports it (zipmap.onnx) batches: each client gets the label and
// the probabilities (the sequence of maps, served as a tensor) of its own row.
func TestSequenceOfMapsBatched(t *testing.T) {
	v, _ := registerTestModel(t, "zipmap", "batchSize: 8\nmaxBatchDelay: 20\n")
	batched := burstsUntil(16, 10, func(client, burst int) {
		x := []float64{float64(client % 3), float64(client % 5), float64(client % 7)}
		body := fmt.Sprintf(`[[%g, %g, %g]]`, x[0], x[1], x[2])
		res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(body)}}}, 0)
		if err != nil {
			t.Errorf("client %d: %v", client, err)
			return
		}
		var answer struct {
			Outputs []struct {
				Name  string
				Shape []int64
				Data  []float64
			}
		}
		if err := json.Unmarshal(res.Body, &answer); err != nil || len(answer.Outputs) != 2 {
			t.Errorf("client %d: %s", client, res.Body)
			return
		}
		sum := math.Exp(x[0]) + math.Exp(x[1]) + math.Exp(x[2])
		probs := answer.Outputs[1]
		if probs.Name != "output_probability" || !slices.Equal(probs.Shape, []int64{1, 3}) {
			t.Errorf("client %d: %s", client, res.Body)
			return
		}
		best := 0
		for k := range x {
			if math.Abs(probs.Data[k]-math.Exp(x[k])/sum) > 1e-5 {
				t.Errorf("client %d (%s): probabilities %v", client, body, probs.Data)
				return
			}
			if x[k] > x[best] {
				best = k
			}
		}
		if label := answer.Outputs[0].Data; len(label) != 1 || int(label[0]) != best {
			t.Errorf("client %d (%s): label %v, want %d", client, body, label, best)
		}
	}, func() bool { return v.Info().Queue.MeanBatchItems > 1 })
	if !batched || v.Info().Unbatchable != "" {
		t.Errorf("no batches of several requests (%v) or batching stopped (%q)", batched, v.Info().Unbatchable)
	}
}

// A batch size set for a model that cannot batch is shown as not in effect, with the
// reason, in Info and in a warning when the model loads.
func TestUnbatchableModelSaysWhy(t *testing.T) {
	v, log := registerTestModel(t, "alltypes", "batchSize: 4\n")
	info := v.Info()
	if info.Unbatchable != `input "k" is a scalar` {
		t.Errorf("not batchable because %q, want because input \"k\" is a scalar", info.Unbatchable)
	}
	if !strings.Contains(log.String(), `level=WARN msg="batch size ignored: each request runs alone" model=alltypes version=1.0 batch_size=4 reason="input \"k\" is a scalar"`) {
		t.Errorf("no warning in the log:\n%s", log.String())
	}
}

// A real model whose output does not follow the stacked inputs (liar.onnx declares y as
// [batch, 3] but returns Concat(x, x), twice the rows): every request still gets its own
// answer, batching stops, and Info and the log say why.
func TestBatchingStopsForAModelThatDoesNotFollowIt(t *testing.T) {
	v, log := registerTestModel(t, "liar", "batchSize: 8\nmaxBatchDelay: 20\n")
	if why := v.Info().Unbatchable; why != "" {
		t.Fatalf("batching off before serving: %s", why)
	}
	burstsUntil(16, 1, func(c, burst int) {
		x := []float32{float32(c), float32(burst), 1}
		body, _ := json.Marshal([][]float32{x})
		res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: body}}}, 0)
		if err != nil {
			t.Errorf("client %d: %v", c, err)
			return
		}
		var got struct {
			Outputs []struct {
				Shape []int64
				Data  []float32
			}
		}
		json.Unmarshal(res.Body, &got)
		if want := append(slices.Clone(x), x...); len(got.Outputs) != 1 || !slices.Equal(got.Outputs[0].Shape, []int64{2, 3}) || !slices.Equal(got.Outputs[0].Data, want) {
			t.Errorf("client %d got %s, want y [2,3] %v", c, res.Body, want)
		}
	}, func() bool { return v.Info().Unbatchable != "" })
	want := `stopped while serving: output "y" had `
	if why := v.Info().Unbatchable; !strings.HasPrefix(why, want) {
		t.Fatalf("Unbatchable = %q, want it to start %q", why, want)
	}
	if !strings.Contains(log.String(), `level=WARN msg="batching stopped: the model's outputs do not follow the batch; each request now runs alone" model=liar version=1.0 reason="output \"y\" had `) {
		t.Errorf("no warning in the log:\n%s", log.String())
	}
}

// A real model whose first dimension is not a batch (rowsoftmax.onnx: a softmax over it, as
// attention over a sequence mixes its rows) would change every answer if requests were
// stacked: the first batch is checked against its requests run alone, and batching stops.
// Every request, identical or not, gets its own answer (all 1s).
func TestBatchingStopsForAModelThatMixesRows(t *testing.T) {
	v, log := registerTestModel(t, "rowsoftmax", "batchSize: 8\nmaxBatchDelay: 20\n")
	burstsUntil(16, 1, func(c, burst int) {
		body := fmt.Sprintf("[[%d, %d, 1]]", c%2, burst) // pairs of identical requests
		res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(body)}}}, 0)
		if err != nil {
			t.Errorf("client %d: %v", c, err)
			return
		}
		var got struct{ Outputs []struct{ Data []float32 } }
		json.Unmarshal(res.Body, &got)
		if len(got.Outputs) != 1 || !slices.Equal(got.Outputs[0].Data, []float32{1, 1, 1}) {
			t.Errorf("client %d sent %s, got %s, want y [[1, 1, 1]]", c, body, res.Body)
		}
	}, func() bool { return v.Info().Unbatchable != "" })
	want := `stopped while serving: a batch of `
	if why := v.Info().Unbatchable; !strings.HasPrefix(why, want) || !strings.HasSuffix(why, "the model mixes the stacked rows") {
		t.Fatalf("Unbatchable = %q, want %q… the model mixes the stacked rows", why, want)
	}
	if !strings.Contains(log.String(), `level=WARN msg="batching stopped: requests batched together do not get the outputs they get alone; each request now runs alone" model=rowsoftmax`) {
		t.Errorf("no warning in the log:\n%s", log.String())
	}
}

// Under load on real models, a batch that fails to run costs only its faulty requests:
// lookup.onnx fails on an id past its table (one client sends one); onerow.onnx fails on any
// batch (it reshapes to a fixed [1, 3]) and stops batching.
func TestFailedBatchesUnderLoad(t *testing.T) {
	cases := []struct {
		model, body, bad string
		stops            bool
	}{
		{"lookup", "[[1, 2, 3, 9]]", "[[1, 2, 3, 10]]", false},
		{"onerow", "[[1, 2, 3]]", "", true},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			v, _ := registerTestModel(t, c.model, "batchSize: 8\nmaxBatchDelay: 20\n")
			// at least 20 bursts, and on until batches formed (onerow: until one failed)
			burstsUntil(16, 20, func(client, burst int) {
				body := c.body
				if client == 0 && c.bad != "" {
					body = c.bad
				}
				_, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(body)}}}, 0)
				if bad := body == c.bad; (err != nil) != bad {
					t.Errorf("burst %d, client %d (%s): error %v, want one: %v", burst, client, body, err, bad)
				}
			}, func() bool {
				if c.stops {
					return v.Info().Unbatchable != ""
				}
				return v.Info().Queue.MeanBatchItems > 1
			})
			info := v.Info()
			if stopped := info.Unbatchable != ""; stopped != c.stops {
				t.Errorf("batching stopped: %v (%q), want %v", stopped, info.Unbatchable, c.stops)
			}
			if !c.stops && info.Queue.MeanBatchItems <= 1 {
				t.Errorf("no batching happened: %+v", info.Queue)
			}
		})
	}
}

// TestBatchedManyOutputs: a model with a ':' in its input's name and five outputs of four
// element types and two shapes (manyout.onnx), batched under 16 concurrent clients: each
// client gets every output computed from its own row, in the model's order.
func TestBatchedManyOutputs(t *testing.T) {
	v, _ := registerTestModel(t, "manyout", "batchSize: 8\nmaxBatchDelay: 5\n")
	type output struct {
		Name  string
		Shape []int64
		Data  []any
	}
	burstsUntil(16, 10, func(c, burst int) {
		x := []float64{float64(c) - 7.5, float64(burst), 0.25}
		body, _ := json.Marshal(map[string]any{"inputs": map[string]any{"x:0": [][]float64{x}}})
		res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: body}}}, 0)
		if err != nil {
			t.Errorf("client %d: %v", c, err)
			return
		}
		var got struct{ Outputs []output }
		json.Unmarshal(res.Body, &got)
		want := []output{
			{"y:0", []int64{1, 3}, []any{2 * x[0], 2 * x[1], 2 * x[2]}},
			{"rounded", []int64{1, 3}, []any{float64(int64(x[0])), x[1], 0.0}},
			{"sum", []int64{1, 1}, []any{x[0] + x[1] + x[2]}},
			{"positive", []int64{1, 3}, []any{x[0] > 0, x[1] > 0, true}},
			{"echo", []int64{1, 3}, []any{x[0], x[1], x[2]}},
		}
		if fmt.Sprint(got.Outputs) != fmt.Sprint(want) {
			t.Errorf("client %d sent %v, got %v, want %v", c, x, got.Outputs, want)
		}
	}, func() bool { return v.Info().Queue.MeanBatchItems > 1 })
	if st := v.Info().Queue; st.MeanBatchItems <= 1 {
		t.Errorf("no batching happened: %+v", st)
	}
	if why := v.Info().Unbatchable; why != "" {
		t.Errorf("batching stopped: %s", why)
	}
}

// TestMixedLoad: for 3 s, 24 clients send lookup.onnx requests with random ids and
// priorities, one in 20 with an id past the table, one in 30 cancelled at once, while the
// model is scaled between 1 and 3 workers. Every good request gets exactly its own rows,
// every bad one an error, only cancelled ones fail otherwise, and batching goes on.
func TestMixedLoad(t *testing.T) {
	v, _ := registerTestModel(t, "lookup", "batchSize: 8\nmaxBatchDelay: 3\nadaptiveBatching: true\n")
	stopScaling := scaleInBackground(t, v, 50*time.Millisecond, 1, 2, 3)
	deadline := time.Now().Add(3 * time.Second)
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for c := 0; c < 24; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; time.Now().Before(deadline); k++ {
				ids := []int{(c + k) % 10, (c * k) % 10, k % 10, c % 10}
				bad := (c+k)%20 == 0
				if bad {
					ids[3] = 10
				}
				ctx, cancel := context.WithCancel(context.Background())
				if (c*7+k)%30 == 0 {
					cancel()
				}
				body, _ := json.Marshal([][]int{ids})
				res, err := v.Infer(ctx, &handler.Request{Inputs: []handler.Input{{Name: "body", Data: body}}}, k%3-1)
				cancelled := ctx.Err() != nil
				cancel()
				outcome := "answered"
				switch {
				case err != nil && (bad || cancelled):
					outcome = "failed as it should"
				case err != nil:
					outcome = "good request failed: " + err.Error()
				case bad:
					outcome = "bad request answered"
				default:
					var got struct{ Outputs []struct{ Data []float32 } }
					json.Unmarshal(res.Body, &got)
					var want []float32
					for _, id := range ids {
						want = append(want, float32(2*id), float32(2*id+1))
					}
					if len(got.Outputs) != 1 || !slices.Equal(got.Outputs[0].Data, want) {
						outcome = fmt.Sprintf("wrong answer: %s for ids %v", res.Body, ids)
					}
				}
				mu.Lock()
				outcomes[outcome]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	stopScaling()
	for outcome, n := range outcomes {
		if outcome != "answered" && outcome != "failed as it should" {
			t.Errorf("%d× %s", n, outcome)
		}
	}
	if outcomes["answered"] == 0 {
		t.Error("no request answered")
	}
	if why := v.Info().Unbatchable; why != "" {
		t.Errorf("batching stopped: %s", why)
	}
}

// Preferred batch sizes a register request gave (a Triton load's configuration) are in the
// snapshot, so a restart keeps them; model-config.yaml's are not (the archive has them).
func TestSnapshotPreferredSizes(t *testing.T) {
	r := newRegistry(t, Defaults{})
	batch := 8
	if _, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", ""), Overrides: Overrides{BatchSize: &batch, PreferredBatchSizes: []int{4, 8}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "2.0", "batchSize: 4\npreferredBatchSizes: [2]\n")}); err != nil {
		t.Fatal(err)
	}
	snap := r.Snapshot()
	for _, m := range snap.Models {
		want := map[string]string{"1.0": "[4 8]", "2.0": "[]"}[m.Version]
		if fmt.Sprint(m.PreferredBatchSizes) != want {
			t.Errorf("version %s: preferred sizes %v in the snapshot, want %s", m.Version, m.PreferredBatchSizes, want)
		}
	}
}

// Reload replaces a registered version with the archive given once the new one has loaded
// (a request still reaching the old one goes to the new), keeps the old one when the new one fails to load (here its warm-up fails), and registers
// an archive of another version as the model's default.
func TestReload(t *testing.T) {
	r := newRegistry(t, Defaults{})
	old, err := r.Register(context.Background(), Spec{Path: modelArchive(t, "m", "1.0", testenv.Path("pkg/engine/testdata/onerow.onnx"), ""), Overrides: Overrides{InitialWorkers: ptr(2)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	failing := modelArchive(t, "m", "1.0", testenv.Path("pkg/engine/testdata/onerow.onnx"), "warmup: {runs: 1, batchSizes: [3]}\n")
	if _, err := r.Reload(context.Background(), Spec{Path: failing, Synchronous: true}); err == nil || !strings.Contains(err.Error(), "the loaded one goes on serving") {
		t.Errorf("a reload that fails: %v", err)
	}
	if v, _ := r.Get("m", "1.0"); v != old || old.Info().State != StateReady {
		t.Fatalf("after a failed reload the version is %p (%s), want the old one %p", v, old.Info().State, old)
	}
	next, err := r.Reload(context.Background(), Spec{Path: modelArchive(t, "m", "1.0", testenv.Path("pkg/engine/testdata/onerow.onnx"), "batchSize: 1\n"), Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Get("m", "1.0"); v != next || v == old || len(next.Info().Workers) != 2 || old.Info().State != StateUnloading {
		t.Errorf("after the reload: %p (old %p), %d workers, old %s", v, old, len(next.Info().Workers), old.Info().State)
	}
	// a request that reached the old version (routed just before the swap) is served by the new
	if _, err := old.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(`[[1, 2, 3]]`)}}}, 0); err != nil {
		t.Errorf("a request to the replaced version: %v", err)
	}
	if st := next.Statistics(); st.Success.Count != 1 {
		t.Errorf("the new version served %d requests, want 1", st.Success.Count)
	}
	if _, err := r.Reload(context.Background(), Spec{Path: modelArchive(t, "m", "2.0", testenv.Path("pkg/engine/testdata/onerow.onnx"), ""), Synchronous: true}); err != nil {
		t.Fatal(err)
	}
	if e, _ := r.Model("m"); e.DefaultVersion != "2.0" || len(e.Versions) != 2 {
		t.Errorf("another version: default %s, %d versions", e.DefaultVersion, len(e.Versions))
	}
}

// TestOnRemoved: a version unregistered, and one that failed to load, are reported gone,
// with whether their model has no version left (its metrics then go too).
func TestOnRemoved(t *testing.T) {
	var mu sync.Mutex
	var got []string
	r := New(Options{TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Cores: 2,
		OnRemoved: func(model, version string, gone bool) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s/%s gone=%v", model, version, gone))
			mu.Unlock()
		}})
	t.Cleanup(func() { r.Close(context.Background()) })
	ctx := context.Background()
	for _, v := range []string{"1.0", "2.0"} {
		if _, err := r.Register(ctx, Spec{Path: irisArchive(t, v, ""), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"2.0", "1.0"} {
		if _, err := r.Unregister(ctx, "iris", v); err != nil {
			t.Fatal(err)
		}
	}
	// a load that fails (warm-up at a batch size the model refuses) removes its version
	bad := modelArchive(t, "onerow", "1.0", testenv.Path("pkg/engine/testdata/onerow.onnx"), "warmup: {runs: 1, batchSizes: [3]}\n")
	if _, err := r.Register(ctx, Spec{Path: bad, Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true}); err == nil {
		t.Fatal("a failing warm-up registered")
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"iris/2.0 gone=false", "iris/1.0 gone=true", "onerow/1.0 gone=true"}
	if !slices.Equal(got, want) {
		t.Errorf("removed %v, want %v", got, want)
	}
}

// TestDeviceProvider: TorchServe's deviceType and deviceIds choose a model's execution
// providers (a session on each) from the server's.
func TestDeviceProvider(t *testing.T) {
	for _, c := range []struct {
		server string
		s      Settings
		want   string
		asked  bool
	}{
		{"cpu", Settings{}, "cpu", false},
		{"cuda:1", Settings{}, "cuda:1", false},
		{"cuda:1", Settings{DeviceType: DeviceCPU}, "cpu", false},
		{"cuda:1", Settings{DeviceType: DeviceGPU}, "cuda:1", false},
		{"cuda", Settings{DeviceIDs: []int{3}}, "cuda:3", false},
		{"tensorrt:0", Settings{DeviceType: DeviceGPU, DeviceIDs: []int{2, 5, 2}}, "tensorrt:2 tensorrt:5", false},
		{"cpu", Settings{DeviceType: DeviceGPU}, "cuda:0", true},
		{"cpu", Settings{DeviceIDs: []int{1, 0}}, "cuda:1 cuda:0", true},
	} {
		providers, asked := c.s.Providers(c.server)
		if got := strings.Join(providers, " "); got != c.want || asked != c.asked {
			t.Errorf("server %s, deviceType %q, deviceIds %v: %s (asked for a GPU %v), want %s (%v)", c.server, c.s.DeviceType, c.s.DeviceIDs, got, asked, c.want, c.asked)
		}
	}
}

// TestDeviceType: on a server whose execution provider cannot be used here (CUDA, with no
// fallback), a model with deviceType cpu still loads and serves on the CPU, and one without
// fails; on a CPU server, a model asking for GPUs runs on the CPU with a warning, as
// TorchServe's on a host without GPUs: a session for each GPU listed, the runs taking turns.
func TestDeviceType(t *testing.T) {
	if slices.Contains(engine.Loaded().Providers, "cuda") {
		t.Log("this ONNX Runtime library has CUDA: the refusal below cannot happen")
	}
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	gpu := New(Options{TempDir: t.TempDir(), Logger: logger, Cores: 2, Engine: engine.Options{Provider: "cuda:0"}})
	t.Cleanup(func() { gpu.Close(context.Background()) })
	cpuOnly, err := gpu.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", "deviceType: CPU\n"), Name: "cpuonly", Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatalf("deviceType cpu on a CUDA server: %v", err)
	}
	if info := cpuOnly.Info(); info.Provider != "cpu" || info.Settings.DeviceType != DeviceCPU || info.Settings.Sources["deviceType"] != FromYAML {
		t.Errorf("deviceType cpu: provider %s, settings %q from %s", info.Provider, info.Settings.DeviceType, info.Settings.Sources["deviceType"])
	}
	if out, err := cpuOnly.InferTensors(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})}, 0); err != nil || len(out) == 0 {
		t.Errorf("inference on the CPU: %v", err)
	}
	if !slices.Contains(engine.Loaded().Providers, "cuda") {
		_, err := gpu.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", ""), Name: "server", Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		if err == nil || !strings.Contains(err.Error(), "execution provider cuda:0 is not available") {
			t.Errorf("a model on the server's unavailable provider: %v", err)
		}
	}

	cpu := New(Options{TempDir: t.TempDir(), Logger: logger, Cores: 2, Engine: engine.Options{Provider: "cpu"}})
	t.Cleanup(func() { cpu.Close(context.Background()) })
	asks, err := cpu.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", "deviceType: gpu\ndeviceIds: [1, 0]\n"), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if slices.Contains(engine.Loaded().Providers, "cuda") {
		return // it may run on GPU 1 here
	}
	if err != nil {
		t.Fatalf("deviceType gpu on a CPU server: %v", err)
	}
	if info := asks.Info(); info.Provider != "cpu, cpu" || !slices.Equal(info.Settings.DeviceIDs, []int{1, 0}) {
		t.Errorf("deviceType gpu without a GPU: provider %s, deviceIds %v", info.Provider, info.Settings.DeviceIDs)
	}
	for _, want := range []string{`execution provider not available, running on CPU" model=iris version=1.0 provider=cuda:1`, `provider=cuda:0`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	for range 6 {
		if _, err := asks.InferTensors(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})}, 0); err != nil {
			t.Fatal(err)
		}
	}
	others := asks.replicas.Load()
	if others == nil || len(*others) != 1 || asks.session.Load().Runs() < 2 || (*others)[0].Runs() < 2 {
		t.Errorf("two devices: the runs did not take turns over two sessions")
	}
	if _, err := cpu.Unregister(context.Background(), "iris", "1.0"); err != nil {
		t.Fatal(err)
	}
	_, err = (*others)[0].RunFor(context.Background(), 0, []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})})
	if !errors.Is(err, engine.ErrClosed) || asks.replicas.Load() != nil {
		t.Errorf("unregistering left the second device's session open: a run on it: %v", err)
	}
	for yaml, want := range map[string]string{
		"deviceType: tpu\n":                 "deviceType (from model-config.yaml) must be cpu or gpu",
		"deviceType: cpu\ndeviceIds: [0]\n": "deviceIds (from model-config.yaml) name GPUs, but deviceType is cpu",
		"deviceIds: [-1]\n":                 "deviceIds (from model-config.yaml) must be GPU numbers ≥ 0",
	} {
		if _, err := cpu.Register(context.Background(), Spec{Path: irisArchive(t, "2.0", yaml)}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", yaml, err, want)
		}
	}
}

// TestGPUTurns: on a server whose provider names no GPU (cuda) with number_of_gpu 2, the
// versions that run on a GPU and pick none go round the GPUs, as TorchServe's; one that picks
// (deviceIds) or runs on the CPU (deviceType cpu) keeps its choice and takes no turn; with a
// device in the provider (cuda:1) nothing changes. (Without CUDA here, the sessions fall back
// to the CPU, with the GPU they were given in the warning.)
func TestGPUTurns(t *testing.T) {
	var log bytes.Buffer
	r := New(Options{TempDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil)), Cores: 2, GPUs: 2,
		Engine: engine.Options{Provider: "cuda", ProviderFallback: true}})
	t.Cleanup(func() { r.Close(context.Background()) })
	for _, c := range []struct {
		name, yaml string
		ids        []int
		source     string
	}{
		{"a", "", []int{0}, FromGPUTurns},
		{"cpu", "deviceType: cpu\n", nil, FromDefault},
		{"b", "", []int{1}, FromGPUTurns},
		{"own", "deviceIds: [1]\n", []int{1}, FromYAML},
		{"c", "", []int{0}, FromGPUTurns},
	} {
		v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", c.yaml), Name: c.name, Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if s := v.Settings(); !slices.Equal(s.DeviceIDs, c.ids) || s.Sources["deviceIds"] != c.source {
			t.Errorf("%s: deviceIds %v from %s, want %v from %s", c.name, s.DeviceIDs, s.Sources["deviceIds"], c.ids, c.source)
		}
	}
	if !slices.Contains(engine.Loaded().Providers, "cuda") && !strings.Contains(log.String(), `model=b version=1.0 provider=cuda:1`) {
		t.Errorf("the second version was not tried on GPU 1:\n%s", log.String())
	}

	pinned := New(Options{TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Cores: 2, GPUs: 2,
		Engine: engine.Options{Provider: "cuda:1", ProviderFallback: true}})
	t.Cleanup(func() { pinned.Close(context.Background()) })
	v, err := pinned.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", ""), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Settings(); len(s.DeviceIDs) != 0 {
		t.Errorf("a provider with its device (cuda:1): deviceIds %v", s.DeviceIDs)
	}
}
