// Package registry keeps the models a server serves: their versions, the default version and
// traffic split, and for each version its archive, handler, settings, batcher and workers.
package registry

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/ensemble"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/onnx"
	"github.com/tsserve/ts/pkg/respcache"
	"github.com/tsserve/ts/pkg/seqbatch"
	"github.com/tsserve/ts/pkg/tensor"
	"github.com/tsserve/ts/pkg/trace"
)

// Defaults are the server-wide settings a version starts from.
type Defaults struct {
	// StartupWorkers is default_workers_per_model for models loaded at start (cores if unset).
	StartupWorkers int
	// RegisterWorkers is the configured default_workers_per_model for POST /models (0 if
	// unset, as TorchServe: a model registered without initial_workers has no workers).
	RegisterWorkers   int
	JobQueueSize      int
	ResponseTimeout   time.Duration
	StartupTimeout    time.Duration
	UnregisterTimeout time.Duration
	IntraOpThreads    int
	// ResponseCacheSize is the response cache's size in bytes, shared by the versions that
	// ask for it (0: no cache).
	ResponseCacheSize int64
	// UnloadAfterIdle is default_unload_after_idle: versions unload after this long without
	// a request (0: never) unless their model-config.yaml says otherwise.
	UnloadAfterIdle time.Duration
	// Sources says, for a per-model setting (e.g. "jobQueueSize") whose server-wide value
	// was configured, where that came from, e.g. "job_queue_size (file config.properties)".
	// A setting not listed has its built-in default.
	Sources map[string]string
	// Models is config.properties' per-model settings.
	Models map[string]map[string]config.ModelConfig
	// MaxResponseSize is max_response_size, the largest answer the server sends (0: no
	// limit): handlers refuse outputs too large for it before writing them.
	MaxResponseSize int64
	// JobQueueFullStatus is job_queue_full_status: the HTTP status of a request a full job
	// queue turns away, 503 (TorchServe's; also when 0) or 429.
	JobQueueFullStatus int
}

// DefaultsFrom takes the defaults from a server's settings.
func DefaultsFrom(cfg *config.Settings) Defaults {
	registerWorkers := 0 // as TorchServe: only a configured default_workers_per_model applies to POST /models
	if cfg.Source("default_workers_per_model") != "default" {
		registerWorkers = cfg.DefaultWorkersPerModel
	}
	return Defaults{
		StartupWorkers: cfg.DefaultWorkersPerModel, RegisterWorkers: registerWorkers,
		JobQueueSize: cfg.JobQueueSize, ResponseTimeout: cfg.DefaultResponseTimeout,
		StartupTimeout: cfg.DefaultStartupTimeout, UnregisterTimeout: cfg.UnregisterModelTimeout,
		IntraOpThreads: cfg.IntraOpThreads, Models: cfg.Models, Sources: serverSources(cfg),
		ResponseCacheSize: cfg.ResponseCacheSize, UnloadAfterIdle: cfg.DefaultUnloadAfterIdle,
		MaxResponseSize: cfg.MaxResponseSize, JobQueueFullStatus: cfg.JobQueueFullStatus,
	}
}

// serverSources names the server-wide keys behind the per-model settings that were
// configured (by a flag, the environment or config.properties) rather than left at their
// defaults.
func serverSources(cfg *config.Settings) map[string]string {
	keys := map[string]string{
		"minWorkers": "default_workers_per_model", "maxWorkers": "default_workers_per_model",
		"jobQueueSize": "job_queue_size", "responseTimeout": "default_response_timeout",
		"startupTimeout": "default_startup_timeout", "intraOpThreads": "intra_op_threads",
		"unloadAfterIdle": "default_unload_after_idle",
	}
	sources := map[string]string{}
	for setting, key := range keys {
		if src := cfg.Source(key); src != "" && src != "default" {
			sources[setting] = key + " (" + src + ")"
		}
	}
	return sources
}

// Options configure a registry.
type Options struct {
	// TempDir is where archives are extracted ("" = the system's temporary folder).
	TempDir string
	// Engine holds the session settings (provider, fallback, ...).
	Engine   engine.Options
	Limits   archive.Limits
	Defaults Defaults
	Logger   *slog.Logger
	// Cores is the number of CPU cores threads are planned for (0 = runtime.NumCPU()).
	Cores int
	// GPUs is how many GPUs the versions go round when Engine.Provider names no device
	// (number_of_gpu): each version that runs on a GPU and picks none is put on the next.
	GPUs int
	// Clock drives batching (nil = the wall clock).
	Clock batch.Clock
	// OnChange is called after every change of what is registered (for snapshots).
	OnChange func()
	// Tracer samples requests for Triton's trace extension (nil: none); a traced request's
	// queue and run times are stamped here.
	Tracer *trace.Tracer
	// OnRemoved is called when a version is gone (unregistered and drained, or failed to
	// load), with whether it was its model's last version (to drop its metrics).
	OnRemoved func(model, version string, modelGone bool)
	// OnBatch is called after each batch (for metrics).
	OnBatch func(model, version string, r batch.Report)
	// OnHandlerMetric receives the custom metrics custom handlers report; an error (a
	// metric that cannot be recorded) is logged.
	OnHandlerMetric func(model, version, name, typ, unit string, value float64, dimensions map[string]string) error
}

