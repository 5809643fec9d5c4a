package handler

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/handlerkit"
)

// A custom handler that runs inference itself and takes batches (a handler file written for
// TorchServe, whose handle gets a list of requests) gets up to the model's batch size of
// requests in one "batch" frame, as TorchServe's workers do: one goroutine takes a free
// process, then sends it the requests waiting, as soon as there are batch size of them or the
// oldest has waited the model's max batch delay. While every process is busy the batch keeps
// growing, so that a request that waited for a process goes at once. A stateful model's
// batches are TorchServe's sequence batching: a batch goes to a process with the requests of
// the sequences bound to it (and of new ones, bound to it then), one request of each
// sequence at a time, in arrival order. With continuous batching (TorchServe's), a request
// whose answer the handler marks as not the last gets it as a part and goes again, first in
// the queue, in the next batch its process gets. Explanations go alone.

// gathering is a custom handler's queue of requests waiting for a batch, and the goroutine
// that sends them (started with the first request).
type gathering struct {
	mu      sync.Mutex // taken before the handler's own (h.mu) where both are held
	queue   []*queued
	started bool
	stopped bool
	arrived chan struct{} // a request was queued (capacity 1)
	ctx     context.Context
	cancel  context.CancelFunc
}

// queued is a request waiting in a batch queue, then in a batch.
type queued struct {
	req   *Request
	at    time.Time         // when it came (a batch waits for company from its oldest's)
	since time.Time         // when it last joined the queue (its time queued)
	proc  *proc             // the process generating its answer, for a request that goes again
	done  chan queuedResult // its answer (capacity 1)

	mu     sync.Mutex
	gone   bool   // the request has left: no more parts go to its stream
	joined []byte // parts of the answer sent before it, for a request without a stream
}

type queuedResult struct {
	res *Response
	err error
}

// batchable reports whether req goes to the handler in a batch.
func (h *customHandler) batchable(req *Request) bool {
	if (h.model.BatchSize <= 1 && !h.model.ContinuousBatching) || req.Header.Get(ExplainHeader) != "" {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.batches
}

// handleInBatch queues req for the next batch and waits for its answer; a request whose
// context ends leaves the queue (or, already sent, its batch's answer is dropped).
func (h *customHandler) handleInBatch(ctx context.Context, req *Request) (*Response, error) {
	now := time.Now()
	q := &queued{req: req, at: now, since: now, done: make(chan queuedResult, 1)}
	if err := h.enqueue(q); err != nil {
		return nil, err
	}
	select {
	case r := <-q.done:
		return r.res, r.err
	case <-ctx.Done():
		q.leave() // first: a batch running it then does not queue it again (requeue)
		h.gather.remove(q)
		return nil, ctx.Err()
	}
}

// enqueue adds q to the queue, starting the goroutine that sends batches with the first.
func (h *customHandler) enqueue(q *queued) error {
	g := &h.gather
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.stopped:
		return h.unloading()
	case h.model.QueueSize > 0 && len(g.queue) >= h.model.QueueSize:
		return batch.ErrQueueFull
	}
	if seq := q.req.Sequence; seq != "" && h.model.SequenceQueue > 0 {
		n := 0 // its sequence's requests waiting (not those between steps of a generation)
		for _, o := range g.queue {
			if o.req.Sequence == seq && o.proc == nil {
				n++
			}
		}
		if n >= h.model.SequenceQueue {
			return sequenceQueueFull(h.model.Name, seq, h.model.SequenceQueue)
		}
	}
	g.queue = append(g.queue, q)
	if !g.started {
		g.started = true
		g.arrived = make(chan struct{}, 1)
		g.ctx, g.cancel = context.WithCancel(context.Background())
		go h.sendBatches()
	}
	g.signal()
	return nil
}

// signal wakes the goroutine sending batches (g.mu held, or after start).
func (g *gathering) signal() {
	select {
	case g.arrived <- struct{}{}:
	default:
	}
}

