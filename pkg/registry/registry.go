// Package registry keeps the models a server serves: their versions, the default version,
// and for each version its archive, ONNX Runtime session, handler and workers.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/tensor"
)

// Options configure a registry.
type Options struct {
	// TempDir is where archives are extracted ("" = the system's temporary folder).
	TempDir string
	// Engine holds the default session settings.
	Engine engine.Options
	// Limits bound archive extraction.
	Limits archive.Limits
	Logger *slog.Logger
}

// Registry holds the registered models. It is safe for concurrent use.
type Registry struct {
	opts   Options
	log    *slog.Logger
	mu     sync.RWMutex
	models map[string]*model
}

type model struct {
	defaultVersion string
	versions       map[string]*Version
}

// New creates an empty registry.
func New(o Options) *Registry {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Limits == (archive.Limits{}) {
		o.Limits = archive.DefaultLimits()
	}
	return &Registry{opts: o, log: o.Logger, models: map[string]*model{}}
}

// Spec says what to register.
type Spec struct {
	// Path is the archive file or folder.
	Path string
	// URL is how the client named it (a file name in the model store); shown by describe.
	URL string
	// Name and Version override the manifest's.
	Name    string
	Version string
	// Handler overrides the manifest's handler.
	Handler string
	// Workers is how many requests may run the model at once (at least 1).
	Workers int
}

// Version is one loaded version of a model.
type Version struct {
	Name     string
	Version  string
	URL      string
	Manifest *archive.Manifest
	Digest   string
	Handler  string
	Inputs   []tensor.Info
	Outputs  []tensor.Info
	LoadedAt time.Time
	LoadTime time.Duration
	Workers  int
	Provider string

	archive *archive.Opened
	session *engine.Session
	handler handler.Handler
	slots   chan struct{}
}

// Register loads an archive and adds it as a version of its model; the first version of a
// model becomes its default.
func (r *Registry) Register(ctx context.Context, s Spec) (*Version, error) {
	start := time.Now()
	opened, err := archive.Open(ctx, s.Path, r.opts.TempDir, r.opts.Limits)
	if err != nil {
		return nil, apierror.New(400, apierror.TypeInvalidModel, "invalid model archive %s: %v", filepath.Base(s.Path), err)
	}
	v, err := r.load(opened, s)
	if err != nil {
		opened.Close()
		return nil, err
	}
	v.LoadTime = time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.models[v.Name]
	if m == nil {
		m = &model{defaultVersion: v.Version, versions: map[string]*Version{}}
		r.models[v.Name] = m
	}
	if _, dup := m.versions[v.Version]; dup {
		v.close()
		return nil, apierror.New(409, apierror.TypeConflict, "Model version %s is already registered for model %s", v.Version, v.Name)
	}
	m.versions[v.Version] = v
	r.log.Info("model loaded", "model", v.Name, "version", v.Version, "handler", v.Handler,
		"workers", v.Workers, "provider", v.Provider, "load_ms", v.LoadTime.Milliseconds())
	return v, nil
}

func (r *Registry) load(opened *archive.Opened, s Spec) (*Version, error) {
	man := opened.Manifest
	v := &Version{
		Name: man.Model.ModelName, Version: man.Model.ModelVersion, URL: s.URL,
		Manifest: man, Digest: opened.Digest, Handler: man.Model.Handler,
		LoadedAt: time.Now(), Workers: max(1, s.Workers), archive: opened,
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
	cfg, err := handlerConfig(opened)
	if err != nil {
		return nil, apierror.New(400, apierror.TypeInvalidModel, "model %s: %v", v.Name, err)
	}
	sess, err := engine.Load(opened.Path(man.Model.SerializedFile), r.opts.Engine)
	if err != nil {
		return nil, apierror.New(400, apierror.TypeInvalidModel, "model %s: load %s: %v", v.Name, man.Model.SerializedFile, err)
	}
	v.session, v.Provider = sess, sess.Provider()
	v.Inputs, v.Outputs = sess.Inputs(), sess.Outputs()
	h, err := handler.New(v.Handler, &handler.Model{
		Name: v.Name, Version: v.Version, Dir: opened.Dir, Manifest: man,
		Inputs: v.Inputs, Outputs: v.Outputs, Config: cfg,
	})
	if err != nil {
		sess.Close()
		return nil, apierror.New(400, apierror.TypeInvalidModel, "model %s: %v", v.Name, err)
	}
	v.handler = h
	v.slots = make(chan struct{}, v.Workers)
	return v, nil
}

// handlerConfig reads the "handler" section of the archive's model-config.yaml.
func handlerConfig(o *archive.Opened) (map[string]any, error) {
	name := o.Manifest.Model.ConfigFile
	if name == "" {
		return nil, nil
	}
	b, err := os.ReadFile(o.Path(name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	section, _ := doc["handler"].(map[string]any)
	return section, nil
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

// Entry is a model in a listing.
type Entry struct {
	Name           string
	DefaultVersion string
	Versions       []*Version
}

// List returns the models sorted by name, each with its versions sorted.
func (r *Registry) List() []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Entry, 0, len(r.models))
	for name, m := range r.models {
		e := Entry{Name: name, DefaultVersion: m.defaultVersion}
		for _, v := range m.versions {
			e.Versions = append(e.Versions, v)
		}
		sort.Slice(e.Versions, func(i, j int) bool { return e.Versions[i].Version < e.Versions[j].Version })
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Infer runs one request through the handler and the model.
func (v *Version) Infer(ctx context.Context, req *handler.Request) (*handler.Response, error) {
	inputs, err := v.handler.Preprocess(ctx, req)
	if err != nil {
		return nil, err
	}
	select {
	case v.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	outputs, err := v.session.Run(ctx, inputs)
	<-v.slots
	if err != nil {
		var ie *engine.InputError
		if errors.As(err, &ie) {
			return nil, apierror.BadRequest("%s", ie.Msg)
		}
		return nil, err
	}
	return v.handler.Postprocess(ctx, req, outputs)
}

func (v *Version) close() {
	v.session.Close()
	v.archive.Close()
}

// Close unloads every model.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, m := range r.models {
		for _, v := range m.versions {
			v.close()
		}
		delete(r.models, name)
	}
}
