package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/ensemble"
	"github.com/tsserve/ts/pkg/explain"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/onnx"
	"github.com/tsserve/ts/pkg/respcache"
	"github.com/tsserve/ts/pkg/seqbatch"
	"github.com/tsserve/ts/pkg/tensor"
	"github.com/tsserve/ts/pkg/trace"
)

// Version states.
const (
	StateStopped   = "STOPPED"   // no workers, model not loaded
	StateLoading   = "LOADING"   // the session is being created
	StateReady     = "READY"     // workers serve requests
	StateFailed    = "FAILED"    // the last load failed; see Error
	StateUnloading = "UNLOADING" // being unregistered
	StateIdle      = "IDLE"      // unloaded after unloadAfterIdle; the next request loads it
)

// ErrUnregistered is Scale's error on a version being unregistered (or already gone).
var ErrUnregistered = errors.New("the model is being unregistered")

// errNoModel is what a version whose archive holds no .onnx model (its custom handler runs
// its own) says when asked for the model.
var errNoModel = errors.New("the archive holds no ONNX model: its handler runs its own")

// Version is one registered version of a model.
type Version struct {
	Name     string
	Version  string
	URL      string
	Manifest *archive.Manifest
	Digest   string
	Handler  string
	// Inputs and Outputs are what requests give and are answered: the model's own (runInputs
	// and runOutputs), but for a Triton model's reshapes (config.pbtxt's dims), a sequence
	// model's control and state tensors (left out) and an ensemble's (config.pbtxt's).
	Inputs  []tensor.Info
	Outputs []tensor.Info
	Startup bool
	// Workflow is the workflow the version is a node of ("" for a model registered alone):
	// such versions come and go with their workflow and stay out of snapshots.
	Workflow     string
	RegisteredAt time.Time

	reg     *Registry
	archive *archive.Opened
	// downloaded is the archive fetched into the model store for this version (Spec.Downloaded),
	// deleted when it is unregistered; "" for any other.
	downloaded string
	// handlerModel is what the handler is created from.
	handlerModel *handler.Model
	// unbatchable says why requests cannot share a batch ("" when they can).
	unbatchable string
	// runInputs and runOutputs are the model's inputs and outputs, which its runs take and
	// give.
	runInputs, runOutputs []tensor.Info
	// seq runs the requests of a model that config.pbtxt gives sequence_batching (nil for
	// others).
	seq *seqbatch.Scheduler
	// ensemble runs the requests of a Triton ensemble, on its steps' models: it has no model,
	// batcher or workers of its own (nil for others).
	ensemble *ensemble.Ensemble
	// reshape applies config.pbtxt's reshapes (nil: none)
	reshape *reshaper
	// stateful is settings.SequenceBatching, which no scale changes (Stateful)
	stateful bool
	// labels reads the model's class names once.
	labels func() (map[int]string, error)
	// graph reads the ONNX model's header (producer, opset, metadata_props) once.
	graph func() (*onnx.Model, error)
	// stats accumulates what the version served, for Triton's statistics extension.
	stats statsRecorder
	// cache keeps answers when the settings ask for it (nil: none), under keys of
	// cacheOwner (unique to this version) and the inputs.
	cache      *respcache.Cache
	cacheOwner uint64

	scaleMu sync.Mutex // serialises Scale

	// replacement is the version a reload put in this one's place: a request routed here
	// just before the swap, arriving once this one is closed, goes there.
	replacement atomic.Pointer[Version]

	// session is the loaded model, shared by the workers: nil while not loaded; replaced
	// when scaling changes the thread plan (replan).
	session atomic.Pointer[engine.Session]
	// replicas are the sessions on the other GPUs deviceIds lists (nil: one device); runs
	// take turns over session and replicas (turn).
	replicas atomic.Pointer[[]*engine.Session]
	turn     atomic.Uint64

	mu sync.Mutex // guards the fields below
	// handler is nil only while a version registered with no worker has a handler that
	// failed to start; Scale sets it (holding scaleMu, so that Scale and close read it
	// without mu).
	handler  handler.Handler
	settings Settings
	state    string
	lastErr  string
	batcher  *batch.Batcher
	pool     *batch.Pool
	provider string
	threads  int
	loadTime time.Duration
	warmTime time.Duration // of loadTime, the warm-up's
	loadedAt time.Time
	closed   bool
	// idle is set while the model is unloaded for being idle (unloadAfterIdle): the next
	// request loads it again with the workers of the settings.
	idle     bool
	inflight sync.WaitGroup
	// active counts the requests in flight (inflight cannot be read): an idle unload waits
	// for none.
	active atomic.Int32
}

// unbatchable says why requests to a model with these inputs and outputs cannot be stacked
// into one batch, or "" when they can: every input and output needs a dynamic first dimension.
func unbatchable(inputs, outputs []tensor.Info) string {
	for _, side := range []struct {
		kind  string
		infos []tensor.Info
	}{{"input", inputs}, {"output", outputs}} {
		for _, i := range side.infos {
			switch {
			case i.AnyShape():
				return fmt.Sprintf("%s %q has no declared shape", side.kind, i.Name)
			case len(i.Shape) == 0:
				return fmt.Sprintf("%s %q is a scalar", side.kind, i.Name)
			case i.Shape[0] >= 0:
				return fmt.Sprintf("%s %q has a fixed first dimension (%d)", side.kind, i.Name, i.Shape[0])
			}
		}
	}
	return ""
}

// Settings returns the settings in effect.
func (v *Version) Settings() Settings {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.settings.clone()
}

// Stateful reports whether the version's model is stateful (sequenceBatching, or
// config.pbtxt's sequence_batching): its requests carry sequences. Every prediction asks, so
// it takes no lock: the setting is fixed at registration. An ensemble is stateful while one
// of its steps' registered models is (it passes its requests' sequences on to them): it
// looks them up in the registry.
func (v *Version) Stateful() bool { return v.isStateful(0) }

// isStateful is Stateful for a version depth ensembles deep.
func (v *Version) isStateful(depth int) bool {
	if v.ensemble != nil {
		return depth < ensemble.MaxDepth && v.reg.stepsStateful(v.ensemble, depth+1)
	}
	return v.stateful
}

