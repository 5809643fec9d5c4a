package handler

import (
	"cmp"
	"context"
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
// requests and explanations go alone.

// gathering is a custom handler's queue of requests waiting for a batch, and the goroutine
// that sends them (started with the first request).
type gathering struct {
	mu      sync.Mutex
	queue   []*queued
	started bool
	stopped bool
	arrived chan struct{} // a request was queued (capacity 1)
	ctx     context.Context
	cancel  context.CancelFunc
}

// queued is a request waiting in a batch queue, then in a batch.
type queued struct {
	req  *Request
	at   time.Time
	done chan queuedResult // its answer (capacity 1)

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
	if h.model.BatchSize <= 1 || req.Sequence != "" || req.Header.Get(ExplainHeader) != "" {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.batches
}

// handleInBatch queues req for the next batch and waits for its answer; a request whose
// context ends leaves the queue (or, already sent, its batch's answer is dropped).
func (h *customHandler) handleInBatch(ctx context.Context, req *Request) (*Response, error) {
	q := &queued{req: req, at: time.Now(), done: make(chan queuedResult, 1)}
	if err := h.enqueue(q); err != nil {
		return nil, err
	}
	select {
	case r := <-q.done:
		return r.res, r.err
	case <-ctx.Done():
		h.gather.remove(q)
		q.leave()
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

// take waits until n requests are queued or the oldest has waited delay, and takes up to n
// of them (none when the queue empties or the handler closes meanwhile).
func (g *gathering) take(n int, delay time.Duration) []*queued {
	for {
		g.mu.Lock()
		if len(g.queue) == 0 {
			g.mu.Unlock()
			return nil
		}
		wait := time.Until(g.queue[0].at.Add(delay))
		if len(g.queue) >= n || wait <= 0 {
			k := min(n, len(g.queue))
			items := slices.Clone(g.queue[:k])
			g.queue = slices.Delete(g.queue, 0, k)
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

// sendBatches takes a free process whenever requests wait, fills a batch for it (take) and
// sends it, until the handler closes.
func (h *customHandler) sendBatches() {
	g := &h.gather
	for {
		select {
		case <-g.arrived:
		case <-g.ctx.Done():
			g.failAll(h.unloading())
			return
		}
		if g.waiting() == 0 {
			continue
		}
		p, err := h.acquire(g.ctx, "", false) // its queue is bounded already
		if err != nil {
			if g.ctx.Err() != nil {
				err = h.unloading()
			}
			g.failAll(err) // what each would have got alone: no worker, a handler that does not start
			continue
		}
		items := g.take(h.model.BatchSize, h.model.MaxBatchDelay)
		if len(items) == 0 {
			h.putBack(p)
			continue
		}
		go h.runBatch(p, items)
		if g.waiting() > 0 {
			g.signal()
		}
	}
}

// runBatch sends items to p in one "batch" frame and answers each from its reply; a failure
// of the whole batch (an exception, a process that died) answers them all.
func (h *customHandler) runBatch(p *proc, items []*queued) {
	f := &handlerkit.Frame{Type: "batch"}
	for i, q := range items {
		req := q.req
		f.Requests = append(f.Requests, handlerkit.FrameRequest{ID: req.ID, Headers: req.Header, Query: req.Query})
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
	queued := make([]time.Duration, len(items))
	for i, q := range items {
		queued[i] = sent.Sub(q.at)
	}
	reply, err := h.callOn(context.Background(), p, f, onPart)
	h.report(int64(len(items)), queued, time.Since(sent), err)
	if err == nil && (reply.Type != "responses" || len(reply.Replies) != len(items)) {
		err = apierror.Internal("custom handler answered %q with %d replies to a batch of %d requests, want responses, one per request",
			reply.Type, len(reply.Replies), len(items))
	}
	if err != nil {
		for _, q := range items {
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
	for i, q := range items {
		q.mu.Lock()
		joined := q.joined
		q.mu.Unlock()
		q.done <- queuedResult{res: h.response(reply.Replies[i], joined, bodies[i])}
	}
}

// part passes on a part of the request's answer sent before the rest: to its stream, or kept
// to go in front of the answer.
func (q *queued) part(body []byte, contentType string) {
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
}

// leave marks the request gone once no part is being written to its stream: its handler
// returns, and what the batch sends it later is dropped.
func (q *queued) leave() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.gone = true
}