// Registry holds the registered models. It is safe for concurrent use.
type Registry struct {
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	models map[string]*model
	// opening counts registrations still reading their archive: /ping is not Healthy yet.
	opening atomic.Int32
	// gpuTurn counts the versions put on a GPU by turns (assignGPU).
	gpuTurn atomic.Uint64
	// cache keeps the answers of the versions whose settings ask for it (nil: no cache,
	// those versions run every request).
	cache *respcache.Cache
	// versions numbers the versions created, for the response cache's keys: a version
	// registered again with the same name never reads its predecessor's answers.
	versions atomic.Uint64
	// idleWatch starts, once, the goroutine that unloads idle versions (unloadAfterIdle);
	// stop ends it.
	idleWatch sync.Once
	stop      chan struct{}
	stopOnce  sync.Once
}

// idleCheck is how often versions are checked for having been idle past unloadAfterIdle.
const idleCheck = 250 * time.Millisecond

// watchIdle unloads, until the registry closes, the versions idle past their
// unloadAfterIdle; it starts with the first version that has one.
func (r *Registry) watchIdle() {
	r.idleWatch.Do(func() {
		go func() {
			t := time.NewTicker(idleCheck)
			defer t.Stop()
			for {
				select {
				case <-r.stop:
					return
				case now := <-t.C:
					for _, e := range r.List() {
						for _, v := range e.Versions {
							v.unloadIfIdle(now)
						}
					}
				}
			}
		}()
	})
}

type model struct {
	defaultVersion string
	versions       map[string]*Version
	split          map[string]int // version → weight; nil when no split
}

// New creates an empty registry.
func New(o Options) *Registry {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Limits == (archive.Limits{}) {
		o.Limits = archive.DefaultLimits()
	}
	if o.Cores <= 0 {
		o.Cores = runtime.NumCPU()
	}
	d := &o.Defaults
	if d.JobQueueSize <= 0 {
		d.JobQueueSize = 100
	}
	if d.ResponseTimeout <= 0 {
		d.ResponseTimeout = 120 * time.Second
	}
	if d.StartupTimeout <= 0 {
		d.StartupTimeout = 120 * time.Second
	}
	if d.UnregisterTimeout <= 0 {
		d.UnregisterTimeout = 120 * time.Second
	}
	if d.StartupWorkers <= 0 {
		d.StartupWorkers = o.Cores
	}
	r := &Registry{opts: o, log: o.Logger, models: map[string]*model{}, stop: make(chan struct{})}
	if d.ResponseCacheSize > 0 {
		r.cache = respcache.New(d.ResponseCacheSize)
	}
	return r
}

func (r *Registry) changed() {
	if r.opts.OnChange != nil {
		r.opts.OnChange()
	}
}

// Spec says what to register.
type Spec struct {
	// Path is the archive file or folder on disk.
	Path string
	// URL is how the client named it (shown by describe, kept in snapshots).
	URL string
	// Name, Version and Handler override the manifest's.
	Name    string
	Version string
	Handler string
	// Runtime, when given, must be one TorchServe accepts (python, python3, LSP) or onnx.
	Runtime   string
	Overrides Overrides
	// Startup marks models loaded when the server starts (default workers differ).
	Startup bool
	// Synchronous waits for the workers to start.
	Synchronous bool
	// Default makes this version the model's default.
	Default bool
	// Workflow names the workflow the model is a node of (see Version.Workflow).
	Workflow string
	// Downloaded marks an archive the server fetched from an http(s) url into the model
	// store for this registration: it is deleted when the version is unregistered (not when
	// the server stops), as TorchServe deletes it, so that the url can be registered again.
	Downloaded bool
	// Internal marks an archive the server wrote itself (a workflow's function nodes, from a
	// workflow archive already checked): it needs no signature by a trusted key.
	Internal bool
	// sharesConfig marks a version of a Triton model folder registered with another that
	// logs what of their config.pbtxt ts does not apply, once for all.
	sharesConfig bool
}

// Extraction is where archives are extracted and the limits they are read with, for other
// archives the server unpacks (workflows).
func (r *Registry) Extraction() (tempDir string, lim archive.Limits) {
	return r.opts.TempDir, r.opts.Limits
}

// Register opens an archive, checks it and adds it as a version of its model; the first
// version of a model becomes its default. Workers start as the settings say: Register waits
// for them when s.Synchronous, otherwise they load in the background. An archive downloaded
// for the registration (s.Downloaded) is deleted when it fails.
func (r *Registry) Register(ctx context.Context, s Spec) (*Version, error) {
	r.opening.Add(1)
	defer r.opening.Add(-1)
	v, err := r.openVersion(ctx, s)
	if err == nil {
		v, err = r.publish(ctx, v, s)
	}
	if err != nil && s.Downloaded {
		os.Remove(s.Path)
	}
	return v, err
}

