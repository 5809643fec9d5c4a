package registry

import (
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
)

// Where a setting came from.
const (
	FromRegister   = "register request"
	FromYAML       = "model-config.yaml"
	FromProperties = "config.properties models"
	FromDefault    = "default"
	FromScale      = "scale request"
	// FromGPUTurns: the version was put on the next GPU (number_of_gpu).
	FromGPUTurns = "number_of_gpu (the GPUs in turn)"
)

// What happens to a request past maxQueueTime (Settings.MaxQueueTimeAction).
const (
	QueueTimeReject = "reject"
	QueueTimeDelay  = "delay"
)

// DefaultMaxRetryTimeout is TorchServe's maxRetryTimeoutInSec: after this many seconds of
// worker failures with no successful batch, failed workers are no longer replaced.
const DefaultMaxRetryTimeout = 300

// Settings are the worker and batching settings in effect for a model version, with where
// each came from.
type Settings struct {
	MinWorkers          int   `json:"minWorkers"`
	MaxWorkers          int   `json:"maxWorkers"`
	BatchSize           int   `json:"batchSize"`
	MaxBatchDelay       int   `json:"maxBatchDelay"` // ms
	ResponseTimeout     int   `json:"responseTimeout"`
	StartupTimeout      int   `json:"startupTimeout"`
	MaxRetryTimeout     int   `json:"maxRetryTimeoutInSec"` // s of worker failures before no more replacements
	JobQueueSize        int   `json:"jobQueueSize"`
	PreferredBatchSizes []int `json:"preferredBatchSizes,omitempty"`
	MaxQueueTime        int   `json:"maxQueueTime,omitempty"` // ms, 0 = none
	// MaxQueueTimeAction is what happens to a request past maxQueueTime: QueueTimeReject
	// (503) or QueueTimeDelay (it goes behind the requests of its priority that have not
	// waited so long: Triton's timeout_action DELAY).
	MaxQueueTimeAction string `json:"maxQueueTimeAction,omitempty"`
	// AllowQueueTimeOverride lets an inference request ask for a shorter maxQueueTime (the
	// Open Inference Protocol's parameter timeout, in µs: Triton's allow_timeout_override).
	AllowQueueTimeOverride bool `json:"allowQueueTimeOverride,omitempty"`
	// PriorityQueuePolicies give some priorities (X-TS-Priority's values) their own queue
	// policy (Triton's priority_queue_policy); the others follow the fields above.
	PriorityQueuePolicies map[int]PriorityQueuePolicy `json:"priorityQueuePolicies,omitempty"`
	AdaptiveBatching      bool                        `json:"adaptiveBatching"`
	IntraOpThreads        int                         `json:"intraOpThreads,omitempty"` // 0 = cores / workers
	// GraphOptimization is ONNX Runtime's graph optimisation level: all (the default),
	// extended, basic or disable.
	GraphOptimization string `json:"graphOptimization,omitempty"`
	// ExecutionMode is ONNX Runtime's: sequential (the default) or parallel, which runs the
	// graph's independent branches at once on InterOpThreads threads (0: one per core).
	ExecutionMode  string `json:"executionMode,omitempty"`
	InterOpThreads int    `json:"interOpThreads,omitempty"`
	// DeviceType and DeviceIDs are TorchServe's: "cpu" runs the model on the CPU whatever
	// the server's execution provider, "gpu" on a GPU (the server's GPU provider, or CUDA
	// when the server runs on the CPU); DeviceIDs picks the GPUs (a session on each, runs
	// taking turns). Empty: the server's provider (Settings.Providers).
	DeviceType string `json:"deviceType,omitempty"`
	DeviceIDs  []int  `json:"deviceIds,omitempty"`
	// MemArena and MemPattern are ONNX Runtime's CPU memory arena and memory pattern (both
	// on by default): off, a session frees its buffers after each run, for less memory and
	// slower runs.
	MemArena   bool `json:"memArena"`
	MemPattern bool `json:"memPattern"`
	// MemArenaShrinkage names the devices whose memory arena gives back, after each run,
	// what the run grew it by ("cpu:0", "gpu:1", separated by ";"; ONNX Runtime's
	// memory.enable_memory_arena_shrinkage): less memory held after a large request, for
	// slower runs. Empty: none.
	MemArenaShrinkage string `json:"memArenaShrinkage,omitempty"`
	// SessionConfig are ONNX Runtime session configuration entries for the model
	// ("session.disable_prepacking": "1" ...), as onnxruntime's add_session_config_entry.
	SessionConfig map[string]string `json:"sessionConfig,omitempty"`
	UseJobTicket  bool              `json:"useJobTicket,omitempty"` // accept only when a worker is free
	// SequenceBatching makes the model stateful (TorchServe's sequence batching, for custom
	// handlers): the requests of a sequence (one sequence id) go to the same handler
	// process, one at a time, so that it can keep the sequence's state.
	SequenceBatching bool `json:"sequenceBatching,omitempty"`
	// ContinuousBatching is TorchServe's continuous batching, for custom handlers that
	// generate: a request whose answer is not the last (the handler's stopping criteria)
	// gets it as a part and goes again in the next batch, with the requests that came.
	ContinuousBatching bool `json:"continuousBatching,omitempty"`
	// MaxNumSequence is how many sequences may be open at once (TorchServe's default 1);
	// SequenceMaxIdleMSec ends a sequence idle that long (0: never);
	// MaxSequenceJobQueueSize is how many requests of one sequence may wait while another
	// of it is answered (TorchServe's default 1).
	MaxNumSequence          int `json:"maxNumSequence,omitempty"`
	SequenceMaxIdleMSec     int `json:"sequenceMaxIdleMSec,omitempty"`
	MaxSequenceJobQueueSize int `json:"maxSequenceJobQueueSize,omitempty"`
	// ResponseCache keeps the model's answers in the server's response cache (Triton's):
	// a request whose input tensors were answered before gets that answer without a run.
	ResponseCache bool `json:"responseCache,omitempty"`
	// UnloadAfterIdle unloads the model after this many seconds without a request (0:
	// never), as Ollama's keep_alive; the next request loads it again.
	UnloadAfterIdle int `json:"unloadAfterIdle,omitempty"`
	// Warmup runs the model on generated inputs when it loads, before it serves (nil: none).
	Warmup  *Warmup           `json:"warmup,omitempty"`
	Sources map[string]string `json:"sources"`
}

