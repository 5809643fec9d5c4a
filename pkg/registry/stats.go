package registry

import (
	"slices"
	"sync"
	"time"
)

// Duration is a count of events and their total duration, as Triton's statistics report
// them.
type Duration struct {
	Count int64
	Total time.Duration
}

func (d *Duration) add(n int64, total time.Duration) {
	d.Count += n
	d.Total += total
}

// BatchStatistics are the runs of one batch size.
type BatchStatistics struct {
	Size         int64
	ComputeInfer Duration // runs of this size and their time
}

// Statistics is what a version has served since it was registered, in the terms of
// Triton's statistics extension: requests that succeeded and failed (from arrival at the
// version to answer), their time in the queue, in the handler's preprocessing
// (ComputeInput) and postprocessing (ComputeOutput), and in the model's runs (ComputeInfer,
// per request: each request of a batch counts the batch's run); items and runs that
// succeeded, and runs by batch size.
type Statistics struct {
	LastInference  time.Time
	InferenceCount int64 // items (rows) of successful runs
	ExecutionCount int64 // successful runs
	Success, Fail  Duration
	Queue          Duration
	ComputeInput   Duration
	ComputeInfer   Duration
	ComputeOutput  Duration
	// CacheHit counts the requests answered from the response cache and the time their
	// lookups took; CacheMiss those that were not, their lookups and insertions, as Triton's.
	CacheHit, CacheMiss Duration
	Batches             []BatchStatistics // by size, smallest first
}

// statsRecorder accumulates a version's Statistics.
type statsRecorder struct {
	mu sync.Mutex
	s  Statistics
}

// run records a run of items rows for the requests that waited queued, lasting took.
func (r *statsRecorder) run(items int64, queued []time.Duration, took time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var waited time.Duration
	for _, q := range queued {
		waited += q
	}
	r.s.Queue.add(int64(len(queued)), waited)
	if err != nil {
		return
	}
	r.s.InferenceCount += items
	r.s.ExecutionCount++
	r.s.ComputeInfer.add(int64(len(queued)), took*time.Duration(len(queued)))
	i, found := slices.BinarySearchFunc(r.s.Batches, items, func(b BatchStatistics, size int64) int { return int(b.Size - size) })
	if !found {
		r.s.Batches = slices.Insert(r.s.Batches, i, BatchStatistics{Size: items})
	}
	r.s.Batches[i].ComputeInfer.add(1, took)
}

// request records a request that arrived at start and was answered (or failed) now,
// having spent pre in preprocessing and post in postprocessing.
func (r *statsRecorder) request(start time.Time, pre, post time.Duration, err error) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.LastInference = now
	if err != nil {
		r.s.Fail.add(1, now.Sub(start))
		return
	}
	r.s.Success.add(1, now.Sub(start))
	r.s.ComputeInput.add(1, pre)
	r.s.ComputeOutput.add(1, post)
}

// lastInference is when the last request was answered (zero: none yet).
func (r *statsRecorder) lastInference() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.s.LastInference
}

// cacheHit records a request answered from the response cache, after a lookup of took.
func (r *statsRecorder) cacheHit(took time.Duration) {
	r.mu.Lock()
	r.s.CacheHit.add(1, took)
	r.mu.Unlock()
}

// cacheMiss records a request the response cache did not hold: its lookup and insertion
// took this long.
func (r *statsRecorder) cacheMiss(took time.Duration) {
	r.mu.Lock()
	r.s.CacheMiss.add(1, took)
	r.mu.Unlock()
}

// snapshot is a copy of the statistics so far.
func (r *statsRecorder) snapshot() Statistics {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.s
	s.Batches = slices.Clone(r.s.Batches)
	return s
}
