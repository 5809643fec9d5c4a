// Package batch is the dynamic batcher between the APIs and ONNX Runtime: per model version,
// a bounded priority queue of preprocessed requests, the rules that turn it into batches, and
// the workers that run them.
//
// A batch is dispatched as soon as it is full (batch size), or reaches a preferred size, or
// its oldest request has waited the batch delay. When no batch of the model is running, a
// free worker takes what is queued at once: holding requests while the model sits idle only
// adds latency, and while that batch runs the queue grows into the next, larger batch. Only
// requests whose tensors can be stacked (same element types and dimensions but the first)
// share a batch.
package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tsserve/ts/pkg/tensor"
)

// Errors a submitted request may get besides its context's.
var (
	ErrQueueFull  = errors.New("the job queue is full")
	ErrNoWorker   = errors.New("no worker")
	ErrQueueTime  = errors.New("waited too long in the queue")
	ErrClosed     = errors.New("the model is being unloaded")
	ErrWorkerDied = errors.New("worker died")
)

// QueueTimeError is the error of a request rejected after waiting its queue time (its
// policy's MaxQueueTime, or the shorter time it asked for); it is ErrQueueTime.
type QueueTimeError struct{ Limit time.Duration }

func (e *QueueTimeError) Error() string {
	return fmt.Sprintf("waited longer than %v in the queue", e.Limit)
}

// Is makes errors.Is(err, ErrQueueTime) hold.
func (e *QueueTimeError) Is(target error) bool { return target == ErrQueueTime }

// Config are the batching settings of one model version.
type Config struct {
	// BatchSize is the most items a batch holds (1: no batching).
	BatchSize int
	// MaxDelay is how long the oldest request may wait for its batch to fill.
	MaxDelay time.Duration
	// QueueSize is how many requests may wait.
	QueueSize int
	// PreferredSizes are batch sizes dispatched at once when the queue holds enough.
	PreferredSizes []int
	// Queue is the queue policy of every priority without one in PriorityPolicies.
	Queue QueuePolicy
	// PriorityPolicies give some priorities their own queue policy (Triton's
	// priority_queue_policy).
	PriorityPolicies map[int]QueuePolicy
	// Adaptive chooses the delay from the measured arrival rate and run time, up to MaxDelay.
	Adaptive bool
	// Timeout is how long a request may take from Submit to its answer (0: no limit): past
	// it Submit returns context.DeadlineExceeded and a run nobody else waits for is stopped.
	// It costs less than a deadline on each request's context.
	Timeout time.Duration
	// JobTicket accepts a request only when a free worker will take it (TorchServe's
	// useJobTicket): the queue holds at most a batch per free worker, and nothing waits for
	// a busy one; the others get ErrQueueFull.
	JobTicket bool
}

// QueuePolicy is how requests of a priority wait (Config.Queue, Config.PriorityPolicies).
type QueuePolicy struct {
	// MaxQueued is the most requests of the priority that may wait (0: only the queue
	// size bounds them); one more gets ErrQueueFull.
	MaxQueued int
	// MaxQueueTime rejects a request that waited longer in the queue (0: no limit), or,
	// with DelayExpired, moves it behind the requests of its priority that have not waited
	// so long (Triton's queue policy, timeout_action DELAY).
	MaxQueueTime time.Duration
	// DelayExpired delays rather than rejects a request past its MaxQueueTime.
	DelayExpired bool
	// AllowQueueTimeOverride lets a request ask for a shorter MaxQueueTime
	// (WithMaxQueueTime; Triton's allow_timeout_override).
	AllowQueueTimeOverride bool
}

// policy is the queue policy of a priority.
func (c *Config) policy(priority int) QueuePolicy {
	if p, ok := c.PriorityPolicies[priority]; ok {
		return p
	}
	return c.Queue
}

