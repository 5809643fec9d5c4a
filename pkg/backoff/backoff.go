// Package backoff is TorchServe's restart policy for failed workers, shared by the batch
// pool's worker goroutines and custom handlers' processes: Fibonacci delays after consecutive
// failures, reset by a success, and no more restarts once failures have gone on for
// maxRetryTimeoutInSec.
package backoff

import "time"

// delays are the seconds before the next start after 1, 2, 3 ... consecutive failures.
var delays = []int{0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597}

// NoLimit as a maximum retry time: failures never stop restarts.
const NoLimit time.Duration = -1

// Restarts counts consecutive failures. It is not safe for concurrent use: its owner locks.
type Restarts struct {
	failures int
	first    time.Time // of the failures since the last success (zero: none)
}

// Fail records a failure at now and returns how long to wait before starting again.
func (r *Restarts) Fail(now time.Time) time.Duration {
	if r.first.IsZero() {
		r.first = now
	}
	d := time.Duration(delays[min(r.failures, len(delays)-1)]) * time.Second
	r.failures++
	return d
}

// Succeeded resets the count: the next failure restarts at once.
func (r *Restarts) Succeeded() {
	r.failures, r.first = 0, time.Time{}
}

// GivenUp reports whether failures have gone on for maxRetry (TorchServe's
// maxRetryTimeoutInSec; NoLimit: never) with no success since: no more restarts.
func (r *Restarts) GivenUp(now time.Time, maxRetry time.Duration) bool {
	return !r.first.IsZero() && maxRetry >= 0 && now.Sub(r.first) >= maxRetry
}

// FailingFor is how long failures have gone on at now (0 when there are none).
func (r *Restarts) FailingFor(now time.Time) time.Duration {
	if r.first.IsZero() {
		return 0
	}
	return now.Sub(r.first)
}