// Scale runs min workers (max is kept for TorchServe's describe: scaling is manual). The
// model is loaded when it gets its first worker and unloaded when it loses its last, and
// reloaded when the new number of workers changes its thread plan (replan). ctx is not
// used: a scale outlives the request that asked for it.
func (v *Version) Scale(ctx context.Context, minWorkers, maxWorkers int) error {
	v.scaleMu.Lock()
	defer v.scaleMu.Unlock()
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrUnregistered
	}
	if minWorkers != v.settings.MinWorkers || max(maxWorkers, minWorkers) != v.settings.MaxWorkers {
		v.settings.Sources = v.settings.clone().Sources
		v.settings.Sources["minWorkers"], v.settings.Sources["maxWorkers"] = FromScale, FromScale
	}
	v.settings.MinWorkers, v.settings.MaxWorkers = minWorkers, max(maxWorkers, minWorkers)
	v.mu.Unlock()
	return v.scaleTo(minWorkers)
}

// scaleTo starts or stops workers until there are minWorkers, loading or unloading the
// model, as Scale describes; the caller holds scaleMu.
func (v *Version) scaleTo(minWorkers int) error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrUnregistered
	}
	var pool *batch.Pool
	h := v.handler
	if v.ensemble != nil { // its steps' models work: it serves as soon as it is there
		v.state, v.loadedAt = StateReady, time.Now()
		v.mu.Unlock()
		v.reg.changed()
		return nil
	}
	v.mu.Unlock()
	if minWorkers == 0 {
		if sc, ok := h.(handler.Scaler); ok {
			_ = sc.SetWorkers(0) // to none: nothing starts, nothing fails
		}
		v.mu.Lock()
		v.idle = false // stopped, not idle: no request loads it again
		v.mu.Unlock()
		v.stopWorkers()
		return nil
	}
	// Requests queue from now on, while the model loads. (A version idle until now stops
	// being so only with its batcher there: a request in between would find neither.)
	v.mu.Lock()
	v.idle = false
	v.ensureBatcherLocked(minWorkers)
	v.mu.Unlock()
	first, err := v.load(minWorkers)
	if err != nil {
		v.failStart()
		return err
	}
	// A handler not started yet (a custom handler of a model: newVersion leaves it to the
	// first scale) starts once the model is loaded, so that it may run the model while it
	// initialises (a warm-up): directly on the session, the workers not started yet
	// (runForHandler).
	if h == nil {
		err = v.startHandler()
	}
	if err == nil {
		v.mu.Lock()
		h = v.handler
		v.mu.Unlock()
		if sc, ok := h.(handler.Scaler); ok {
			err = sc.SetWorkers(minWorkers) // with none running, one starts now
		}
	}
	if err != nil {
		v.mu.Lock()
		v.state, v.lastErr = StateFailed, err.Error()
		v.mu.Unlock()
		v.reg.log.Error("handler failed to start", "model", v.Name, "version", v.Version, "handler", v.Handler, "err", err)
		v.failStart()
		return err
	}
	if !first {
		v.replan(minWorkers)
	}
	v.mu.Lock()
	if v.pool == nil {
		v.pool = batch.NewPool(v.batcher, v.runFor, v.reg.log.With("model", v.Name, "version", v.Version))
		v.pool.OutputNames = tensor.Names(v.runOutputs)
		v.pool.MaxRetry = time.Duration(v.settings.MaxRetryTimeout) * time.Second
		v.pool.OnBatch = v.reportBatch
	}
	pool = v.pool
	v.mu.Unlock()
	pool.Scale(minWorkers)
	v.mu.Lock()
	if !v.closed {
		v.state = StateReady
	}
	v.mu.Unlock()
	v.reg.changed()
	return nil
}

// reportBatch records a batch's run (or a custom handler's call) in the version's
// statistics and the server's metrics.
func (v *Version) reportBatch(r batch.Report) {
	v.stats.run(r.Items, r.Queued, r.Run, r.Err)
	if on := v.reg.opts.OnBatch; on != nil {
		on(v.Name, v.Version, r)
	}
}

// failStart undoes a start that failed (the model's load, or its handler's start): a
// version with no workers yet (never started, scaled to 0 or unloaded when idle) drops its
// batcher, failing the requests that queued meanwhile and those waiting for a process of its
// custom handler, and unloads the model if it loaded.
func (v *Version) failStart() {
	v.mu.Lock()
	b, h, noWorkers := v.batcher, v.handler, v.pool == nil
	free := func() {}
	if noWorkers {
		free = v.detachLocked()
	}
	v.mu.Unlock()
	free()
	if !noWorkers {
		return
	}
	if b != nil {
		b.SetWorkers(0) // fail what queued while loading
	}
	if sc, ok := h.(handler.Scaler); ok {
		_ = sc.SetWorkers(0) // and what waits for a process of a custom handler (parked when idle)
	}
}

// ensureBatcherLocked makes the batcher requests queue in, for this many workers, unless
// there is one; the caller holds mu.
func (v *Version) ensureBatcherLocked(workers int) {
	if v.batcher != nil {
		return
	}
	st := v.settings
	var policies map[int]batch.QueuePolicy
	for priority, p := range st.PriorityQueuePolicies {
		if policies == nil {
			policies = map[int]batch.QueuePolicy{}
		}
		policies[priority] = p.batchPolicy()
	}
	model := PriorityQueuePolicy{MaxQueueTime: st.MaxQueueTime, MaxQueueTimeAction: st.MaxQueueTimeAction, AllowQueueTimeOverride: st.AllowQueueTimeOverride}
	v.batcher = batch.New(batch.Config{
		BatchSize: st.BatchSize, MaxDelay: time.Duration(st.MaxBatchDelay) * time.Millisecond,
		QueueSize: st.JobQueueSize, PreferredSizes: st.PreferredBatchSizes,
		Queue: model.batchPolicy(), PriorityPolicies: policies,
		Adaptive: st.AdaptiveBatching,
		Timeout:  time.Duration(st.ResponseTimeout) * time.Second, JobTicket: st.UseJobTicket,
	}, v.unbatchable == "", v.reg.opts.Clock)
	v.batcher.SetWorkers(workers)
}

// unloadIfIdle unloads the model when it has served no request for its unloadAfterIdle
// (none in flight, none since), keeping its settings: the next request loads it again
// (enter). It reports whether it did.
func (v *Version) unloadIfIdle(now time.Time) bool {
	if !v.scaleMu.TryLock() {
		return false // a scale is under way (maybe a long load): not idle, and not to wait for
	}
	defer v.scaleMu.Unlock()
	v.mu.Lock()
	after := time.Duration(v.settings.UnloadAfterIdle) * time.Second
	last := v.loadedAt
	if t := v.stats.lastInference(); t.After(last) {
		last = t
	}
	if after <= 0 || v.closed || v.idle || v.state != StateReady || v.batcher == nil || v.active.Load() > 0 || now.Sub(last) < after {
		v.mu.Unlock()
		return false
	}
	// detached under mu, so that a request arriving now finds the model idle and loads it
	free, h := v.detachLocked(), v.handler
	v.idle, v.state = true, StateIdle
	v.mu.Unlock()
	free()
	if sc, ok := h.(handler.Scaler); ok {
		sc.Park() // its processes stop; the next request's load starts them again
	}
	v.reg.log.Info("model unloaded after being idle", "model", v.Name, "version", v.Version, "idle", now.Sub(last).Round(time.Second), "unload_after_idle_s", int(after/time.Second))
	v.reg.changed()
	return true
}

