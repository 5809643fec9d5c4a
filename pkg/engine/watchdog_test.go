package engine

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/onnxgen"
	"github.com/tsserve/ts/pkg/tensor"
)

// slowSession loads a generated model that takes about a second for 128 rows, and returns
// such an input.
func slowSession(t *testing.T) (*Session, *tensor.Tensor) {
	t.Helper()
	model := filepath.Join(t.TempDir(), "slow.onnx")
	if err := onnxgen.Write(model, onnxgen.Spec{Dim: 512, Out: 2, Depth: 800}); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, model, Options{IntraOpThreads: 1})
	x := make([]float32, 128*512)
	for i := range x {
		x[i] = 0.25
	}
	return s, tensor.New([]int64{128, 512}, x)
}

// watched is how many runs of s the watchdog watches.
func watched(s *Session) int {
	runWatchdog.mu.Lock()
	defer runWatchdog.mu.Unlock()
	n := 0
	for _, w := range runWatchdog.runs {
		if w.owner == s {
			n++
		}
	}
	return n
}

// TestRunStops: a run in progress stops soon after its context is cancelled or its time
// limit passes, with the matching error, and the session runs normally afterwards.
func TestRunStops(t *testing.T) {
	s, x := slowSession(t)
	start := time.Now()
	if _, err := s.RunFor(context.Background(), 0, []*tensor.Tensor{x}); err != nil {
		t.Fatal(err)
	}
	full := time.Since(start)
	if full < 200*time.Millisecond {
		t.Fatalf("the slow model took only %v: too fast to test stopping", full)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	time.AfterFunc(full/10, cancel)
	for _, c := range []struct {
		name  string
		ctx   context.Context
		limit time.Duration
		want  error
	}{
		{"cancelled", cancelled, 0, context.Canceled},
		{"time limit", context.Background(), full / 10, context.DeadlineExceeded},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := s.RunFor(c.ctx, c.limit, []*tensor.Tensor{x})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if took := time.Since(start); took > full/2 {
				t.Errorf("the run took %v to stop (a whole run takes %v)", took, full)
			}
		})
	}
	// the run options were reset: the next run completes
	if _, err := s.RunFor(context.Background(), time.Minute, []*tensor.Tensor{x}); err != nil {
		t.Errorf("run after stopped runs: %v", err)
	}
}

// TestRunWatchesReused: concurrent watched runs share a few run options, kept by the session
// for the next runs, and the watchdog lets them all go.
func TestRunWatchesReused(t *testing.T) {
	s := mustLoad(t, testenv.Path("samples/iris/model.onnx"), Options{IntraOpThreads: 1})
	x := tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if _, err := s.RunFor(ctx, time.Minute, []*tensor.Tensor{x}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.watchMu.Lock()
	kept := len(s.watches)
	s.watchMu.Unlock()
	if kept < 1 || kept > 4 {
		t.Errorf("the session keeps %d run options after 4 concurrent runners, want 1 to 4", kept)
	}
	if left := watched(s); left != 0 {
		t.Errorf("the watchdog still watches %d runs", left)
	}
}

// TestStopRunsAndClose: StopRuns stops a run in flight with ErrClosed; Close waits for a run
// it cannot stop (no context, no limit) instead of freeing the session under it; runs after
// Close fail with ErrClosed.
func TestStopRunsAndClose(t *testing.T) {
	s, x := slowSession(t)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := s.RunFor(context.Background(), time.Minute, []*tensor.Tensor{x})
		done <- err
	}()
	for watched(s) == 0 {
		time.Sleep(time.Millisecond)
	}
	s.StopRuns()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("stopped run: err = %v, want ErrClosed", err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("the stopped run took %v to return", took)
	}
	if _, err := s.RunFor(context.Background(), time.Minute, []*tensor.Tensor{x}); !errors.Is(err, ErrClosed) {
		t.Errorf("run after StopRuns: err = %v, want ErrClosed", err)
	}

	s2, x2 := slowSession(t)
	type result struct {
		out []*tensor.Tensor
		err error
	}
	finished := make(chan result, 1)
	go func() {
		out, err := s2.Run(context.Background(), []*tensor.Tensor{x2}) // nothing to watch
		finished <- result{out, err}
	}()
	for waited := time.Now(); s2.Running() == 0; time.Sleep(time.Millisecond) {
		if time.Since(waited) > time.Minute {
			t.Fatal("the run never started")
		}
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-finished:
		// Had Close freed the session under it, the run would have failed or crashed.
		if r.err != nil || len(r.out) == 0 || r.out[0] == nil {
			t.Errorf("the run Close waited for: outputs %v, err %v", r.out, r.err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the run in flight did not return")
	}
	if _, err := s2.Run(context.Background(), []*tensor.Tensor{x2}); !errors.Is(err, ErrClosed) {
		t.Errorf("run after Close: err = %v, want ErrClosed", err)
	}
}