// PriorityQueuePolicy is one priority's queue policy (Settings.PriorityQueuePolicies):
// jobQueueSize bounds the requests of that priority that wait (0: only the model's
// jobQueueSize does); the other fields are the model's of the same names, for that priority.
type PriorityQueuePolicy struct {
	JobQueueSize           int    `json:"jobQueueSize,omitempty" yaml:"jobQueueSize"`
	MaxQueueTime           int    `json:"maxQueueTime,omitempty" yaml:"maxQueueTime"` // ms, 0 = none
	MaxQueueTimeAction     string `json:"maxQueueTimeAction" yaml:"maxQueueTimeAction"`
	AllowQueueTimeOverride bool   `json:"allowQueueTimeOverride,omitempty" yaml:"allowQueueTimeOverride"`
}

// The device types of Settings.DeviceType.
const (
	DeviceCPU = "cpu"
	DeviceGPU = "gpu"
)

// Providers are the execution providers the model runs on, a session on each, given the
// server's (ts serve --provider): the CPU for deviceType cpu; for deviceType gpu or
// deviceIds, the server's GPU provider (CUDA when the server's is the CPU) on each GPU
// listed, or else on the server's device; otherwise the server's. askedGPU says the model
// asked for a GPU the server does not run on: TorchServe then runs it on the CPU, if no GPU
// can be used.
func (s Settings) Providers(server string) (providers []string, askedGPU bool) {
	name, device, err := engine.ParseProvider(server)
	switch {
	case err != nil:
		return []string{server}, false // the server checked its own
	case s.DeviceType == DeviceCPU:
		return []string{DeviceCPU}, false
	case s.DeviceType != DeviceGPU && len(s.DeviceIDs) == 0:
		return []string{server}, false
	}
	if name == "cpu" {
		name, askedGPU = "cuda", true
	}
	ids := s.DeviceIDs
	if len(ids) == 0 {
		ids = []int{device}
	}
	for _, id := range ids {
		if p := fmt.Sprintf("%s:%d", name, id); !slices.Contains(providers, p) {
			providers = append(providers, p)
		}
	}
	return providers, askedGPU
}

