package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/procfs"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/registry"
)

func (s *Server) managementRoutes() *router {
	rt := s.newRouter(Management)
	rt.handle("OPTIONS /{$}", s.apiDescription(Management))
	rt.handle("GET /api-description", s.apiDescription(Management))
	rt.handle("GET /models", s.listModels)
	rt.handle("GET /v1/models/{model}", s.v1Ready) // KServe's readiness, as TorchServe answers it here too
	if s.auth != nil {
		rt.handle("/token", s.auth.rotate)
	}
	rt.handle("POST /models", s.modelAPI(s.registerModel))
	rt.handle("POST /models/upload", s.modelAPI(s.uploadModel))
	rt.handle("GET /models/{model}", s.describeModel)
	rt.handle("GET /models/{model}/{version}", s.describeModel)
	rt.handle("PUT /models/{model}", s.scaleWorkers)
	rt.handle("PUT /models/{model}/{version}", s.scaleWorkers)
	rt.handle("PUT /models/{model}/{version}/set-default", s.setDefault)
	rt.handle("DELETE /models/{model}", s.modelAPI(s.unregisterModel))
	rt.handle("DELETE /models/{model}/{$}", s.modelAPI(s.unregisterModel))
	rt.handle("DELETE /models/{model}/{version}", s.modelAPI(s.unregisterModel))
	rt.handle("GET /models/{model}/split", s.getSplit)
	rt.handle("PUT /models/{model}/split", s.modelAPI(s.putSplit))
	rt.handle("DELETE /models/{model}/split", s.modelAPI(s.deleteSplit))
	s.workflowRoutes(rt)
	return rt
}

// modelAPI guards register and unregister: with enable_model_api=false they answer 405.
func (s *Server) modelAPI(fn apiFunc) apiFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if !s.cfg.EnableModelAPI {
			return apierror.MethodNotAllowed()
		}
		return fn(w, r)
	}
}

