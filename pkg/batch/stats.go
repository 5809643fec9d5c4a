package batch

import (
	"slices"
	"time"
)

// stats keeps moving averages of the arrival rate and batch run time, for the adaptive
// delay and for describe.
type stats struct {
	lastArrival time.Time
	gap         float64 // mean seconds between arrivals (EWMA)
	response    float64 // mean seconds from queueing to answer (EWMA)
	responses   int64
	runTime     float64 // mean seconds per batch (EWMA)
	batchItems  float64 // mean items per batch (EWMA)
	batches     int64
	lastDelay   time.Duration

	// Run seconds per item of the latest runs alone (batches of one item) and batched (two
	// or more), to tell whether batching speeds the model up, and the runs of one item since
	// the last of two or more.
	itemAlone, itemBatched recent
	aloneInARow            int
	probeEvery             int // runs of one item in a row before a probe batch; 0: firstProbe
}

// recent keeps the latest runWindow samples of a run time. Their least is the run's own
// cost: preemption and cold caches only ever add to it (a tiny model's 40 µs run preempted
// once takes milliseconds), and would swamp an average.
type recent struct {
	samples [runWindow]float64
	n       int64 // samples seen
}

const runWindow = 16

func (r *recent) add(v float64) {
	r.samples[r.n%runWindow] = v
	r.n++
}

// least is the least of the samples kept (0 with none).
func (r *recent) least() float64 {
	kept := r.samples[:min(r.n, runWindow)]
	if len(kept) == 0 {
		return 0
	}
	return slices.Min(kept)
}

// Whether batching pays, in adaptive mode: each way needs minRuns runs measured, and
// batching must run an item at least payingSpeedup times faster than alone: a request waits
// for its whole batch, which a smaller gain does not repay (ResNet-18 on a CPU thread runs
// items 1.1–1.2× faster in batches of 16, and serves no more for it). When it does
// not, requests go alone, and after firstProbe runs of one item in a row a batch of
// probeItems may form to measure it again; each probe that finds batching still not paying
// doubles the wait for the next, up to lastProbe.
const (
	minRuns        = 5
	payingSpeedup  = 1.5
	firstProbe     = 20
	lastProbe      = 640
	probeItems     = 2
	unknownSpeedup = 0
)

const ewmaWeight = 0.1

func ewma(old, v float64, first bool) float64 {
	if first {
		return v
	}
	return old + ewmaWeight*(v-old)
}

func (s *stats) arrival(now time.Time) {
	if !s.lastArrival.IsZero() {
		gap := now.Sub(s.lastArrival).Seconds()
		s.gap = ewma(s.gap, gap, s.gap == 0)
	}
	s.lastArrival = now
}

func (s *stats) answered(d time.Duration) {
	s.response = ewma(s.response, d.Seconds(), s.responses == 0)
	s.responses++
}

// concurrency estimates how many requests are in flight at once (Little's law: arrival
// rate × response time).
func (s *stats) concurrency() float64 {
	if s.gap <= 0 || s.responses == 0 {
		return 0
	}
	return s.response / s.gap
}

func (s *stats) batch(items int64, run time.Duration) {
	s.runTime = ewma(s.runTime, run.Seconds(), s.batches == 0)
	s.batchItems = ewma(s.batchItems, float64(items), s.batches == 0)
	s.batches++
	perItem := run.Seconds() / float64(max(items, 1))
	if items <= 1 {
		s.itemAlone.add(perItem)
		s.aloneInARow++
	} else {
		s.itemBatched.add(perItem)
		s.aloneInARow = 0
		if s.batchingPays() {
			s.probeEvery = firstProbe
		} else {
			s.probeEvery = min(2*max(s.probeEvery, firstProbe/2), lastProbe)
		}
	}
}

// speedup is how many times faster an item runs in a batch than alone, by the least of the
// latest runs each way; unknownSpeedup (0) until both have been measured minRuns times.
func (s *stats) speedup() float64 {
	if s.itemAlone.n < minRuns || s.itemBatched.n < minRuns || s.itemBatched.least() <= 0 {
		return unknownSpeedup
	}
	return s.itemAlone.least() / s.itemBatched.least()
}

// batchingPays reports whether batching is worth its wait: not known yet, or items run at
// least payingSpeedup times faster in batches.
func (s *stats) batchingPays() bool {
	sp := s.speedup()
	return sp == unknownSpeedup || sp >= payingSpeedup
}

