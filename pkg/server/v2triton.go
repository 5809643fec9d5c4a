package server

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/tensor"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
)

// Triton's model configuration extension of the Open Inference Protocol: GET
// /v2/models/{model}[/versions/{version}]/config answers a version's configuration as
// Triton's ModelConfig (its JSON form), which tritonclient's get_model_config and
// perf_analyzer read: the batching limit, the inputs and outputs without the batch dimension
// when the model batches, the dynamic batcher's settings and the workers.

// tritonConfig is the part of Triton's ModelConfig that describes a ts model version.
type tritonConfig struct {
	Name            string                `json:"name"`
	Platform        string                `json:"platform"`
	Backend         string                `json:"backend"`
	VersionPolicy   map[string]any        `json:"version_policy"`
	MaxBatchSize    int                   `json:"max_batch_size"`
	Input           []tritonInput         `json:"input"`
	Output          []tritonOutput        `json:"output"`
	DynamicBatching *tritonDynamicBatcher `json:"dynamic_batching,omitempty"`
	// SequenceBatching is a sequence model's, as its config.pbtxt gives it
	SequenceBatching json.RawMessage `json:"sequence_batching,omitempty"`
	// EnsembleScheduling is an ensemble's steps, as its config.pbtxt gives them
	EnsembleScheduling   json.RawMessage       `json:"ensemble_scheduling,omitempty"`
	InstanceGroup        []tritonInstanceGroup `json:"instance_group"`
	DefaultModelFilename string                `json:"default_model_filename"`
	Parameters           map[string]any        `json:"parameters"`
	ModelWarmup          []tritonWarmup        `json:"model_warmup,omitempty"`
	ResponseCache        *tritonResponseCache  `json:"response_cache,omitempty"`
	Optimization         *tritonOptimization   `json:"optimization,omitempty"`
}

// tritonOptimization is Triton's ModelOptimizationPolicy, its graph level only.
type tritonOptimization struct {
	Graph tritonGraphOptimization `json:"graph"`
}

type tritonGraphOptimization struct {
	Level int32 `json:"level"`
}

type tritonResponseCache struct {
	Enable bool `json:"enable"`
}

// tritonWarmup is one of Triton's ModelWarmup entries: a batch size's warm-up runs.
type tritonWarmup struct {
	Name      string                       `json:"name"`
	BatchSize int                          `json:"batch_size"`
	Inputs    map[string]tritonWarmupInput `json:"inputs"`
	Count     int                          `json:"count"`
}

type tritonWarmupInput struct {
	DataType      string  `json:"data_type"`
	Dims          []int64 `json:"dims"`
	ZeroData      bool    `json:"zero_data,omitempty"`
	RandomData    bool    `json:"random_data,omitempty"`
	InputDataFile string  `json:"input_data_file,omitempty"`
}

type tritonInput struct {
	Name             string  `json:"name"`
	DataType         string  `json:"data_type"`
	Format           string  `json:"format"`
	Dims             []int64 `json:"dims"`
	IsShapeTensor    bool    `json:"is_shape_tensor"`
	AllowRaggedBatch bool    `json:"allow_ragged_batch"`
	Optional         bool    `json:"optional"`
	// Reshape is config.pbtxt's: the shape the model takes
	Reshape *tritonReshape `json:"reshape,omitempty"`
}

type tritonReshape struct {
	Shape []int64 `json:"shape"`
}

// reshapeOf is a config.pbtxt reshape as the config answers it (nil: none).
func reshapeOf(r *oippb.ModelTensorReshape) *tritonReshape {
	if r == nil {
		return nil
	}
	return &tritonReshape{Shape: append([]int64{}, r.GetShape()...)}
}

type tritonOutput struct {
	Name          string  `json:"name"`
	DataType      string  `json:"data_type"`
	Dims          []int64 `json:"dims"`
	LabelFilename string  `json:"label_filename"`
	IsShapeTensor bool    `json:"is_shape_tensor"`
	// Reshape is config.pbtxt's: the shape the model gives
	Reshape *tritonReshape `json:"reshape,omitempty"`
}