// wakeLocked starts loading a version unloaded for being idle, for a request that arrives:
// requests queue in a new batcher while the workers of its settings start. The caller holds
// mu.
func (v *Version) wakeLocked() {
	workers := v.settings.MinWorkers
	v.idle, v.state = false, StateLoading
	v.ensureBatcherLocked(workers)
	go func() {
		v.scaleMu.Lock()
		defer v.scaleMu.Unlock()
		if err := v.scaleTo(workers); err != nil && !errors.Is(err, ErrUnregistered) {
			v.reg.log.Error("model failed to load again after being idle", "model", v.Name, "version", v.Version, "err", err)
		}
	}()
	v.reg.log.Info("model loading again for a request after being idle", "model", v.Name, "version", v.Version, "workers", workers)
}

// load loads the model for this many workers when it is not loaded; it reports whether it
// did.
func (v *Version) load(workers int) (loaded bool, err error) {
	v.mu.Lock()
	if v.Manifest.Model.SerializedFile == "" { // no model: the handler runs its own, ready as it starts
		v.loadedAt = time.Now()
		v.mu.Unlock()
		return false, nil
	}
	if v.session.Load() != nil { // loaded
		v.mu.Unlock()
		return false, nil
	}
	v.state, v.lastErr = StateLoading, ""
	v.mu.Unlock()
	threads := v.threadPlan(workers)
	start := time.Now()
	s, others, warm, err := v.newSessions(threads)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.state, v.lastErr = StateFailed, err.Error()
		v.reg.log.Error("model failed to load", "model", v.Name, "version", v.Version, "err", err)
		return false, err
	}
	v.session.Store(s)
	v.provider, v.threads = s.Provider(), threads
	if len(others) > 0 {
		v.replicas.Store(&others)
		for _, o := range others {
			v.provider += ", " + o.Provider()
		}
	}
	v.loadTime, v.warmTime, v.loadedAt = time.Since(start), warm, time.Now()
	attrs := []any{"model", v.Name, "version", v.Version, "provider", v.provider,
		"workers", workers, "intra_op_threads", threads, "cores", v.reg.opts.Cores, "load_ms", v.loadTime.Milliseconds(),
		"batch_size", v.settings.BatchSize, "batchable", v.unbatchable == ""}
	if v.settings.ExecutionMode == "parallel" { // the inter-op threads come on top of the plan
		attrs = append(attrs, "execution_mode", "parallel", "inter_op_threads", v.settings.InterOpThreads)
	}
	v.reg.log.Info("model loaded", attrs...)
	if w := v.settings.Warmup; w != nil {
		v.reg.log.Info("model warmed up", "model", v.Name, "version", v.Version, "runs", w.Runs,
			"batch_sizes", w.RunBatchSizes(v.unbatchable == "", v.settings.BatchSize), "data", w.DataKind(), "warmup_ms", warm.Milliseconds())
	}
	if v.settings.BatchSize > 1 && v.unbatchable != "" {
		v.reg.log.Warn("batch size ignored: each request runs alone", "model", v.Name, "version", v.Version,
			"batch_size", v.settings.BatchSize, "reason", v.unbatchable)
	}
	return true, nil
}

// threadPlan is the ONNX Runtime intra-op threads of a run with this many workers: the
// model's intraOpThreads, or else an equal share of the cores (workers × threads ≈ cores).
func (v *Version) threadPlan(workers int) int {
	v.mu.Lock()
	threads := v.settings.IntraOpThreads
	v.mu.Unlock()
	if threads > 0 {
		return threads
	}
	return max(1, v.reg.opts.Cores/max(workers, 1))
}

// providers are the execution providers the version runs on, a session on each, and
// whether it asked for a GPU the server does not run on (Settings.Providers).
func (v *Version) providers() ([]string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.settings.Providers(v.reg.opts.Engine.Provider)
}

// newSessions loads the model on each device its settings name (newSession): the first
// session, and the others (nil for one device). On a failure none stays loaded.
func (v *Version) newSessions(threads int) (first *engine.Session, others []*engine.Session, warm time.Duration, err error) {
	providers, askedGPU := v.providers()
	for _, provider := range providers {
		s, w, err := v.newSession(threads, provider, askedGPU)
		if err != nil {
			for _, loaded := range append(others, first) {
				if loaded != nil {
					loaded.Close()
				}
			}
			return nil, nil, 0, err
		}
		warm += w
		if first == nil {
			first = s
		} else {
			others = append(others, s)
		}
	}
	return first, others, warm, nil
}