// Job is one request's inputs waiting in the queue.
type Job struct {
	inputs   []*tensor.Tensor
	items    int64
	key      string
	priority int
	ctx      context.Context
	enqueued time.Time
	deadline time.Time     // zero: none (Config.Timeout)
	maxQueue time.Duration // the queue policy's time for this job (0: none)
	delay    bool          // past maxQueue it is delayed rather than rejected
	delayed  bool          // past maxQueue with delay: behind its priority's others
	done     chan result
	taken    bool
	timing   *Timing // nil: not asked for
}

// Timing is when a job's run started and ended (for a trace of the request); the batcher
// fills it before the job's answer.
type Timing struct{ RunStart, RunEnd time.Time }

// queueTimeKey is the context key of a request's own MaxQueueTime.
type queueTimeKey struct{}

// WithMaxQueueTime asks that the request submitted with ctx wait at most d in the queue
// (Triton's request parameter timeout). Where its priority's policy allows it
// (AllowQueueTimeOverride), d shortens the policy's MaxQueueTime; it never lengthens it,
// nor sets one where the policy has none, as in Triton.
func WithMaxQueueTime(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, queueTimeKey{}, d)
}

// MaxQueueTimeOf is the time WithMaxQueueTime asked for (false: none asked).
func MaxQueueTimeOf(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(queueTimeKey{}).(time.Duration)
	return d, ok && d > 0
}

// maxQueueTime is the queue time a request submitted with ctx under policy gets.
func maxQueueTime(ctx context.Context, policy QueuePolicy) time.Duration {
	limit := policy.MaxQueueTime
	if limit > 0 && policy.AllowQueueTimeOverride {
		if d, ok := MaxQueueTimeOf(ctx); ok && d < limit {
			limit = d
		}
	}
	return limit
}

type result struct {
	outputs []*tensor.Tensor
	err     error
}

// Batcher queues jobs and forms batches. It is safe for concurrent use.
type Batcher struct {
	cfg       Config
	batchable bool
	clock     Clock

	mu       sync.Mutex
	queue    []*Job
	changed  chan struct{} // closed and replaced when workers or closing change
	kick     chan struct{} // wakes one idle worker: work arrived
	inflight int           // batches being run (by workers or inline)
	workers  int
	closed   bool
	stats    stats
	// unbatchable says why batching stopped while serving ("" while it goes on): the model's
	// outputs did not follow the stacked inputs, or it failed on batches.
	unbatchable string
	// limit caps the items of a batch below the batch size after a batch failed where its
	// requests ran alone (0: no cap); limitWhy says why.
	limit    int
	limitWhy string
	// checked: a batch of distinct requests gave each the outputs it gets alone; checks:
	// the batches checked so far.
	checked bool
	checks  int
	// inline runs a lone request on its caller's goroutine (set by the pool).
	inline func(ctx context.Context, limit time.Duration, inputs []*tensor.Tensor, items int64) ([]*tensor.Tensor, error)
}

// New creates a batcher. batchable says the model has a dynamic first dimension on every
// input and output, so requests can be stacked; otherwise each batch holds one request.
func New(cfg Config, batchable bool, clock Clock) *Batcher {
	if cfg.BatchSize < 1 || !batchable {
		cfg.BatchSize = 1
	}
	if cfg.QueueSize < 1 {
		cfg.QueueSize = 100
	}
	if clock == nil {
		clock = RealClock
	}
	slices.Sort(cfg.PreferredSizes)
	return &Batcher{cfg: cfg, batchable: batchable, clock: clock, changed: make(chan struct{}), kick: make(chan struct{}, 1)}
}

// Config returns the settings in effect.
func (b *Batcher) Config() Config { return b.cfg }

// batchSize is the most items a batch may hold now: 1 once batching has stopped, the limit
// after failed batches.
func (b *Batcher) batchSize() int {
	switch {
	case b.unbatchable != "":
		return 1
	case b.limit > 0:
		return min(b.limit, b.cfg.BatchSize)
	}
	return b.cfg.BatchSize
}