type tritonDynamicBatcher struct {
	PreferredBatchSize        []int             `json:"preferred_batch_size"`
	MaxQueueDelayMicroseconds int64             `json:"max_queue_delay_microseconds"`
	PreserveOrdering          bool              `json:"preserve_ordering"`
	PriorityLevels            int               `json:"priority_levels"`
	DefaultPriorityLevel      int               `json:"default_priority_level"`
	DefaultQueuePolicy        tritonQueuePolicy `json:"default_queue_policy"`
	PriorityQueuePolicy       map[string]any    `json:"priority_queue_policy"`
}

type tritonQueuePolicy struct {
	TimeoutAction              string `json:"timeout_action"`
	DefaultTimeoutMicroseconds int64  `json:"default_timeout_microseconds"`
	AllowTimeoutOverride       bool   `json:"allow_timeout_override"`
	MaxQueueSize               int    `json:"max_queue_size"`
}

type tritonInstanceGroup struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	GPUs  []int  `json:"gpus"`
}

// tritonDataType is Triton's name of an element type in a model configuration.
func tritonDataType(d tensor.DType) string { return oippb.DataTypeOf(d).String() }

// tritonModelConfig builds a version's configuration. A model that batches (its inputs and
// outputs share a dynamic first dimension) has max_batch_size its config.pbtxt's, else ts's
// batch size (at least 1), and dims without that dimension, as in Triton; one that does not
// has 0 and full shapes.
func tritonModelConfig(v *registry.Version) tritonConfig {
	info := v.Info()
	st := info.Settings
	tc := v.TritonConfig() // a model served from a Triton model folder: its policy and label files
	batches := info.Unbatchable == "" && len(v.Inputs) > 0
	if v.Ensemble() {
		batches = tc.GetMaxBatchSize() > 0
	}
	c := tritonConfig{
		Name: v.Name, Platform: v.TritonPlatform(), Backend: "onnxruntime",
		VersionPolicy: map[string]any{"latest": map[string]int{"num_versions": 1}},
		Input:         []tritonInput{}, Output: []tritonOutput{},
		DefaultModelFilename: v.Manifest.Model.SerializedFile,
		Parameters:           map[string]any{},
	}
	dims := func(shape []int64) []int64 {
		if batches && len(shape) > 0 {
			shape = shape[1:]
		}
		return append([]int64{}, shape...)
	}
	if batches {
		c.MaxBatchSize = max(st.BatchSize, 1)
		if n := int(tc.GetMaxBatchSize()); n > 0 { // config.pbtxt's, which bounds requests (without dynamic_batching each runs alone)
			c.MaxBatchSize = n
		}
	}
	for _, in := range v.Inputs {
		i := tritonInput{Name: in.Name, DataType: tritonDataType(in.DType), Format: "FORMAT_NONE", Dims: dims(in.Shape)}
		for _, declared := range tc.GetInput() {
			if declared.GetName() == in.Name {
				i.Reshape = reshapeOf(declared.GetReshape())
			}
		}
		c.Input = append(c.Input, i)
	}
	for _, out := range v.Outputs {
		o := tritonOutput{Name: out.Name, DataType: tritonDataType(out.DType), Dims: dims(out.Shape)}
		for _, declared := range tc.GetOutput() {
			if declared.GetName() == out.Name {
				o.LabelFilename, o.Reshape = declared.GetLabelFilename(), reshapeOf(declared.GetReshape())
			}
		}
		c.Output = append(c.Output, o)
	}
	switch p := tc.GetVersionPolicy(); {
	case p.GetAll() != nil:
		c.VersionPolicy = map[string]any{"all": map[string]any{}}
	case p.GetSpecific() != nil:
		c.VersionPolicy = map[string]any{"specific": map[string]any{"versions": p.GetSpecific().GetVersions()}}
	case p.GetLatest().GetNumVersions() > 0:
		c.VersionPolicy = map[string]any{"latest": map[string]any{"num_versions": p.GetLatest().GetNumVersions()}}
	}
	if v.Ensemble() { // no model, batcher or workers of its own: its steps' models have them
		c.Backend, c.MaxBatchSize = "", int(tc.GetMaxBatchSize())
		c.EnsembleScheduling, _ = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(tc.GetEnsembleScheduling()) // a message marshals
		return c
	}
	if sb := tc.GetSequenceBatching(); sb != nil {
		c.SequenceBatching, _ = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(sb) // a message marshals
	} else if batches && st.BatchSize > 1 {
		c.DynamicBatching = &tritonDynamicBatcher{
			PreferredBatchSize:        append([]int{}, st.PreferredBatchSizes...),
			MaxQueueDelayMicroseconds: int64(st.MaxBatchDelay) * 1000,
			DefaultQueuePolicy: tritonQueuePolicy{TimeoutAction: strings.ToUpper(st.MaxQueueTimeAction), DefaultTimeoutMicroseconds: int64(st.MaxQueueTime) * 1000,
				AllowTimeoutOverride: st.AllowQueueTimeOverride, MaxQueueSize: st.JobQueueSize},
			PriorityQueuePolicy: map[string]any{},
		}
		if db := tc.GetDynamicBatching(); db.GetPriorityLevels() > 0 { // the levels the priority parameter takes
			c.DynamicBatching.PriorityLevels, c.DynamicBatching.DefaultPriorityLevel = int(db.GetPriorityLevels()), int(db.GetDefaultPriorityLevel())
			c.DynamicBatching.DefaultQueuePolicy.MaxQueueSize = int(db.GetDefaultQueuePolicy().GetMaxQueueSize()) // each level's, not the whole queue's
			for level, q := range db.GetPriorityQueuePolicy() {
				c.DynamicBatching.PriorityQueuePolicy[strconv.FormatUint(level, 10)] = tritonQueuePolicy{TimeoutAction: q.GetTimeoutAction().String(),
					DefaultTimeoutMicroseconds: int64(q.GetDefaultTimeoutMicroseconds()), AllowTimeoutOverride: q.GetAllowTimeoutOverride(), MaxQueueSize: int(q.GetMaxQueueSize())}
			}
		}
	}
	group := tritonInstanceGroup{Name: v.Name, Kind: "KIND_CPU", Count: st.MinWorkers, GPUs: []int{}}
	for _, p := range strings.Split(info.Provider, ", ") { // a session on each GPU the model runs on
		if provider, device, err := engine.ParseProvider(p); err == nil && provider != "cpu" {
			group.Kind, group.GPUs = "KIND_GPU", append(group.GPUs, device)
		}
	}
	c.InstanceGroup = []tritonInstanceGroup{group}
	if w := st.Warmup; w != nil {
		sizes := w.RunBatchSizes(batches, st.BatchSize)
		if !batches {
			sizes = []int{1} // Triton's batch size of a model that does not batch
		}
		for _, b := range sizes {
			entry := tritonWarmup{Name: fmt.Sprintf("batch %d", b), BatchSize: b, Inputs: map[string]tritonWarmupInput{}, Count: w.Runs}
			for _, in := range v.Inputs {
				shape, err := w.Shape(in, v.Inputs, batches, b)
				if err != nil {
					continue // checked at registration
				}
				input := tritonWarmupInput{DataType: tritonDataType(in.DType), Dims: dims(shape), InputDataFile: w.Files[in.Name]}
				if input.InputDataFile == "" {
					input.ZeroData, input.RandomData = w.DataKind() == registry.WarmupZero, w.DataKind() == registry.WarmupRandom
				}
				entry.Inputs[in.Name] = input
			}
			c.ModelWarmup = append(c.ModelWarmup, entry)
		}
	}
	if st.ResponseCache {
		c.ResponseCache = &tritonResponseCache{Enable: info.Cached}
	}
	c.Parameters, c.Optimization = tritonSessionOptions(st, info.Threads)
	return c
}