// newSession loads the model with the given intra-op threads on provider (one of
// v.providers) and warms it up (when its settings ask), within the startup timeout; it says
// how long the warm-up took. A model that asked for a GPU the server does not run on
// (askedGPU) runs on the CPU when the provider cannot be used.
func (v *Version) newSession(threads int, provider string, askedGPU bool) (*engine.Session, time.Duration, error) {
	v.mu.Lock()
	timeout := time.Duration(v.settings.StartupTimeout) * time.Second
	warmup, batchSize, settings := v.settings.Warmup, v.settings.BatchSize, v.settings
	v.mu.Unlock()
	if timeout <= 0 {
		return nil, 0, errors.New("startupTimeout is 0")
	}
	opts := v.reg.opts.Engine
	opts.IntraOpThreads, opts.InterOpThreads, opts.OptLevel = threads, settings.InterOpThreads, settings.GraphOptimization
	opts.ExecutionMode, opts.NoMemArena, opts.NoMemPattern = settings.ExecutionMode, !settings.MemArena, !settings.MemPattern
	opts.ArenaShrinkage, opts.SessionConfig = settings.MemArenaShrinkage, settings.SessionConfig
	opts.Provider = provider
	if askedGPU {
		opts.ProviderFallback = true // as TorchServe: a GPU if there is one, else the CPU
	}
	opts.Logger = v.reg.log.With("model", v.Name, "version", v.Version)
	type loaded struct {
		s    *engine.Session
		warm time.Duration
		err  error
	}
	ctx, cancel := context.WithCancel(context.Background()) // ends a warm-up past the timeout
	defer cancel()
	done := make(chan loaded, 1)
	go func() {
		s, err := engine.Load(v.archive.Path(v.Manifest.Model.SerializedFile), opts)
		var warm time.Duration
		if err == nil && warmup != nil {
			if warm, err = warmUp(ctx, s, warmup, v.unbatchable == "", batchSize, v.archive.Dir); err != nil {
				s.Close()
				s = nil
			}
		}
		done <- loaded{s, warm, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case l := <-done:
		return l.s, l.warm, l.err
	case <-timer.C:
		go func() { // free the session if it loads anyway
			if l := <-done; l.s != nil {
				l.s.Close()
			}
		}()
		what := "loading"
		if warmup != nil {
			what = "loading and warming up"
		}
		return nil, 0, fmt.Errorf("%s took longer than startupTimeout (%v)", what, timeout)
	}
}

// replan reloads a model that runs on the CPU when scaling to this many workers changes its
// thread plan, so that workers × threads stays ≈ cores. Requests keep running on the old
// session while the new one loads; then new runs go to the new one, and the old one is freed
// once its runs in flight return. If the new one fails to load, the old one stays, with a
// warning.
func (v *Version) replan(workers int) {
	threads := v.threadPlan(workers)
	v.mu.Lock()
	old, current, provider := v.session.Load(), v.threads, v.provider
	v.mu.Unlock()
	if old == nil || threads == current {
		return
	}
	if provider != "cpu" || v.replicas.Load() != nil {
		return // on a GPU the model's work is not on these threads: not worth a reload
	}
	if d, ok := v.handler.(handler.Direct); ok && d.TakesOver() {
		return // the custom handler runs its own model: the session serves no request
	}
	if size, avail := v.modelSize(), engine.MemAvailable(); avail >= 0 && avail < 2*size {
		v.reg.log.Warn("thread plan kept: too little free memory to load the model again", "model", v.Name, "version", v.Version,
			"workers", workers, "intra_op_threads", current, "model_mb", size>>20, "available_mb", avail>>20)
		return
	}
	start := time.Now()
	providers, askedGPU := v.providers() // one: a model on several devices keeps its sessions
	s, warm, err := v.newSession(threads, providers[0], askedGPU)
	if err != nil {
		v.reg.log.Warn("thread plan kept: reloading the model failed", "model", v.Name, "version", v.Version,
			"workers", workers, "intra_op_threads", current, "err", err)
		return
	}
	v.mu.Lock()
	if v.closed || v.session.Load() != old { // being unregistered
		v.mu.Unlock()
		s.Close()
		return
	}
	v.session.Store(s)
	v.provider, v.threads = s.Provider(), threads
	v.loadTime, v.warmTime, v.loadedAt = time.Since(start), warm, time.Now() // describe's: the session's that serves
	v.mu.Unlock()
	old.Close() // waits for the runs in flight on it; runFor sends later ones to s
	v.reg.log.Info("thread plan changed", "model", v.Name, "version", v.Version, "workers", workers,
		"intra_op_threads", threads, "cores", v.reg.opts.Cores, "load_ms", time.Since(start).Milliseconds())
}

// modelSize is the size of the archive's files (the model, its external data): about
// what a second session needs.
func (v *Version) modelSize() int64 {
	files, _ := v.archive.Files() // what could be listed
	var size int64
	for _, f := range files {
		size += f.Size
	}
	return size
}

// runFor runs a batch on the current session. A run that finds its session closed because
// replan replaced it runs again on the new one.
func (v *Version) runFor(ctx context.Context, limit time.Duration, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	for {
		s := v.session.Load()
		if s == nil {
			return nil, engine.ErrClosed
		}
		if others := v.replicas.Load(); others != nil { // one session per GPU: they take turns
			if k := v.turn.Add(1) % uint64(len(*others)+1); k > 0 {
				s = (*others)[k-1]
			}
		}
		out, err := s.RunFor(ctx, limit, inputs)
		if next := v.session.Load(); errors.Is(err, engine.ErrClosed) && next != nil && next != s {
			continue
		}
		return out, err
	}
}

// stopWorkers stops the workers (queued requests fail with 503) and unloads the session.
func (v *Version) stopWorkers() {
	v.mu.Lock()
	free := v.detachLocked()
	if !v.closed {
		v.state = StateStopped
	}
	v.mu.Unlock()
	free()
	v.reg.changed()
}

// stopRuns stops the runs on the version's sessions (engine.Session.StopRuns).
func (v *Version) stopRuns() {
	if s := v.session.Load(); s != nil {
		s.StopRuns()
	}
	if others := v.replicas.Load(); others != nil {
		for _, s := range *others {
			s.StopRuns()
		}
	}
}

// detachLocked takes the workers and the session out of the version (the caller holds mu):
// requests from now on find neither. It returns what stops and frees them, to call once mu
// is released (the workers finish their batches first).
func (v *Version) detachLocked() (free func()) {
	pool, session, others := v.pool, v.session.Swap(nil), v.replicas.Swap(nil)
	v.pool, v.batcher = nil, nil
	return func() {
		if pool != nil {
			pool.Scale(0)
		}
		if session != nil {
			session.Close()
		}
		if others != nil {
			for _, s := range *others {
				s.Close()
			}
		}
	}
}

// drain stops new requests, waits for those in flight (up to timeout), then unloads.
func (v *Version) drain(ctx context.Context, timeout time.Duration) error {
	v.mu.Lock()
	v.closed, v.state = true, StateUnloading
	v.mu.Unlock()
	done := make(chan struct{})
	go func() {
		v.inflight.Wait()
		close(done)
	}()
	var err error
	timer := time.NewTimer(timeout)
	select {
	case <-done:
	case <-timer.C:
		err = errors.New("requests still in flight")
	case <-ctx.Done():
		err = ctx.Err()
	}
	timer.Stop()
	v.close()
	return err
}

// close unloads everything at once: requests still queued or running fail with 503. It
// waits for a Scale in progress (a model loading), whose workers it then stops.
func (v *Version) close() {
	v.mu.Lock()
	v.closed = true // a Scale that starts now does nothing
	v.mu.Unlock()
	v.stopRuns()     // runs in flight end soon, so a Scale waiting for them does too
	v.scaleMu.Lock() // a Scale in progress (a model loading) finishes first
	defer v.scaleMu.Unlock()
	v.mu.Lock()
	b := v.batcher
	v.mu.Unlock()
	v.stopRuns() // the workers and inline runs return soon, and the sessions can go
	if b != nil {
		b.Close()
	}
	v.stopWorkers()
	if c, ok := v.handler.(io.Closer); ok {
		c.Close()
	}
	if v.cache != nil {
		v.cache.Drop(v.cacheOwner)
	}
	v.archive.Close()
}

// startHandler creates the version's handler; a custom handler starts its first process. A
// handler that panics while it reads its files (a tokenizer, labels) fails this model only.
func (v *Version) startHandler() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler %s failed to start: %v", v.Handler, p)
			v.reg.log.Error("handler panicked while starting", "model", v.Name, "version", v.Version, "handler", v.Handler, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	var h handler.Handler
	if handler.IsBuiltin(v.Handler) {
		h, err = handler.New(v.Handler, v.handlerModel)
		if unknown, known := handler.UnknownSettings(v.Handler, v.handlerModel.Config); len(unknown) > 0 && err == nil {
			v.reg.log.Warn("model-config.yaml handler settings ignored: the handler does not read them",
				"model", v.Name, "version", v.Version, "handler", v.Handler, "ignored", unknown, "settings", known)
		}
	} else {
		var onMetric handler.MetricFunc
		if f := v.reg.opts.OnHandlerMetric; f != nil {
			onMetric = func(name, typ, unit string, value float64, dims map[string]string) {
				if err := f(v.Name, v.Version, name, typ, unit, value, dims); err != nil {
					v.reg.log.Warn("custom metric dropped", "model", v.Name, "version", v.Version, "err", err)
				}
			}
		}
		h, err = handler.NewCustom(v.handlerModel, v.reg.log, onMetric)
	}
	if err != nil {
		return err
	}
	if d, ok := h.(handler.Direct); v.Manifest.Model.SerializedFile == "" && v.ensemble == nil && !(ok && d.TakesOver()) {
		if c, ok := h.(io.Closer); ok {
			c.Close()
		}
		return fmt.Errorf("its manifest names no serializedFile, and its handler %s does not define inference: a handler without an .onnx model must run its own", v.Handler)
	}
	v.mu.Lock()
	v.handler = h
	v.mu.Unlock()
	return nil
}

func (v *Version) minWorkers() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.settings.MinWorkers
}

