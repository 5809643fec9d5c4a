package batch

import (
	"time"
)

// stats keeps moving averages of the arrival rate and batch run time, for the adaptive
// delay and for describe.
type stats struct {
	lastArrival time.Time
	gap         float64 // mean seconds between arrivals (EWMA)
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

func (s *stats) batch(items int64, run time.Duration) {
	s.runTime = ewma(s.runTime, run.Seconds(), s.batches == 0)
	s.batchItems = ewma(s.batchItems, float64(items), s.batches == 0)
	s.batches++
}

// delay is how long the oldest request may wait for its batch to fill. Fixed mode: the
// configured delay. Adaptive mode: the expected time for the missing items to arrive at the
// measured rate, when that fits in the configured delay; no wait at all when fewer than one
// more request is expected within the delay (waiting would only add latency); otherwise the
// configured delay.
func (b *Batcher) delay() time.Duration {
	d := b.cfg.MaxDelay
	if b.cfg.Adaptive {
		d = b.adaptiveDelay()
	}
	b.stats.lastDelay = d
	return d
}

func (b *Batcher) adaptiveDelay() time.Duration {
	limit := b.cfg.MaxDelay
	if b.stats.gap <= 0 {
		return 0 // no arrival rate yet
	}
	rate := 1 / b.stats.gap // requests per second
	if rate*limit.Seconds() < 1 {
		return 0
	}
	var queued int64
	for _, j := range b.queue {
		queued += max(j.items, 1)
	}
	missing := float64(int64(b.cfg.BatchSize) - queued)
	if missing <= 0 {
		return 0
	}
	fill := time.Duration(missing / rate * float64(time.Second))
	return min(fill, limit)
}

// Stats is what describe and metrics show about a batcher.
type Stats struct {
	Pending        int     `json:"pendingRequests"`
	Remaining      int     `json:"remainingCapacity"`
	Batches        int64   `json:"batches"`
	MeanBatchItems float64 `json:"meanBatchSize"`
	MeanRunMS      float64 `json:"meanBatchRunMs"`
	ArrivalRate    float64 `json:"arrivalRatePerSecond"`
	LastDelayMS    float64 `json:"lastBatchDelayMs"`
}

// Stats returns the batcher's current statistics.
func (b *Batcher) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{
		Pending: len(b.queue), Remaining: b.cfg.QueueSize - len(b.queue), Batches: b.stats.batches,
		MeanBatchItems: b.stats.batchItems, MeanRunMS: b.stats.runTime * 1000,
		LastDelayMS: float64(b.stats.lastDelay) / float64(time.Millisecond),
	}
	if b.stats.gap > 0 {
		s.ArrivalRate = 1 / b.stats.gap
	}
	return s
}