// tritonSessionOptions are a version's ONNX Runtime session options as the onnxruntime
// backend's parameters and optimization policy (nil at the default level), the values in
// effect.
func tritonSessionOptions(st registry.Settings, threads int) (map[string]any, *tritonOptimization) {
	params := map[string]any{}
	for key, value := range st.TritonParameters(threads) {
		params[key] = map[string]string{"string_value": value}
	}
	if level, ok := st.TritonGraphLevel(); ok {
		return params, &tritonOptimization{Graph: tritonGraphOptimization{Level: level}}
	}
	return params, nil
}

// tritonLoad is what a repository load request gives beside the model's name: the
// configuration override's settings, and the model's files when it sends them.
type tritonLoad struct {
	overrides registry.Overrides
	// config is the parameter "config", the model configuration's JSON ("" when not given).
	config string
	// files are the parameters "file:<path>": the model folder's files by path, decoded.
	files map[string][]byte
}

// readTritonLoad reads a load request's body (at most limit bytes): its parameter "config"
// (Triton's configuration override, tritonclient's load_model(name, config=...)), whose
// max_batch_size, dynamic_batching's max_queue_delay_microseconds and preferred_batch_size
// and instance_group counts (the workers) are the overrides, and its "file:<path>"
// parameters (load_model(..., files=...)), each a file of the model's folder in base64.
func readTritonLoad(r *http.Request, limit int64) (l tritonLoad, err error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return l, apierror.BadRequest("cannot read the request body: %v", err)
	}
	if int64(len(body)) > limit {
		return l, apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeTooLarge, "the load request is larger than %d bytes (max_upload_size, for one that sends files)", limit)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return l, nil
	}
	var req struct {
		Parameters map[string]json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return l, apierror.BadRequest(`a load request is {"parameters": {"config": "<model configuration as JSON>"}}: %v`, err)
	}
	for key, raw := range req.Parameters {
		switch path, isFile := strings.CutPrefix(key, "file:"); {
		case key == "config":
		case isFile:
			var encoded string
			if json.Unmarshal(raw, &encoded) != nil {
				return l, apierror.BadRequest("parameter %q must be the file's content in base64", key)
			}
			data, err := base64.StdEncoding.DecodeString(encoded)
			if err != nil {
				return l, apierror.BadRequest("parameter %q is not base64: %v", key, err)
			}
			if !filepath.IsLocal(path) || strings.Contains(path, "\\") {
				return l, apierror.BadRequest("parameter %q: a file's path is relative to the model's folder (1/model.onnx), without ..", key)
			}
			if l.files == nil {
				l.files = map[string][]byte{}
			}
			l.files[filepath.Clean(path)] = data
		default:
			return l, apierror.BadRequest("parameter %q: a load request takes only \"config\" and \"file:<path>\"", key)
		}
	}
	raw, ok := req.Parameters["config"]
	if !ok {
		if l.files != nil {
			return l, apierror.BadRequest(`a load request that sends files sends the model's configuration too (parameter "config"), as Triton's`)
		}
		return l, nil
	}
	var text string
	if err := json.Unmarshal(raw, &text); err != nil {
		return l, apierror.BadRequest(`parameter "config" must be a string holding the model configuration's JSON`)
	}
	l.config = text
	l.overrides, err = configOverrides(text)
	return l, err
}