func (v *Version) readyWorkers() int {
	ready := 0
	for _, w := range v.workers() {
		if w.State == batch.StateReady {
			ready++
		}
	}
	return ready
}

// workers describes the workers: ERROR all of them when the custom handler gave up after
// maxRetryTimeoutInSec (its processes, not the goroutines, do the work).
func (v *Version) workers() []batch.WorkerInfo {
	v.mu.Lock()
	pool, h := v.pool, v.handler
	v.mu.Unlock()
	if pool == nil {
		return nil
	}
	ws := pool.Workers()
	if st, ok := h.(handler.Stopper); ok && st.Stopped() {
		for k := range ws {
			ws[k].State = batch.StateError
		}
	}
	return ws
}

// Priority header values besides integers.
var priorities = map[string]int{"high": 10, "normal": 0, "low": -10}

// ParsePriority reads a priority: an integer, or high, normal, low.
func ParsePriority(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if p, ok := priorities[s]; ok {
		return p, nil
	}
	p, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("priority %q: want an integer or high, normal, low", s)
	}
	return p, nil
}

// Infer runs one request: the handler's preprocessing on the caller's goroutine, the model
// in a batch, then postprocessing.
func (v *Version) Infer(ctx context.Context, req *handler.Request, priority int) (res *handler.Response, err error) {
	start := time.Now()
	live, b, session, h, timeout, err := v.enter()
	if err != nil {
		return nil, err
	}
	v = live
	defer v.leave()
	var pre, post time.Duration
	defer func() { v.stats.request(start, pre, post, err) }()
	if b == nil && v.ensemble == nil { // no worker: none started, or scaled to 0 (a custom handler's processes too)
		return nil, v.noWorker()
	}
	if d, ok := h.(handler.Direct); ok && d.TakesOver() {
		// the custom handler runs its own model: no ONNX Runtime run here (the handler
		// gathers batches of requests itself when its processes take them). A
		// streamed answer is bounded by the handler's silence (each part restarts its
		// timeout, as TorchServe's), not in total.
		runCtx := ctx
		if req.Stream == nil {
			var cancel context.CancelFunc
			runCtx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		res, err := d.Handle(runCtx, req)
		if err != nil && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, batch.ErrQueueFull)) {
			return nil, v.inferError(ctx, err, timeout)
		}
		return res, err
	}
	inputs, err := h.Preprocess(ctx, req)
	pre = time.Since(start)
	if errors.Is(err, batch.ErrQueueFull) { // a custom handler's processes busy, its queue full
		return nil, v.queueFull()
	}
	if err == nil {
		err = v.checkBatch(inputs)
	}
	if err != nil {
		return nil, err
	}
	var outputs []*tensor.Tensor
	switch {
	case v.seq != nil: // a step of the sequence TorchServe's headers name (the server read them)
		outputs, err = v.seq.Run(ctx, seqbatch.HeaderFlags(req.Sequence, req.SequenceStart, req.SequenceEnd), inputs, func(all []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return v.submit(ctx, b, session, all, priority, timeout)
		})
	case v.ensemble != nil && req.Sequence != "": // the sequence goes on to its steps' sequence models
		outputs, err = v.ensemble.Run(ctx, inputs, v.reg.stepModel(priority, seqbatch.HeaderFlags(req.Sequence, req.SequenceStart, req.SequenceEnd)))
	default:
		outputs, err = v.submit(ctx, b, session, inputs, priority, timeout)
	}
	if err != nil {
		return nil, err
	}
	postStart := time.Now()
	res, err = h.Postprocess(ctx, req, outputs)
	post = time.Since(postStart)
	return res, err
}

// explainBatch is how many perturbed copies of a request one run of an explanation holds,
// for a model that takes batches.
const explainBatch = 16

// ensembleParallel is how many copies of a request an explanation of an ensemble runs at once.
const ensembleParallel = 4