// BatchFailed records that a batch of items failed to run where each of its requests ran
// alone (why says how): later batches hold at most half as many items (a GPU out of memory
// at a large batch), and batching stops once that is one. It returns the new limit.
func (b *Batcher) BatchFailed(items int64, why string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n := int(items / 2); n <= 1 {
		if b.unbatchable == "" {
			b.unbatchable = why
		}
	} else if n < b.batchSize() {
		b.limit, b.limitWhy = n, why
	}
	return b.batchSize()
}

// StopBatching makes every later batch hold one request: the model cannot run batches (why
// says how). The first reason is kept.
func (b *Batcher) StopBatching(why string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unbatchable == "" {
		b.unbatchable = why
	}
}

// maxChecks bounds the batches checked while none of distinct requests has been (identical
// requests, as load tests send, may not show a model that mixes rows).
const maxChecks = 3

// NeedsCheck reports whether the next batch of several requests should be checked against
// its requests run alone: until one of distinct requests has passed, at most maxChecks.
func (b *Batcher) NeedsCheck() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.checked && b.checks < maxChecks
}

// Checked reports whether a batch of distinct requests passed the check.
func (b *Batcher) Checked() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.checked
}

// CheckPassed records that a batch's outputs matched its requests run alone; distinct says
// its requests were not all the same.
func (b *Batcher) CheckPassed(distinct bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.checks++
	b.checked = b.checked || distinct
}

// Unbatchable says why batching stopped while serving, or "" while it goes on.
func (b *Batcher) Unbatchable() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unbatchable
}

// signal wakes every waiting worker (rare events: workers or closing change).
func (b *Batcher) signal() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// wake wakes one idle worker, if one waits; waking one rather than all matters when
// requests arrive thousands of times a second.
func (b *Batcher) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// SetWorkers tells the batcher how many workers serve it; with none, queued requests fail
// and new ones are refused.
func (b *Batcher) SetWorkers(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.workers = n
	if n == 0 {
		for _, j := range b.queue {
			j.done <- result{err: ErrNoWorker}
		}
		b.queue = nil
	}
	b.signal()
}

// Workers is how many workers serve the batcher.
func (b *Batcher) Workers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.workers
}

// Pending is how many requests wait in the queue.
func (b *Batcher) Pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// Close refuses new requests and fails queued ones; running batches finish.
func (b *Batcher) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for _, j := range b.queue {
		j.done <- result{err: ErrClosed}
	}
	b.queue = nil
	b.signal()
}

// Submit queues a request's inputs and waits for its outputs. Higher priority runs first.
// When ctx ends or Config.Timeout passes first, the request leaves the queue (or its result
// is dropped).
func (b *Batcher) Submit(ctx context.Context, inputs []*tensor.Tensor, priority int) ([]*tensor.Tensor, error) {
	return b.SubmitTimed(ctx, inputs, priority, nil)
}

