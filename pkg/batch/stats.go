package batch

import (
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
}

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
}

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

// holdTarget is, in adaptive mode, how many rows a batch waits for: each worker's share of
// the requests in flight at once (Little's law), up to the batch size. Below 2 (serial
// clients) nothing is held: no company would come.
func (b *Batcher) holdTarget() int64 {
	if !b.cfg.Adaptive || b.batchSize() < 2 || b.cfg.MaxDelay <= 0 {
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
	return s
}