// Explain explains one request's answer: a built-in handler's by occlusion (package
// explain: parts of the input hidden in turn, the copies batched like any request), a
// custom handler's by the handler itself, which gets the request with TorchServe's header
// explain=True.
func (v *Version) Explain(ctx context.Context, req *handler.Request, priority int) (res *handler.Response, err error) {
	live, b, session, h, timeout, err := v.enter()
	if err != nil {
		return nil, err
	}
	v = live
	if !handler.IsBuiltin(v.Handler) {
		v.leave()
		if req.Header == nil {
			req.Header = http.Header{}
		}
		req.Header.Set(handler.ExplainHeader, "True")
		return v.Infer(ctx, req, priority)
	}
	defer v.leave()
	start := time.Now()
	defer func() { v.stats.request(start, 0, 0, err) }()
	if v.seq != nil {
		return nil, v.sequenceOnly()
	}
	e, ok := h.(handler.Explainer)
	if !ok {
		return nil, apierror.BadRequest("the %s handler does not explain its answers: explanations are for image_classifier, image_segmenter, object_detector, text_classifier and tensor models", v.Handler)
	}
	if b == nil && v.ensemble == nil {
		return nil, v.noWorker()
	}
	inputs, err := h.Preprocess(ctx, req)
	if err == nil {
		err = v.checkBatch(inputs)
	}
	if err != nil {
		return nil, err
	}
	plan, attributions, err := v.occlude(ctx, b, session, e, req, inputs, priority, timeout)
	if err != nil {
		return nil, err
	}
	if res, err = plan.Answer(attributions); err != nil {
		return nil, err
	}
	if res.Header == nil {
		res.Header = http.Header{}
	}
	for k, vs := range plan.Header() {
		res.Header[k] = vs
	}
	return res, nil
}

// ExplainTensors explains a request of tensors (the Open Inference Protocol's explain) as the
// tensor handler explains one, whatever handler the archive names; params are its
// parameters (target, output, baseline). It answers the plan (its target, score and the
// inputs it hid) and the features' attributions.
func (v *Version) ExplainTensors(ctx context.Context, inputs []*tensor.Tensor, params url.Values, priority int) (plan *handler.Explanation, attributions []float64, err error) {
	live, b, session, h, timeout, err := v.enter()
	if err != nil {
		return nil, nil, err
	}
	v = live
	defer v.leave()
	start := time.Now()
	defer func() { v.stats.request(start, 0, 0, err) }()
	if d, ok := h.(handler.Direct); ok && d.TakesOver() {
		return nil, nil, apierror.BadRequest("model %s runs in its custom handler, which takes requests only through /explanations/%s", v.Name, v.Name)
	}
	if v.seq != nil {
		return nil, nil, v.sequenceOnly()
	}
	if b == nil && v.ensemble == nil {
		return nil, nil, v.noWorker()
	}
	if err := v.checkBatch(inputs); err != nil {
		return nil, nil, err
	}
	return v.occlude(ctx, b, session, handler.TensorExplainer(v.Inputs, v.Outputs), &handler.Request{Query: params}, inputs, priority, timeout)
}

// occlude runs an explanation: the request's inputs once, then the copies its explainer's
// plan hides features of, through the version's batcher.
func (v *Version) occlude(ctx context.Context, b *batch.Batcher, session *engine.Session, e handler.Explainer, req *handler.Request,
	inputs []*tensor.Tensor, priority int, timeout time.Duration) (*handler.Explanation, []float64, error) {
	run := func(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
		return v.submit(ctx, b, session, inputs, priority, timeout)
	}
	outputs, err := run(ctx, inputs)
	if err != nil {
		return nil, nil, err
	}
	plan, err := e.Explain(req, inputs, outputs)
	if err != nil {
		return nil, nil, err
	}
	o := explain.Options{Batch: 1, Parallel: ensembleParallel}
	if b != nil { // else an ensemble: its steps' models batch the copies run at once
		o.Parallel = b.Workers()
		if v.unbatchable == "" && b.Unbatchable() == "" && !plan.Alone {
			o.Batch = explainBatch
		}
	}
	attributions, err := explain.Occlude(ctx, inputs, plan.Features, plan.Base, plan.Score, run, o)
	if errors.Is(err, explain.ErrTooManyFeatures) {
		return nil, nil, apierror.BadRequest("cannot explain this request: %v", err)
	}
	if err != nil {
		return nil, nil, err
	}
	return plan, attributions, nil
}

// InferTensors runs tensors through the model as they are, with no handler (the Open
// Inference Protocol's path), batched like any request. A model whose custom handler runs
// its own model takes requests only through its handler.
func (v *Version) InferTensors(ctx context.Context, inputs []*tensor.Tensor, priority int) (outputs []*tensor.Tensor, err error) {
	if v.seq != nil { // a path with no sequence parameters
		return nil, v.sequenceOnly()
	}
	return v.InferStep(ctx, seqbatch.Flags{}, inputs, priority)
}

// InferStep is InferTensors for a request that may be a step of a sequence (f): a sequence
// model (config.pbtxt's sequence_batching) runs it after the sequence's earlier requests, with
// the sequence's controls and state; an ensemble passes f on to its steps; other models
// ignore it, as Triton does.
func (v *Version) InferStep(ctx context.Context, f seqbatch.Flags, inputs []*tensor.Tensor, priority int) (outputs []*tensor.Tensor, err error) {
	start := time.Now()
	live, b, session, h, timeout, err := v.enter()
	if err != nil {
		return nil, err
	}
	v = live
	defer v.leave()
	defer func() { v.stats.request(start, 0, 0, err) }()
	if d, ok := h.(handler.Direct); ok && d.TakesOver() {
		return nil, apierror.BadRequest("model %s runs in its custom handler, which takes requests only through /predictions/%s", v.Name, v.Name)
	}
	if b == nil && v.ensemble == nil {
		return nil, v.noWorker()
	}
	if err := v.checkBatch(inputs); err != nil {
		return nil, err
	}
	switch {
	case v.seq != nil:
		return v.seq.Run(ctx, f, inputs, func(all []*tensor.Tensor) ([]*tensor.Tensor, error) {
			return v.submit(ctx, b, session, all, priority, timeout)
		})
	case v.ensemble != nil: // its steps' sequence models get the request's sequence, as Triton passes it on
		return v.ensemble.Run(ctx, inputs, v.reg.stepModel(priority, f))
	}
	return v.submit(ctx, b, session, inputs, priority, timeout)
}

// checkBatch refuses a request of more rows than a Triton model's max_batch_size, as Triton
// does (its message); other models take requests of any size, as TorchServe's.
func (v *Version) checkBatch(inputs []*tensor.Tensor) error {
	limit := int64(v.TritonConfig().GetMaxBatchSize())
	if limit <= 0 {
		return nil
	}
	for _, t := range inputs {
		if t != nil && len(t.Shape) > 0 && t.Shape[0] > limit {
			return apierror.BadRequest("inference request batch-size must be <= %d for '%s' (config.pbtxt's max_batch_size; this one has %d)", limit, v.Name, t.Shape[0])
		}
	}
	return nil
}