// configOverrides are the settings a configuration override gives, as readTritonLoad says.
func configOverrides(text string) (o registry.Overrides, err error) {
	var c struct {
		MaxBatchSize    *int `json:"max_batch_size"`
		DynamicBatching *struct {
			MaxQueueDelayMicroseconds *int64 `json:"max_queue_delay_microseconds"`
			PreferredBatchSize        []int  `json:"preferred_batch_size"`
		} `json:"dynamic_batching"`
		InstanceGroup []struct {
			Count *int `json:"count"`
		} `json:"instance_group"`
	}
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		return o, apierror.BadRequest("parameter \"config\": not a model configuration: %v", err)
	}
	if c.MaxBatchSize != nil {
		batch := max(*c.MaxBatchSize, 1) // 0: no batching
		o.BatchSize = &batch
	}
	if d := c.DynamicBatching; d != nil {
		if us := d.MaxQueueDelayMicroseconds; us != nil {
			if *us < 0 {
				return o, apierror.BadRequest("max_queue_delay_microseconds must be ≥ 0, got %d", *us)
			}
			ms := int((*us + 999) / 1000) // ts's delay is in ms: rounded up, so a delay stays one
			o.MaxBatchDelay = &ms
		}
		if d.PreferredBatchSize != nil {
			o.PreferredBatchSizes = d.PreferredBatchSize
		}
	}
	if len(c.InstanceGroup) > 0 {
		workers := 0
		for _, g := range c.InstanceGroup {
			count := 1 // Triton's default count
			if g.Count != nil {
				count = *g.Count
			}
			if count < 0 {
				return o, apierror.BadRequest("instance_group count must be ≥ 0, got %d", count)
			}
			workers += count
		}
		o.InitialWorkers = &workers
	}
	return o, nil
}