// RegisterAll is Register for a source that may hold several versions: a Triton model
// folder without s.Version registers every version its version_policy serves, highest first
// and the highest the default (as Triton answers a request without a version), all or none.
// Anything else registers as Register does. It returns the versions registered.
func (r *Registry) RegisterAll(ctx context.Context, s Spec) ([]*Version, error) {
	specs, err := r.versionSpecs(s)
	if err != nil {
		return nil, err
	}
	var out []*Version
	for _, vs := range specs {
		v, err := r.Register(ctx, vs)
		if err != nil {
			for _, done := range out {
				r.remove(done)
			}
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ReloadAll is Reload for a source that may hold several versions: a Triton model folder
// without s.Version reloads (or registers) every version its version_policy serves, lowest
// first, so that the highest, when new, becomes the default. It stops at the first version
// that fails, the ones before it reloaded. Anything else reloads as Reload does.
func (r *Registry) ReloadAll(ctx context.Context, s Spec) ([]*Version, error) {
	specs, err := r.versionSpecs(s)
	if err != nil {
		return nil, err
	}
	var out []*Version
	for _, vs := range slices.Backward(specs) {
		v, err := r.Reload(ctx, vs)
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
	return out, nil
}

// assignGPU puts a version that runs on a GPU, when neither the server's provider (cuda,
// not cuda:1) nor the version's deviceIds name one, on the next of the server's GPUs, as
// TorchServe goes round them (number_of_gpu): deviceIds then says which, set by
// FromGPUTurns.
func (r *Registry) assignGPU(s *Settings) {
	if r.opts.GPUs < 2 || len(s.DeviceIDs) > 0 || strings.Contains(r.opts.Engine.Provider, ":") {
		return
	}
	if providers, _ := s.Providers(r.opts.Engine.Provider); providers[0] == DeviceCPU {
		return
	}
	id := int((r.gpuTurn.Add(1) - 1) % uint64(r.opts.GPUs))
	s.DeviceIDs, s.Sources["deviceIds"] = []int{id}, FromGPUTurns
}

// invalidArchive is the 400 of a registration whose archive (or bare model, or Triton folder)
// cannot be opened: named as the request named it, the server's own path left out of err.
func invalidArchive(s Spec, err error) error {
	msg := strings.TrimPrefix(err.Error(), s.Path+": ")
	return apierror.New(http.StatusBadRequest, apierror.TypeInvalidModel, "invalid model archive %s: %s", s.URL, msg)
}

// versionSpecs are the registrations s stands for: s itself, or for a Triton model folder
// without s.Version one for each version its policy serves, highest first and the default.
func (r *Registry) versionSpecs(s Spec) ([]Spec, error) {
	if s.Version != "" || !archive.IsTritonModel(s.Path) {
		return []Spec{s}, nil
	}
	cfg, err := archive.ReadTritonConfig(s.Path)
	var versions []string
	if err == nil {
		versions, err = archive.TritonVersions(s.Path, cfg)
	}
	if err != nil {
		return nil, invalidArchive(s, err)
	}
	specs := make([]Spec, len(versions))
	for i, version := range versions {
		specs[i] = s
		specs[i].Version, specs[i].Default, specs[i].sharesConfig = version, i == 0, i > 0
	}
	return specs, nil
}

// publish adds a version just read (openVersion) to the registry and starts its workers, as
// s says (synchronously or not).
func (r *Registry) publish(ctx context.Context, v *Version, s Spec) (*Version, error) {
	// read before v is published: from then on another request may Scale it
	minWorkers, maxWorkers, batchSize := v.settings.MinWorkers, v.settings.MaxWorkers, v.settings.BatchSize
	r.mu.Lock()
	m := r.models[v.Name]
	if m == nil {
		m = &model{defaultVersion: v.Version, versions: map[string]*Version{}}
		r.models[v.Name] = m
	}
	if _, dup := m.versions[v.Version]; dup {
		r.mu.Unlock()
		v.close()
		return nil, apierror.New(http.StatusConflict, apierror.TypeConflict, "Model version %s is already registered for model %s", v.Version, v.Name)
	}
	m.versions[v.Version] = v
	if s.Default {
		m.defaultVersion = v.Version
	}
	r.mu.Unlock()
	r.log.Info("model registered", "model", v.Name, "version", v.Version, "handler", v.Handler, "url", v.URL,
		"min_workers", minWorkers, "batch_size", batchSize)
	r.changed()
	if minWorkers == 0 {
		return v, nil
	}
	if !s.Synchronous {
		go v.Scale(context.Background(), minWorkers, maxWorkers)
		return v, nil
	}
	if err := v.Scale(ctx, minWorkers, maxWorkers); err != nil {
		if errors.Is(err, ErrUnregistered) { // unregistered meanwhile, by another request
			return nil, apierror.ModelNotFound(v.Name)
		}
		// as TorchServe: a synchronous registration whose workers fail is undone
		r.remove(v)
		return nil, apierror.Internal("Failed to start workers for model %s version: %s: %v", v.Name, v.Version, err)
	}
	return v, nil
}

// Reload registers an archive again under a version that is registered (Triton's load of a
// loaded model, after its repository changed): the new version loads beside the old one,
// which serves until the new one is ready; then requests go to the new one (its default and
// traffic split kept) and the old one drains. If the new one fails to load, the old one
// stays. An archive of a version not registered is registered, as the model's default.
func (r *Registry) Reload(ctx context.Context, s Spec) (*Version, error) {
	v, err := r.openVersion(ctx, s)
	if err != nil {
		return nil, err
	}
	r.mu.RLock()
	var old *Version
	if m := r.models[v.Name]; m != nil {
		old = m.versions[v.Version]
	}
	r.mu.RUnlock()
	if old == nil { // a new version: registered as Register does
		r.opening.Add(1)
		defer r.opening.Add(-1)
		s.Default = true
		return r.publish(ctx, v, s)
	}
	workers, maxWorkers := v.settings.MinWorkers, v.settings.MaxWorkers
	if workers == 0 { // a loaded model keeps serving: as many workers as it had
		st := old.Settings()
		workers, maxWorkers = max(st.MinWorkers, 1), max(st.MaxWorkers, 1)
	}
	if err := v.Scale(ctx, workers, maxWorkers); err != nil {
		v.close()
		return nil, apierror.Internal("Failed to reload model %s version %s: %v (the loaded one goes on serving)", v.Name, v.Version, err)
	}
	r.mu.Lock()
	m := r.models[v.Name]
	if m == nil || m.versions[v.Version] != old {
		r.mu.Unlock()
		v.close()
		return nil, apierror.New(http.StatusConflict, apierror.TypeConflict, "Model %s version %s changed while it reloaded", v.Name, v.Version)
	}
	m.versions[v.Version] = v
	old.replacement.Store(v)
	r.mu.Unlock()
	r.changed()
	r.log.Info("model reloaded", "model", v.Name, "version", v.Version, "url", v.URL)
	if err := old.drain(ctx, r.opts.Defaults.UnregisterTimeout); err != nil {
		r.log.Warn("the replaced version's requests did not all finish", "model", v.Name, "version", v.Version, "err", err)
	}
	return v, nil
}

// openVersion opens the archive s names and reads the version from it, unpublished and not
// loaded.
func (r *Registry) openVersion(ctx context.Context, s Spec) (*Version, error) {
	if s.Runtime != "" && archive.ValidRuntime(s.Runtime) != nil {
		return nil, apierror.BadRequest("Invalid RuntimeType value: %s", s.Runtime) // TorchServe's words
	}
	lim := r.opts.Limits
	if s.Internal {
		lim.Trusted = nil
	}
	opened, err := archive.OpenVersion(ctx, s.Path, s.Version, r.opts.TempDir, lim)
	if err != nil {
		return nil, invalidArchive(s, err)
	}
	v, err := r.newVersion(opened, s)
	if err != nil {
		opened.Close()
		return nil, err
	}
	return v, nil
}

// newVersion reads what a version needs from its archive, without loading the model.
func (r *Registry) newVersion(opened *archive.Opened, s Spec) (*Version, error) {
	man := opened.Manifest
	v := &Version{
		Name: man.Model.ModelName, Version: man.Model.ModelVersion, URL: s.URL, Manifest: man,
		Digest: opened.Digest, Handler: man.Model.Handler, Startup: s.Startup, Workflow: s.Workflow,
		RegisteredAt: time.Now(), archive: opened, reg: r, state: StateStopped,
	}
	if s.Downloaded {
		v.downloaded = s.Path
	}
	if s.Name != "" {
		v.Name = s.Name
	}
	if s.Version != "" {
		v.Version = s.Version
	}
	if s.Handler != "" {
		v.Handler = s.Handler
	}
	if err := archive.ValidModelName(v.Name); err != nil {
		return nil, apierror.BadRequest("%v", err)
	}
	if err := archive.ValidVersion(v.Version); err != nil {
		return nil, apierror.BadRequest("%v", err)
	}
	invalid := func(format string, args ...any) error {
		return apierror.New(http.StatusBadRequest, apierror.TypeInvalidModel, "model %s: %s", v.Name, fmt.Sprintf(format, args...))
	}
	if man.Runtime != "" { // archives from other tools may leave it out
		if err := archive.ValidRuntime(man.Runtime); err != nil {
			return nil, invalid("%s: %v", archive.ManifestPath, err)
		}
	}
	y, err := readModelYAML(opened)
	if err != nil {
		return nil, invalid("%v", err)
	}
	var props *config.ModelConfig
	if byVersion, ok := r.opts.Defaults.Models[v.Name]; ok {
		if mc, ok := byVersion[v.Version]; ok {
			props = &mc
		}
	}
	if v.settings, err = resolveSettings(r.opts.Defaults, props, y, s.Overrides, s.Startup); err != nil {
		return nil, invalid("%v", err)
	}
	v.stateful = v.settings.SequenceBatching
	r.assignGPU(&v.settings)
	providers, askedGPU := v.settings.Providers(r.opts.Engine.Provider)
	for _, provider := range providers { // a GPU asked for may turn out to be the CPU: checked at load then
		if err := engine.CheckArenaShrinkageFits(v.settings.MemArenaShrinkage, provider, !v.settings.MemArena); err != nil && !askedGPU {
			return nil, invalid("memArenaShrinkage (from %s): %v", v.settings.Sources["memArenaShrinkage"], err)
		}
	}
	if v.settings.UnloadAfterIdle > 0 {
		r.watchIdle()
	}
	// the ONNX model's header, read once: for the signature here when the manifest has none,
	// and for describe's customizedMetadata
	v.graph = sync.OnceValues(func() (*onnx.Model, error) { return onnx.ReadFile(opened.Path(man.Model.SerializedFile)) })
	if opened.Triton != nil && archive.IsTritonEnsemble(opened.Triton) {
		if v.Handler != archive.PlainHandler {
			return nil, invalid("an ensemble's requests carry tensors: serve it with the %s handler, not %s", archive.PlainHandler, v.Handler)
		}
		if v.Inputs, v.Outputs, err = tritonEnsembleIO(opened.Triton); err != nil {
			return nil, invalid("%v", err)
		}
		if v.ensemble, err = ensemble.New(v.Name, opened.Triton, v.Inputs, v.Outputs); err != nil {
			return nil, invalid("%s: %v", archive.TritonConfigFile, err)
		}
		v.graph = func() (*onnx.Model, error) { return nil, errNoModel }
	}
	// the signature, from the manifest or else the ONNX graph: no session is needed yet
	switch sig := man.Signature; {
	case v.ensemble != nil:
	case man.Model.SerializedFile == "":
		// As TorchServe, an archive may hold no model, for a custom handler that runs its
		// own (startHandler checks that it does)
		if handler.IsBuiltin(v.Handler) {
			return nil, invalid("its manifest names no serializedFile, the .onnx model the built-in handler %s runs", v.Handler)
		}
		v.graph = func() (*onnx.Model, error) { return nil, errNoModel }
		v.Inputs, v.Outputs = []tensor.Info{}, []tensor.Info{}
	case sig != nil:
		v.Inputs, v.Outputs = sig.Inputs, sig.Outputs
	default:
		m, err := v.graph()
		switch {
		case errors.Is(err, onnx.ErrNotONNX):
			msg := fmt.Sprintf("its serialized file %s is not an ONNX model", man.Model.SerializedFile)
			if hint := onnx.Hint(man.Model.SerializedFile); hint != "" {
				msg += ": " + hint
			}
			return nil, invalid("%s", msg)
		case err != nil:
			return nil, invalid("serialized file %s: %v", man.Model.SerializedFile, err)
		}
		v.Inputs, v.Outputs = m.Inputs, m.Outputs
	}
	v.runInputs, v.runOutputs = v.Inputs, v.Outputs
	if opened.Triton != nil {
		if v.ensemble == nil {
			if v.reshape, v.Inputs, v.Outputs, err = newReshaper(opened.Triton, v.runInputs, v.runOutputs); err != nil {
				return nil, invalid("%v", err)
			}
		} else if slices.ContainsFunc(opened.Triton.GetInput(), func(in *oippb.ModelInput) bool { return in.GetReshape() != nil }) ||
			slices.ContainsFunc(opened.Triton.GetOutput(), func(out *oippb.ModelOutput) bool { return out.GetReshape() != nil }) {
			return nil, invalid("%s: reshape is not supported on an ensemble's inputs and outputs (reshape its steps' models' instead)", archive.TritonConfigFile)
		}
		if sb := opened.Triton.GetSequenceBatching(); sb != nil {
			if v.Handler != archive.PlainHandler {
				return nil, invalid("sequence_batching: a sequence model's requests carry tensors: serve it with the %s handler, not %s", archive.PlainHandler, v.Handler)
			}
			if v.seq, err = seqbatch.New(v.Name, sb, opened.Triton.GetMaxBatchSize() > 0, v.runInputs, v.runOutputs, opened.Dir); err != nil {
				return nil, invalid("%v", err)
			}
			v.Inputs, v.Outputs = v.seq.Inputs(v.Inputs), v.seq.Outputs(v.Outputs)
		}
		if err := checkTritonIO(opened.Triton, v.Inputs, v.Outputs); err != nil {
			return nil, invalid("%v", err)
		}
		if !s.sharesConfig { // else said for the folder's first version
			for _, note := range tritonUnapplied(opened.Triton) {
				r.log.Warn(FromTritonConfig+": "+note, "model", v.Name)
			}
		}
	}
	for _, note := range y.unapplied {
		r.log.Warn(opened.Manifest.Model.ConfigFile+": "+note, "model", v.Name, "version", v.Version)
	}
	if (opened.Format == archive.ONNXFile || opened.Format == archive.TritonModel) && v.Handler == archive.PlainHandler && takesImages(v.Inputs) {
		r.log.Info("the model takes images, which the tensor handler reads as tensors only: serve it with an image handler to send image files (ts serve --handler image_classifier, image_segmenter or object_detector; handler= when registering)",
			"model", v.Name, "version", v.Version, "input", v.Inputs[0].String())
	}
	var metadata map[string]string // the ONNX model's metadata_props: class names some exporters keep there
	if m, err := v.graph(); err == nil {
		metadata = m.Metadata
	}
	v.handlerModel = &handler.Model{
		Name: v.Name, Version: v.Version, Dir: opened.Dir, Manifest: man, Handler: v.Handler,
		Inputs: v.Inputs, Outputs: v.Outputs, Config: y.Handler, YAML: y.All, Metadata: metadata, Workers: v.settings.MinWorkers,
		Timeout: time.Duration(v.settings.ResponseTimeout) * time.Second, StartupTimeout: time.Duration(v.settings.StartupTimeout) * time.Second,
		MaxRetry: time.Duration(v.settings.MaxRetryTimeout) * time.Second, MaxResponse: r.opts.Defaults.MaxResponseSize,
		BatchSize: v.settings.BatchSize, MaxBatchDelay: time.Duration(v.settings.MaxBatchDelay) * time.Millisecond, QueueSize: v.settings.JobQueueSize,
		OnBatch: v.reportBatch,
	}
	if man.Model.SerializedFile != "" {
		v.handlerModel.Run = v.runForHandler
	}
	v.handlerModel.ContinuousBatching = v.settings.ContinuousBatching
	if v.settings.SequenceBatching {
		v.handlerModel.MaxSequences = v.settings.MaxNumSequence
		v.handlerModel.SequenceIdle = time.Duration(v.settings.SequenceMaxIdleMSec) * time.Millisecond
		v.handlerModel.SequenceQueue = v.settings.MaxSequenceJobQueueSize
	}
	v.labels = sync.OnceValues(func() (map[int]string, error) { return handler.ClassLabels(opened.Dir, metadata) })
	v.unbatchable = unbatchable(v.runInputs, v.runOutputs)
	v.cacheOwner = r.versions.Add(1)
	if v.settings.ResponseCache {
		switch {
		case man.Model.SerializedFile == "" || !handler.IsBuiltin(v.Handler):
			return nil, invalid("responseCache: only models with a built-in handler can use the response cache (a custom handler's answers are its own)")
		case v.seq != nil:
			return nil, invalid("responseCache: a sequence model's answers depend on the sequence's earlier requests: they cannot be cached")
		case r.cache == nil:
			r.log.Warn("responseCache asked for, but the server has no response cache (response_cache_size 0): every request runs", "model", v.Name, "version", v.Version)
		default:
			v.cache = r.cache
		}
	}
	if w := v.settings.Warmup; w != nil && v.reshape != nil {
		v.settings.Warmup = v.reshape.warmup(w, v.runInputs) // model_warmup's dims are config.pbtxt's
	}
	if w := v.settings.Warmup; w != nil {
		if man.Model.SerializedFile == "" && w.Runs > 0 {
			return nil, invalid("warmup: the archive holds no ONNX model to warm up")
		}
		if err := w.check(v.runInputs, v.unbatchable == "", v.settings.BatchSize, opened.Dir); err != nil {
			return nil, invalid("%v", err)
		}
		if w.Runs == 0 {
			v.settings.Warmup = nil // warmup: 0 turns it off
		}
	}
	start := v.startHandler
	if !handler.IsBuiltin(v.Handler) && man.Model.SerializedFile != "" {
		// a custom handler of a model starts when its workers first do, once the model is
		// loaded, so that it may run the model while it initialises (scaleTo); here only
		// its file is looked for
		start = func() error { return handler.CheckCustom(v.handlerModel) }
	}
	if err := start(); err != nil {
		if v.settings.MinWorkers > 0 {
			return nil, invalid("%v", err)
		}
		// As TorchServe, whose workers load the handler: a version registered with no
		// worker stays registered, FAILED, and scaling it up fails with the handler's error.
		v.state, v.lastErr = StateFailed, err.Error()
		r.log.Warn("handler failed; the model stays registered with no worker", "model", v.Name, "version", v.Version,
			"handler", v.Handler, "err", err)
	}
	return v, nil
}

// ResponseCache is the response cache the versions that ask for it share (nil: none).
func (r *Registry) ResponseCache() *respcache.Cache { return r.cache }

// Hold keeps /ping from reporting Healthy until release is called: the server holds it
// while its start-up models load.
func (r *Registry) Hold() (release func()) {
	r.opening.Add(1)
	var once sync.Once
	return func() { once.Do(func() { r.opening.Add(-1) }) }
}

// Get returns a version of a model; version "" means the default version.
func (r *Registry) Get(name, version string) (*Version, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := r.models[name]
	if m == nil {
		return nil, apierror.ModelNotFound(name)
	}
	if version == "" {
		version = m.defaultVersion
	}
	v := m.versions[version]
	if v == nil {
		return nil, apierror.VersionNotFound(name, version)
	}
	return v, nil
}

// StartupModel is the name of the only model (among those still registered) that was loaded
// when the server started, or "" when there are none or several: SageMaker's /invocations
// goes to it when the request names no model, as in TorchServe.
func (r *Registry) StartupModel() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	found := ""
	for name, m := range r.models {
		for _, v := range m.versions {
			if v.Startup {
				if found != "" {
					return ""
				}
				found = name
				break
			}
		}
	}
	return found
}

// Route picks the version that serves a request: the one asked for, else a version drawn
// from the model's traffic split (by the hash of key when given, so a key always lands on
// the same version), else the default version.
func (r *Registry) Route(name, version, key string) (*Version, error) {
	if version != "" {
		return r.Get(name, version)
	}
	r.mu.RLock()
	m := r.models[name]
	if m == nil || m.split == nil {
		r.mu.RUnlock()
		return r.Get(name, "")
	}
	versions := make([]string, 0, len(m.split))
	total := 0
	for ver, w := range m.split {
		versions = append(versions, ver)
		total += w
	}
	sort.Strings(versions)
	var draw int
	if key != "" {
		h := fnv.New64a()
		h.Write([]byte(key))
		draw = int(h.Sum64() % uint64(total))
	} else {
		draw = rand.IntN(total)
	}
	chosen := versions[len(versions)-1]
	for _, ver := range versions {
		if draw < m.split[ver] {
			chosen = ver
			break
		}
		draw -= m.split[ver]
	}
	r.mu.RUnlock()
	return r.Get(name, chosen)
}

// SetSplit sets a model's traffic split (version → weight); nil or empty clears it.
func (r *Registry) SetSplit(name string, weights map[string]int) error {
	r.mu.Lock()
	m := r.models[name]
	if m == nil {
		r.mu.Unlock()
		return apierror.ModelNotFound(name)
	}
	if len(weights) == 0 {
		m.split = nil
		r.mu.Unlock()
		r.changed()
		return nil
	}
	total := 0
	for ver, w := range weights {
		if m.versions[ver] == nil {
			r.mu.Unlock()
			return apierror.VersionNotFound(name, ver)
		}
		if w < 0 {
			r.mu.Unlock()
			return apierror.BadRequest("traffic split weight for version %s must be ≥ 0, got %d", ver, w)
		}
		total += w
	}
	if total == 0 {
		r.mu.Unlock()
		return apierror.BadRequest("traffic split weights add up to 0")
	}
	m.split = map[string]int{}
	for ver, w := range weights {
		if w > 0 {
			m.split[ver] = w
		}
	}
	r.mu.Unlock()
	r.log.Info("traffic split set", "model", name, "weights", weights)
	r.changed()
	return nil
}

// Split returns a model's traffic split (nil when none).
func (r *Registry) Split(name string) map[string]int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := r.models[name]
	if m == nil || m.split == nil {
		return nil
	}
	out := make(map[string]int, len(m.split))
	for k, v := range m.split {
		out[k] = v
	}
	return out
}

// SetDefault makes a version the model's default. Requests in flight finish on the version
// they started on; new ones go to the new default.
func (r *Registry) SetDefault(name, version string) error {
	r.mu.Lock()
	m := r.models[name]
	if m == nil {
		r.mu.Unlock()
		return apierror.ModelNotFound(name)
	}
	if m.versions[version] == nil {
		r.mu.Unlock()
		return apierror.VersionNotFound(name, version)
	}
	m.defaultVersion = version
	r.mu.Unlock()
	r.changed()
	return nil
}

// Unregister removes a version (the default version when version is ""). The default
// version cannot be removed while other versions remain. Requests in flight finish first,
// for up to the unregister timeout.
func (r *Registry) Unregister(ctx context.Context, name, version string) (*Version, error) {
	r.mu.Lock()
	m := r.models[name]
	if m == nil {
		r.mu.Unlock()
		return nil, apierror.ModelNotFound(name)
	}
	if version == "" {
		version = m.defaultVersion
	}
	v := m.versions[version]
	if v == nil {
		r.mu.Unlock()
		return nil, apierror.VersionNotFound(name, version)
	}
	if version == m.defaultVersion && len(m.versions) > 1 {
		r.mu.Unlock()
		return nil, apierror.New(http.StatusForbidden, apierror.TypeIllegalArgument, "Cannot remove default version for model %s", name)
	}
	gone := r.removeLocked(v)
	r.mu.Unlock()
	r.changed()
	err := v.drain(ctx, r.opts.Defaults.UnregisterTimeout)
	r.removed(v, gone)
	if v.downloaded != "" {
		if rmErr := os.Remove(v.downloaded); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			r.log.Warn("the archive downloaded for the model was not removed", "model", name, "version", version, "err", rmErr)
		}
	}
	if err != nil {
		return v, apierror.New(http.StatusRequestTimeout, apierror.TypeRequestTimeout, "Timed out while cleaning resources: %s", name)
	}
	r.log.Info("model unregistered", "model", name, "version", version)
	return v, nil
}

// remove takes a version out of the registry and unloads it at once.
func (r *Registry) remove(v *Version) {
	r.mu.Lock()
	gone := r.removeLocked(v)
	r.mu.Unlock()
	r.changed()
	v.close()
	r.removed(v, gone)
}

// removed tells OnRemoved that v is gone.
func (r *Registry) removed(v *Version, modelGone bool) {
	if r.opts.OnRemoved != nil {
		r.opts.OnRemoved(v.Name, v.Version, modelGone)
	}
}

// removeLocked takes v out of the registry, if it is there, and reports whether its model
// has no version left.
func (r *Registry) removeLocked(v *Version) bool {
	m := r.models[v.Name]
	if m == nil || m.versions[v.Version] != v {
		return false
	}
	delete(m.versions, v.Version)
	if m.split != nil {
		delete(m.split, v.Version)
		if len(m.split) == 0 {
			m.split = nil
		}
	}
	if len(m.versions) == 0 {
		delete(r.models, v.Name)
		return true
	}
	if m.defaultVersion == v.Version {
		for ver := range m.versions {
			m.defaultVersion = ver
			break
		}
	}
	return false
}

// Entry is a model in a listing.
type Entry struct {
	Name           string
	DefaultVersion string
	Versions       []*Version
	Split          map[string]int
}

// List returns the models sorted by name, each with its versions sorted.
func (r *Registry) List() []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Entry, 0, len(r.models))
	for name, m := range r.models {
		out = append(out, entryOf(name, m))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Model returns one model's entry, its versions sorted, or TorchServe's 404 for an unknown
// model.
func (r *Registry) Model(name string) (Entry, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := r.models[name]
	if m == nil {
		return Entry{}, apierror.ModelNotFound(name)
	}
	return entryOf(name, m), nil
}

// entryOf describes a model (r.mu held): its versions sorted, a copy of its split.
func entryOf(name string, m *model) Entry {
	e := Entry{Name: name, DefaultVersion: m.defaultVersion}
	for _, v := range m.versions {
		e.Versions = append(e.Versions, v)
	}
	if m.split != nil {
		e.Split = map[string]int{}
		for k, w := range m.split {
			e.Split[k] = w
		}
	}
	sort.Slice(e.Versions, func(i, j int) bool { return e.Versions[i].Version < e.Versions[j].Version })
	return e
}

// Health is TorchServe's /ping status: "Healthy" when every default version has its
// minimum of workers ready, "Partial Healthy" when some but not all do, "Unhealthy" when
// none is ready but some are wanted. Models still being opened count as wanted.
func (r *Registry) Health() string {
	r.mu.RLock()
	wanted, ready := int(r.opening.Load()), 0
	for _, m := range r.models {
		v := m.versions[m.defaultVersion]
		if v.Idle() {
			continue // unloaded for being idle: the next request loads it
		}
		want := v.minWorkers()
		wanted += want
		ready += min(v.readyWorkers(), want)
	}
	r.mu.RUnlock()
	switch {
	case ready < wanted && ready > 0:
		return "Partial Healthy"
	case ready < wanted:
		return "Unhealthy"
	}
	return "Healthy"
}

// Close stops every model: no new requests, requests in flight finish (until ctx ends),
// then sessions and extracted archives are freed.
func (r *Registry) Close(ctx context.Context) {
	r.stopOnce.Do(func() { close(r.stop) })
	r.mu.Lock()
	var all []*Version
	for name, m := range r.models {
		for _, v := range m.versions {
			all = append(all, v)
		}
		delete(r.models, name)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, v := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.drain(ctx, r.opts.Defaults.UnregisterTimeout)
		}()
	}
	wg.Wait()
}

