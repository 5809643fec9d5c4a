package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	ort "github.com/yalue/onnxruntime_go"
)

// watchInterval is how often the watchdog looks at the runs in flight: a cancelled or
// timed-out run stops at most this long after its end.
const watchInterval = 10 * time.Millisecond

// watchIdle is how long the watchdog's goroutine waits with no run to watch before it exits.
const watchIdle = time.Second

// runWatch is a run the watchdog may stop, with the run options it raises the terminate flag
// of. A session keeps its run watches for reuse: each owns its ONNX Runtime run options.
type runWatch struct {
	owner    *Session
	ro       *ort.RunOptions
	ctx      context.Context
	deadline time.Time // zero: none
	index    int       // in watchdog.runs
	fired    bool      // the terminate flag is raised
}

// watchdog stops runs whose context ended or whose deadline passed. One goroutine polls the
// runs in flight every watchInterval (and exits after watchIdle with none), so watching a run
// costs a lock and a slice append, where a context.AfterFunc and a timer per run cost nearly
// as much as a tiny model's whole run (docs/batching.md).
type watchdog struct {
	mu      sync.Mutex
	runs    []*runWatch
	running bool
}

var runWatchdog = &watchdog{}

// past reports whether deadline (zero: none) has come by now.
func past(deadline, now time.Time) bool { return !deadline.IsZero() && !now.Before(deadline) }

// terminate raises w's terminate flag, once (with the watchdog's lock held).
func (w *runWatch) terminate() {
	if !w.fired {
		w.ro.Terminate()
		w.fired = true
	}
}

// add starts watching w.
func (d *watchdog) add(w *runWatch) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w.index = len(d.runs)
	d.runs = append(d.runs, w)
	if !d.running {
		d.running = true
		go d.loop()
	}
}

// remove stops watching w and reports whether the watchdog raised its terminate flag; no
// Terminate call on w runs after remove returns.
func (d *watchdog) remove(w *runWatch) (fired bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	last := len(d.runs) - 1
	moved := d.runs[last]
	d.runs[w.index], moved.index = moved, w.index
	d.runs[last] = nil
	d.runs = d.runs[:last]
	return w.fired
}

// stop raises the terminate flag of every run of s in flight.
func (d *watchdog) stop(s *Session) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.runs {
		if w.owner == s {
			w.terminate()
		}
	}
}

func (d *watchdog) loop() {
	ticker := time.NewTicker(watchInterval)
	defer ticker.Stop()
	var idleSince time.Time
	for now := range ticker.C {
		d.mu.Lock()
		if len(d.runs) == 0 {
			if idleSince.IsZero() {
				idleSince = now
			} else if now.Sub(idleSince) >= watchIdle {
				d.running = false
				d.mu.Unlock()
				return
			}
		} else {
			idleSince = time.Time{}
		}
		for _, w := range d.runs {
			if w.ctx.Err() != nil || past(w.deadline, now) {
				w.terminate()
			}
		}
		d.mu.Unlock()
	}
}

// watch lends a run watch for a run that must stop when ctx ends or deadline (if not zero)
// passes; unwatch gives it back.
func (s *Session) watch(ctx context.Context, deadline time.Time) (*runWatch, error) {
	s.watchMu.Lock()
	var w *runWatch
	if n := len(s.watches); n > 0 {
		w = s.watches[n-1]
		s.watches = s.watches[:n-1]
	}
	s.watchMu.Unlock()
	if w == nil {
		ro, err := ort.NewRunOptions()
		if err != nil {
			return nil, err
		}
		if s.arenaShrinkage != "" {
			if err := ro.AddConfigEntry(arenaShrinkageKey, s.arenaShrinkage); err != nil {
				ro.Destroy()
				return nil, fmt.Errorf("run options: %w", err)
			}
		}
		w = &runWatch{owner: s, ro: ro}
	}
	w.ctx, w.deadline, w.fired = ctx, deadline, false
	runWatchdog.add(w)
	return w, nil
}

// unwatch stops watching the run and keeps w for the next one. (Runs hold the session's
// runMu, so none gives a watch back after Close has freed them.)
func (s *Session) unwatch(w *runWatch) {
	if runWatchdog.remove(w) {
		w.ro.UnsetTerminate()
	}
	w.ctx = nil
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	s.watches = append(s.watches, w)
}

// closeWatches frees the kept run watches (Close, with no run left).
func (s *Session) closeWatches() {
	s.watchMu.Lock()
	defer s.watchMu.Unlock()
	for _, w := range s.watches {
		w.ro.Destroy()
	}
	s.watches = nil
}
