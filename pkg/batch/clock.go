package batch

import "time"

// Clock tells time; tests inject a fake one to make batching deterministic.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed, and a stop function.
	After(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) After(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// RealClock is the wall clock.
var RealClock Clock = realClock{}
