package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/internal/clients"
	"github.com/tsserve/ts/pkg/tensor"
)

// fakeClock moves only when told to.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.timers = append(c.timers, fakeTimer{c.now.Add(d), ch})
	return ch, func() {}
}

// pending is the number of timers not yet fired.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
		} else {
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// readyWorkers counts the pool's workers ready to run batches.
func readyWorkers(p *Pool) int {
	n := 0
	for _, w := range p.Workers() {
		if w.State == StateReady {
			n++
		}
	}
	return n
}

// waitFor polls cond for up to 5 s of real time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// row is a [1,2] float32 input holding v, v.
func row(v float32) []*tensor.Tensor {
	return []*tensor.Tensor{tensor.New([]int64{1, 2}, []float32{v, v})}
}

// recorder is a RunFunc that doubles its input, records batch sizes, and can be held.
type recorder struct {
	mu      sync.Mutex
	sizes   []int64
	firsts  []float32
	limits  []time.Duration
	hold    chan struct{} // when non-nil, each run waits until it is closed
	sleep   time.Duration // each run takes at least this long
	running atomic.Int32
	panics  atomic.Int32
}

func (r *recorder) run(ctx context.Context, limit time.Duration, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
	r.running.Add(1)
	defer r.running.Add(-1)
	v, _ := tensor.Values[float32](in[0])
	r.mu.Lock()
	r.sizes = append(r.sizes, in[0].Shape[0])
	r.firsts = append(r.firsts, v[0])
	r.limits = append(r.limits, limit)
	hold := r.hold
	r.mu.Unlock()
	if r.panics.Load() > 0 {
		r.panics.Add(-1)
		panic("boom")
	}
	time.Sleep(r.sleep)
	if hold != nil {
		var expired <-chan time.Time // real time: the engine's limit is
		if limit > 0 {
			timer := time.NewTimer(limit)
			defer timer.Stop()
			expired = timer.C
		}
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-expired:
			return nil, context.DeadlineExceeded
		}
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = 2 * x
	}
	return []*tensor.Tensor{tensor.New(in[0].Shape, out)}, nil
}

func (r *recorder) batches() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sizes)
}

type submitted struct {
	out []*tensor.Tensor
	err error
}

func submit(b *Batcher, ctx context.Context, in []*tensor.Tensor, prio int) chan submitted {
	ch := make(chan submitted, 1)
	go func() {
		out, err := b.Submit(ctx, in, prio)
		ch <- submitted{out, err}
	}()
	return ch
}

func setup(t *testing.T, cfg Config, workers int) (*Batcher, *Pool, *recorder, *fakeClock) {
	clock := newFakeClock()
	b := New(cfg, true, clock)
	b.CheckPassed(true) // the tests count runs: no check of the first batch (TestFirstBatchChecked)
	r := &recorder{hold: make(chan struct{})}
	p := NewPool(b, r.run, slog.New(slog.DiscardHandler))
	p.Scale(workers)
	t.Cleanup(func() {
		r.mu.Lock()
		if r.hold != nil {
			close(r.hold)
			r.hold = nil
		}
		r.mu.Unlock()
		p.Scale(0)
	})
	return b, p, r, clock
}

func (r *recorder) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	close(r.hold)
	r.hold = nil
}

func TestBatchBySize(t *testing.T) {
	b, _, r, _ := setup(t, Config{BatchSize: 4, MaxDelay: time.Hour, QueueSize: 100}, 1)
	first := submit(b, context.Background(), row(1), 0)
	waitFor(t, "the first request to run alone (the model was idle)", func() bool { return r.running.Load() == 1 })
	var rest []chan submitted
	for i := 0; i < 4; i++ {
		rest = append(rest, submit(b, context.Background(), row(float32(10+i)), 0))
	}
	waitFor(t, "4 queued", func() bool { return b.Pending() == 4 })
	r.release()
	<-first
	for i, ch := range rest {
		res := <-ch
		if res.err != nil {
			t.Fatal(res.err)
		}
		v, _ := tensor.Values[float32](res.out[0])
		if !slices.Equal(res.out[0].Shape, []int64{1, 2}) || v[0] != 2*float32(10+i) {
			t.Errorf("request %d got %v %v", i, res.out[0].Shape, v)
		}
	}
	if got := r.batches(); !slices.Equal(got, []int64{1, 4}) {
		t.Errorf("batches %v, want [1 4]", got)
	}
}

func TestBatchByDelay(t *testing.T) {
	b, _, r, clock := setup(t, Config{BatchSize: 8, MaxDelay: 100 * time.Millisecond, QueueSize: 100}, 2)
	busy := submit(b, context.Background(), row(1), 0)
	waitFor(t, "one worker busy", func() bool { return r.running.Load() == 1 })
	var waiting []chan submitted
	for i := 0; i < 3; i++ {
		waiting = append(waiting, submit(b, context.Background(), row(float32(i)), 0))
	}
	waitFor(t, "3 queued", func() bool { return b.Pending() == 3 })
	clock.Advance(60 * time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	if b.Pending() != 3 {
		t.Fatalf("dispatched before the delay: %d pending", b.Pending())
	}
	clock.Advance(50 * time.Millisecond)
	waitFor(t, "the batch to go after the delay", func() bool { return b.Pending() == 0 })
	r.release()
	<-busy
	for _, ch := range waiting {
		if res := <-ch; res.err != nil {
			t.Fatal(res.err)
		}
	}
	if got := r.batches(); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("batches %v, want [1 3]", got)
	}
}

func TestPreferredSize(t *testing.T) {
	b, _, r, _ := setup(t, Config{BatchSize: 8, MaxDelay: time.Hour, QueueSize: 100, PreferredSizes: []int{2, 4}}, 2)
	busy := submit(b, context.Background(), row(1), 0)
	waitFor(t, "one worker busy", func() bool { return r.running.Load() == 1 })
	one := submit(b, context.Background(), row(2), 0)
	waitFor(t, "1 queued", func() bool { return b.Pending() == 1 })
	time.Sleep(10 * time.Millisecond)
	if r.running.Load() != 1 {
		t.Fatal("a lone request left while another batch ran and no preferred size was reached")
	}
	two := submit(b, context.Background(), row(3), 0)
	waitFor(t, "a preferred batch of 2", func() bool { return r.running.Load() == 2 })
	r.release()
	for _, ch := range []chan submitted{busy, one, two} {
		if res := <-ch; res.err != nil {
			t.Fatal(res.err)
		}
	}
	if got := r.batches(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("batches %v, want [1 2]", got)
	}
}

