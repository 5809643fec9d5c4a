package batch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/tsserve/ts/pkg/backoff"
	"github.com/tsserve/ts/pkg/tensor"
)

// RunFunc runs the model on a batch of stacked inputs. It stops early when ctx ends, or,
// with context.DeadlineExceeded, when it has taken longer than limit (0: no limit).
type RunFunc func(ctx context.Context, limit time.Duration, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)

// Worker states, as TorchServe's describe shows them.
const (
	StateReady      = "READY"
	StateRestarting = "RESTARTING"
	StateStopping   = "STOPPING"
	// StateError is a failed worker that was not replaced: workers had been failing for
	// longer than the pool's MaxRetry. Scaling replaces it.
	StateError = "ERROR"
)

// WorkerInfo describes a worker.
type WorkerInfo struct {
	ID        int
	Started   time.Time
	State     string
	Batches   int64
	Failures  int
	LastError string
}

type worker struct {
	info   WorkerInfo
	cancel context.CancelFunc
	done   chan struct{}
}

// Pool runs a batcher's batches on a set of workers (goroutines sharing one ONNX Runtime
// session). A worker that panics fails its batch with a clear error and is replaced after
// TorchServe's Fibonacci backoff (0, 1, 1, 2, 3, 5, ... seconds, reset by a success).
type Pool struct {
	b     *Batcher
	run   RunFunc
	log   *slog.Logger
	clock Clock
	// OnBatch, if set, is called after each batch with its report. Set it before the first
	// Scale: from then on requests run.
	OnBatch func(Report)
	// OutputNames are the model's output names, for messages. Set it before the first Scale.
	OutputNames []string
	// MaxRetry is how long workers may keep failing (from the first failure with no
	// successful batch since) and still be replaced: TorchServe's maxRetryTimeoutInSec.
	// NewPool sets backoff.NoLimit. Set it before the first Scale.
	MaxRetry time.Duration

	mu       sync.Mutex
	workers  []*worker
	nextID   int
	restarts backoff.Restarts
}

// NewPool creates a pool with no workers.
func NewPool(b *Batcher, run RunFunc, log *slog.Logger) *Pool {
	if log == nil {
		log = slog.Default()
	}
	return &Pool{b: b, run: run, log: log, clock: b.clock, MaxRetry: backoff.NoLimit}
}

// Report is what a worker tells of a batch it ran.
type Report struct {
	Items  int64
	Queued []time.Duration // each request's wait in the queue (read-only)
	Run    time.Duration   // the batch's run, its inputs stacked
	// Worker is the worker's own time on the batch besides the model's run: stacking the
	// inputs, sharing out the outputs (TorchServe's WorkerThreadTime; 0 for a lone request
	// run on its own goroutine).
	Worker time.Duration
	Err    error
}

// notQueued is the queue time of an inline run (read-only).
var notQueued = []time.Duration{0}

// runInline runs a lone request on the caller's goroutine, with the same failure handling
// and statistics as a worker's batch.
func (p *Pool) runInline(ctx context.Context, limit time.Duration, inputs []*tensor.Tensor, items int64) (outputs []*tensor.Tensor, err error) {
	start := p.clock.Now()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrWorkerDied, r)
			p.log.Error("run panicked", "panic", r, "stack", string(debug.Stack()))
		}
		run := p.clock.Now().Sub(start)
		p.b.mu.Lock()
		p.b.stats.batch(max(items, 1), run)
		p.b.mu.Unlock()
		if p.OnBatch != nil {
			p.OnBatch(Report{Items: max(items, 1), Queued: notQueued, Run: run, Err: err})
		}
	}()
	return p.run(ctx, limit, inputs)
}

// Scale starts or stops workers until n run, in place of any that failed for good. Stopping
// workers finish their batch first; Scale returns once the stopped workers have exited.
func (p *Pool) Scale(n int) {
	p.mu.Lock()
	var stopping []*worker
	if live := slices.DeleteFunc(p.workers, func(w *worker) bool { return w.info.State == StateError }); len(live) < len(p.workers) {
		p.workers = live // their goroutines have ended; a scale is a fresh start
		p.restarts.Succeeded()
	}
	for len(p.workers) < n {
		p.startLocked(0)
	}
	for len(p.workers) > n {
		w := p.workers[len(p.workers)-1]
		p.workers = p.workers[:len(p.workers)-1]
		w.info.State = StateStopping
		w.cancel()
		stopping = append(stopping, w)
	}
	p.b.mu.Lock()
	p.b.inline = p.runInline // lone requests may run on their callers from now on
	p.b.mu.Unlock()
	p.b.SetWorkers(n)
	p.mu.Unlock()
	for _, w := range stopping {
		<-w.done
	}
}