// SubmitTimed is Submit that also fills timing (when not nil) with when the request's run
// started and ended.
func (b *Batcher) SubmitTimed(ctx context.Context, inputs []*tensor.Tensor, priority int, timing *Timing) ([]*tensor.Tensor, error) {
	items := int64(1)
	if b.batchable {
		items = inputs[0].Shape[0]
		for _, in := range inputs {
			if len(in.Shape) == 0 || in.Shape[0] != items {
				items = -1 // inputs disagree on the batch: run alone
			}
		}
	}
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return nil, ErrClosed
	case b.workers == 0:
		b.mu.Unlock()
		return nil, ErrNoWorker
	case len(b.queue) >= b.cfg.QueueSize, b.cfg.JobTicket && len(b.queue) >= (b.workers-b.inflight)*b.batchSize():
		b.mu.Unlock()
		return nil, ErrQueueFull
	}
	enqueued := b.clock.Now()
	b.stats.arrival(enqueued)
	if len(b.queue) == 0 && b.inflight < b.workers && b.inline != nil && items >= 0 && b.goesAlone(items) {
		// Nothing waits, a run slot is free and the rules would send this request alone at
		// once: run it on this goroutine rather than hand it to a worker and back (two
		// goroutine switches).
		b.inflight++
		inline := b.inline
		b.mu.Unlock()
		if timing != nil {
			timing.RunStart = b.clock.Now()
		}
		outputs, err := inline(ctx, b.cfg.Timeout, inputs, items)
		if timing != nil {
			timing.RunEnd = b.clock.Now()
		}
		b.mu.Lock()
		b.inflight--
		b.stats.answered(b.clock.Now().Sub(enqueued))
		if len(b.queue) > 0 {
			b.wake() // requests came meanwhile: a worker may take them now
		}
		b.mu.Unlock()
		return outputs, err
	}
	policy := b.cfg.policy(priority)
	if policy.MaxQueued > 0 && b.queued(priority) >= policy.MaxQueued {
		b.mu.Unlock()
		return nil, ErrQueueFull
	}
	j := &Job{inputs: inputs, priority: priority, ctx: ctx, done: make(chan result, 1), items: items, enqueued: enqueued, timing: timing,
		maxQueue: maxQueueTime(ctx, policy), delay: policy.DelayExpired}
	if b.cfg.Timeout > 0 {
		j.deadline = enqueued.Add(b.cfg.Timeout)
	}
	if b.batchable {
		j.key = tensor.StackKey(inputs) // only queued jobs need it: to find their batch mates
	}
	// the queue policy (a request still queued after its time is rejected or delayed) and
	// the timeout count from now: their timers start before the job shows in the queue, so
	// that a clock that moves on once it does (a test's) cannot leave them behind
	expired, stopExpired := b.after(j.maxQueue)
	defer stopExpired()
	timedOut, stopTimedOut := b.after(b.cfg.Timeout)
	defer stopTimedOut()
	b.queue = slices.Insert(b.queue, b.place(j), j)
	if b.inflight < b.workers {
		b.wake() // a worker is free (busy ones look at the queue when they finish)
	}
	b.mu.Unlock()

	for {
		select {
		case r := <-j.done:
			b.mu.Lock()
			b.stats.answered(b.clock.Now().Sub(j.enqueued))
			b.mu.Unlock()
			return r.outputs, r.err
		case <-ctx.Done():
			b.unqueue(j) // if it was taken into a batch, its result is dropped (done is buffered)
			return nil, ctx.Err()
		case <-timedOut:
			b.unqueue(j) // as for ctx; the batch's run stops at the last of its deadlines
			return nil, context.DeadlineExceeded
		case <-expired:
			if j.delay {
				b.mu.Lock()
				b.demote(j)
				b.mu.Unlock()
			} else if b.unqueue(j) {
				return nil, &QueueTimeError{j.maxQueue}
			}
			expired = nil // delayed, or already running: wait for it
		}
	}
}

// queued is how many requests of a priority wait.
func (b *Batcher) queued(priority int) int {
	n := 0
	for _, j := range b.queue {
		if j.priority == priority {
			n++
		}
	}
	return n
}

// place is where j goes in the queue: after every job of a higher priority, and of the
// same one unless that job was delayed and j is not.
func (b *Batcher) place(j *Job) int {
	i := len(b.queue)
	for i > 0 {
		prev := b.queue[i-1]
		if prev.priority > j.priority || prev.priority == j.priority && (!prev.delayed || j.delayed) {
			break
		}
		i--
	}
	return i
}

// demote moves a queued job that has waited its queue time behind the other jobs of its
// priority (the queue policy's DELAY); a job already delayed or taken stays.
func (b *Batcher) demote(j *Job) {
	i := slices.Index(b.queue, j)
	if i < 0 || j.delayed {
		return
	}
	b.queue = slices.Delete(b.queue, i, i+1)
	j.delayed = true
	b.queue = slices.Insert(b.queue, b.place(j), j)
}

// after is the clock's After for d > 0; for d ≤ 0 (no limit, or wait for the queue to
// change) a channel that never fires.
func (b *Batcher) after(d time.Duration) (<-chan time.Time, func()) {
	if d <= 0 {
		return nil, func() {}
	}
	return b.clock.After(d)
}