func TestPriority(t *testing.T) {
	b, _, r, _ := setup(t, Config{BatchSize: 1, QueueSize: 100}, 1)
	busy := submit(b, context.Background(), row(0), 0)
	waitFor(t, "worker busy", func() bool { return r.running.Load() == 1 })
	low := submit(b, context.Background(), row(1), -1)
	waitFor(t, "low queued", func() bool { return b.Pending() == 1 })
	normal := submit(b, context.Background(), row(2), 0)
	waitFor(t, "normal queued", func() bool { return b.Pending() == 2 })
	high := submit(b, context.Background(), row(3), 5)
	waitFor(t, "high queued", func() bool { return b.Pending() == 3 })
	r.release()
	for _, ch := range []chan submitted{busy, low, normal, high} {
		if res := <-ch; res.err != nil {
			t.Fatal(res.err)
		}
	}
	r.mu.Lock()
	order := slices.Clone(r.firsts)
	r.mu.Unlock()
	if !slices.Equal(order, []float32{0, 3, 2, 1}) {
		t.Errorf("ran %v, want high before normal before low: [0 3 2 1]", order)
	}
}

func TestQueuePolicyAndLimits(t *testing.T) {
	b, _, r, clock := setup(t, Config{BatchSize: 1, QueueSize: 2, Queue: QueuePolicy{MaxQueueTime: 100 * time.Millisecond}}, 1)
	busy := submit(b, context.Background(), row(0), 0)
	waitFor(t, "worker busy", func() bool { return r.running.Load() == 1 })
	stale := submit(b, context.Background(), row(1), 0)
	waitFor(t, "queued", func() bool { return b.Pending() == 1 })
	clock.Advance(200 * time.Millisecond)
	fresh := submit(b, context.Background(), row(2), 0)
	if res := <-stale; !errors.Is(res.err, ErrQueueTime) {
		t.Errorf("stale request: %v, want ErrQueueTime", res.err)
	}
	waitFor(t, "fresh queued", func() bool { return b.Pending() == 1 })
	filler := submit(b, context.Background(), row(3), 0)
	waitFor(t, "queue full", func() bool { return b.Pending() == 2 })
	if _, err := b.Submit(context.Background(), row(4), 0); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third request: %v, want ErrQueueFull", err)
	}
	r.release()
	<-busy
	for _, ch := range []chan submitted{fresh, filler} {
		if res := <-ch; res.err != nil {
			t.Errorf("queued request: %v", res.err)
		}
	}
}

// The queue policy's DELAY (Triton's timeout_action): a request past its queue time is not
// rejected but goes behind the requests of its priority that came after it; a lower
// priority still waits behind it.
func TestQueuePolicyDelay(t *testing.T) {
	b, _, r, clock := setup(t, Config{BatchSize: 1, QueueSize: 100, Queue: QueuePolicy{MaxQueueTime: 100 * time.Millisecond, DelayExpired: true}}, 1)
	busy := submit(b, context.Background(), row(0), 0)
	waitFor(t, "worker busy", func() bool { return r.running.Load() == 1 })
	stale := submit(b, context.Background(), row(1), 0)
	low := submit(b, context.Background(), row(2), -1)
	waitFor(t, "queued", func() bool { return b.Pending() == 2 })
	clock.Advance(200 * time.Millisecond)
	waitFor(t, "stale delayed", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.queue[0].delayed
	})
	fresh := submit(b, context.Background(), row(3), 0)
	waitFor(t, "fresh queued", func() bool { return b.Pending() == 3 })
	r.release()
	for _, ch := range []chan submitted{busy, stale, low, fresh} {
		if res := <-ch; res.err != nil {
			t.Fatalf("a delayed request failed: %v", res.err)
		}
	}
	r.mu.Lock()
	order := slices.Clone(r.firsts)
	r.mu.Unlock()
	if !slices.Equal(order, []float32{0, 3, 1, 2}) {
		t.Errorf("ran %v, want the fresh request before the delayed one, and the lower priority last: [0 3 1 2]", order)
	}
}

// A priority with its own queue policy (Triton's priority_queue_policy): its own bound on
// waiting requests and its own time limit; other priorities keep the model's.
func TestPriorityPolicies(t *testing.T) {
	cfg := Config{BatchSize: 1, QueueSize: 100, PriorityPolicies: map[int]QueuePolicy{5: {MaxQueued: 1, MaxQueueTime: 50 * time.Millisecond}}}
	b, _, r, clock := setup(t, cfg, 1)
	busy := submit(b, context.Background(), row(0), 0)
	waitFor(t, "worker busy", func() bool { return r.running.Load() == 1 })
	urgent := submit(b, context.Background(), row(1), 5)
	waitFor(t, "urgent queued", func() bool { return b.Pending() == 1 })
	if _, err := b.Submit(context.Background(), row(2), 5); !errors.Is(err, ErrQueueFull) {
		t.Errorf("a second request of priority 5: %v, want ErrQueueFull (its policy holds one)", err)
	}
	normal := []chan submitted{submit(b, context.Background(), row(3), 0), submit(b, context.Background(), row(4), 0)}
	waitFor(t, "normal queued", func() bool { return b.Pending() == 3 })
	clock.Advance(100 * time.Millisecond)
	if res := <-urgent; !errors.Is(res.err, ErrQueueTime) {
		t.Errorf("priority 5 after 100 ms: %v, want ErrQueueTime (its policy allows 50 ms)", res.err)
	}
	r.release()
	<-busy
	for _, ch := range normal {
		if res := <-ch; res.err != nil {
			t.Errorf("priority 0, whose policy has no limit: %v", res.err)
		}
	}
}