// batchPolicy is the policy as the batcher applies it.
func (p PriorityQueuePolicy) batchPolicy() batch.QueuePolicy {
	return batch.QueuePolicy{MaxQueued: p.JobQueueSize, MaxQueueTime: time.Duration(p.MaxQueueTime) * time.Millisecond,
		DelayExpired: p.MaxQueueTimeAction == QueueTimeDelay, AllowQueueTimeOverride: p.AllowQueueTimeOverride}
}

// Overrides are the settings a register request gives (nil: not given).
type Overrides struct {
	InitialWorkers      *int
	PreferredBatchSizes []int // nil: not given
	BatchSize           *int
	MaxBatchDelay       *int
	ResponseTimeout     *int
	StartupTimeout      *int
}

// modelYAML is the archive's model-config.yaml: TorchServe's frontend keys, ts's batching
// keys, and the handler's section.
type modelYAML struct {
	MinWorkers          *int  `yaml:"minWorkers"`
	MaxWorkers          *int  `yaml:"maxWorkers"`
	BatchSize           *int  `yaml:"batchSize"`
	MaxBatchDelay       *int  `yaml:"maxBatchDelay"`
	ResponseTimeout     *int  `yaml:"responseTimeout"`
	StartupTimeout      *int  `yaml:"startupTimeout"`
	MaxRetryTimeout     *int  `yaml:"maxRetryTimeoutInSec"` // TorchServe's
	JobQueueSize        *int  `yaml:"jobQueueSize"`
	PreferredBatchSizes []int `yaml:"preferredBatchSizes"`
	MaxQueueTime        *int  `yaml:"maxQueueTime"`
	// Triton's queue policy: timeout_action and allow_timeout_override
	MaxQueueTimeAction     *string                     `yaml:"maxQueueTimeAction"`
	AllowQueueTimeOverride *bool                       `yaml:"allowQueueTimeOverride"`
	PriorityQueuePolicies  map[int]PriorityQueuePolicy `yaml:"priorityQueuePolicies"`
	AdaptiveBatching       *bool                       `yaml:"adaptiveBatching"`
	IntraOpThreads         *int                        `yaml:"intraOpThreads"`
	GraphOptimization      *string                     `yaml:"graphOptimization"`
	ExecutionMode          *string                     `yaml:"executionMode"`
	InterOpThreads         *int                        `yaml:"interOpThreads"`
	DeviceType             *string                     `yaml:"deviceType"` // TorchServe's
	DeviceIDs              []int                       `yaml:"deviceIds"`
	MemArena               *bool                       `yaml:"memArena"`
	MemPattern             *bool                       `yaml:"memPattern"`
	MemArenaShrinkage      *string                     `yaml:"memArenaShrinkage"`
	SessionConfig          map[string]string           `yaml:"sessionConfig"`
	Handler                map[string]any              `yaml:"handler"`
	// All is the whole file, as TorchServe hands it to handlers (context.model_yaml_config).
	All map[string]any `yaml:"-"`
	// TorchServe's names: clientTimeoutInMills is maxQueueTime (when that is not set);
	// useJobTicket accepts a request only when a worker is free.
	ClientTimeoutInMills *int  `yaml:"clientTimeoutInMills"`
	UseJobTicket         *bool `yaml:"useJobTicket"`
	// TorchServe's stateful models
	SequenceBatching        *bool `yaml:"sequenceBatching"`
	ContinuousBatching      *bool `yaml:"continuousBatching"`
	MaxNumSequence          *int  `yaml:"maxNumSequence"`
	SequenceMaxIdleMSec     *int  `yaml:"sequenceMaxIdleMSec"`
	MaxSequenceJobQueueSize *int  `yaml:"maxSequenceJobQueueSize"`
	// Triton's model_warmup and response_cache
	Warmup        *Warmup `yaml:"warmup"`
	ResponseCache *bool   `yaml:"responseCache"`
	// Ollama's keep_alive, in seconds
	UnloadAfterIdle *int `yaml:"unloadAfterIdle"`

	// source names where the settings came from in describe (FromYAML when empty)
	source string
	// unapplied says which of the file's keys ts does not apply, and why (for the log).
	unapplied []string
}