// params reads request parameters from the query string, or from a JSON object body with
// the same snake_case keys (as TorchServe accepts for POST /models); a key in both takes the
// body's value.
func params(r *http.Request) (url.Values, error) {
	q := r.URL.Query()
	media, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if media != "application/json" {
		return q, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, apierror.BadRequest("cannot read the request body: %v", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return q, nil
	}
	var body map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 1000000 stays "1000000", not "1e+06"
	if err := dec.Decode(&body); err != nil {
		return nil, apierror.BadRequest("request body is not a JSON object: %v", err)
	}
	for k, v := range body { // TorchServe reads the body alone: its values win
		if v == nil {
			continue // null: not given
		}
		q.Set(k, fmt.Sprint(v))
	}
	return q, nil
}

// optInt reads an integer parameter; a missing or non-integer value counts as not given,
// as TorchServe treats batch_size=dd.
func optInt(q url.Values, key string) *int {
	n, err := strconv.Atoi(strings.TrimSpace(q.Get(key)))
	if err != nil {
		return nil
	}
	return &n
}

// boolParam reads a boolean parameter; anything but true counts as false.
func boolParam(q url.Values, key string, def bool) bool {
	v := q.Get(key)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b
}

// registerModel is POST /models.
func (s *Server) registerModel(w http.ResponseWriter, r *http.Request) error {
	q, path, shown, err := s.archiveParams(r, s.modelStore())
	if err != nil {
		return err
	}
	return s.register(w, r, q, path, shown, isRemote(q.Get("url")))
}

// archiveParams reads a registration's parameters (params) and finds the archive its
// required url names in st (resolveIn): the parameters, the archive's path and the name to
// show for it.
func (s *Server) archiveParams(r *http.Request, st store) (q url.Values, path, shown string, err error) {
	if q, err = params(r); err != nil {
		return nil, "", "", err
	}
	if _, ok := q["url"]; !ok {
		return nil, "", "", apierror.BadRequest("Parameter url is required.")
	}
	if path, shown, err = s.resolveIn(r.Context(), st, q.Get("url"), false); err != nil {
		return nil, "", "", err
	}
	return q, path, shown, nil
}

// register registers the archive at path with POST /models's parameters (and ts's
// model_version) and answers as TorchServe does. An archive this request downloaded
// (downloaded) is deleted if it does not register, and else when it is unregistered.
func (s *Server) register(w http.ResponseWriter, r *http.Request, q url.Values, path, shown string, downloaded bool) error {
	o := registry.Overrides{
		InitialWorkers: optInt(q, "initial_workers"), BatchSize: optInt(q, "batch_size"),
		MaxBatchDelay: optInt(q, "max_batch_delay"), ResponseTimeout: optInt(q, "response_timeout"),
		StartupTimeout: optInt(q, "startup_timeout"),
	}
	if o.InitialWorkers != nil && *o.InitialWorkers < 0 {
		zero := 0
		o.InitialWorkers = &zero
	}
	if o.BatchSize != nil && *o.BatchSize < 1 {
		o.BatchSize = nil
	}
	if o.MaxBatchDelay != nil && *o.MaxBatchDelay < 0 {
		o.MaxBatchDelay = nil
	}
	if o.ResponseTimeout != nil && *o.ResponseTimeout <= 0 {
		o.ResponseTimeout = nil
	}
	// TorchServe's code waits by default (its docs and OpenAPI say false: RegisterModelRequest
	// reads "synchronous" with a default of "true"); ts does as its code does.
	sync := boolParam(q, "synchronous", true)
	versions, err := s.reg.RegisterAll(r.Context(), registry.Spec{
		Path: path, URL: shown, Name: q.Get("model_name"), Version: q.Get("model_version"), Handler: q.Get("handler"),
		Runtime: q.Get("runtime"), Overrides: o, Synchronous: sync, Downloaded: downloaded,
	})
	if err != nil {
		return err // a downloaded archive is gone again (Spec.Downloaded)
	}
	v := versions[0] // the default of a Triton model's versions
	workers := v.Settings().MinWorkers
	switch {
	case workers == 0:
		return statusJSON(w, http.StatusOK, "Model \"%s\" Version: %s registered with 0 initial workers. Use scale workers API to add workers for the model.", v.Name, v.Version)
	case sync:
		return statusJSON(w, http.StatusOK, "Model \"%s\" Version: %s registered with %d initial workers", v.Name, v.Version, workers)
	}
	return statusJSON(w, http.StatusAccepted, "Processing worker updates...")
}

// uploadModel is POST /models/upload?filename=NAME.mar&...: the body is an archive, written
// into the model store (whole or not at all) and registered with POST /models's parameters.
// Off unless enable_model_upload; bounded by max_upload_size.
func (s *Server) uploadModel(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.EnableModelUpload {
		return apierror.New(http.StatusMethodNotAllowed, apierror.TypeMethodNotAllowed, "uploads are off: start ts serve with --enable-upload (enable_model_upload=true)")
	}
	if s.cfg.ModelStore == "" {
		return apierror.BadRequest("uploads need a model store (model_store)")
	}
	q := r.URL.Query()
	name := q.Get("filename")
	if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") || !archive.IsModelFileName(name) {
		return apierror.BadRequest("filename %q: give an archive file name (.mar, .tar.gz, .tgz or .tar.zst) or a model's (.onnx)", name)
	}
	dst := filepath.Join(s.cfg.ModelStore, name)
	if _, err := os.Stat(dst); err == nil {
		return apierror.New(http.StatusConflict, apierror.TypeConflict, "Model file already exists %s", name)
	}
	tooLarge := apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeTooLarge, "the archive is larger than max_upload_size (%d bytes)", s.cfg.MaxUploadSize)
	if err := limitBody(w, r, s.cfg.MaxUploadSize); err != nil {
		return tooLarge
	}
	tmp, err := os.CreateTemp(s.cfg.ModelStore, "."+name+".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, r.Body)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	var over *http.MaxBytesError
	if errors.As(err, &over) {
		return tooLarge
	}
	if err != nil {
		return bodyError(err)
	}
	if n == 0 {
		return apierror.BadRequest("the upload is empty")
	}
	if err := os.Link(tmp.Name(), dst); err != nil {
		if os.IsExist(err) {
			return apierror.New(http.StatusConflict, apierror.TypeConflict, "Model file already exists %s", name)
		}
		return err
	}
	if err := s.register(w, r, q, dst, name, false); err != nil {
		os.Remove(dst) // an archive that does not register does not stay
		return err
	}
	return nil
}

// workerID is a worker's id as TorchServe numbers its workers (by port, from 9000).
func workerID(n int) string { return strconv.Itoa(9000 + n - 1) }