// goesAlone reports whether form would dispatch a lone request of items rows at once, were
// it queued with nothing else: batching is off, or it fills a batch, or nothing asks to hold
// it (an idle model, or a zero or adaptive delay with no hold target).
func (b *Batcher) goesAlone(items int64) bool {
	if b.batchSize() == 1 || items >= int64(b.batchSize()) {
		return true
	}
	if b.holdTarget() > 0 {
		return false
	}
	return b.inflight == 0 || b.cfg.Adaptive || b.cfg.MaxDelay <= 0
}

// unqueue removes a job that has not been taken into a batch; it reports whether it did.
func (b *Batcher) unqueue(j *Job) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i := slices.Index(b.queue, j); i >= 0 {
		b.queue = slices.Delete(b.queue, i, i+1)
		return true
	}
	return false
}

// Batch is a set of jobs a worker runs together.
type Batch struct {
	Jobs []*Job
	b    *Batcher
	// Queued is how long each job waited, in order.
	Queued []time.Duration
}

// Items is the number of items (rows) in the batch.
func (bt *Batch) Items() int64 {
	var n int64
	for _, j := range bt.Jobs {
		n += max(j.items, 1)
	}
	return n
}

// Next blocks until a batch is ready (or ctx ends) and returns it; the worker must call
// Finish on it.
func (b *Batcher) Next(ctx context.Context) (*Batch, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil { // a worker scaled away takes no more batches
			b.mu.Unlock()
			return nil, err
		}
		now := b.clock.Now()
		b.dropExpired(now)
		jobs, wait := b.form(now)
		if jobs != nil {
			b.inflight++
			bt := &Batch{Jobs: jobs, b: b}
			for _, j := range jobs {
				j.taken = true
				bt.Queued = append(bt.Queued, now.Sub(j.enqueued))
			}
			b.mu.Unlock()
			return bt, nil
		}
		changed := b.changed
		timer, stop := b.after(wait) // from now, before the lock goes (see SubmitTimed)
		b.mu.Unlock()
		select {
		case <-changed:
		case <-b.kick:
		case <-timer:
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		}
		stop()
	}
}

// dropExpired removes cancelled jobs and rejects those past their deadline or their queue
// time (or, with their policy's DelayExpired, moves the latter behind their priority's
// others).
func (b *Batcher) dropExpired(now time.Time) {
	kept := b.queue[:0]
	var late []*Job
	for _, j := range b.queue {
		switch {
		case j.ctx.Err() != nil:
		case !j.deadline.IsZero() && !now.Before(j.deadline):
			j.done <- result{err: context.DeadlineExceeded}
		case j.maxQueue > 0 && !j.delayed && now.Sub(j.enqueued) > j.maxQueue:
			if j.delay {
				late = append(late, j)
				kept = append(kept, j)
			} else {
				j.done <- result{err: &QueueTimeError{j.maxQueue}}
			}
		default:
			kept = append(kept, j)
		}
	}
	clear(b.queue[len(kept):])
	b.queue = kept
	for _, j := range late {
		b.demote(j)
	}
}