// stop ends the goroutine; the requests still queued get 503.
func (g *gathering) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = true
	if g.cancel != nil {
		g.cancel()
	}
}

// Queued is how many requests wait for a process or a batch.
func (h *customHandler) Queued() int {
	h.mu.Lock()
	n := h.queued
	h.mu.Unlock()
	return n + h.gather.waiting()
}

func (g *gathering) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

func (g *gathering) remove(q *queued) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i := slices.Index(g.queue, q); i >= 0 {
		g.queue = slices.Delete(g.queue, i, i+1)
	}
}

// failAll answers every queued request with err.
func (g *gathering) failAll(err error) {
	g.mu.Lock()
	queue := g.queue
	g.queue = nil
	g.mu.Unlock()
	for _, q := range queue {
		q.done <- queuedResult{err: err}
	}
}

// take waits until n requests that p may take are queued (pick) or the oldest of them has
// waited delay, and takes up to n of them, binding their sequences to p; none when no request
// for p is left or the handler closes meanwhile.
func (h *customHandler) take(p *proc, n int, delay time.Duration) []*queued {
	g := &h.gather
	for {
		g.mu.Lock()
		picked := h.pick(p, n)
		if len(picked) == 0 {
			g.mu.Unlock()
			return nil
		}
		wait := time.Until(g.queue[picked[0]].at.Add(delay))
		if len(picked) >= n || wait <= 0 {
			items := make([]*queued, len(picked))
			for i, k := range picked {
				items[i] = g.queue[k]
				g.queue[k] = nil
			}
			g.queue = slices.DeleteFunc(g.queue, func(q *queued) bool { return q == nil })
			h.bindBatch(p, items)
			g.mu.Unlock()
			return items
		}
		g.mu.Unlock()
		timer := time.NewTimer(wait)
		select {
		case <-g.arrived:
		case <-timer.C:
		case <-g.ctx.Done():
			timer.Stop()
			return nil
		}
		timer.Stop()
	}
}

// pick lists the places in the queue of up to n requests that may go to p in one batch, in
// order: a request that goes again, if p generates its answer; for a stateful model, the
// first queued request of each sequence that is bound to p, or to no live process while there
// is room for another open sequence (maxNumSequence), beside any of the sequence's requests
// going again (as TorchServe's sequence continuous batching lets a request cancel its
// sequence's generation); any other. g.mu held.
func (h *customHandler) pick(p *proc, n int) []int {
	g := &h.gather
	stateful := h.model.MaxSequences > 0
	var (
		seen map[string]bool // the sequences met so far
		open int             // the sequences open, with those picked to open
	)
	if stateful {
		h.mu.Lock() // after g.mu, always in this order
		defer h.mu.Unlock()
		seen, open = map[string]bool{}, len(h.sequences)
	}
	var picked []int
	for i, q := range g.queue {
		if len(picked) == n {
			break
		}
		if stateful && q.proc == nil { // (a request going again does not hold its sequence back)
			if seen[q.req.Sequence] {
				continue // its sequence's earlier request goes first
			}
			seen[q.req.Sequence] = true
		}
		switch {
		case q.proc != nil: // it goes again, on its process
			if q.proc != p {
				continue
			}
		case stateful:
			if !h.mayOpen(p, q.req.Sequence, &open) {
				continue
			}
		}
		picked = append(picked, i)
	}
	return picked
}

// mayOpen reports whether a request of seq may go to p: its sequence is bound to p, or to no
// live process while fewer than maxNumSequence are open (counted in open). h.mu held.
func (h *customHandler) mayOpen(p *proc, seq string, open *int) bool {
	switch s := h.sequences[seq]; {
	case s != nil && s.p == p:
	case s != nil && !s.p.ended(): // bound to another process
		return false
	case s != nil: // its process has ended: it starts again here
	case *open >= h.model.MaxSequences:
		return false // a new sequence waits for room (sendBatches refuses it when it comes first)
	default:
		*open++
	}
	return true
}