// scaleWorkers is PUT /models/{model}[/{version}].
func (s *Server) scaleWorkers(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	version := r.PathValue("version")
	if version == "" {
		version = q.Get("model_version")
	}
	v, err := s.reg.Get(r.PathValue("model"), version)
	if err != nil {
		return err
	}
	minW := 1
	if p := optInt(q, "min_worker"); p != nil {
		minW = *p
	}
	maxW := minW
	if p := optInt(q, "max_worker"); p != nil {
		maxW = *p
	}
	if maxW < minW {
		return apierror.BadRequest("max_worker cannot be less than min_worker.") // TorchServe's words
	}
	failed := func(err error) error {
		return apierror.Internal("Failed to start workers for model %s version: %s: %v", v.Name, v.Version, err)
	}
	if minW < 0 {
		// TorchServe answers a negative min_worker with a 500 (its API tests pin that status:
		// test/postman/management_data.json), so ts does too, with the reason in the message.
		return failed(fmt.Errorf("min_worker must be 0 or more, got %d", minW))
	}
	if minW > config.MaxWorkersPerModel {
		return apierror.BadRequest("min_worker %d is more than ts allows per model (%d)", minW, config.MaxWorkersPerModel)
	}
	if !boolParam(q, "synchronous", false) {
		go v.Scale(context.Background(), minW, maxW) // outlives the request
		return statusJSON(w, http.StatusAccepted, "Processing worker updates...")
	}
	if err := v.Scale(r.Context(), minW, maxW); err != nil {
		if errors.Is(err, registry.ErrUnregistered) {
			return apierror.ModelNotFound(v.Name) // unregistered meanwhile
		}
		return failed(err)
	}
	suffix := ""
	if r.PathValue("version") != "" || q.Get("model_version") != "" {
		suffix = ", version: " + v.Version
	}
	return statusJSON(w, http.StatusOK, "Workers scaled to %d for model: %s%s", minW, v.Name, suffix)
}

func (s *Server) setDefault(w http.ResponseWriter, r *http.Request) error {
	name, version := r.PathValue("model"), r.PathValue("version")
	if err := s.reg.SetDefault(name, version); err != nil {
		return err
	}
	return statusJSON(w, http.StatusOK, "Default version successfully updated for model \"%s\" to \"%s\"", name, version)
}

func (s *Server) unregisterModel(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("model")
	if _, err := s.reg.Unregister(r.Context(), name, r.PathValue("version")); err != nil {
		return err
	}
	if _, err := s.reg.Model(name); err != nil { // its last version gone: the files it was loaded from, if any
		s.replaceLoadDir(name, "")
	}
	return statusJSON(w, http.StatusOK, "Model \"%s\" unregistered", name)
}

func (s *Server) getSplit(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("model")
	if _, err := s.reg.Get(name, ""); err != nil {
		return err
	}
	weights := s.reg.Split(name)
	if weights == nil {
		weights = map[string]int{}
	}
	return writeJSON(w, http.StatusOK, api.Split{ModelName: name, Weights: weights})
}

// putSplit sets a traffic split from a JSON body {"1.0": 90, "2.0": 10} or the query
// weights=1.0:90,2.0:10.
func (s *Server) putSplit(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("model")
	weights := map[string]int{}
	if spec := r.URL.Query().Get("weights"); spec != "" {
		for _, part := range strings.Split(spec, ",") {
			ver, weight, ok := strings.Cut(part, ":")
			if !ok {
				ver, weight, ok = strings.Cut(part, "=")
			}
			n, err := strconv.Atoi(weight)
			if !ok || err != nil {
				return apierror.BadRequest("weights: %q is not VERSION:WEIGHT", part)
			}
			weights[strings.TrimSpace(ver)] = n
		}
	} else {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			return apierror.BadRequest("cannot read the request body: %v", err)
		}
		if err := json.Unmarshal(body, &weights); err != nil {
			return apierror.BadRequest(`traffic split: send a JSON object of version → weight, e.g. {"1.0": 90, "2.0": 10}, or ?weights=1.0:90,2.0:10`)
		}
	}
	if len(weights) == 0 {
		return apierror.BadRequest("traffic split: no weights given")
	}
	if err := s.reg.SetSplit(name, weights); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, api.Split{ModelName: name, Weights: s.reg.Split(name)})
}

func (s *Server) deleteSplit(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("model")
	if err := s.reg.SetSplit(name, nil); err != nil {
		return err
	}
	return statusJSON(w, http.StatusOK, "Traffic split of model \"%s\" removed; requests go to the default version", name)
}

