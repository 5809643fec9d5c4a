package registry

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/handler"
)

// waitFor polls cond until it holds or the time is up.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUnloadAfterIdle: a version idle past unloadAfterIdle is unloaded (its session and
// workers gone, IDLE, still ready and healthy); not while a request is in flight; the next
// requests, many at once, load it again with the workers of its settings and none fails;
// scaling an idle version loads it too.
func TestUnloadAfterIdle(t *testing.T) {
	r := newRegistry(t, Defaults{})
	ctx := context.Background()
	v, err := r.Register(ctx, Spec{Path: irisArchive(t, "1.0", "unloadAfterIdle: 1\nbatchSize: 4\nmaxBatchDelay: 5\n"), Overrides: Overrides{InitialWorkers: ptr(2)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Settings(); s.UnloadAfterIdle != 1 || s.Sources["unloadAfterIdle"] != FromYAML {
		t.Fatalf("settings: %d from %s", s.UnloadAfterIdle, s.Sources["unloadAfterIdle"])
	}
	infer := func() error {
		_, err := v.Infer(ctx, &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(`[[5.1, 3.5, 1.4, 0.2]]`)}}}, 0)
		return err
	}
	if err := infer(); err != nil {
		t.Fatal(err)
	}

	// a request in flight keeps it loaded past the idle time
	live, _, _, _, _, err := v.enter()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if v.Idle() {
		t.Fatal("unloaded while a request was in flight")
	}
	live.leave()

	waitFor(t, 3*time.Second, "not unloaded after being idle for unloadAfterIdle", v.Idle)
	info := v.Info()
	if info.State != StateIdle || len(info.Workers) != 0 || v.session.Load() != nil {
		t.Errorf("idle: state %s, %d workers, session %v", info.State, len(info.Workers), v.session.Load())
	}
	if !v.Ready() || r.Health() != "Healthy" {
		t.Errorf("idle: ready %v, health %s; want ready and healthy (the next request loads it)", v.Ready(), r.Health())
	}
	if s := v.Settings(); s.MinWorkers != 2 {
		t.Errorf("idle unload changed minWorkers to %d", s.MinWorkers)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() { errs <- infer() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("a request that woke the model: %v", err)
		}
	}
	// The load that woke it ends in the background: its workers serve before it marks the
	// version READY.
	waitFor(t, 3*time.Second, "not READY with 2 workers after waking", func() bool {
		info := v.Info()
		return info.State == StateReady && len(info.Workers) == 2 && !v.Idle()
	})

	waitFor(t, 3*time.Second, "not unloaded a second time", v.Idle)
	if err := v.Scale(ctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	if info := v.Info(); info.State != StateReady || len(info.Workers) != 1 || v.Idle() {
		t.Errorf("scaled while idle: state %s, %d workers, idle %v", info.State, len(info.Workers), v.Idle())
	}
	if err := infer(); err != nil {
		t.Error(err)
	}
}

// TestUnloadAfterIdleSettings: the server's default applies unless model-config.yaml says
// otherwise, but not to a stateful model (unloading would end its sequences), which may
// not ask for it either; a negative value is refused.
func TestUnloadAfterIdleSettings(t *testing.T) {
	r := newRegistry(t, Defaults{UnloadAfterIdle: 300 * time.Second, Sources: map[string]string{"unloadAfterIdle": "default_unload_after_idle (flag)"}})
	ctx := context.Background()
	for _, c := range []struct {
		yaml, want, source, err string
	}{
		{"", "300", "default_unload_after_idle (flag)", ""},
		{"unloadAfterIdle: 0\n", "0", FromYAML, ""},
		{"unloadAfterIdle: 60\n", "60", FromYAML, ""},
		{"sequenceBatching: true\n", "0", FromDefault, ""},
		{"sequenceBatching: true\nunloadAfterIdle: 60\n", "", "", "cannot be used with sequenceBatching"},
		{"unloadAfterIdle: -1\n", "", "", "unloadAfterIdle (from model-config.yaml) must be ≥ 0"},
	} {
		v, err := r.openVersion(ctx, Spec{Path: irisArchive(t, "1.0", c.yaml)})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want an error with %q", c.yaml, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.yaml, err)
			continue
		}
		s := v.Settings()
		if got := strconv.Itoa(s.UnloadAfterIdle); got != c.want || s.Sources["unloadAfterIdle"] != c.source {
			t.Errorf("%q: unloadAfterIdle %s from %q, want %s from %q", c.yaml, got, s.Sources["unloadAfterIdle"], c.want, c.source)
		}
		v.close()
	}
}

// TestIdleUnloadUnderLoad: unloads attempted over and over (as if the model had been idle for
// an hour) while clients send requests and the workers are scaled: a request is never lost
// (each either holds the model loaded or loads it again), and the version ends consistent.
func TestIdleUnloadUnderLoad(t *testing.T) {
	r := newRegistry(t, Defaults{})
	ctx := context.Background()
	v, err := r.Register(ctx, Spec{Path: irisArchive(t, "1.0", "unloadAfterIdle: 3600\nbatchSize: 4\nmaxBatchDelay: 1\n"), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	unloads := 0
	for range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := v.Infer(ctx, &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(`[[5.1, 3.5, 1.4, 0.2]]`)}}}, 0); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
				time.Sleep(time.Duration(i%4) * time.Millisecond) // gaps, for unloads to happen in
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if v.unloadIfIdle(time.Now().Add(time.Hour)) {
				mu.Lock()
				unloads++
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	})
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if err := v.Scale(ctx, 1+i%2, 2); err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		}
	})
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for i, err := range failures {
		if i < 5 {
			t.Errorf("failed: %v", err)
		}
	}
	if len(failures) > 5 {
		t.Errorf("... %d failures in all", len(failures))
	}
	if unloads == 0 {
		t.Error("no idle unload happened between the requests")
	}
	// ends consistent: loaded, or idle with nothing loaded (once a reload a last request
	// started, which runs on its own, is over)
	info := v.Info()
	for deadline := time.Now().Add(10 * time.Second); info.State == StateLoading && time.Now().Before(deadline); info = v.Info() {
		time.Sleep(time.Millisecond)
	}
	switch {
	case v.Idle():
		if info.State != StateIdle || v.session.Load() != nil || len(info.Workers) != 0 {
			t.Errorf("idle but state %s, session %v, %d workers", info.State, v.session.Load(), len(info.Workers))
		}
	case info.State != StateReady || v.session.Load() == nil || len(info.Workers) == 0:
		t.Errorf("not idle but state %s, session %v, %d workers", info.State, v.session.Load(), len(info.Workers))
	}
	if _, err := v.Infer(ctx, &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(`[[5.1, 3.5, 1.4, 0.2]]`)}}}, 0); err != nil {
		t.Errorf("after the load: %v", err)
	}
	t.Logf("%d idle unloads", unloads)
}