// form picks the next batch, or says how long to wait for one (0: until the queue changes).
func (b *Batcher) form(now time.Time) ([]*Job, time.Duration) {
	if len(b.queue) == 0 || b.inflight >= max(b.workers, 1) {
		return nil, 0 // nothing to do, or every run slot is taken (by inline runs)
	}
	head := b.queue[0]
	if head.items < 0 || head.items >= int64(b.batchSize()) || b.batchSize() == 1 {
		return b.take([]int{0}), 0
	}
	// the jobs that can join the head's batch, in queue order, up to the batch size
	var picks []int
	var items int64
	for i, j := range b.queue {
		if j.key != head.key || j.items < 0 {
			continue
		}
		if items+j.items > int64(b.batchSize()) {
			break
		}
		picks = append(picks, i)
		items += j.items
	}
	if len(picks) > 1 && b.sendsAlone() {
		if !b.stats.probeDue() {
			return b.take(picks[:1]), 0 // batching does not pay here: each request goes alone, at once
		}
		// a small batch, now, to measure batching again
		var n int64
		for k, i := range picks {
			if n += b.queue[i].items; n >= probeItems || k == len(picks)-1 {
				return b.take(picks[:k+1]), 0
			}
		}
	}
	if idle := int64(b.workers - b.inflight); items < int64(b.batchSize()) && idle > 1 {
		// Short of a full batch, leave the other free workers their share, so that they
		// run batches of similar size rather than one large and several small ones.
		share := (items + idle - 1) / idle
		var n int64
		for k, i := range picks {
			n += b.queue[i].items
			if n >= share {
				picks, items = picks[:k+1], n
				break
			}
		}
	}
	if items >= int64(b.batchSize()) {
		return b.take(picks), 0
	}
	if hold := b.holdTarget(); hold > 0 && items >= hold {
		return b.take(picks), 0 // adaptive: this worker's share of the requests in flight is here
	}
	// the largest preferred size the queued jobs make up exactly
	for k := len(b.cfg.PreferredSizes) - 1; k >= 0; k-- {
		p := int64(b.cfg.PreferredSizes[k])
		if p > items {
			continue
		}
		var n int64
		for cut, i := range picks {
			n += b.queue[i].items
			if n == p {
				return b.take(picks[:cut+1]), 0
			}
			if n > p {
				break
			}
		}
	}
	if b.inflight == 0 && b.workers > 0 && b.holdTarget() == 0 {
		return b.take(picks), 0 // the model is idle: holding requests would only add latency
	}
	delay := b.delay()
	if waited := now.Sub(head.enqueued); waited >= delay {
		return b.take(picks), 0
	} else {
		return nil, delay - waited
	}
}

// take removes the picked jobs (indexes in increasing order) from the queue.
func (b *Batcher) take(picks []int) []*Job {
	jobs := make([]*Job, len(picks))
	for k, i := range picks {
		jobs[k] = b.queue[i]
	}
	for k := len(picks) - 1; k >= 0; k-- {
		b.queue = slices.Delete(b.queue, picks[k], picks[k]+1)
	}
	return jobs
}