// page reads a list's paging parameters as TorchServe does: next_page_token is the offset
// (0 when missing or negative), limit at most 100 (100 when missing or out of range).
func page(r *http.Request) (offset, limit int) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > 100 {
		limit = 100
	}
	offset, err = strconv.Atoi(q.Get("next_page_token"))
	if err != nil || offset < 0 {
		offset = 0
	}
	return offset, limit
}

// listModels answers GET /models as TorchServe does: default versions, sorted by name,
// paged with limit (default and maximum 100) and next_page_token (an offset).
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	offset, limit := page(r)
	entries := s.reg.List()
	res := api.ModelList{Models: []api.ModelRef{}}
	for i := offset; i < len(entries) && i < offset+limit; i++ {
		e := entries[i]
		ref := api.ModelRef{ModelName: e.Name}
		for _, v := range e.Versions {
			if v.Version == e.DefaultVersion {
				ref.ModelURL = v.URL
			}
		}
		res.Models = append(res.Models, ref)
	}
	if offset+limit < len(entries) {
		res.NextPageToken = strconv.Itoa(offset + limit)
	}
	return writeJSON(w, http.StatusOK, res)
}

const timeLayout = "2006-01-02T15:04:05.000Z"

func describe(v *registry.Version, isDefault bool, split map[string]int) api.Description {
	info := v.Info()
	s := info.Settings
	gpu := strings.HasPrefix(info.Provider, "cuda") || strings.HasPrefix(info.Provider, "tensorrt")
	device := "cpu"
	if gpu {
		device = "gpu"
	}
	d := api.Description{
		ModelName: v.Name, ModelVersion: v.Version, ModelURL: v.URL, Runtime: v.Manifest.Runtime,
		MinWorkers: s.MinWorkers, MaxWorkers: s.MaxWorkers, BatchSize: s.BatchSize, MaxBatchDelay: s.MaxBatchDelay,
		ResponseTimeout: s.ResponseTimeout, StartupTimeout: s.StartupTimeout, LoadedAtStartup: v.Startup,
		MaxRetryTimeoutInSec: s.MaxRetryTimeout, ClientTimeoutInMills: s.MaxQueueTime, UseJobTicket: s.UseJobTicket, ContinuousBatching: s.ContinuousBatching,
		DeviceType: device, DeviceIDs: s.DeviceIDs, MaxNumSequence: s.MaxNumSequence, MaxSequenceJobQueueSize: s.MaxSequenceJobQueueSize,
		Stateful: v.Stateful(), SequenceMaxIdleMSec: int64(s.SequenceMaxIdleMSec),
		Workers:        []api.Worker{},
		JobQueueStatus: api.JobQueueStatus{RemainingCapacity: info.Queue.Remaining, PendingRequests: info.Queue.Pending},
		Default:        isDefault, State: info.State, Error: info.Error, Handler: v.Handler, ArchiveSHA256: v.Digest,
		SignedBy:          v.Manifest.Signed.TrustedKeyID(),
		RegisteredAt:      v.RegisteredAt.UTC().Format(timeLayout),
		ExecutionProvider: info.Provider, IntraOpThreads: info.Threads, GraphOptimization: s.GraphOptimization,
		ExecutionMode: s.ExecutionMode, InterOpThreads: s.InterOpThreads, MemArena: &s.MemArena, MemPattern: &s.MemPattern, MemArenaShrinkage: s.MemArenaShrinkage, SessionConfig: s.SessionConfig,
		Batching: api.Batching{Batchable: info.Unbatchable == "", Unbatchable: info.Unbatchable, JobQueueSize: s.JobQueueSize, PreferredBatchSizes: s.PreferredBatchSizes,
			MaxQueueTime: s.MaxQueueTime, MaxQueueTimeAction: s.MaxQueueTimeAction, AllowQueueTimeOverride: s.AllowQueueTimeOverride,
			Adaptive: s.AdaptiveBatching, Stats: info.Queue},
		SettingSources: s.Sources, Inputs: v.Inputs, Outputs: v.Outputs, UnloadAfterIdle: s.UnloadAfterIdle,
	}
	for priority, p := range s.PriorityQueuePolicies {
		if d.Batching.PriorityQueuePolicies == nil {
			d.Batching.PriorityQueuePolicies = map[int]api.QueuePolicy{}
		}
		d.Batching.PriorityQueuePolicies[priority] = api.QueuePolicy(p)
	}
	if !info.LoadedAt.IsZero() {
		d.LoadedAt, d.LoadTimeMS = info.LoadedAt.UTC().Format(timeLayout), info.LoadTime.Milliseconds()
	}
	if s.ResponseCache {
		st := v.Statistics()
		d.ResponseCache = &api.ResponseCache{Active: info.Cached, Hits: st.CacheHit.Count, Misses: st.CacheMiss.Count}
	}
	if w := s.Warmup; w != nil {
		d.Warmup = &api.Warmup{Runs: w.Runs, BatchSizes: w.RunBatchSizes(info.Unbatchable == "", s.BatchSize),
			Data: w.DataKind(), Shapes: w.Shapes, Files: w.Files, TimeMS: info.WarmupTime.Milliseconds()}
	}
	if w, ok := split[v.Version]; ok {
		d.TrafficWeight = &w
	}
	d.Ensemble = v.EnsembleSteps()
	if info.Sequences >= 0 {
		d.Sequences = &info.Sequences
	}
	for _, p := range info.Processes {
		d.Processes = append(d.Processes, api.Process{PID: p.PID, MemoryUsage: residentMemory(p.PID),
			StartTime: p.Started.UTC().Format(timeLayout), Busy: p.Busy})
	}
	// the workers share the server's process; a custom handler's show its processes in turn,
	// as TorchServe's worker processes (none yet: 0)
	rss, pid := int64(0), 0
	if info.Processes == nil {
		rss, pid = residentMemory(os.Getpid()), os.Getpid()
	}
	for i, wk := range info.Workers {
		w := api.Worker{ID: workerID(wk.ID), StartTime: wk.Started.UTC().Format(timeLayout),
			Status: wk.State, MemoryUsage: rss, PID: pid, GPUUsage: "N/A", GPU: gpu, Batches: wk.Batches, Failures: wk.Failures}
		if i < len(d.Processes) {
			w.PID, w.MemoryUsage = d.Processes[i].PID, d.Processes[i].MemoryUsage
		}
		d.Workers = append(d.Workers, w)
	}
	return d
}

