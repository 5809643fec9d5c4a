// Package gcfloor keeps the Go garbage collector from running while the heap is small. ts's
// own heap is a few MB beside models of tens or hundreds, and at thousands of requests a
// second Go's default (a collection each time the heap doubles, from 4 MB) runs dozens of
// collections a second, each with its fixed cost: about 8 % of a 2-core machine serving a
// tiny model. Raising GOGC instead would also multiply a large heap (many large requests in
// flight) by as much; a floor leaves it as Go runs it.
package gcfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// liveHeap is the runtime metric of the heap the last collection found alive (no
// stop-the-world, unlike runtime.ReadMemStats).
const liveHeap = "/gc/heap/live:bytes"

// Floor is a running floor; Stop ends it.
type Floor struct {
	floor   uint64
	initial int // the GC percent before Start, restored by Stop
	percent atomic.Int64
	stopped atomic.Bool
	mu      sync.Mutex // serialises adjust and Stop
	sample  []metrics.Sample
}

// sentinel is garbage whose finalizer runs after each collection, which re-arms it.
type sentinel struct{ f *Floor }

// Start makes each collection's heap goal at least floor bytes: after every collection,
// GOGC is set so that the live heap may grow to floor before the next one, never below
// the percent in effect (GOGC, 100 by default), which rules once the live heap is past
// half the floor.
func Start(floor uint64) *Floor {
	f := &Floor{floor: floor, sample: []metrics.Sample{{Name: liveHeap}}}
	f.initial = debug.SetGCPercent(-1)
	debug.SetGCPercent(f.initial)
	f.percent.Store(int64(f.initial))
	f.adjust()
	f.arm()
	return f
}

func (f *Floor) arm() {
	runtime.SetFinalizer(&sentinel{f}, func(s *sentinel) {
		if s.f.stopped.Load() {
			return
		}
		s.f.adjust()
		s.f.arm()
	})
}

// adjust sets the GC percent for the live heap the last collection left, when it differs
// from the one in effect by more than a tenth (each change stops the world briefly).
func (f *Floor) adjust() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Load() || f.initial < 0 {
		return // stopped, or the collector is off (GOGC=off)
	}
	metrics.Read(f.sample)
	if f.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	want := PercentFor(f.sample[0].Value.Uint64(), f.floor, f.initial)
	if cur := f.percent.Load(); want*10 < cur*9 || want*10 > cur*11 {
		debug.SetGCPercent(int(want))
		f.percent.Store(want)
	}
}

// goHeapMinimum is Go's smallest heap goal at GOGC=100; it scales with GOGC (the runtime's
// defaultHeapMinimum), so a percent p never lets the goal fall below 4 MB × p/100.
const goHeapMinimum = 4 << 20

// PercentFor is the GC percent that lets a live heap grow to floor before the next
// collection, and at least least: (floor - live) / live, but no more than makes Go's own
// minimum goal the floor (a live heap of a few bytes, before the first collection, would
// otherwise ask for a percent whose minimum goal is gigabytes).
func PercentFor(live, floor uint64, least int) int64 {
	p := int64(least)
	if live < floor {
		p = max(p, int64((floor-live)*100/max(live, 1)))
	}
	return max(min(p, int64(floor*100/goHeapMinimum)), int64(least))
}

// Percent is the GC percent the floor last set.
func (f *Floor) Percent() int { return int(f.percent.Load()) }

// Stop ends the floor and puts back the GC percent it found.
func (f *Floor) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stopped.Swap(true) {
		return
	}
	debug.SetGCPercent(f.initial)
	f.percent.Store(int64(f.initial))
}
