package registry

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

func TestMain(m *testing.M) {
	if _, err := engine.Init(config.ORTCandidates("")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

func irisArchive(t *testing.T, version string, yaml string) string {
	t.Helper()
	o := archive.PackOptions{ModelName: "iris", Version: version, SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor", ExportPath: t.TempDir()}
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
	yaml := "minWorkers: 2\nmaxWorkers: 3\nbatchSize: 4\nmaxBatchDelay: 20\npreferredBatchSizes: [2, 4]\nadaptiveBatching: true\nhandler:\n  topk: 3\n"
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
	if _, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "3.0", "batchSize: 0\n")}); err == nil || !strings.Contains(err.Error(), "batchSize") {
		t.Errorf("bad yaml value: %v", err)
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