// residentMemory is the resident memory in bytes of the process pid, or 0 where it cannot be
// read.
func residentMemory(pid int) int64 {
	p, err := procfs.NewProc(pid)
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return int64(st.ResidentMemory())
}

// customizedMetadata is what describes the version beyond TorchServe's fields: what its
// custom handler says (describe_handle), else what its ONNX model says of itself; nil when
// neither says anything. A handler that fails to answer is logged and passed over.
func (s *Server) customizedMetadata(ctx context.Context, v *registry.Version) json.RawMessage {
	described, err := v.HandlerDescription(ctx)
	if err != nil {
		s.log.Warn("custom handler did not describe its model; describing the ONNX model instead", "model", v.Name, "version", v.Version, "err", err)
	}
	if described != nil {
		return described
	}
	m := modelMetadata(v)
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

// modelMetadata is what the version's ONNX model says of itself, with the class names its
// archive gives; nil when it cannot be read (the version is being unregistered).
func modelMetadata(v *registry.Version) *api.ModelMetadata {
	m, err := v.ModelInfo()
	if err != nil {
		return nil
	}
	md := &api.ModelMetadata{ProducerName: m.ProducerName, ProducerVersion: m.ProducerVersion, IRVersion: m.IRVersion, Opset: m.Opset, Metadata: m.Metadata}
	if labels, err := v.Labels(); err == nil { // a broken file fails the requests that need it
		md.Labels = handler.IndexToName(labels)
	}
	return md
}

// describeModel answers GET /models/{model}[/{version}|/all] with a JSON array; with
// customized=true each description carries the ONNX model's own metadata.
func (s *Server) describeModel(w http.ResponseWriter, r *http.Request) error {
	name, version := r.PathValue("model"), r.PathValue("version")
	entry, err := s.reg.Model(name)
	if err != nil {
		return err
	}
	customized := boolParam(r.URL.Query(), "customized", false)
	out := []api.Description{}
	for _, v := range entry.Versions {
		if version == "all" || v.Version == version || (version == "" && v.Version == entry.DefaultVersion) {
			d := describe(v, v.Version == entry.DefaultVersion, entry.Split)
			if customized {
				d.CustomizedMetadata = s.customizedMetadata(r.Context(), v)
			}
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return apierror.VersionNotFound(name, version)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ModelVersion < out[j].ModelVersion })
	return writeJSON(w, http.StatusOK, out)
}
