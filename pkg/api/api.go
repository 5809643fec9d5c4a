// Package api holds the JSON shapes of ts's management API and ts's own inference headers,
// shared by the server and the Go client (pkg/client) so they cannot drift apart. Field names and order follow
// TorchServe's, then ts's additions.
package api

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/tensor"
)

// Headers of ts's own on the inference API, beside TorchServe's.
const (
	// HeaderPriority orders queued requests: an integer or high, normal, low.
	HeaderPriority = "X-TS-Priority"
	// HeaderRouteKey pins a request to a version of a traffic split: the same key always
	// lands on the same version.
	HeaderRouteKey = "X-TS-Route-Key"
	// HeaderModelVersion, on responses, names the version that answered.
	HeaderModelVersion = "X-TS-Model-Version"
	// HeaderExplainTarget, on explanations, names what was explained: a class's label, an
	// output's element.
	HeaderExplainTarget = "X-TS-Explain-Target"
	// HeaderExplainScore, on explanations, is the target's score on the request's own
	// input (a probability for classifiers).
	HeaderExplainScore = "X-TS-Explain-Score"
	// HeaderSequenceID names a stateful model's sequence, in requests and answers
	// (TorchServe's default ts_header_key_sequence_id).
	HeaderSequenceID = "ts_request_sequence_id"
)

// HeaderV2HeaderLength is the Open Inference Protocol's binary tensor data header: the length
// of the JSON that starts the body, binary data following it.
const HeaderV2HeaderLength = "Inference-Header-Content-Length"

// CheckSegment refuses a model name or version that a URL path cannot carry as itself:
// "." and ".." (an HTTP server takes such a path cleaned, as another one).
func CheckSegment(segment string) error {
	if segment == "." || segment == ".." {
		return fmt.Errorf("%q is not a model name or version", segment)
	}
	return nil
}

// Status is TorchServe's {"status": "..."} answer.
type Status struct {
	Status string `json:"status"`
}

// ModelRef is one entry of GET /models.
type ModelRef struct {
	ModelName string `json:"modelName"`
	ModelURL  string `json:"modelUrl"`
}

// ModelList is GET /models.
type ModelList struct {
	NextPageToken string     `json:"nextPageToken,omitempty"`
	Models        []ModelRef `json:"models"`
}

// WorkflowRef is one entry of GET /workflows.
type WorkflowRef struct {
	WorkflowName string `json:"workflowName"`
	WorkflowURL  string `json:"workflowUrl"`
}

// WorkflowList is GET /workflows.
type WorkflowList struct {
	NextPageToken string        `json:"nextPageToken,omitempty"`
	Workflows     []WorkflowRef `json:"workflows"`
}

// WorkflowDescription is one element of GET /workflows/{name}: TorchServe's fields (the
// global settings of the workflow's models, the DAG as its spec file gives it), and ts's
// Nodes.
type WorkflowDescription struct {
	WorkflowName  string `json:"workflowName"`
	WorkflowURL   string `json:"workflowUrl"`
	MinWorkers    int    `json:"minWorkers"`
	MaxWorkers    int    `json:"maxWorkers"`
	BatchSize     int    `json:"batchSize"`
	MaxBatchDelay int    `json:"maxBatchDelay"`
	WorkflowDag   string `json:"workflowDag"`
	// Nodes are the DAG's nodes in the order they run, each with the model it is registered
	// as (GET /models lists them too).
	Nodes []WorkflowNode `json:"nodes,omitempty"`
}

// WorkflowNode is one node of a workflow.
type WorkflowNode struct {
	Name     string   `json:"name"`
	Model    string   `json:"model"`
	ModelURL string   `json:"modelUrl,omitempty"` // empty for a function of the handler file
	Feeds    []string `json:"feeds,omitempty"`
}