// A request may ask for a shorter time in the queue than the model's (WithMaxQueueTime,
// Triton's timeout parameter) where the model allows it; never a longer one, and none
// where the model has none.
func TestRequestMaxQueueTime(t *testing.T) {
	for _, tc := range []struct {
		name         string
		model, asked time.Duration
		allowed      bool
		wait         time.Duration
		wantRejected bool
	}{
		{"shorter", 100 * time.Millisecond, 10 * time.Millisecond, true, 20 * time.Millisecond, true},
		{"not yet", 100 * time.Millisecond, 10 * time.Millisecond, true, 5 * time.Millisecond, false},
		{"not allowed", 100 * time.Millisecond, 10 * time.Millisecond, false, 20 * time.Millisecond, false},
		{"longer is the model's", 100 * time.Millisecond, time.Second, true, 200 * time.Millisecond, true},
		{"none where the model has none", 0, 10 * time.Millisecond, true, time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{BatchSize: 1, QueueSize: 100, Queue: QueuePolicy{MaxQueueTime: tc.model, AllowQueueTimeOverride: tc.allowed}}
			b, _, r, clock := setup(t, cfg, 1)
			busy := submit(b, context.Background(), row(0), 0)
			waitFor(t, "worker busy", func() bool { return r.running.Load() == 1 })
			asked := submit(b, WithMaxQueueTime(context.Background(), tc.asked), row(1), 0)
			waitFor(t, "queued", func() bool { return b.Pending() == 1 })
			clock.Advance(tc.wait)
			if tc.wantRejected {
				if res := <-asked; !errors.Is(res.err, ErrQueueTime) {
					t.Fatalf("after %v: %v, want ErrQueueTime", tc.wait, res.err)
				}
				r.release()
				<-busy
				return
			}
			r.release()
			<-busy
			if res := <-asked; res.err != nil {
				t.Fatalf("after %v: %v, want an answer", tc.wait, res.err)
			}
		})
	}
}