// torchServeUnapplied are model-config.yaml keys of TorchServe's frontend that ts does not
// apply, with what they are for; other keys ts does not know are the handler's (TorchServe
// hands the whole file to handlers).
var torchServeUnapplied = map[string]string{
	"parallelType":        "TorchServe's model parallelism across GPUs (pp, tp)",
	"parallelLevel":       "TorchServe's number of GPUs per worker",
	"torchrun":            "TorchServe's torchrun launcher",
	"asyncCommunication":  "TorchServe's asynchronous worker communication",
	"useVenv":             "TorchServe's per-model virtual environment (the handler section's python chooses a custom handler's interpreter)",
	"sequenceTimeoutMSec": "TorchServe's sequence timeout (sequenceMaxIdleMSec ends an idle sequence)",
}

// modelYAMLKeys are the keys modelYAML reads, by their names folded (lower case, without
// "_" and "-"), for noticing a key spelt another way.
var modelYAMLKeys = sync.OnceValue(func() map[string]string {
	keys := map[string]string{}
	t := reflect.TypeFor[modelYAML]()
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			keys[foldKey(tag)] = tag
		}
	}
	return keys
})

func foldKey(k string) string {
	return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(k))
}

// unappliedKeys says which keys of a model-config.yaml ts does not apply: TorchServe's that
// ts lacks, and settings spelt another way (batch_size for batchSize), which would otherwise
// pass silently to the handler.
func unappliedKeys(all map[string]any) []string {
	var notes []string
	for _, k := range slices.Sorted(maps.Keys(all)) {
		if what, ok := torchServeUnapplied[k]; ok {
			notes = append(notes, fmt.Sprintf("%s is %s, which ts does not apply", k, what))
		} else if known, ok := modelYAMLKeys()[foldKey(k)]; ok && known != k {
			notes = append(notes, fmt.Sprintf("%s is not a setting, and is left to the handler: did you mean %s?", k, known))
		}
	}
	return notes
}