// Inputs stacks the batch's inputs along the first dimension.
func (bt *Batch) Inputs() ([]*tensor.Tensor, error) {
	if len(bt.Jobs) == 1 {
		return bt.Jobs[0].inputs, nil
	}
	out := make([]*tensor.Tensor, len(bt.Jobs[0].inputs))
	for i := range out {
		parts := make([]*tensor.Tensor, len(bt.Jobs))
		for k, j := range bt.Jobs {
			parts[k] = j.inputs[i]
		}
		t, err := tensor.Concat(parts)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// Limit is how long the batch's run may take: until the last of its jobs' deadlines, or no
// limit (0) when a job has none.
func (bt *Batch) Limit(now time.Time) time.Duration {
	var last time.Time
	for _, j := range bt.Jobs {
		if j.deadline.IsZero() {
			return 0
		}
		if j.deadline.After(last) {
			last = j.deadline
		}
	}
	return max(last.Sub(now), time.Nanosecond) // a passed deadline still stops the run
}

// Context ends when every job of the batch has been cancelled, so a run nobody waits for
// anymore can be stopped (Limit stops it at the jobs' deadlines).
func (bt *Batch) Context() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	left := len(bt.Jobs)
	var stops []func() bool
	for _, j := range bt.Jobs {
		stops = append(stops, context.AfterFunc(j.ctx, func() {
			mu.Lock()
			left--
			if left == 0 {
				cancel()
			}
			mu.Unlock()
		}))
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// Mismatch says how outputs of a run on the stacked inputs fail to follow the batch (each
// output's first dimension must be the batch's items), or "" when they follow it.
func (bt *Batch) Mismatch(outputs []*tensor.Tensor, names []string) string {
	if len(bt.Jobs) < 2 {
		return ""
	}
	items := bt.Items()
	for i, out := range outputs {
		name := outputName(names, i)
		switch {
		case len(out.Shape) == 0:
			return fmt.Sprintf("output %s was a scalar for a batch of %d items", name, items)
		case out.Shape[0] != items:
			return fmt.Sprintf("output %s had %d rows for a batch of %d items", name, out.Shape[0], items)
		}
	}
	return ""
}

// outputName names output i in messages: its quoted name, or its index when names lack it.
func outputName(names []string, i int) string {
	if i < len(names) {
		return strconv.Quote(names[i])
	}
	return strconv.Itoa(i)
}

// Alone is how to run one job of the batch by itself: its inputs, its context and how long
// its run may take.
func (bt *Batch) Alone(k int, now time.Time) ([]*tensor.Tensor, context.Context, time.Duration) {
	j := bt.Jobs[k]
	var limit time.Duration
	if !j.deadline.IsZero() {
		limit = max(j.deadline.Sub(now), time.Nanosecond)
	}
	return j.inputs, j.ctx, limit
}

// FinishEach hands each job the outputs (or error) of its own run, after the batch's jobs
// were run one at a time, and frees the worker's slot.
func (bt *Batch) FinishEach(outputs [][]*tensor.Tensor, errs []error, runTime time.Duration) {
	bt.deliver(outputs, errs, runTime, true)
}

// Finish hands each job its share of the outputs (or err) and frees the worker's slot.
func (bt *Batch) Finish(outputs []*tensor.Tensor, runTime time.Duration, err error) {
	shares, errs := make([][]*tensor.Tensor, len(bt.Jobs)), make([]error, len(bt.Jobs))
	if err == nil {
		if s, serr := bt.Shares(outputs); serr != nil {
			err = serr
		} else {
			shares = s
		}
	}
	for k := range errs {
		errs[k] = err
	}
	bt.deliver(shares, errs, runTime, false)
}

// deliver hands each job its outputs or error, then frees the worker's slot and records the
// run: as one batch, or (alone) as one run per job sharing runTime.
func (bt *Batch) deliver(outputs [][]*tensor.Tensor, errs []error, runTime time.Duration, alone bool) {
	for k, j := range bt.Jobs {
		j.done <- result{outputs: outputs[k], err: errs[k]}
	}
	bt.b.mu.Lock()
	defer bt.b.mu.Unlock()
	bt.b.inflight--
	if alone {
		for _, j := range bt.Jobs {
			bt.b.stats.batch(max(j.items, 1), runTime/time.Duration(len(bt.Jobs)))
		}
	} else {
		bt.b.stats.batch(bt.Items(), runTime)
	}
	if len(bt.b.queue) > 0 {
		bt.b.wake()
	}
}

// Shares cuts the outputs of a run on the stacked inputs into each job's share.
func (bt *Batch) Shares(outputs []*tensor.Tensor) ([][]*tensor.Tensor, error) {
	if len(bt.Jobs) == 1 {
		return [][]*tensor.Tensor{outputs}, nil
	}
	rows := make([]int64, len(bt.Jobs))
	for k, j := range bt.Jobs {
		rows[k] = j.items
	}
	shares := make([][]*tensor.Tensor, len(bt.Jobs))
	for _, out := range outputs {
		parts, err := out.SplitRows(rows)
		if err != nil {
			return nil, fmt.Errorf("model output does not follow the batch: %w", err)
		}
		for k := range parts {
			shares[k] = append(shares[k], parts[k])
		}
	}
	return shares, nil
}

// Distinct reports whether the jobs' inputs are not all the same (a batch of identical
// requests cannot show whether the model mixes its rows).
func (bt *Batch) Distinct() bool {
	first := bt.Jobs[0].inputs
	for _, j := range bt.Jobs[1:] {
		for i, in := range j.inputs {
			if !tensor.Equal(in, first[i]) {
				return true
			}
		}
	}
	return false
}