// v2ModelConfig answers GET /v2/models/{model}[/versions/{version}]/config.
func (s *Server) v2ModelConfig(w http.ResponseWriter, r *http.Request) error {
	v, err := s.reg.Get(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, tritonModelConfig(v))
}

// Triton's statistics extension: GET /v2/models[/{model}[/versions/{version}]]/stats answers
// what each version has served since it was registered (tritonclient's
// get_inference_statistics; perf_analyzer's server-side figures).

func tritonDurationOf(d registry.Duration) api.TritonDuration {
	return api.TritonDuration{Count: d.Count, NS: d.Total.Nanoseconds()}
}

func tritonStatsOf(v *registry.Version) api.TritonModelStats {
	st := v.Statistics()
	m := api.TritonModelStats{Name: v.Name, Version: v.Version, InferenceCount: st.InferenceCount, ExecutionCount: st.ExecutionCount,
		BatchStats: []api.TritonBatchStats{}, MemoryUsage: []any{}}
	if !st.LastInference.IsZero() {
		m.LastInference = st.LastInference.UnixMilli()
	}
	is := &m.InferenceStats
	is.Success, is.Fail, is.Queue = tritonDurationOf(st.Success), tritonDurationOf(st.Fail), tritonDurationOf(st.Queue)
	is.ComputeInput, is.ComputeInfer, is.ComputeOutput = tritonDurationOf(st.ComputeInput), tritonDurationOf(st.ComputeInfer), tritonDurationOf(st.ComputeOutput)
	is.CacheHit, is.CacheMiss = tritonDurationOf(st.CacheHit), tritonDurationOf(st.CacheMiss)
	for _, b := range st.Batches {
		none := api.TritonDuration{Count: b.ComputeInfer.Count}
		m.BatchStats = append(m.BatchStats, api.TritonBatchStats{BatchSize: b.Size, ComputeInput: none, ComputeInfer: tritonDurationOf(b.ComputeInfer), ComputeOutput: none})
	}
	return m
}

// v2Stats answers the statistics of every version of every model, of a model's versions, or
// of one version.
func (s *Server) v2Stats(w http.ResponseWriter, r *http.Request) error {
	name, version := r.PathValue("model"), r.PathValue("version")
	var versions []*registry.Version
	switch {
	case version != "":
		v, err := s.reg.Get(name, version)
		if err != nil {
			return err
		}
		versions = append(versions, v)
	case name != "":
		entry, err := s.reg.Model(name)
		if err != nil {
			return err
		}
		versions = entry.Versions
	default:
		for _, entry := range s.reg.List() {
			versions = append(versions, entry.Versions...)
		}
	}
	stats := api.TritonStats{ModelStats: make([]api.TritonModelStats, 0, len(versions))}
	for _, v := range versions {
		stats.ModelStats = append(stats.ModelStats, tritonStatsOf(v))
	}
	return writeJSON(w, http.StatusOK, stats)
}

// Triton's model repository extension, read-only: POST /v2/repository/index lists the
// registered model versions and their states (tritonclient's get_model_repository_index);
// loading and unloading are the management API's (POST and DELETE /models), so
// /v2/repository/models/{model}/load and /unload answer 400 saying so, as Triton does when
// its model control mode forbids them.

type tritonRepositoryModel struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"` // none for a model of the store not loaded
	State   string `json:"state"`
	Reason  string `json:"reason"`
}