// Description is one element of GET /models/{name}.
type Description struct {
	ModelName       string `json:"modelName"`
	ModelVersion    string `json:"modelVersion"`
	ModelURL        string `json:"modelUrl"`
	Runtime         string `json:"runtime"`
	MinWorkers      int    `json:"minWorkers"`
	MaxWorkers      int    `json:"maxWorkers"`
	BatchSize       int    `json:"batchSize"`
	MaxBatchDelay   int    `json:"maxBatchDelay"`
	ResponseTimeout int    `json:"responseTimeout"`
	StartupTimeout  int    `json:"startupTimeout"`
	// MaxRetryTimeoutInSec: seconds of worker failures after which failed workers are no
	// longer replaced (TorchServe's, default 300).
	MaxRetryTimeoutInSec int `json:"maxRetryTimeoutInSec"`
	// TorchServe's names for the queue time limit (ms, 0 = none) and the job ticket.
	ClientTimeoutInMills int `json:"clientTimeoutInMills"`
	// TorchServe's fields for features ts has no use for (model parallelism, continuous
	// batching, Python virtual environments, stateful sequences), at the values TorchServe
	// shows for a model that uses none: clients that read them find them. DeviceType is
	// "gpu" when the model runs on a GPU provider, else "cpu".
	ParallelType            string `json:"parallelType"`
	ParallelLevel           int    `json:"parallelLevel"`
	DeviceType              string `json:"deviceType"`
	DeviceIDs               []int  `json:"deviceIds,omitempty"`
	ContinuousBatching      bool   `json:"continuousBatching"`
	UseJobTicket            bool   `json:"useJobTicket"`
	UseVenv                 bool   `json:"useVenv"`
	Stateful                bool   `json:"stateful"`
	SequenceMaxIdleMSec     int64  `json:"sequenceMaxIdleMSec"`
	SequenceTimeoutMSec     int64  `json:"sequenceTimeoutMSec"`
	MaxNumSequence          int    `json:"maxNumSequence"`
	MaxSequenceJobQueueSize int    `json:"maxSequenceJobQueueSize"`

	LoadedAtStartup bool           `json:"loadedAtStartup"`
	Workers         []Worker       `json:"workers"`
	JobQueueStatus  JobQueueStatus `json:"jobQueueStatus"`
	// CustomizedMetadata, with ?customized=true, is what a custom handler says of the model
	// (TorchServe's describe_handle), else what the ONNX model says of itself (a
	// ModelMetadata).
	CustomizedMetadata json.RawMessage `json:"customizedMetadata,omitempty"`

	// Processes are a custom handler's processes (ts's; none for other handlers).
	Processes []Process `json:"processes,omitempty"`
	// Ensemble names the models of a Triton ensemble's steps (ts's; none for a model).
	Ensemble []string `json:"ensemble,omitempty"`
	// Sequences is how many sequences of a Triton sequence model are held: started, not
	// ended nor idle too long (ts's; nil for other models).
	Sequences *int `json:"sequences,omitempty"`

	Default       bool   `json:"default"`
	State         string `json:"state"`
	Error         string `json:"error,omitempty"`
	Handler       string `json:"handler"`
	ArchiveSHA256 string `json:"archiveSha256"`
	// SignedBy is the trusted key whose signature of the archive the server checked (only
	// when it requires signatures: trusted_keys).
	SignedBy      string         `json:"signedBy,omitempty"`
	RegisteredAt  string         `json:"registeredAt"`
	LoadedAt      string         `json:"loadedAt,omitempty"`
	LoadTimeMS    int64          `json:"loadTimeMs,omitempty"`
	Warmup        *Warmup        `json:"warmup,omitempty"`
	ResponseCache *ResponseCache `json:"responseCache,omitempty"`
	// UnloadAfterIdle is the seconds without a request after which the model is unloaded
	// (0: never); State is then IDLE until a request loads it again.
	UnloadAfterIdle   int    `json:"unloadAfterIdle,omitempty"`
	ExecutionProvider string `json:"executionProvider,omitempty"`
	IntraOpThreads    int    `json:"intraOpThreads,omitempty"`
	// GraphOptimization is ONNX Runtime's graph optimisation level (all, extended, basic,
	// disable).
	GraphOptimization string `json:"graphOptimization,omitempty"`
	// ExecutionMode (sequential or parallel), InterOpThreads (parallel's threads; 0: ONNX
	// Runtime's choice), MemArena and MemPattern are the session's other ONNX Runtime options
	// (nil from a server that does not say).
	ExecutionMode  string `json:"executionMode,omitempty"`
	InterOpThreads int    `json:"interOpThreads,omitempty"`
	MemArena       *bool  `json:"memArena,omitempty"`
	MemPattern     *bool  `json:"memPattern,omitempty"`
	// MemArenaShrinkage: the devices whose arena gives back what each run grew it by.
	MemArenaShrinkage string `json:"memArenaShrinkage,omitempty"`
	// SessionConfig: the model's ONNX Runtime session configuration entries.
	SessionConfig  map[string]string `json:"sessionConfig,omitempty"`
	Batching       Batching          `json:"batching"`
	TrafficWeight  *int              `json:"trafficSplitWeight,omitempty"`
	SettingSources map[string]string `json:"settingSources"`
	Inputs         []tensor.Info     `json:"inputs"`
	Outputs        []tensor.Info     `json:"outputs"`
}