// sequenceOnly is the error of a request to a sequence model that says no sequence: other
// than an Open Inference Protocol inference (its parameters) or a prediction (TorchServe's
// headers); an explanation's runs would be steps too.
func (v *Version) sequenceOnly() error {
	return apierror.BadRequest("model %s is a sequence model (config.pbtxt's sequence_batching): send its requests to /v2/models/%s/infer or gRPC ModelInfer, with the parameters sequence_id, sequence_start and sequence_end, or to /predictions/%s", v.Name, v.Name, v.Name)
}

// runForHandler runs the model for a custom handler that runs inference itself and asks for
// the model within a request (handler.Model.Run): through the batcher, as any request's
// tensors, at the default priority.
func (v *Version) runForHandler(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	live, b, session, _, timeout, err := v.enter()
	if err != nil {
		return nil, err
	}
	defer live.leave()
	if session != nil && !live.serving() { // the handler initialises: no workers yet
		if err := session.Check(inputs); err != nil {
			return nil, apierror.BadRequest("%v", err)
		}
		return live.runFor(ctx, timeout, inputs)
	}
	if b == nil {
		return nil, live.noWorker()
	}
	return live.submit(ctx, b, session, inputs, 0, timeout)
}

// serving reports whether the version's workers have started.
func (v *Version) serving() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.pool != nil
}

// enter admits a request: the version that takes it (this one, or the one a reload put in its
// place), its batcher, session and handler in effect and the response timeout. The caller
// calls live.leave when the request ends (unregistering waits).
func (v *Version) enter() (live *Version, b *batch.Batcher, session *engine.Session, h handler.Handler, timeout time.Duration, err error) {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		if next := v.replacement.Load(); next != nil {
			return next.enter()
		}
		return nil, nil, nil, nil, 0, apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable, "Model \"%s\" version %s is being unregistered", v.Name, v.Version)
	}
	defer v.mu.Unlock()
	if v.idle {
		v.wakeLocked()
	}
	v.inflight.Add(1)
	v.active.Add(1)
	b = v.batcher
	if v.handler == nil {
		b = nil // a custom handler starting once its model loads: no worker takes requests yet
	}
	return v, b, v.session.Load(), v.handler, time.Duration(v.settings.ResponseTimeout) * time.Second, nil
}

// leave ends a request enter admitted.
func (v *Version) leave() {
	v.active.Add(-1)
	v.inflight.Done()
}

// submit checks the inputs against the model and runs them through the batcher, or answers
// from the response cache when the version uses it and holds the answer.
func (v *Version) submit(ctx context.Context, b *batch.Batcher, session *engine.Session, inputs []*tensor.Tensor, priority int, timeout time.Duration) ([]*tensor.Tensor, error) {
	switch {
	case v.ensemble != nil:
		return v.ensemble.Run(ctx, inputs, v.reg.stepModel(priority, seqbatch.Flags{}))
	case v.reshape != nil: // inputs in config.pbtxt's dims, to the model's shapes; its outputs back
		inputs, err := v.reshape.in(inputs, v.runInputs)
		if err != nil {
			return nil, err
		}
		outputs, err := v.submitRun(ctx, b, session, inputs, priority, timeout)
		if err != nil {
			return nil, err
		}
		return v.reshape.out(outputs, v.runOutputs)
	}
	return v.submitRun(ctx, b, session, inputs, priority, timeout)
}

// submitRun is submit for the model's own inputs.
func (v *Version) submitRun(ctx context.Context, b *batch.Batcher, session *engine.Session, inputs []*tensor.Tensor, priority int, timeout time.Duration) ([]*tensor.Tensor, error) {
	if session != nil { // nil while the model loads: the run checks then
		if err := session.Check(inputs); err != nil {
			return nil, apierror.BadRequest("%v", err)
		}
	}
	var key respcache.Key
	var lookup time.Duration
	if v.cache != nil {
		start := time.Now()
		key = respcache.KeyOf(v.cacheOwner, inputs)
		outputs, hit := v.cache.Get(key)
		lookup = time.Since(start)
		if hit {
			v.stats.cacheHit(lookup)
			return outputs, nil
		}
	}
	var outputs []*tensor.Tensor
	var err error
	if tr := trace.From(ctx, v.reg.opts.Tracer); tr != nil {
		outputs, err = v.submitTraced(ctx, tr, b, inputs, priority)
	} else {
		outputs, err = b.Submit(ctx, inputs, priority) // the batcher applies the response timeout
	}
	if err != nil {
		return nil, v.inferError(ctx, err, timeout)
	}
	if v.cache != nil {
		start := time.Now()
		v.cache.Put(key, v.cacheOwner, outputs)
		v.stats.cacheMiss(lookup + time.Since(start))
	}
	return outputs, nil
}

// submitTraced is the batcher's submit for a traced request: it stamps the queue and run
// times, and records the tensors at level TENSORS.
func (v *Version) submitTraced(ctx context.Context, tr *trace.Trace, b *batch.Batcher, inputs []*tensor.Tensor, priority int) ([]*tensor.Tensor, error) {
	tr.Stamp(trace.QueueStart)
	tr.RecordTensors("TENSOR_QUEUE_INPUT", tensor.Names(v.runInputs), inputs)
	var timing batch.Timing
	outputs, err := b.SubmitTimed(ctx, inputs, priority, &timing)
	if err == nil { // the timing is filled before a result (and only read after one)
		tr.StampAt(trace.ComputeStart, timing.RunStart)
		tr.StampAt(trace.ComputeEnd, timing.RunEnd)
		tr.RecordTensors("TENSOR_BACKEND_OUTPUT", tensor.Names(v.runOutputs), outputs)
	}
	return outputs, err
}

// Labels is the model's class names from its archive (index_to_name.json, or a Hugging Face
// config.json's id2label), read once; nil when it has none.
func (v *Version) Labels() (map[int]string, error) { return v.labels() }

// ModelInfo is what the ONNX model says of itself (producer, IR version, opset and its
// metadata_props), read from the file once.
func (v *Version) ModelInfo() (*onnx.Model, error) { return v.graph() }

// HandlerDescription is what the version's custom handler says of its model
// (handler.Describer: TorchServe's describe_handle), within the response timeout; nil when
// its handler has nothing to say or is not a custom one.
func (v *Version) HandlerDescription(ctx context.Context) (json.RawMessage, error) {
	v.mu.Lock()
	h, timeout := v.handler, time.Duration(v.settings.ResponseTimeout)*time.Second
	v.mu.Unlock()
	d, ok := h.(handler.Describer)
	if !ok {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return d.Describe(ctx)
}

// Ready reports whether the version takes requests: a worker is ready, or it was unloaded
// for being idle (unloadAfterIdle) and the next request loads it.
func (v *Version) Ready() bool { return v.ready(0) }

// ready is Ready for a version depth ensembles deep.
func (v *Version) ready(depth int) bool {
	if v.ensemble != nil {
		return depth < ensemble.MaxDepth && v.reg.stepsReady(v.ensemble, depth+1)
	}
	return v.Idle() || v.readyWorkers() > 0
}

// Idle reports whether the version is unloaded for being idle (unloadAfterIdle).
func (v *Version) Idle() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.idle
}