func (s *Server) v2RepositoryIndex(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Ready bool `json:"ready"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			return apierror.BadRequest(`repository index request is not valid JSON: want an object such as {"ready": true}`)
		}
	}
	index := []tritonRepositoryModel{}
	for _, entry := range s.reg.List() {
		for _, v := range entry.Versions {
			m := tritonRepositoryModel{Name: v.Name, Version: v.Version, State: "UNAVAILABLE"}
			info := v.Info()
			switch {
			case v.Ready():
				m.State = "READY"
			case info.State == registry.StateLoading:
				m.State = "LOADING"
			case info.State == registry.StateUnloading:
				m.State = "UNLOADING"
			case info.Error != "":
				m.Reason = info.Error
			default:
				m.Reason = "no worker: scale the model (PUT /models on the management API)"
			}
			if !req.Ready || m.State == "READY" {
				index = append(index, m)
			}
		}
	}
	if !req.Ready {
		index = append(index, s.unloadedInStore()...)
	}
	return writeJSON(w, http.StatusOK, index)
}

// unloadedInStore lists, as Triton's index does, the models of the model store that load
// could register (by the names load takes: an archive's or bare .onnx file's without its
// extension, a folder's) and that nothing registered comes from.
func (s *Server) unloadedInStore() []tritonRepositoryModel {
	if s.cfg.ModelStore == "" {
		return nil
	}
	names, err := archive.List(s.cfg.ModelStore)
	if err != nil {
		return nil
	}
	used := map[string]bool{}
	for _, entry := range s.reg.List() {
		used[entry.Name] = true
		for _, v := range entry.Versions {
			used[v.URL] = true
		}
	}
	var out []tritonRepositoryModel
	for _, file := range names {
		if name := archive.StoreName(file); !used[file] && !used[name] {
			out = append(out, tritonRepositoryModel{Name: name, State: "UNAVAILABLE", Reason: "unloaded"})
		}
	}
	return out
}

// v2RepositoryControl serves Triton's model repository extension's load and unload
// (tritonclient's load_model, unload_model). Load registers the model's archive from the
// model store ({model}.mar, .tar.gz, .tgz or .tar.zst, a folder of that name (an archive's
// or a Triton model's: the versions its policy serves), or {model}.onnx) under the
// model's name, with its workers started (one at least), and answers once they are (a model
// already registered stays as it is); unload unregisters every version of the model. Both change
// what the server serves from its inference API, so they need enable_model_api and answer
// 400 under token authorization, whose management key guards registering: the management
// API (POST /models, DELETE /models/{model}) does it then.
func (s *Server) v2RepositoryControl(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("model")
	switch {
	case !s.cfg.EnableModelAPI:
		return apierror.BadRequest("model control is off: start ts serve with --enable-model-api (enable_model_api=true) to load and unload models")
	case s.auth != nil:
		return apierror.BadRequest("with token authorization, models are loaded and unloaded through the management API, with its key (POST /models?url=..., DELETE /models/%s)", name)
	}
	if strings.HasSuffix(r.URL.Path, "/unload") {
		return s.v2Unload(w, r, name)
	}
	limit := int64(1 << 20)
	if s.cfg.EnableModelUpload {
		limit = s.cfg.MaxUploadSize
	}
	load, err := readTritonLoad(r, limit)
	if err != nil {
		return err
	}
	if load.files != nil {
		err = s.loadFiles(r, name, load)
	} else {
		err = s.loadFromStore(r, name, load.overrides, map[string]bool{})
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct{}{})
}

// loadFiles loads a model from the files a load request sends (Triton's file override): they
// make a model folder, with config.pbtxt from the request's configuration, outside the model
// store, which it leaves as it is; the model is reloaded from it. Such a folder goes when the
// model is loaded again, unloaded or unregistered. Clients may send files only where uploads are allowed
// (enable_model_upload).
func (s *Server) loadFiles(r *http.Request, name string, load tritonLoad) error {
	if !s.cfg.EnableModelUpload {
		return apierror.BadRequest("failed to load '%s': loading a model from files sent with the request needs uploads allowed (ts serve --enable-upload, enable_model_upload=true)", name)
	}
	s.loadFilesMu.Lock() // one at a time: the folder recorded is the one of the version loaded last
	defer s.loadFilesMu.Unlock()
	cfg := &oippb.ModelConfig{}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(load.config), cfg); err != nil {
		return apierror.BadRequest("failed to load '%s': parameter \"config\" is not a model configuration: %v", name, err)
	}
	cfg.Name = name
	text, err := prototext.MarshalOptions{Multiline: true}.Marshal(cfg)
	if err != nil {
		return err
	}
	tempDir, _ := s.reg.Extraction()
	dir, err := os.MkdirTemp(tempDir, "ts-load-")
	if err != nil {
		return err
	}
	folder := filepath.Join(dir, name)
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	for path, data := range load.files {
		file := filepath.Join(folder, path)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(file, data, 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(folder, archive.TritonConfigFile), text, 0o644); err != nil {
		return err
	}
	versions, err := s.reg.ReloadAll(r.Context(), registry.Spec{Path: folder, URL: name, Name: name, Synchronous: true})
	if err != nil {
		return err
	}
	keep = true
	s.replaceLoadDir(name, dir)
	return s.startLoaded(r, name, versions, map[string]bool{name: true})
}

// replaceLoadDir records dir as the folder of the files model name was loaded from ("": none
// now), removing the one before.
func (s *Server) replaceLoadDir(name, dir string) {
	s.loadDirsMu.Lock()
	old := s.loadDirs[name]
	if s.loadDirs == nil {
		s.loadDirs = map[string]string{}
	}
	if dir == "" {
		delete(s.loadDirs, name)
	} else {
		s.loadDirs[name] = dir
	}
	s.loadDirsMu.Unlock()
	if old != "" && old != dir {
		os.RemoveAll(old)
	}
}

// loadFromStore loads the model name from the model store, as Triton's repository load does
// (reloading it when it is loaded), and then the models of its steps, when it is an
// ensemble, that are not loaded (seen: the models this load has loaded).
func (s *Server) loadFromStore(r *http.Request, name string, overrides registry.Overrides, seen map[string]bool) error {
	seen[name] = true
	path, shown, err := s.resolveStoreName(r.Context(), name, false)
	if err != nil {
		if e := errorOf(err); e.Code == http.StatusNotFound {
			return apierror.New(e.Code, e.Type, "failed to load '%s': %s", name, e.Message)
		}
		return err
	}
	_, err = s.reg.Model(name)
	loaded := err == nil
	// a loaded model is reloaded, as Triton does, with what the repository holds now
	versions, err := s.reg.ReloadAll(r.Context(), registry.Spec{Path: path, URL: shown, Name: name, Synchronous: true, Overrides: overrides})
	if err != nil {
		return err
	}
	err = s.startLoaded(r, name, versions, seen)
	if err != nil && !loaded && slices.ContainsFunc(versions, (*registry.Version).Ensemble) {
		// as Triton's: an ensemble whose steps' models do not load does not load either
		for _, v := range versions {
			if _, uerr := s.reg.Unregister(r.Context(), name, v.Version); uerr != nil {
				s.log.Warn("ensemble not unregistered after its step failed to load", "model", name, "version", v.Version, "err", uerr)
			}
		}
	}
	return err
}

// startLoaded gives the versions a load of model name registered one worker at least, as
// Triton's loaded model serves, and loads from the store the models of an ensemble's steps
// that are not loaded, as Triton loads them with it (seen: the models this load has loaded).
func (s *Server) startLoaded(r *http.Request, name string, versions []*registry.Version, seen map[string]bool) error {
	for _, v := range versions {
		if v.Settings().MinWorkers == 0 && !v.Ensemble() {
			if err := v.Scale(r.Context(), 1, 1); err != nil {
				return apierror.Internal("failed to load '%s': %v", name, err)
			}
		}
		for _, step := range v.EnsembleSteps() {
			if _, err := s.reg.Get(step, ""); err == nil || seen[step] {
				continue
			}
			if err := s.loadFromStore(r, step, registry.Overrides{}, seen); err != nil {
				e := errorOf(err)
				return apierror.New(e.Code, e.Type, "failed to load '%s': its step's model %s: %s", name, step, e.Message)
			}
		}
	}
	return nil
}

// v2Unload unregisters every version of a model, the default last.
func (s *Server) v2Unload(w http.ResponseWriter, r *http.Request, name string) error {
	e, err := s.reg.Model(name)
	if err != nil {
		return err
	}
	slices.SortStableFunc(e.Versions, func(a, b *registry.Version) int {
		return cmp.Compare(boolRank(a.Version == e.DefaultVersion), boolRank(b.Version == e.DefaultVersion))
	})
	for _, v := range e.Versions {
		if _, err := s.reg.Unregister(r.Context(), name, v.Version); err != nil {
			return err
		}
	}
	s.replaceLoadDir(name, "") // the files it was loaded from, if any
	return writeJSON(w, http.StatusOK, struct{}{})
}

// boolRank orders false before true.
func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