// ModelMetadata is the ONNX model's own header: its producer, IR version, opset and
// metadata_props.
type ModelMetadata struct {
	ProducerName    string            `json:"producerName,omitempty"`
	ProducerVersion string            `json:"producerVersion,omitempty"`
	IRVersion       int64             `json:"irVersion"`
	Opset           int64             `json:"opset,omitempty"`
	Metadata        map[string]string `json:"metadata,omitempty"`
	// Labels are the class names the model's archive gives (index_to_name.json, a Hugging
	// Face config.json's id2label, an Ultralytics export's names), by class index in decimal,
	// as index_to_name.json has them.
	Labels map[string]string `json:"labels,omitempty"`
}

// Worker is a worker as describe shows it.
type Worker struct {
	ID        string `json:"id"`
	StartTime string `json:"startTime"`
	Status    string `json:"status"`
	// MemoryUsage and PID are the server process's (its resident memory in bytes), which its
	// workers share: TorchServe gives each worker process's. A custom handler's workers show
	// its processes (Description.Processes) in turn, and 0 for one not started yet.
	MemoryUsage int64  `json:"memoryUsage"`
	PID         int    `json:"pid"`
	GPU         bool   `json:"gpu"`
	GPUUsage    string `json:"gpuUsage"` // "N/A": ts does not query the GPU
	Batches     int64  `json:"batches"`
	Failures    int    `json:"failures,omitempty"`
}

// Process is a custom handler's process (ts's): its id, resident memory in bytes, when it
// started, and whether it is answering.
type Process struct {
	PID         int    `json:"pid"`
	MemoryUsage int64  `json:"memoryUsage"`
	StartTime   string `json:"startTime"`
	Busy        bool   `json:"busy"`
}

// JobQueueStatus is TorchServe's queue summary.
type JobQueueStatus struct {
	RemainingCapacity int `json:"remainingCapacity"`
	PendingRequests   int `json:"pendingRequests"`
}

// Batching shows the batcher's settings beyond TorchServe's and its measured behaviour.
type Batching struct {
	Batchable           bool   `json:"batchable"`
	Unbatchable         string `json:"unbatchable,omitempty"` // why not, when not batchable
	JobQueueSize        int    `json:"jobQueueSize"`
	PreferredBatchSizes []int  `json:"preferredBatchSizes,omitempty"`
	MaxQueueTime        int    `json:"maxQueueTime,omitempty"`
	// MaxQueueTimeAction is what a request past maxQueueTime gets: "reject" (503) or
	// "delay" (it goes behind its priority's others); AllowQueueTimeOverride lets a request
	// ask for less (the Open Inference Protocol's parameter timeout).
	MaxQueueTimeAction     string `json:"maxQueueTimeAction,omitempty"`
	AllowQueueTimeOverride bool   `json:"allowQueueTimeOverride,omitempty"`
	// PriorityQueuePolicies are the priorities (X-TS-Priority's values) with a queue policy of
	// their own (Triton's priority_queue_policy).
	PriorityQueuePolicies map[int]QueuePolicy `json:"priorityQueuePolicies,omitempty"`
	Adaptive              bool                `json:"adaptive"`
	Stats                 batch.Stats         `json:"stats"`
}

// QueuePolicy is one priority's queue policy: how many of its requests may wait (0: the
// model's jobQueueSize bounds them), for how long (ms, 0: no limit), what happens then
// (reject or delay) and whether a request may ask for less.
type QueuePolicy struct {
	JobQueueSize           int    `json:"jobQueueSize,omitempty"`
	MaxQueueTime           int    `json:"maxQueueTime,omitempty"`
	MaxQueueTimeAction     string `json:"maxQueueTimeAction"`
	AllowQueueTimeOverride bool   `json:"allowQueueTimeOverride,omitempty"`
}