// bindBatch binds the sequences of a batch's requests to p, the process it goes to, and marks
// them used now. g.mu held.
func (h *customHandler) bindBatch(p *proc, items []*queued) {
	if h.model.MaxSequences <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, q := range items {
		h.bind(q.req.Sequence, p)
	}
}

// sendBatches takes a free process whenever requests wait, fills a batch for it (take) and
// sends it, until the handler closes. For a stateful model the process is the one the
// oldest request's sequence is bound to, or, for a new sequence, the one acquire binds it to.
func (h *customHandler) sendBatches() {
	g := &h.gather
	for {
		select {
		case <-g.arrived:
		case <-g.ctx.Done():
			g.failAll(h.unloading())
			return
		}
		first := g.first()
		if first == nil {
			continue
		}
		var (
			p     *proc
			err   error
			seq   string
			isNew bool
		)
		if first.proc != nil { // it goes again: its process holds what it generated so far
			p, err = h.acquireProc(g.ctx, first.proc)
		} else {
			seq, isNew = h.sequenceOf(first.req)
			p, err = h.acquire(g.ctx, seq, false) // its queue is bounded already
		}
		var limit *sequenceLimitError
		switch {
		case errors.As(err, &limit): // this request's new sequence finds maxNumSequence open
			g.remove(first)
			first.done <- queuedResult{err: limit.err}
			g.signal()
			continue
		case errors.Is(err, errProcEnded):
			g.remove(first)
			first.done <- queuedResult{err: apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable,
				"model %s: the handler process generating the answer has stopped", h.model.Name)}
			g.signal()
			continue
		case err != nil:
			if g.ctx.Err() != nil {
				err = h.unloading()
			}
			g.failAll(err) // what each would have got alone: no worker, a handler that does not start
			continue
		}
		items := h.take(p, h.model.BatchSize, h.model.MaxBatchDelay)
		if isNew && !slices.ContainsFunc(items, func(q *queued) bool { return q.req.Sequence == seq }) {
			h.endSequence(seq) // bound for a request that left before its batch
		}
		if len(items) == 0 {
			h.putBack(p)
		} else {
			go h.runBatch(p, items)
		}
		if g.waiting() > 0 {
			g.signal()
		}
	}
}

// errProcEnded says that the process a request goes again on has ended.
var errProcEnded = errors.New("the process has ended")

// acquireProc takes p, the process a request goes again on, waiting while it is busy;
// errProcEnded once it has ended.
func (h *customHandler) acquireProc(ctx context.Context, p *proc) (*proc, error) {
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, h.unloading()
		}
		if i := slices.Index(h.idle, p); i >= 0 {
			h.idle = slices.Delete(h.idle, i, i+1)
			h.mu.Unlock()
			return p, nil
		}
		if p.ended() {
			h.mu.Unlock()
			return nil, errProcEnded
		}
		wait := h.wait
		h.mu.Unlock()
		select {
		case <-wait:
		case <-p.exited:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// first is the oldest queued request (nil: none).
func (g *gathering) first() *queued {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		return nil
	}
	return g.queue[0]
}

// sequenceOf is the sequence a stateful model's request goes in ("" for other models), begun
// afresh (unbound) when the request starts it, and whether no live process has it yet.
func (h *customHandler) sequenceOf(req *Request) (string, bool) {
	if h.model.MaxSequences <= 0 || req.Sequence == "" {
		return "", false
	}
	h.startSequence(req)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sequences[req.Sequence]
	return req.Sequence, s == nil || s.p.ended()
}