// startLocked starts a worker after delay.
func (p *Pool) startLocked(delay time.Duration) *worker {
	p.nextID++
	ctx, cancel := context.WithCancel(context.Background())
	w := &worker{info: WorkerInfo{ID: p.nextID, Started: p.clock.Now(), State: StateReady}, cancel: cancel, done: make(chan struct{})}
	if delay > 0 {
		w.info.State = StateRestarting
	}
	p.workers = append(p.workers, w)
	go p.loop(ctx, w, delay)
	return w
}

func (p *Pool) loop(ctx context.Context, w *worker, delay time.Duration) {
	defer close(w.done)
	if delay > 0 {
		timer, stop := p.clock.After(delay)
		select {
		case <-timer:
		case <-ctx.Done():
			stop()
			return
		}
		p.mu.Lock()
		w.info.State, w.info.Started = StateReady, p.clock.Now()
		p.mu.Unlock()
	}
	for {
		bt, err := p.b.Next(ctx)
		if err != nil {
			return
		}
		if panicked := p.runBatch(w, bt); panicked {
			p.replace(w)
			return
		}
	}
}

// runBatch runs one batch; it reports whether the run panicked.
func (p *Pool) runBatch(w *worker, bt *Batch) (panicked bool) {
	start := p.clock.Now()
	var runStart time.Time
	var model time.Duration // the stacked run's own time
	var outputs []*tensor.Tensor
	var each [][]*tensor.Tensor // set when the batch's jobs ran one at a time
	var errs []error
	var err error
	defer func() {
		if r := recover(); r != nil {
			panicked, each = true, nil
			err = fmt.Errorf("%w: %v", ErrWorkerDied, r)
			p.log.Error("worker panicked", "worker", w.info.ID, "panic", r, "stack", string(debug.Stack()))
		}
		run := p.clock.Now().Sub(start)
		for _, j := range bt.Jobs {
			if j.timing != nil { // before the answer: the caller reads it then
				j.timing.RunStart, j.timing.RunEnd = runStart, runStart.Add(model)
			}
		}
		if each != nil {
			bt.FinishEach(each, errs, run)
			err = errors.Join(errs...)
		} else {
			bt.Finish(outputs, run, err)
		}
		p.mu.Lock()
		w.info.Batches++
		if err != nil {
			w.info.Failures++
			w.info.LastError = err.Error()
		} else {
			p.restarts.Succeeded()
		}
		p.mu.Unlock()
		if p.OnBatch != nil {
			p.OnBatch(Report{Items: bt.Items(), Queued: bt.Queued, Run: run, Worker: p.clock.Now().Sub(start) - model, Err: err})
		}
	}()
	inputs, err := bt.Inputs()
	if err != nil {
		return false
	}
	ctx, cancel := bt.Context()
	defer cancel()
	runStart = p.clock.Now()
	outputs, err = p.run(ctx, bt.Limit(runStart), inputs)
	model = p.clock.Now().Sub(runStart)
	if len(bt.Jobs) < 2 {
		return false
	}
	switch {
	case err == nil:
		why := bt.Mismatch(outputs, p.OutputNames)
		if why == "" {
			if p.b.NeedsCheck() {
				each, errs = p.check(bt, outputs)
			}
			return false
		}
		// The model's outputs do not follow its batch dimension (e.g. detections counted
		// over the whole batch): the stacked run cannot be shared out. Batch no more, and
		// run each request of this batch by itself.
		p.b.StopBatching(why)
		p.log.Warn("batching stopped: the model's outputs do not follow the batch; each request now runs alone", "reason", why)
		each, errs = p.runEach(bt)
	case !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		// The stacked run failed: one request's values may be at fault (a token id past the
		// vocabulary), the batch may be too large (out of GPU memory), or the model may not
		// run batches at all (a fixed reshape). Each request runs alone, so that only a
		// faulty one fails; if none is, later batches are halved.
		batchErr := err
		each, errs = p.runEach(bt)
		if slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
			return false
		}
		why := fmt.Sprintf("a batch of %d items failed where each of its requests ran alone (%v)", bt.Items(), batchErr)
		if limit := p.b.BatchFailed(bt.Items(), why); limit > 1 {
			p.log.Warn("batch size limited: a batch failed where its requests ran alone", "limit", limit, "reason", why)
		} else {
			p.log.Warn("batching stopped: the model fails on batches; each request now runs alone", "reason", why)
		}
	}
	return false
}

// Tolerances within which a request's share of a batch's outputs must match its own run.
// They are loose on purpose: batched kernels round differently (most in half precision), and
// dynamic quantization scales activations over the whole batch; a model that mixes stacked
// rows changes its outputs far more.
const (
	checkAbsTol = 0.05
	checkRelTol = 0.1
)