// Warmup is a model's warm-up (model-config.yaml's warmup) as describe shows it: what runs
// when the model loads, before it serves, and how long it took the last time (part of
// loadTimeMs).
type Warmup struct {
	Runs       int                `json:"runs"`
	BatchSizes []int              `json:"batchSizes,omitempty"` // empty when the model does not batch
	Data       string             `json:"data"`
	Shapes     map[string][]int64 `json:"shapes,omitempty"`
	Files      map[string]string  `json:"files,omitempty"`
	TimeMS     int64              `json:"timeMs"`
}

// ResponseCache is how a model that asks for the response cache (model-config.yaml's
// responseCache) uses it: Active is false when the server has none (response_cache_size 0).
type ResponseCache struct {
	Active bool  `json:"active"`
	Hits   int64 `json:"hits"`
	Misses int64 `json:"misses"`
}

// LogSettings are a server's log settings (Triton's logging extension, GET and POST
// /v2/logging).
type LogSettings struct {
	LogFile         string `json:"log_file"`
	LogInfo         bool   `json:"log_info"`
	LogWarning      bool   `json:"log_warning"`
	LogError        bool   `json:"log_error"`
	LogVerboseLevel int    `json:"log_verbose_level"`
	LogFormat       string `json:"log_format"`
}

// LogLevels are the log levels, lowest first, as ts serve's --log-level names them (and
// "off").
var LogLevels = []string{"debug", "info", "warn", "error", "off"}

// Level names the lowest level the settings log: debug, info, warn, error or off.
func (s LogSettings) Level() string {
	switch {
	case s.LogVerboseLevel > 0:
		return "debug"
	case s.LogInfo:
		return "info"
	case s.LogWarning:
		return "warn"
	case s.LogError:
		return "error"
	}
	return "off"
}

// LogSettingsFor are the settings that log from level (one of LogLevels) up.
func LogSettingsFor(level string) LogSettings {
	i := slices.Index(LogLevels, level)
	s := LogSettings{LogFormat: "default", LogInfo: i <= 1, LogWarning: i <= 2, LogError: i <= 3}
	if i == 0 {
		s.LogVerboseLevel = 1
	}
	return s
}

// Split is a model's traffic split (GET/PUT /models/{name}/split).
type Split struct {
	ModelName string         `json:"modelName"`
	Weights   map[string]int `json:"weights"`
}

// Error is the error body every API answers with.
type Error struct {
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// TritonStats is Triton's statistics answer (GET /v2/models[/{model}[/versions/{version}]]/stats).
type TritonStats struct {
	ModelStats []TritonModelStats `json:"model_stats"`
}

// TritonDuration is a count and a total time in nanoseconds.
type TritonDuration struct {
	Count int64 `json:"count"`
	NS    int64 `json:"ns"`
}

// TritonModelStats is what one version has served since it was registered: requests
// (inference_count), runs (execution_count), and the time of each stage.
type TritonModelStats struct {
	Name           string               `json:"name"`
	Version        string               `json:"version"`
	LastInference  int64                `json:"last_inference"` // ms since the epoch
	InferenceCount int64                `json:"inference_count"`
	ExecutionCount int64                `json:"execution_count"`
	InferenceStats TritonInferenceStats `json:"inference_stats"`
	BatchStats     []TritonBatchStats   `json:"batch_stats"`
	MemoryUsage    []any                `json:"memory_usage"`
}

// TritonInferenceStats are a version's requests (success, fail) and the time they spent
// queued and in each stage of their runs.
type TritonInferenceStats struct {
	Success       TritonDuration `json:"success"`
	Fail          TritonDuration `json:"fail"`
	Queue         TritonDuration `json:"queue"`
	ComputeInput  TritonDuration `json:"compute_input"`
	ComputeInfer  TritonDuration `json:"compute_infer"`
	ComputeOutput TritonDuration `json:"compute_output"`
	CacheHit      TritonDuration `json:"cache_hit"`
	CacheMiss     TritonDuration `json:"cache_miss"`
}

// TritonBatchStats are the runs of one batch size.
type TritonBatchStats struct {
	BatchSize     int64          `json:"batch_size"`
	ComputeInput  TritonDuration `json:"compute_input"`
	ComputeInfer  TritonDuration `json:"compute_infer"`
	ComputeOutput TritonDuration `json:"compute_output"`
}