// runBatch sends items to p in one "batch" frame and answers each from its reply; a failure
// of the whole batch (an exception, a process that died) answers them all.
func (h *customHandler) runBatch(p *proc, items []*queued) {
	f := &handlerkit.Frame{Type: "batch"}
	for i, q := range items {
		req := q.req
		f.Requests = append(f.Requests, handlerkit.FrameRequest{ID: req.ID, SequenceID: req.Sequence, Headers: req.Header, Query: req.Query})
		for _, in := range req.Inputs {
			f.Blobs = append(f.Blobs, handlerkit.Blob{Name: in.Name, ContentType: in.ContentType, Item: i})
			f.Data = append(f.Data, in.Data)
		}
	}
	onPart := func(part *handlerkit.Frame) error {
		for i, b := range part.Blobs {
			if b.Item < 0 || b.Item >= len(items) {
				h.log.Warn("custom handler sent a part for no request of its batch", "item", b.Item, "batch", len(items))
				continue
			}
			items[b.Item].part(part.Data[i], cmp.Or(b.ContentType, part.ContentType))
		}
		return nil
	}
	h.log.Debug("custom handler batch", "size", len(items))
	sent := time.Now()
	waited := make([]time.Duration, len(items))
	for i, q := range items {
		waited[i] = sent.Sub(q.since)
	}
	reply, err := h.callOn(context.Background(), p, f, onPart)
	h.report(int64(len(items)), waited, time.Since(sent), err)
	if err == nil && (reply.Type != "responses" || len(reply.Replies) != len(items)) {
		err = apierror.Internal("custom handler answered %q with %d replies to a batch of %d requests, want responses, one per request",
			reply.Type, len(reply.Replies), len(items))
	}
	if err != nil {
		for _, q := range items {
			h.answered(q.req)
			q.done <- queuedResult{err: err}
		}
		return
	}
	bodies := make([][]byte, len(items))
	for i, b := range reply.Blobs {
		if b.Item >= 0 && b.Item < len(items) {
			bodies[b.Item] = reply.Data[i]
		}
	}
	var again []*queued
	for i, q := range items {
		r := reply.Replies[i]
		if h.model.ContinuousBatching && r.Headers[streamNextHeader] == "true" { // more to come
			if q.part(bodies[i], r.ContentType) {
				q.proc = p
				again = append(again, q)
			} else {
				h.answered(q.req) // its client has left: no more steps
			}
			continue
		}
		h.answered(q.req)
		q.mu.Lock()
		joined := q.joined
		q.mu.Unlock()
		q.done <- queuedResult{res: h.response(r, joined, bodies[i])}
	}
	for _, q := range h.gather.requeue(again, h.unloading) {
		h.answered(q.req) // its client left meanwhile
	}
}

// streamNextHeader is TorchServe's response header by which a handler (its stopping
// criteria) says that more of the answer is to come: continuous batching sends the request
// again. It is the handler's word to the server, not sent to clients.
const streamNextHeader = "ts_stream_next"

// requeue puts requests that go again at the front of the queue, in their order, but for
// those that have left, which it returns (or answers them unloading() when the handler has
// closed).
func (g *gathering) requeue(items []*queued, unloading func() error) (left []*queued) {
	if len(items) == 0 {
		return nil
	}
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		for _, q := range items {
			q.done <- queuedResult{err: unloading()}
		}
		return nil
	}
	items = slices.DeleteFunc(items, func(q *queued) bool {
		if q.left() {
			left = append(left, q)
			return true
		}
		return false
	})
	for _, q := range items {
		q.since = now
	}
	g.queue = append(items, g.queue...)
	g.signal()
	return left
}

// left reports whether the request has left (leave).
func (q *queued) left() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.gone
}

// part passes on a part of the request's answer sent before the rest: to its stream, or kept
// to go in front of the answer. It reports whether the request is still there.
func (q *queued) part(body []byte, contentType string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.gone:
	case q.req.Stream != nil:
		if err := q.req.Stream(body, contentType); err != nil {
			q.gone = true // the client has gone; the batch goes on
		}
	default:
		q.joined = append(q.joined, body...)
	}
	return !q.gone
}

// leave marks the request gone once no part is being written to its stream: its handler
// returns, and what the batch sends it later is dropped.
func (q *queued) leave() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.gone = true
}