func (v *Version) noWorker() error { return &NoWorkerError{Model: v.Name} }

// queueFull is the answer to a request the version's full job queue turns away:
// TorchServe's 503 (the one it gives when no worker serves), or a 429 where
// job_queue_full_status asks for it.
func (v *Version) queueFull() error {
	if v.reg.opts.Defaults.JobQueueFullStatus != http.StatusTooManyRequests {
		return v.noWorker()
	}
	v.mu.Lock()
	size := v.settings.JobQueueSize
	v.mu.Unlock()
	return apierror.New(http.StatusTooManyRequests, apierror.TypeTooManyRequests,
		"Model \"%s\" has its job queue full (jobQueueSize %d): try again later", v.Name, size)
}

// NoWorkerError is TorchServe's 503 for a version with no worker to take a request (none
// running, or its queue full). Version is set when the request named it, as TorchServe's
// message then does.
type NoWorkerError struct{ Model, Version string }

func (e *NoWorkerError) Error() string { return e.api().Message }

// Unwrap gives the API error, for apierror.From.
func (e *NoWorkerError) Unwrap() error { return e.api() }

func (e *NoWorkerError) api() *apierror.Error {
	version := ""
	if e.Version != "" {
		version = " Version " + e.Version
	}
	return apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable,
		"Model \"%s\"%s has no worker to serve inference request. Please use scale workers API to add workers.", e.Model, version)
}

// inferError maps batching and run errors to API errors.
func (v *Version) inferError(client context.Context, err error, timeout time.Duration) error {
	var ie *engine.InputError
	var qt *batch.QueueTimeError
	switch {
	case client.Err() != nil:
		return client.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return apierror.New(http.StatusRequestTimeout, apierror.TypeRequestTimeout, "Inference of model %s timed out after %v (responseTimeout)", v.Name, timeout)
	case errors.Is(err, batch.ErrQueueFull):
		return v.queueFull()
	case errors.Is(err, batch.ErrNoWorker):
		return v.noWorker()
	case errors.As(err, &qt):
		what := "maxQueueTime"
		if d, ok := batch.MaxQueueTimeOf(client); ok && d == qt.Limit {
			what = "its timeout" // the request's own, shorter (Triton's parameter timeout)
		}
		return apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable, "Request to model %s waited longer than %s (%v) in the queue", v.Name, what, qt.Limit)
	case errors.Is(err, batch.ErrClosed), errors.Is(err, engine.ErrClosed):
		return apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable, "Model \"%s\" version %s is being unloaded", v.Name, v.Version)
	case errors.As(err, &ie):
		return apierror.BadRequest("%s", ie.Msg)
	case errors.Is(err, engine.ErrOutOfResources):
		return apierror.New(http.StatusInsufficientStorage, apierror.TypeInternal, "Out of resources: %v", err)
	case errors.Is(err, batch.ErrWorkerDied):
		return apierror.New(http.StatusInternalServerError, apierror.TypeInternal, "Worker died: %v", err)
	}
	return apierror.New(http.StatusServiceUnavailable, apierror.TypeInternal, "Prediction failed: %v", err)
}

// Info is a version as describe shows it.
type Info struct {
	State    string
	Error    string
	Settings Settings
	Provider string
	Threads  int
	LoadTime time.Duration
	// WarmupTime is the part of LoadTime the warm-up took.
	WarmupTime time.Duration
	LoadedAt   time.Time
	Workers    []batch.WorkerInfo
	Queue      batch.Stats
	// Unbatchable says why the model cannot batch ("" when it can).
	Unbatchable string
	// Cached is whether the version's answers go to the response cache (its settings ask
	// for it and the server has one).
	Cached bool
	// Processes are a custom handler's processes (nil for other handlers).
	Processes []handler.Process
	// Sequences is how many sequences a Triton sequence model holds (-1 for other models).
	Sequences int
}

// Statistics is what the version has served since it was registered.
func (v *Version) Statistics() Statistics { return v.stats.snapshot() }

// TritonConfig is the config.pbtxt of a version served from a Triton model folder (nil
// for others).
func (v *Version) TritonConfig() *oippb.ModelConfig { return v.archive.Triton }

// Ensemble reports whether the version is a Triton ensemble, whose steps are other models.
func (v *Version) Ensemble() bool { return v.ensemble != nil }

// EnsembleSteps names the models of an ensemble's steps, each once (none for a model).
func (v *Version) EnsembleSteps() []string {
	if v.ensemble == nil {
		return nil
	}
	var names []string
	for _, s := range v.ensemble.Steps() {
		if !slices.Contains(names, s.Model) {
			names = append(names, s.Model)
		}
	}
	return names
}

// TritonPlatform is the version's platform as Triton names it: onnxruntime_onnx, or
// ensemble.
func (v *Version) TritonPlatform() string {
	if v.ensemble != nil {
		return "ensemble"
	}
	return "onnxruntime_onnx"
}

// Info describes the version's current state.
func (v *Version) Info() Info {
	v.mu.Lock()
	i := Info{State: v.state, Error: v.lastErr, Settings: v.settings.clone(), Provider: v.provider, Threads: v.threads,
		LoadTime: v.loadTime, WarmupTime: v.warmTime, LoadedAt: v.loadedAt, Unbatchable: v.unbatchable, Cached: v.cache != nil}
	b, h := v.batcher, v.handler
	v.mu.Unlock()
	i.Workers = v.workers()
	if b != nil {
		i.Queue = b.Stats()
		if why := b.Unbatchable(); why != "" && i.Unbatchable == "" {
			i.Unbatchable = "stopped while serving: " + why
		}
	} else {
		i.Queue.Remaining = i.Settings.JobQueueSize
	}
	if q, ok := h.(handler.Queuer); ok { // a custom handler's own batch queue
		n := q.Queued()
		i.Queue.Pending += n
		i.Queue.Remaining -= n
	}
	if l, ok := h.(handler.ProcessLister); ok {
		i.Processes = l.Processes()
	}
	i.Sequences = -1
	if v.seq != nil {
		i.Sequences = v.seq.Active()
	}
	return i
}