// readModelYAML reads the archive's model-config.yaml, if it has one, or a Triton model's
// config.pbtxt.
func readModelYAML(o *archive.Opened) (*modelYAML, error) {
	if o.Triton != nil {
		return tritonSettings(o.Triton)
	}
	y := &modelYAML{}
	name := o.Manifest.Model.ConfigFile
	if name == "" {
		return y, nil
	}
	b, err := os.ReadFile(o.Path(name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if y, err = parseModelYAML(b); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return y, nil
}

// parseModelYAML reads the text of a model-config.yaml.
func parseModelYAML(b []byte) (*modelYAML, error) {
	var doc yaml.Node // parsed once, decoded twice: the settings and the whole file
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	y := &modelYAML{}
	if len(doc.Content) == 0 { // an empty file
		return y, nil
	}
	if err := doc.Decode(y); err != nil {
		return nil, err
	}
	if err := doc.Decode(&y.All); err != nil {
		return nil, err
	}
	// a mapping with keys that are not all strings (id2label: {0: neg}) decodes to
	// map[any]any, which JSON (the handler protocol, describe) cannot hold; the handler
	// section is the whole file's, so converted with it
	y.All, _ = stringKeys(y.All).(map[string]any)
	y.Handler, _ = y.All["handler"].(map[string]any)
	y.unapplied = unappliedKeys(y.All)
	return y, nil
}

// stringKeys is v with every mapping's keys turned into strings, as JSON needs them.
func stringKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = stringKeys(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = stringKeys(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = stringKeys(e)
		}
		return x
	}
	return v
}

// resolveSettings applies the precedence register request > model-config.yaml >
// config.properties models > defaults, recording each value's source.
func resolveSettings(d Defaults, props *config.ModelConfig, y *modelYAML, o Overrides, startup bool) (Settings, error) {
	s := Settings{Sources: map[string]string{}}
	fromFile := FromYAML
	if y.source != "" {
		fromFile = y.source
	}
	if props == nil {
		props = &config.ModelConfig{}
	}
	pick := func(key string, dst *int, def int, reg, yml, prop *int) {
		*dst, s.Sources[key] = def, FromDefault
		if src, ok := d.Sources[key]; ok {
			s.Sources[key] = src
		}
		if prop != nil {
			*dst, s.Sources[key] = *prop, FromProperties
		}
		if yml != nil {
			*dst, s.Sources[key] = *yml, fromFile
		}
		if reg != nil {
			*dst, s.Sources[key] = *reg, FromRegister
		}
	}
	workers := d.RegisterWorkers
	if startup {
		workers = d.StartupWorkers
	}
	// workers: initial_workers sets both; yaml's pair counts only when min > 0 and max ≥ min
	pick("minWorkers", &s.MinWorkers, workers, o.InitialWorkers, nil, props.MinWorkers)
	pick("maxWorkers", &s.MaxWorkers, s.MinWorkers, o.InitialWorkers, nil, props.MaxWorkers)
	if o.InitialWorkers == nil && y.MinWorkers != nil && *y.MinWorkers > 0 && y.MaxWorkers != nil && *y.MaxWorkers >= *y.MinWorkers {
		s.MinWorkers, s.MaxWorkers = *y.MinWorkers, *y.MaxWorkers
		s.Sources["minWorkers"], s.Sources["maxWorkers"] = fromFile, fromFile
	}
	if s.MaxWorkers < s.MinWorkers {
		s.MaxWorkers = s.MinWorkers
	}
	pick("batchSize", &s.BatchSize, 1, o.BatchSize, y.BatchSize, props.BatchSize)
	pick("maxBatchDelay", &s.MaxBatchDelay, 100, o.MaxBatchDelay, y.MaxBatchDelay, props.MaxBatchDelay)
	pick("responseTimeout", &s.ResponseTimeout, int(d.ResponseTimeout/time.Second), o.ResponseTimeout, y.ResponseTimeout, props.ResponseTimeout)
	pick("startupTimeout", &s.StartupTimeout, int(d.StartupTimeout/time.Second), o.StartupTimeout, y.StartupTimeout, props.StartupTimeout)
	pick("maxRetryTimeoutInSec", &s.MaxRetryTimeout, DefaultMaxRetryTimeout, nil, y.MaxRetryTimeout, nil)
	pick("jobQueueSize", &s.JobQueueSize, d.JobQueueSize, nil, y.JobQueueSize, props.JobQueueSize)
	queueTime := y.MaxQueueTime
	if queueTime == nil {
		queueTime = y.ClientTimeoutInMills
	}
	pick("maxQueueTime", &s.MaxQueueTime, 0, nil, queueTime, nil)
	fileOr(s.Sources, "maxQueueTimeAction", &s.MaxQueueTimeAction, QueueTimeReject, y.MaxQueueTimeAction, fromFile)
	fileOr(s.Sources, "allowQueueTimeOverride", &s.AllowQueueTimeOverride, false, y.AllowQueueTimeOverride, fromFile)
	s.Sources["priorityQueuePolicies"] = FromDefault
	if len(y.PriorityQueuePolicies) > 0 {
		s.PriorityQueuePolicies, s.Sources["priorityQueuePolicies"] = map[int]PriorityQueuePolicy{}, fromFile
		for priority, p := range y.PriorityQueuePolicies {
			if p.MaxQueueTimeAction == "" {
				p.MaxQueueTimeAction = QueueTimeReject
			}
			s.PriorityQueuePolicies[priority] = p
		}
	}
	pick("intraOpThreads", &s.IntraOpThreads, d.IntraOpThreads, nil, y.IntraOpThreads, nil)
	// ONNX Runtime's session options
	fileOr(s.Sources, "graphOptimization", &s.GraphOptimization, "all", y.GraphOptimization, fromFile)
	fileOr(s.Sources, "executionMode", &s.ExecutionMode, "sequential", y.ExecutionMode, fromFile)
	pick("interOpThreads", &s.InterOpThreads, 0, nil, y.InterOpThreads, nil)
	fileOr(s.Sources, "deviceType", &s.DeviceType, "", y.DeviceType, fromFile)
	fileOr(s.Sources, "deviceIds", &s.DeviceIDs, nil, nilIfEmpty(y.DeviceIDs), fromFile)
	fileOr(s.Sources, "memArena", &s.MemArena, true, y.MemArena, fromFile)
	fileOr(s.Sources, "memPattern", &s.MemPattern, true, y.MemPattern, fromFile)
	fileOr(s.Sources, "memArenaShrinkage", &s.MemArenaShrinkage, "", y.MemArenaShrinkage, fromFile)
	fileOr(s.Sources, "sessionConfig", &s.SessionConfig, nil, nilIfEmpty(y.SessionConfig), fromFile)
	s.ExecutionMode, s.DeviceType = strings.ToLower(s.ExecutionMode), strings.ToLower(s.DeviceType)
	s.MemArenaShrinkage = strings.ToLower(strings.TrimSpace(s.MemArenaShrinkage))
	s.PreferredBatchSizes, s.Sources["preferredBatchSizes"] = nil, FromDefault
	if y.PreferredBatchSizes != nil {
		s.PreferredBatchSizes, s.Sources["preferredBatchSizes"] = y.PreferredBatchSizes, fromFile
	}
	if o.PreferredBatchSizes != nil {
		s.PreferredBatchSizes, s.Sources["preferredBatchSizes"] = o.PreferredBatchSizes, FromRegister
	}
	fileOr(s.Sources, "useJobTicket", &s.UseJobTicket, false, y.UseJobTicket, fromFile)
	fileOr(s.Sources, "adaptiveBatching", &s.AdaptiveBatching, false, y.AdaptiveBatching, fromFile)
	fileOr(s.Sources, "sequenceBatching", &s.SequenceBatching, false, y.SequenceBatching, fromFile)
	fileOr(s.Sources, "continuousBatching", &s.ContinuousBatching, false, y.ContinuousBatching, fromFile)
	pick("maxNumSequence", &s.MaxNumSequence, 1, nil, y.MaxNumSequence, nil)
	pick("sequenceMaxIdleMSec", &s.SequenceMaxIdleMSec, 0, nil, y.SequenceMaxIdleMSec, nil)
	pick("maxSequenceJobQueueSize", &s.MaxSequenceJobQueueSize, 1, nil, y.MaxSequenceJobQueueSize, nil)
	fileOr(s.Sources, "responseCache", &s.ResponseCache, false, y.ResponseCache, fromFile)
	pick("unloadAfterIdle", &s.UnloadAfterIdle, int(d.UnloadAfterIdle/time.Second), nil, y.UnloadAfterIdle, nil)
	if s.SequenceBatching && y.UnloadAfterIdle == nil {
		// the server's default does not apply: unloading would end the open sequences
		s.UnloadAfterIdle, s.Sources["unloadAfterIdle"] = 0, FromDefault
	}
	s.Sources["warmup"] = FromDefault
	if y.Warmup != nil {
		s.Warmup, s.Sources["warmup"] = y.Warmup, fromFile
	}
	return s, s.validate()
}

func (s Settings) clone() Settings {
	c := s
	c.Sources = make(map[string]string, len(s.Sources))
	for k, v := range s.Sources {
		c.Sources[k] = v
	}
	c.PreferredBatchSizes = append([]int(nil), s.PreferredBatchSizes...)
	c.DeviceIDs = slices.Clone(s.DeviceIDs)
	c.SessionConfig = maps.Clone(s.SessionConfig)
	c.PriorityQueuePolicies = maps.Clone(s.PriorityQueuePolicies)
	// c.Warmup is shared: nothing changes a warm-up once read
	return c
}

func (s Settings) validate() error {
	switch {
	case s.MinWorkers < 0:
		return fmt.Errorf("minWorkers (from %s) must be ≥ 0, got %d", s.Sources["minWorkers"], s.MinWorkers)
	case s.MinWorkers > config.MaxWorkersPerModel:
		return fmt.Errorf("minWorkers (from %s) must be ≤ %d, got %d", s.Sources["minWorkers"], config.MaxWorkersPerModel, s.MinWorkers)
	case s.IntraOpThreads > config.MaxIntraOpThreads:
		return fmt.Errorf("intraOpThreads (from %s) must be ≤ %d, got %d", s.Sources["intraOpThreads"], config.MaxIntraOpThreads, s.IntraOpThreads)
	case s.InterOpThreads < 0 || s.InterOpThreads > config.MaxIntraOpThreads:
		return fmt.Errorf("interOpThreads (from %s) must be between 0 and %d, got %d", s.Sources["interOpThreads"], config.MaxIntraOpThreads, s.InterOpThreads)
	case s.BatchSize < 1:
		return fmt.Errorf("batchSize (from %s) must be ≥ 1, got %d", s.Sources["batchSize"], s.BatchSize)
	case s.MaxBatchDelay < 0:
		return fmt.Errorf("maxBatchDelay (from %s) must be ≥ 0, got %d", s.Sources["maxBatchDelay"], s.MaxBatchDelay)
	case s.ResponseTimeout <= 0:
		return fmt.Errorf("responseTimeout (from %s) must be > 0, got %d", s.Sources["responseTimeout"], s.ResponseTimeout)
	case s.StartupTimeout < 0:
		return fmt.Errorf("startupTimeout (from %s) must be ≥ 0, got %d", s.Sources["startupTimeout"], s.StartupTimeout)
	case s.MaxRetryTimeout < 0:
		return fmt.Errorf("maxRetryTimeoutInSec (from %s) must be ≥ 0, got %d", s.Sources["maxRetryTimeoutInSec"], s.MaxRetryTimeout)
	case s.JobQueueSize < 1:
		return fmt.Errorf("jobQueueSize (from %s) must be ≥ 1, got %d", s.Sources["jobQueueSize"], s.JobQueueSize)
	case s.MaxQueueTime < 0 || s.IntraOpThreads < 0:
		return fmt.Errorf("maxQueueTime and intraOpThreads must be ≥ 0")
	case engine.CheckOptLevel(s.GraphOptimization) != nil:
		return fmt.Errorf("graphOptimization (from %s): %v", s.Sources["graphOptimization"], engine.CheckOptLevel(s.GraphOptimization))
	case engine.CheckExecutionMode(s.ExecutionMode) != nil:
		return fmt.Errorf("executionMode (from %s): %v", s.Sources["executionMode"], engine.CheckExecutionMode(s.ExecutionMode))
	case hasKey(s.SessionConfig, ""):
		return fmt.Errorf("sessionConfig (from %s): an entry has no key", s.Sources["sessionConfig"])
	case engine.CheckArenaShrinkage(s.MemArenaShrinkage) != nil:
		return fmt.Errorf("memArenaShrinkage (from %s): %v", s.Sources["memArenaShrinkage"], engine.CheckArenaShrinkage(s.MemArenaShrinkage))
	case !validQueueTimeAction(s.MaxQueueTimeAction):
		return fmt.Errorf("maxQueueTimeAction (from %s) must be %s or %s, got %q", s.Sources["maxQueueTimeAction"], QueueTimeReject, QueueTimeDelay, s.MaxQueueTimeAction)
	case s.DeviceType != "" && s.DeviceType != DeviceCPU && s.DeviceType != DeviceGPU:
		return fmt.Errorf("deviceType (from %s) must be cpu or gpu, got %q", s.Sources["deviceType"], s.DeviceType)
	case s.DeviceType == DeviceCPU && len(s.DeviceIDs) > 0:
		return fmt.Errorf("deviceIds (from %s) name GPUs, but deviceType is cpu", s.Sources["deviceIds"])
	case slices.ContainsFunc(s.DeviceIDs, func(id int) bool { return id < 0 }):
		return fmt.Errorf("deviceIds (from %s) must be GPU numbers ≥ 0, got %v", s.Sources["deviceIds"], s.DeviceIDs)
	case s.MaxNumSequence < 1:
		return fmt.Errorf("maxNumSequence (from %s) must be ≥ 1, got %d", s.Sources["maxNumSequence"], s.MaxNumSequence)
	case s.SequenceMaxIdleMSec < 0:
		return fmt.Errorf("sequenceMaxIdleMSec (from %s) must be ≥ 0, got %d", s.Sources["sequenceMaxIdleMSec"], s.SequenceMaxIdleMSec)
	case s.MaxSequenceJobQueueSize < 1:
		return fmt.Errorf("maxSequenceJobQueueSize (from %s) must be ≥ 1, got %d", s.Sources["maxSequenceJobQueueSize"], s.MaxSequenceJobQueueSize)
	case s.UnloadAfterIdle < 0:
		return fmt.Errorf("unloadAfterIdle (from %s) must be ≥ 0 seconds, got %d", s.Sources["unloadAfterIdle"], s.UnloadAfterIdle)
	case s.UnloadAfterIdle > 0 && s.SequenceBatching:
		return fmt.Errorf("unloadAfterIdle cannot be used with sequenceBatching: unloading would end the open sequences")
	}
	for priority, p := range s.PriorityQueuePolicies {
		switch {
		case p.JobQueueSize < 0 || p.MaxQueueTime < 0:
			return fmt.Errorf("priorityQueuePolicies (from %s): priority %d: jobQueueSize and maxQueueTime must be ≥ 0", s.Sources["priorityQueuePolicies"], priority)
		case !validQueueTimeAction(p.MaxQueueTimeAction):
			return fmt.Errorf("priorityQueuePolicies (from %s): priority %d: maxQueueTimeAction must be %s or %s, got %q", s.Sources["priorityQueuePolicies"], priority, QueueTimeReject, QueueTimeDelay, p.MaxQueueTimeAction)
		}
	}
	for _, p := range s.PreferredBatchSizes {
		if p < 1 || p > s.BatchSize {
			return fmt.Errorf("preferredBatchSizes: %d is not between 1 and batchSize %d", p, s.BatchSize)
		}
	}
	return nil
}

// validQueueTimeAction reports whether a is a maxQueueTimeAction: reject or delay.
func validQueueTimeAction(a string) bool { return a == QueueTimeReject || a == QueueTimeDelay }

// hasKey reports whether m has key.
func hasKey[V any](m map[string]V, key string) bool {
	_, ok := m[key]
	return ok
}

// fileOr sets *dst to what the model's file (model-config.yaml or config.pbtxt) gives, or
// else to def, and records where it came from under key.
func fileOr[T any](sources map[string]string, key string, dst *T, def T, file *T, fromFile string) {
	*dst, sources[key] = def, FromDefault
	if file != nil {
		*dst, sources[key] = *file, fromFile
	}
}

// nilIfEmpty points to v when it holds something (a list or map a file gives), else nil.
func nilIfEmpty[S ~[]int | ~map[string]string](v S) *S {
	if len(v) == 0 {
		return nil
	}
	return &v
}