// check runs the batch's last job alone and compares its outputs with its share of the
// batch's (until a batch of distinct requests passes: Batcher.NeedsCheck). A model whose
// first dimension is not a batch (a sequence, boxes) mixes the stacked requests; the last
// one shows it even when the mixing is causal (each row sees the rows before it). Then
// batching stops, and every job gets its own run's outputs (returned; nil when the batch's
// shares stand). Before that verdict the job runs alone a second time: a model whose outputs
// vary from run to run cannot be checked, and is not. One extra run is the check's whole
// cost while the model passes.
func (p *Pool) check(bt *Batch, outputs []*tensor.Tensor) ([][]*tensor.Tensor, []error) {
	shares, err := bt.Shares(outputs)
	if err != nil {
		return nil, nil // Finish reports it
	}
	last := len(bt.Jobs) - 1
	alone, err := p.runAlone(bt, last)
	if err != nil {
		return nil, nil // no verdict from a failed run; the batch's shares stand
	}
	i, diff := diffOutputs(alone, shares[last])
	if diff == "" {
		distinct := bt.Distinct()
		p.b.CheckPassed(distinct)
		p.log.Debug("batching checked: a batch's last request alone matches its share", "requests", len(bt.Jobs), "distinct", distinct)
		return nil, nil
	}
	if again, err := p.runAlone(bt, last); err != nil || !sameOutputs(alone, again) {
		// The model's outputs vary from run to run (random sampling, dropout left on):
		// no check can tell mixing from noise. The batch's shares stand; no more checks.
		p.b.CheckPassed(true)
		p.log.Info("batching not checked: the model's outputs vary from run to run", "requests", len(bt.Jobs))
		return nil, nil
	}
	why := fmt.Sprintf("a batch of %d requests changed their outputs (request %d, output %s, alone against batched: %s): the model mixes the stacked rows",
		len(bt.Jobs), last+1, outputName(p.OutputNames, i), diff)
	p.b.StopBatching(why)
	p.log.Warn("batching stopped: requests batched together do not get the outputs they get alone; each request now runs alone", "reason", why)
	each, errs := make([][]*tensor.Tensor, len(bt.Jobs)), make([]error, len(bt.Jobs))
	for k := range last {
		each[k], errs[k] = p.runAlone(bt, k)
	}
	each[last] = alone
	return each, errs
}

// diffOutputs says how the second run's outputs differ from the first's, within the
// check's tolerances: the first output that differs and how, or "" when none does.
func diffOutputs(a, b []*tensor.Tensor) (int, string) {
	if len(a) != len(b) {
		return 0, fmt.Sprintf("%d outputs against %d", len(a), len(b))
	}
	for i := range a {
		if diff := tensor.Differ(a[i], b[i], checkAbsTol, checkRelTol); diff != "" {
			return i, diff
		}
	}
	return 0, ""
}

// sameOutputs reports whether two runs' outputs match within the check's tolerances.
func sameOutputs(a, b []*tensor.Tensor) bool {
	_, diff := diffOutputs(a, b)
	return diff == ""
}

// runAlone runs job k of the batch by itself, with its own context and time limit.
func (p *Pool) runAlone(bt *Batch, k int) ([]*tensor.Tensor, error) {
	in, ctx, limit := bt.Alone(k, p.clock.Now())
	return p.run(ctx, limit, in)
}

// runEach runs each job of the batch by itself.
func (p *Pool) runEach(bt *Batch) ([][]*tensor.Tensor, []error) {
	outputs, errs := make([][]*tensor.Tensor, len(bt.Jobs)), make([]error, len(bt.Jobs))
	for k := range bt.Jobs {
		outputs[k], errs[k] = p.runAlone(bt, k)
	}
	return outputs, errs
}

// replace swaps a failed worker for a new one after TorchServe's backoff, unless workers
// have failed for longer than MaxRetry.
func (p *Pool) replace(failed *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	delay := p.restarts.Fail(now)
	if p.restarts.GivenUp(now, p.MaxRetry) {
		// As TorchServe: after maxRetryTimeoutInSec of failures, no more replacements.
		failed.info.State = StateError
		live := 0
		for _, w := range p.workers {
			if w.info.State != StateError {
				live++
			}
		}
		p.b.SetWorkers(live) // with none left, requests get 503 at once rather than wait
		p.log.Error("worker not replaced: workers have failed for longer than maxRetryTimeoutInSec; scale the model to start workers again",
			"worker", failed.info.ID, "failing_for", p.restarts.FailingFor(now).Round(time.Millisecond), "max_retry", p.MaxRetry, "workers_left", live)
		return
	}
	for i, w := range p.workers {
		if w == failed {
			p.workers = append(p.workers[:i], p.workers[i+1:]...)
			nw := p.startLocked(delay)
			p.log.Warn("worker replaced", "old", failed.info.ID, "new", nw.info.ID, "backoff", delay)
			return
		}
	}
}

// Workers describes the workers.
func (p *Pool) Workers() []WorkerInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]WorkerInfo, len(p.workers))
	for i, w := range p.workers {
		out[i] = w.info
	}
	return out
}

// Size is the number of workers.
func (p *Pool) Size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.workers)
}