// TorchServe's useJobTicket: a request is accepted only when a free worker will take it.
func TestJobTicket(t *testing.T) {
	b, _, r, _ := setup(t, Config{BatchSize: 4, MaxDelay: time.Hour, QueueSize: 100, JobTicket: true}, 2)
	busy := submit(b, context.Background(), row(0), 0)
	waitFor(t, "one worker busy", func() bool { return r.running.Load() == 1 })
	// the other worker is free: it will take a batch of up to four, which waits to fill
	var accepted []chan submitted
	for i := 1; i <= 3; i++ {
		accepted = append(accepted, submit(b, context.Background(), row(float32(i)), 0))
		waitFor(t, "the request to queue for the free worker", func() bool { return b.Pending() == i })
	}
	accepted = append(accepted, submit(b, context.Background(), row(4), 0)) // fills the batch: it runs
	waitFor(t, "both workers busy", func() bool { return r.running.Load() == 2 && b.Pending() == 0 })
	select {
	case res := <-submit(b, context.Background(), row(5), 0):
		if !errors.Is(res.err, ErrQueueFull) {
			t.Errorf("a request with every worker busy: %v, want ErrQueueFull", res.err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("a request with every worker busy waits (%d queued), want ErrQueueFull at once", b.Pending())
	}
	r.release()
	for _, ch := range append(accepted, busy) {
		if res := <-ch; res.err != nil {
			t.Errorf("an accepted request: %v", res.err)
		}
	}
	if got := r.batches(); !slices.Equal(got, []int64{1, 4}) {
		t.Errorf("batches %v, want [1 4]", got)
	}
}

func TestCancelAndTimeout(t *testing.T) {
	b, p, r, _ := setup(t, Config{BatchSize: 1, QueueSize: 10}, 1)
	// a request whose run outlives its deadline: the run is stopped, the worker is free again
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Submit(ctx, row(1), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
	waitFor(t, "the abandoned run to stop", func() bool { return r.running.Load() == 0 })
	// a queued request whose client leaves
	busy := submit(b, context.Background(), row(2), 0)
	waitFor(t, "worker busy", func() bool { return r.running.Load() == 1 })
	cctx, ccancel := context.WithCancel(context.Background())
	gone := submit(b, cctx, row(3), 0)
	waitFor(t, "queued", func() bool { return b.Pending() == 1 })
	ccancel()
	if res := <-gone; !errors.Is(res.err, context.Canceled) {
		t.Errorf("cancelled: %v", res.err)
	}
	if b.Pending() != 0 {
		t.Errorf("the cancelled request stayed queued")
	}
	r.release()
	if res := <-busy; res.err != nil {
		t.Error(res.err)
	}
	if readyWorkers(p) != 1 {
		t.Errorf("%d workers ready", readyWorkers(p))
	}
}

// TestConfigTimeout: with Config.Timeout, a queued request gets the deadline error once its
// time is up and leaves the queue, a run is limited to the time its requests have left, and
// an inline run past its limit is stopped.
func TestConfigTimeout(t *testing.T) {
	b, _, r, clock := setup(t, Config{BatchSize: 4, MaxDelay: time.Hour, QueueSize: 10, Timeout: time.Hour}, 1)
	busy := submit(b, context.Background(), row(1), 0)
	waitFor(t, "the first request to run", func() bool { return r.running.Load() == 1 })
	late := submit(b, context.Background(), row(2), 0)
	waitFor(t, "the second request to queue", func() bool { return b.Pending() == 1 })
	clock.Advance(time.Hour)
	if res := <-late; !errors.Is(res.err, context.DeadlineExceeded) {
		t.Errorf("queued past the timeout: err = %v, want the deadline", res.err)
	}
	if b.Pending() != 0 {
		t.Error("the timed-out request stayed queued")
	}
	// two requests queued 10 minutes after the running one, taken 10 minutes later: their
	// batch may run for the 50 minutes they have left
	clock.Advance(10 * time.Minute)
	a, c := submit(b, context.Background(), row(3), 0), submit(b, context.Background(), row(4), 0)
	waitFor(t, "two requests to queue", func() bool { return b.Pending() == 2 })
	clock.Advance(10 * time.Minute)
	r.release()
	for _, ch := range []chan submitted{busy, a, c} {
		if res := <-ch; res.err != nil {
			t.Fatal(res.err)
		}
	}
	r.mu.Lock()
	limits := slices.Clone(r.limits)
	r.mu.Unlock()
	if want := []time.Duration{time.Hour, 50 * time.Minute}; !slices.Equal(limits, want) {
		t.Errorf("run limits %v, want %v", limits, want)
	}

	// an inline run that outlives the timeout (real time here: the run's limit is)
	b, _, r, _ = setup(t, Config{BatchSize: 1, QueueSize: 10, Timeout: 50 * time.Millisecond}, 1)
	start := time.Now()
	if _, err := b.Submit(context.Background(), row(5), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("run past the timeout: err = %v, want the deadline", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the timeout took %v", took)
	}
	if n := r.running.Load(); n != 0 {
		t.Errorf("%d runs still going", n)
	}
}

func TestNoWorker(t *testing.T) {
	b := New(Config{BatchSize: 4}, true, nil)
	if _, err := b.Submit(context.Background(), row(1), 0); !errors.Is(err, ErrNoWorker) {
		t.Errorf("err = %v, want ErrNoWorker", err)
	}
}

func TestIncompatibleShapesNotMixed(t *testing.T) {
	b, _, r, _ := setup(t, Config{BatchSize: 8, MaxDelay: time.Hour, QueueSize: 100}, 1)
	busy := submit(b, context.Background(), row(0), 0)
	waitFor(t, "worker busy", func() bool { return r.running.Load() == 1 })
	wide := []*tensor.Tensor{tensor.New([]int64{1, 3}, []float32{1, 1, 1})}
	a := submit(b, context.Background(), row(1), 0)
	waitFor(t, "1 queued", func() bool { return b.Pending() == 1 })
	w := submit(b, context.Background(), wide, 0)
	waitFor(t, "2 queued", func() bool { return b.Pending() == 2 })
	c := submit(b, context.Background(), row(2), 0)
	waitFor(t, "3 queued", func() bool { return b.Pending() == 3 })
	r.release()
	for _, ch := range []chan submitted{busy, a, w, c} {
		if res := <-ch; res.err != nil {
			t.Fatal(res.err)
		}
	}
	if got := r.batches(); !slices.Equal(got, []int64{1, 2, 1}) {
		t.Errorf("batches %v, want [1 2 1]: the [1,3] request runs apart", got)
	}
}

// A model whose outputs do not follow the stacked inputs (here a second output sums the
// batch's rows: one row whatever the batch) cannot share its run among requests: the batch's
// requests each run alone and get their own answer, and batching stops for the model.
func TestBatchingStopsWhenOutputsDoNotFollowIt(t *testing.T) {
	b := New(Config{BatchSize: 4, MaxDelay: time.Hour, QueueSize: 100}, true, newFakeClock())
	r := &recorder{hold: make(chan struct{})}
	total := func(ctx context.Context, limit time.Duration, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		out, err := r.run(ctx, limit, in)
		if err != nil {
			return nil, err
		}
		v, _ := tensor.Values[float32](in[0])
		sum := make([]float32, 2)
		for i, x := range v {
			sum[i%2] += x
		}
		return append(out, tensor.New([]int64{1, 2}, sum)), nil
	}
	p := NewPool(b, total, slog.New(slog.DiscardHandler))
	p.OutputNames = []string{"y", "total"}
	p.Scale(1)
	t.Cleanup(func() { p.Scale(0) })

	busy := submit(b, context.Background(), row(1), 0)
	waitFor(t, "the worker busy", func() bool { return r.running.Load() == 1 })
	var rest []chan submitted
	for i := range 3 {
		rest = append(rest, submit(b, context.Background(), row(float32(10+i)), 0))
	}
	waitFor(t, "3 queued", func() bool { return b.Pending() == 3 })
	r.release()
	<-busy
	for i, ch := range rest {
		res := <-ch
		if res.err != nil {
			t.Fatalf("request %d: %v", i, res.err)
		}
		x := float32(10 + i)
		y, _ := tensor.Values[float32](res.out[0])
		sum, _ := tensor.Values[float32](res.out[1])
		if !slices.Equal(y, []float32{2 * x, 2 * x}) || !slices.Equal(sum, []float32{x, x}) {
			t.Errorf("request %d got y %v, total %v; want its own run's", i, y, sum)
		}
	}
	if got := r.batches(); !slices.Equal(got, []int64{1, 3, 1, 1, 1}) {
		t.Errorf("runs %v, want [1 3 1 1 1]: the batch of 3, then each of its requests alone", got)
	}
	if why, want := b.Unbatchable(), `output "total" had 1 rows for a batch of 3 items`; why != want {
		t.Errorf("Unbatchable() = %q, want %q", why, want)
	}

	// from now on every request runs alone
	r.mu.Lock()
	r.hold = make(chan struct{})
	r.mu.Unlock()
	busy = submit(b, context.Background(), row(1), 0)
	waitFor(t, "the worker busy", func() bool { return r.running.Load() == 1 })
	a, c := submit(b, context.Background(), row(2), 0), submit(b, context.Background(), row(3), 0)
	waitFor(t, "2 queued", func() bool { return b.Pending() == 2 })
	r.release()
	for _, ch := range []chan submitted{busy, a, c} {
		if res := <-ch; res.err != nil {
			t.Fatal(res.err)
		}
	}
	if got := r.batches(); !slices.Equal(got[5:], []int64{1, 1, 1}) {
		t.Errorf("runs after batching stopped %v, want [1 1 1]", got[5:])
	}
}

// heldBatch runs a batch of the given rows (after a lone first request) on one worker of a
// batcher whose run is model(r) for a recorder r, and returns each request's result and the
// rows of every run after the first.
func heldBatch(t *testing.T, model func(r *recorder) RunFunc, rows ...float32) (*Batcher, []submitted, []int64) {
	b := New(Config{BatchSize: 4, MaxDelay: time.Hour, QueueSize: 100}, true, newFakeClock())
	r := &recorder{hold: make(chan struct{})}
	p := NewPool(b, model(r), slog.New(slog.DiscardHandler))
	p.Scale(1)
	t.Cleanup(func() { p.Scale(0) })
	busy := submit(b, context.Background(), row(1), 0)
	waitFor(t, "the worker busy", func() bool { return r.running.Load() == 1 })
	var chans []chan submitted
	for i, v := range rows {
		chans = append(chans, submit(b, context.Background(), row(v), 0))
		waitFor(t, "queued", func() bool { return b.Pending() == i+1 })
	}
	r.release()
	<-busy
	var results []submitted
	for _, ch := range chans {
		results = append(results, <-ch)
	}
	return b, results, r.batches()[1:]
}

// failingOn is a recorder's run that fails where failing says.
func failingOn(failing func(rows int64, values []float32) bool) func(r *recorder) RunFunc {
	return func(r *recorder) RunFunc {
		return func(ctx context.Context, limit time.Duration, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			out, err := r.run(ctx, limit, in)
			if v, _ := tensor.Values[float32](in[0]); err == nil && failing(in[0].Shape[0], v) {
				return nil, errors.New("run model: bad input")
			}
			return out, err
		}
	}
}

// A batch whose run fails because of one request's values: each request runs alone, so
// only that one fails, and batching goes on.
func TestFailedBatchFailsOnlyTheFaultyRequest(t *testing.T) {
	negative := func(_ int64, v []float32) bool { return slices.ContainsFunc(v, func(x float32) bool { return x < 0 }) }
	b, results, runs := heldBatch(t, failingOn(negative), 2, -3, 4)
	for i, res := range results {
		if wantErr := i == 1; (res.err != nil) != wantErr {
			t.Errorf("request %d: error %v, want an error: %v", i, res.err, wantErr)
		}
	}
	if v, _ := tensor.Values[float32](results[2].out[0]); !slices.Equal(v, []float32{8, 8}) {
		t.Errorf("request 2 got %v, want [8 8]", v)
	}
	if !slices.Equal(runs, []int64{3, 1, 1, 1}) {
		t.Errorf("runs %v, want [3 1 1 1]: the batch, then each request alone", runs)
	}
	if why := b.Unbatchable(); why != "" {
		t.Errorf("batching stopped (%s); a faulty request is no reason to", why)
	}
}

// A model that fails on any batch of more than one row (a fixed reshape) but runs each
// request alone: every request gets its answer, and batching stops.
func TestModelFailingOnBatchesStopsBatching(t *testing.T) {
	b, results, runs := heldBatch(t, failingOn(func(rows int64, _ []float32) bool { return rows > 1 }), 2, 3, 4)
	for i, res := range results {
		if res.err != nil {
			t.Errorf("request %d: %v", i, res.err)
		}
	}
	if !slices.Equal(runs, []int64{3, 1, 1, 1}) {
		t.Errorf("runs %v, want [3 1 1 1]", runs)
	}
	if why, want := b.Unbatchable(), "a batch of 3 items failed where each of its requests ran alone (run model: bad input)"; why != want {
		t.Errorf("Unbatchable() = %q, want %q", why, want)
	}
}

// A model that fails on batches of more than two rows (a GPU out of memory at a large batch)
// but runs each request alone: every request gets its answer, and later batches hold at most
// half as many rows, not one.
func TestFailedBatchHalvesTheBatchSize(t *testing.T) {
	b, results, runs := heldBatch(t, failingOn(func(rows int64, _ []float32) bool { return rows > 2 }), 2, 3, 4, 5)
	for i, res := range results {
		if res.err != nil {
			t.Errorf("request %d: %v", i, res.err)
		}
	}
	if !slices.Equal(runs, []int64{4, 1, 1, 1, 1}) {
		t.Errorf("runs %v, want [4 1 1 1 1]", runs)
	}
	st := b.Stats()
	if want := "a batch of 4 items failed where each of its requests ran alone (run model: bad input)"; st.Limit != 2 || st.LimitReason != want || b.Unbatchable() != "" {
		t.Errorf("limit %d (%q), stopped %q; want 2 (%q), not stopped", st.Limit, st.LimitReason, b.Unbatchable(), want)
	}
	b.mu.Lock()
	size := b.batchSize()
	b.mu.Unlock()
	if size != 2 {
		t.Errorf("batch size now %d, want 2", size)
	}
}

// altered makes a model for heldBatch from the recorder's: alter changes each run's first
// output (y) in place, given its first input (x).
func altered(alter func(x, y []float32)) func(r *recorder) RunFunc {
	return func(r *recorder) RunFunc {
		return func(ctx context.Context, limit time.Duration, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
			out, err := r.run(ctx, limit, in)
			if err != nil {
				return nil, err
			}
			x, _ := tensor.Values[float32](in[0])
			y, _ := tensor.Values[float32](out[0])
			alter(x, y)
			return out, nil
		}
	}
}

// The first batch of distinct requests is checked: its last request runs alone too, and its
// share of the batch must match. A model whose first dimension is not a batch (here each
// output row adds the sum of the whole input, as attention over a sequence would) mixes the
// stacked requests: each gets its own run's outputs and batching stops. A model that does
// not passes once and is not checked again; identical requests are checked (a model may
// still change their outputs) but prove nothing, so at most maxChecks batches are.
func TestFirstBatchChecked(t *testing.T) {
	mixing := altered(func(x, y []float32) {
		var sum float32
		for _, v := range x {
			sum += v / 2
		}
		for i := range y {
			y[i] += sum
		}
	})
	b, results, runs := heldBatch(t, mixing, 2, 3, 4)
	for i, res := range results {
		x := float32(2 + i)
		if y, _ := tensor.Values[float32](res.out[0]); res.err != nil || !slices.Equal(y, []float32{3 * x, 3 * x}) {
			t.Errorf("request %d: %v %v, want its own run's [%g %g]", i, y, res.err, 3*x, 3*x)
		}
	}
	if !slices.Equal(runs, []int64{3, 1, 1, 1, 1}) {
		t.Errorf("runs %v, want [3 1 1 1 1]: the batch, its last request alone twice, then the others", runs)
	}
	if why, want := b.Unbatchable(), `a batch of 3 requests changed their outputs (request 3, output 0, alone against batched: element 0: 12 against 17): the model mixes the stacked rows`; why != want {
		t.Errorf("Unbatchable() = %q, want %q", why, want)
	}

	plain := func(r *recorder) RunFunc { return r.run }
	b, results, runs = heldBatch(t, plain, 2, 3, 4)
	for i, res := range results {
		if y, _ := tensor.Values[float32](res.out[0]); res.err != nil || y[0] != 2*float32(2+i) {
			t.Errorf("request %d: %v %v", i, y, res.err)
		}
	}
	if !slices.Equal(runs, []int64{3, 1}) || !b.Checked() || b.Unbatchable() != "" {
		t.Errorf("runs %v, checked %v, stopped %q; want [3 1] (the last request alone), checked, not stopped", runs, b.Checked(), b.Unbatchable())
	}

	// identical requests are checked, but do not end the checks
	b, _, runs = heldBatch(t, plain, 5, 5, 5)
	if !slices.Equal(runs, []int64{3, 1}) || b.Checked() || !b.NeedsCheck() {
		t.Errorf("identical requests: runs %v, checked %v, needs a check %v; want [3 1], not checked, needs one", runs, b.Checked(), b.NeedsCheck())
	}
	for range maxChecks - 1 {
		b.CheckPassed(false)
	}
	if b.NeedsCheck() {
		t.Errorf("still checking after %d batches", maxChecks)
	}
}

// A model whose outputs vary from run to run (here a counter added to every output, as random
// sampling would) cannot be checked: the batch's shares stand, batching goes on, and no
// batch is checked again.
func TestNoisyModelNotChecked(t *testing.T) {
	var calls atomic.Int32
	noisy := altered(func(_, y []float32) {
		n := 100 * float32(calls.Add(1))
		for i := range y {
			y[i] += n
		}
	})
	b, results, runs := heldBatch(t, noisy, 2, 3, 4)
	for i, res := range results {
		if res.err != nil {
			t.Errorf("request %d: %v", i, res.err)
		}
	}
	if !slices.Equal(runs, []int64{3, 1, 1}) {
		t.Errorf("runs %v, want [3 1 1]: the batch, the last request alone twice", runs)
	}
	if b.Unbatchable() != "" || b.NeedsCheck() {
		t.Errorf("stopped %q, needs a check %v; want batching on and no more checks", b.Unbatchable(), b.NeedsCheck())
	}
}

func TestWorkerPanicReplaced(t *testing.T) {
	b, p, r, _ := setup(t, Config{BatchSize: 1, QueueSize: 10}, 1)
	// the first request runs on its caller's goroutine (the model is idle); the second
	// waits for the worker, which panics on it
	first := submit(b, context.Background(), row(1), 0)
	waitFor(t, "the first request running", func() bool { return r.running.Load() == 1 })
	r.panics.Store(1)
	second := submit(b, context.Background(), row(2), 0)
	waitFor(t, "queued", func() bool { return b.Pending() == 1 })
	r.release()
	if res := <-first; res.err != nil {
		t.Fatal(res.err)
	}
	if res := <-second; !errors.Is(res.err, ErrWorkerDied) {
		t.Fatalf("err = %v, want a worker failure", res.err)
	}
	// the first replacement has no backoff
	waitFor(t, "the replacement", func() bool { ws := p.Workers(); return len(ws) == 1 && ws[0].ID == 2 && ws[0].State == StateReady })
	out, err := b.Submit(context.Background(), row(3), 0)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tensor.Values[float32](out[0]); v[0] != 6 {
		t.Errorf("after replacement got %v", v)
	}
	// a panic on the caller's goroutine fails that request only
	r.panics.Store(1)
	if _, err := b.Submit(context.Background(), row(4), 0); !errors.Is(err, ErrWorkerDied) {
		t.Errorf("inline panic: %v", err)
	}
	if _, err := b.Submit(context.Background(), row(5), 0); err != nil {
		t.Errorf("after an inline panic: %v", err)
	}
}

// Workers that keep failing are replaced with TorchServe's backoff until MaxRetry has passed
// since the first failure (TorchServe's maxRetryTimeoutInSec); then the last one stays failed,
// requests get ErrNoWorker at once, and a scale starts workers again.
func TestFailingWorkersGiveUpAfterMaxRetry(t *testing.T) {
	clock := newFakeClock()
	b := New(Config{BatchSize: 1, QueueSize: 10}, true, clock)
	r := &recorder{}
	p := NewPool(b, r.run, slog.New(slog.DiscardHandler))
	p.MaxRetry = 3 * time.Second
	p.Scale(1)
	t.Cleanup(func() { p.Scale(0) })
	state := func() string { ws := p.Workers(); return ws[len(ws)-1].State }
	// failOnce makes the worker panic on a request: a first one runs (held) on its caller's
	// goroutine, so the second queues for the worker.
	failOnce := func() {
		t.Helper()
		// the last batch's slot is freed just after its answers: wait, or the first request
		// would queue for the worker instead of running on its caller's goroutine
		waitFor(t, "no batch running", func() bool { return b.Stats().Running == 0 })
		r.mu.Lock()
		r.hold = make(chan struct{})
		r.mu.Unlock()
		inline := submit(b, context.Background(), row(1), 0)
		waitFor(t, "the inline request running", func() bool { return r.running.Load() == 1 })
		queued := submit(b, context.Background(), row(2), 0)
		waitFor(t, "queued", func() bool { return b.Pending() == 1 })
		r.panics.Store(1)
		r.release()
		if res := <-inline; res.err != nil {
			t.Fatal(res.err)
		}
		if res := <-queued; !errors.Is(res.err, ErrWorkerDied) {
			t.Fatalf("err = %v, want a worker failure", res.err)
		}
	}
	// failures at 0 s, 1 s and 2 s: replaced after 0, 1 and 1 s (Fibonacci)
	for _, backoff := range []time.Duration{0, time.Second, time.Second} {
		failOnce()
		if backoff > 0 {
			waitFor(t, "a replacement waiting out its backoff", func() bool { return state() == StateRestarting && clock.pending() == 1 })
			clock.Advance(backoff)
		}
		waitFor(t, "a ready replacement", func() bool { return state() == StateReady })
	}
	// the next backoff is 2 s; the failure after it comes 4 s after the first: no replacement
	failOnce()
	waitFor(t, "a replacement waiting out its backoff", func() bool { return state() == StateRestarting && clock.pending() == 1 })
	clock.Advance(2 * time.Second)
	waitFor(t, "a ready replacement", func() bool { return state() == StateReady })
	failOnce()
	waitFor(t, "the worker given up", func() bool { return state() == StateError })
	if ws := p.Workers(); len(ws) != 1 || readyWorkers(p) != 0 {
		t.Fatalf("workers %+v, ready %d; want the failed one only", ws, readyWorkers(p))
	}
	if _, err := b.Submit(context.Background(), row(3), 0); !errors.Is(err, ErrNoWorker) {
		t.Fatalf("with no worker left: %v, want ErrNoWorker", err)
	}
	p.Scale(1)
	if ws := p.Workers(); len(ws) != 1 || ws[0].State != StateReady {
		t.Fatalf("after a scale: %+v, want one ready worker", ws)
	}
	if _, err := b.Submit(context.Background(), row(4), 0); err != nil {
		t.Fatalf("after a scale: %v", err)
	}
}

// TestManyClients: 32 concurrent clients with batch size 8 each get exactly their own answer.
func TestManyClients(t *testing.T) {
	b := New(Config{BatchSize: 8, MaxDelay: 2 * time.Millisecond, QueueSize: 1000}, true, nil)
	r := &recorder{sleep: time.Millisecond}
	p := NewPool(b, r.run, nil)
	p.Scale(2)
	defer p.Scale(0)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for c := 0; c < 32; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for k := 0; k < 20; k++ {
				v := float32(c*1000 + k)
				out, err := b.Submit(context.Background(), row(v), 0)
				if err != nil {
					errs <- err
					return
				}
				got, _ := tensor.Values[float32](out[0])
				if got[0] != 2*v || got[1] != 2*v {
					errs <- fmt.Errorf("client %d got %v for %v", c, got, v)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if slices.Max(r.batches()) < 2 {
		t.Errorf("no batching happened: %v", r.batches())
	}
}

// TestScaleUnderLoad scales up and down while clients send requests: none fails.
func TestScaleUnderLoad(t *testing.T) {
	b := New(Config{BatchSize: 4, MaxDelay: time.Millisecond, QueueSize: 1000}, true, nil)
	r := &recorder{}
	p := NewPool(b, r.run, nil)
	p.Scale(1)
	var failures atomic.Int32
	var done atomic.Int32
	stop := clients.Loop(8, func(int) bool {
		if _, err := b.Submit(context.Background(), row(1), 0); err != nil {
			failures.Add(1)
		}
		done.Add(1)
		return true
	})
	for _, n := range []int{3, 1, 4, 2, 1} {
		time.Sleep(30 * time.Millisecond)
		p.Scale(n)
	}
	stop()
	p.Scale(0)
	if failures.Load() != 0 || done.Load() < 50 {
		t.Errorf("%d of %d requests failed", failures.Load(), done.Load())
	}
}

// A worker scaled away stops at once even while requests keep the queue full: Next gives it
// no further batch (before, a scale-down under steady load waited seconds for a gap).
func TestStoppedWorkerTakesNoBatch(t *testing.T) {
	b := New(Config{BatchSize: 1, QueueSize: 10}, true, newFakeClock())
	b.SetWorkers(1)
	res := submit(b, context.Background(), row(1), 0)
	waitFor(t, "the request to queue", func() bool { return b.Pending() == 1 })
	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	if bt, err := b.Next(stopped); !errors.Is(err, context.Canceled) || bt != nil {
		t.Fatalf("a stopped worker got a batch (%v) and %v, want none and context.Canceled", bt != nil, err)
	}
	if n := b.Pending(); n != 1 {
		t.Fatalf("%d requests queued after the stopped worker left, want 1", n)
	}
	bt, err := b.Next(context.Background()) // a worker still running takes it
	if err != nil {
		t.Fatal(err)
	}
	bt.Finish([]*tensor.Tensor{tensor.New([]int64{1, 2}, []float32{2, 2})}, time.Millisecond, nil)
	if r := <-res; r.err != nil {
		t.Fatal(r.err)
	}
}

func TestAdaptiveDelay(t *testing.T) {
	clock := newFakeClock()
	b := New(Config{BatchSize: 8, MaxDelay: 100 * time.Millisecond, Adaptive: true}, true, clock)
	// no rate measured yet: no waiting
	if d := b.delay(); d != 0 {
		t.Errorf("no rate: delay %v", d)
	}
	// one request per second: fewer than one more expected within 100 ms, so no waiting
	for i := 0; i < 5; i++ {
		b.stats.arrival(clock.Now())
		clock.Advance(time.Second)
	}
	if d := b.delay(); d != 0 {
		t.Errorf("slow arrivals: delay %v", d)
	}
	// 1000 requests per second, 2 queued: the 6 missing arrive in ~6 ms
	for i := 0; i < 150; i++ {
		b.stats.arrival(clock.Now())
		clock.Advance(time.Millisecond)
	}
	b.queue = []*Job{{items: 1}, {items: 1}}
	// serial clients (each request answered before the next arrives): nothing to wait for
	b.stats.answered(500 * time.Microsecond)
	if h, d := b.holdTarget(), b.delay(); h != 0 || d != 0 {
		t.Errorf("serial clients: hold %d, delay %v", h, d)
	}
	// ten requests in flight at once (10 ms responses at 1000/s): an idle model waits for
	// the 6 missing rows of its batch of 8, about 6 ms
	for i := 0; i < 100; i++ {
		b.stats.answered(10 * time.Millisecond)
	}
	if h := b.holdTarget(); h != 8 {
		t.Errorf("hold target %d, want the batch size 8", h)
	}
	if d := b.delay(); d < 5*time.Millisecond || d > 8*time.Millisecond {
		t.Errorf("fast arrivals: delay %v, want about 6ms", d)
	}
	if b.Stats().LastDelayMS < 5 {
		t.Errorf("stats %+v", b.Stats())
	}
}

// TestAdaptiveSendsAloneWhenBatchingDoesNotPay: the adaptive mode measures an item's run
// time alone and in batches; where batching does not make items faster (a CPU model already
// compute-bound), requests go alone and unheld, with a batch now and then to measure again;
// where it does, batches form as before. A fixed delay keeps batching as configured.
func TestAdaptiveSendsAloneWhenBatchingDoesNotPay(t *testing.T) {
	queue := func(b *Batcher, n int) {
		b.queue = nil
		for range n {
			b.queue = append(b.queue, &Job{items: 1})
		}
	}
	cases := []struct {
		name       string
		adaptive   bool
		batchRun   time.Duration // the run time of a batch of 4 items; alone, an item takes 10 ms
		sendsAlone bool
		speedup    float64
	}{
		{"no faster in batches", true, 40 * time.Millisecond, true, 1},
		{"faster, but under 1.5×", true, 30 * time.Millisecond, true, 40.0 / 30},
		{"three times faster in batches", true, 12 * time.Millisecond, false, 40.0 / 12},
		{"fixed delay", false, 40 * time.Millisecond, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			b := New(Config{BatchSize: 8, MaxDelay: 100 * time.Millisecond, Adaptive: c.adaptive}, true, clock)
			b.SetWorkers(2)
			for range minRuns - 1 {
				b.stats.batch(1, 10*time.Millisecond)
				b.stats.batch(4, c.batchRun)
			}
			if st := b.Stats(); st.SendsAlone || st.BatchSpeedup != 0 {
				t.Fatalf("decided before %d runs each way: %+v", minRuns, st)
			}
			b.stats.batch(4, c.batchRun)
			b.stats.batch(1, 10*time.Millisecond)
			st := b.Stats()
			if st.SendsAlone != c.sendsAlone || math.Abs(st.BatchSpeedup-c.speedup) > 0.01 {
				t.Errorf("stats: sends alone %v, speedup %.2f; want %v, %.2f", st.SendsAlone, st.BatchSpeedup, c.sendsAlone, c.speedup)
			}
			// four requests queued, both workers free
			queue(b, 4)
			jobs, _ := b.form(clock.Now())
			want := 2 // each free worker's share
			if c.sendsAlone {
				want = 1
			}
			if len(jobs) != want {
				t.Errorf("took %d requests, want %d", len(jobs), want)
			}
			if !c.sendsAlone {
				return
			}
			if b.holdTarget() != 0 {
				t.Errorf("hold target %d while sending alone", b.holdTarget())
			}
			alone := func(n int) {
				for range n {
					b.stats.batch(1, 10*time.Millisecond)
				}
			}
			probe := func(what string, want int) {
				t.Helper()
				queue(b, 4)
				if jobs, _ := b.form(clock.Now()); len(jobs) != want {
					t.Errorf("%s: took %d requests, want %d", what, len(jobs), want)
				}
			}
			// after firstProbe runs alone in a row (one ran above), a small batch forms to
			// measure batching again
			alone(firstProbe - 1)
			probe("first probe", probeItems)
			// a probe that finds batching still not paying doubles the wait for the next
			b.stats.batch(probeItems, probeItems*10*time.Millisecond)
			alone(firstProbe)
			probe("before the doubled wait", 1)
			alone(firstProbe)
			probe("after the doubled wait", probeItems)
			// probes that find batches faster (2.5×) bring batching back within a few
			probes := 1
			for b.stats.batch(2, 4*time.Millisecond); b.Stats().SendsAlone && probes < 5; probes++ {
				alone(4 * firstProbe)
				b.stats.batch(2, 4*time.Millisecond)
			}
			queue(b, 4)
			if jobs, _ := b.form(clock.Now()); len(jobs) != 2 || b.Stats().SendsAlone {
				t.Errorf("after %d faster probes: took %d requests, stats %+v", probes, len(jobs), b.Stats())
			}
		})
	}
}

// TestBatchSpeedupIgnoresPreemption: a run preempted or slowed by cold caches (milliseconds
// added to a 40 µs run of a tiny model) does not decide whether batching pays: the least of
// the latest runs does.
func TestBatchSpeedupIgnoresPreemption(t *testing.T) {
	b := New(Config{BatchSize: 8, MaxDelay: 5 * time.Millisecond, Adaptive: true}, true, newFakeClock())
	for i := range 2 * minRuns {
		b.stats.batch(1, 40*time.Microsecond)
		batched := 40 * time.Microsecond // 4 items: 10 µs each, 4× faster than alone
		if i%3 == 0 {
			batched = 3 * time.Millisecond // preempted
		}
		b.stats.batch(4, batched)
	}
	if st := b.Stats(); st.SendsAlone || math.Abs(st.BatchSpeedup-4) > 0.01 {
		t.Errorf("speedup %.2f, sends alone %v; want 4×, batching", st.BatchSpeedup, st.SendsAlone)
	}
}

type callerKey struct{}

// TestLoneRequestRunsOnItsCaller: when a run slot is free, nothing waits and the rules would
// send the request alone at once, it runs on the caller's goroutine (its own context reaches
// the run) even while another batch runs; with a batch delay to honour, it waits instead.
func TestLoneRequestRunsOnItsCaller(t *testing.T) {
	for _, c := range []struct {
		name   string
		cfg    Config
		inline bool
	}{
		{"adaptive, no hold target", Config{BatchSize: 8, MaxDelay: time.Hour, Adaptive: true}, true},
		{"batching off", Config{BatchSize: 1}, true},
		{"fixed delay", Config{BatchSize: 8, MaxDelay: time.Hour}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, _, r, clock := setup(t, c.cfg, 2)
			busy := submit(b, context.Background(), row(1), 0)
			waitFor(t, "one run in flight", func() bool { return r.running.Load() == 1 })
			var onCaller atomic.Bool
			pool := b.inline
			b.mu.Lock()
			b.inline = func(ctx context.Context, limit time.Duration, in []*tensor.Tensor, items int64) ([]*tensor.Tensor, error) {
				onCaller.Store(ctx.Value(callerKey{}) != nil)
				return pool(ctx, limit, in, items)
			}
			b.mu.Unlock()
			second := submit(b, context.WithValue(context.Background(), callerKey{}, true), row(2), 0)
			if c.inline {
				waitFor(t, "the second request to run", func() bool { return r.running.Load() == 2 })
				if !onCaller.Load() {
					t.Error("the second request did not run on its caller's goroutine")
				}
			} else {
				waitFor(t, "the second request to queue", func() bool { return b.Pending() == 1 })
				clock.Advance(time.Hour)
				waitFor(t, "the second request to run after the delay", func() bool { return r.running.Load() == 2 })
				if onCaller.Load() {
					t.Error("the second request ran inline instead of waiting for its batch")
				}
			}
			r.release()
			for _, ch := range []chan submitted{busy, second} {
				if res := <-ch; res.err != nil {
					t.Fatal(res.err)
				}
			}
		})
	}
}