// stepModel finds the models of an ensemble's steps: a registered version of each (the
// default for ""), its requests at the ensemble request's priority and steps of its sequence
// (f; a sequence model's). One not registered is a 503: the ensemble cannot serve until it is.
func (r *Registry) stepModel(priority int, f seqbatch.Flags) ensemble.Lookup {
	return func(name, version string) (ensemble.Model, error) {
		v, err := r.Get(name, version)
		if err != nil {
			what := "model " + name
			if version != "" {
				what += " version " + version
			}
			return nil, apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable, "%s is not registered: register (or load) it for the ensemble to serve", what)
		}
		return step{v, priority, f}, nil
	}
}

// step is a registered version as an ensemble's step runs it.
type step struct {
	v        *Version
	priority int
	sequence seqbatch.Flags
}

func (s step) Inputs() []tensor.Info  { return s.v.Inputs }
func (s step) Outputs() []tensor.Info { return s.v.Outputs }
func (s step) Infer(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return s.v.InferStep(ctx, s.sequence, inputs, s.priority)
}

// stepsStateful reports whether a step of an ensemble (depth ensembles deep) has a
// registered version that is stateful (a sequence model, or an ensemble over one).
func (r *Registry) stepsStateful(e *ensemble.Ensemble, depth int) bool {
	for _, s := range e.Steps() {
		if v, err := r.Get(s.Model, s.Version); err == nil && v.isStateful(depth) {
			return true
		}
	}
	return false
}

// stepsReady reports whether every step of an ensemble (depth ensembles deep) has a
// registered version that is ready, as Triton's ensemble is ready once its models are.
func (r *Registry) stepsReady(e *ensemble.Ensemble, depth int) bool {
	for _, s := range e.Steps() {
		v, err := r.Get(s.Model, s.Version)
		if err != nil || !v.ready(depth) {
			return false
		}
	}
	return true
}