// probeDue reports whether a batch may form to measure batching again: after firstProbe runs
// of one item in a row, or twice as many after each probe that found batching not paying.
func (s *stats) probeDue() bool { return s.aloneInARow >= max(s.probeEvery, firstProbe) }

// delay is how long the oldest request may wait for its batch to fill: the configured
// delay, or in adaptive mode the expected time for the batch target to fill.
func (b *Batcher) delay() time.Duration {
	d := b.cfg.MaxDelay
	if b.cfg.Adaptive {
		d = b.adaptiveDelay()
	}
	b.stats.lastDelay = d
	return d
}

// sendsAlone reports whether the adaptive mode sends requests alone because batching does
// not speed the model up (a CPU model already compute-bound on its threads): waiting for
// company, and stacking, would only add latency.
func (b *Batcher) sendsAlone() bool {
	return b.cfg.Adaptive && b.batchSize() >= 2 && !b.stats.batchingPays()
}

// holdTarget is, in adaptive mode, how many rows a batch waits for: each worker's share of
// the requests in flight at once (Little's law), up to the batch size. Below 2 (serial
// clients) nothing is held: no company would come; nor when batching does not pay.
func (b *Batcher) holdTarget() int64 {
	if !b.cfg.Adaptive || b.batchSize() < 2 || b.cfg.MaxDelay <= 0 || b.sendsAlone() {
		return 0
	}
	share := int64(b.stats.concurrency()) / int64(max(b.workers, 1))
	if share < 2 {
		return 0
	}
	return min(share, int64(b.batchSize()))
}

// adaptiveDelay: the expected time for the rows missing from the hold target to arrive at
// the measured rate, capped at the configured delay; no wait when no arrival rate is known
// or fewer than one more request is expected within the delay.
func (b *Batcher) adaptiveDelay() time.Duration {
	limit := b.cfg.MaxDelay
	if b.stats.gap <= 0 {
		return 0
	}
	rate := 1 / b.stats.gap // requests per second
	if rate*limit.Seconds() < 1 {
		return 0
	}
	var queued int64
	for _, j := range b.queue {
		queued += max(j.items, 1)
	}
	missing := float64(b.holdTarget() - queued)
	if missing <= 0 {
		return 0
	}
	fill := time.Duration(missing / rate * float64(time.Second))
	return min(fill, limit)
}

// Stats is what describe and metrics show about a batcher.
type Stats struct {
	Pending        int     `json:"pendingRequests"`
	Running        int     `json:"runningBatches"` // by workers or on their callers' goroutines
	Remaining      int     `json:"remainingCapacity"`
	Batches        int64   `json:"batches"`
	MeanBatchItems float64 `json:"meanBatchSize"`
	MeanRunMS      float64 `json:"meanBatchRunMs"`
	ArrivalRate    float64 `json:"arrivalRatePerSecond"`
	Concurrency    float64 `json:"concurrency"`
	LastDelayMS    float64 `json:"lastBatchDelayMs"`
	// Limit caps a batch's items below the batch size after a batch failed where its
	// requests ran alone (0: no cap); LimitReason is that batch's error.
	Limit       int    `json:"batchLimit,omitempty"`
	LimitReason string `json:"batchLimitReason,omitempty"`
	// BatchSpeedup is how many times faster an item runs in a batch than alone, measured (0
	// until both are); SendsAlone says the adaptive mode found that batching does not pay
	// (a speedup under 1.5) and sends requests alone.
	BatchSpeedup float64 `json:"batchSpeedup,omitempty"`
	SendsAlone   bool    `json:"sendsAlone,omitempty"`
}

// Stats returns the batcher's current statistics.
func (b *Batcher) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{
		Pending: len(b.queue), Running: b.inflight, Remaining: b.cfg.QueueSize - len(b.queue), Batches: b.stats.batches,
		MeanBatchItems: b.stats.batchItems, MeanRunMS: b.stats.runTime * 1000,
		LastDelayMS: float64(b.stats.lastDelay) / float64(time.Millisecond),
	}
	if b.unbatchable == "" && b.limit > 0 {
		s.Limit, s.LimitReason = b.limit, b.limitWhy
	}
	if b.stats.gap > 0 {
		s.ArrivalRate = 1 / b.stats.gap
	}
	s.Concurrency = b.stats.concurrency()
	s.BatchSpeedup = b.stats.speedup()
	s.SendsAlone = b.sendsAlone()
	return s
}
