package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/magiconair/properties"
	"golang.org/x/net/http/httpguts"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/trace"
)

// EnvConfigFile names the config.properties file (as TorchServe's TS_CONFIG_FILE).
const EnvConfigFile = "TS_CONFIG_FILE"

// Limits on a model version's workers and ONNX Runtime intra-op threads. Workers share one
// session and threads beyond the cores only compete, so more serves nothing, while a typo of a
// few zeros would start millions of them and exhaust the server's memory.
const (
	MaxWorkersPerModel = 1024
	MaxIntraOpThreads  = 1024
	MaxGPUs            = 1024
)

// kind is how a setting's text is parsed.
type kind int

const (
	kString kind = iota
	kInt
	kBool
	kList
	kJSON
	kSeconds
	kBytes
)

// Key is one setting: its config.properties name, its `ts serve` flag (if any), its default
// and its documentation. The environment variable is TS_ + the key in upper case.
type Key struct {
	Name    string
	Flag    string
	Default string
	kind    kind
	Help    string
}

// Keys lists every supported setting, in the order --print-config shows them.
var Keys = []Key{
	{"inference_address", "inference-address", "http://127.0.0.1:8080", kString, "inference API address"},
	{"management_address", "management-address", "http://127.0.0.1:8081", kString, "management API address"},
	{"metrics_address", "metrics-address", "http://127.0.0.1:8082", kString, "metrics API address"},
	{"enable_http", "http", "true", kBool, "serve the inference and management APIs over HTTP (false: gRPC only, which enable_grpc must then serve; Triton's --allow-http)"},
	{"strict_readiness", "strict-readiness", "true", kBool, "the Open Inference Protocol's server readiness (/v2/health/ready, gRPC ServerReady) waits for every model, as Triton's --strict-readiness; false: ready once the server is up"},
	{"enable_metrics_api", "metrics", "true", kBool, "serve the metrics API at metrics_address (false: no metrics listener; Triton's --allow-metrics)"},
	{"disable_system_metrics", "", "false", kBool, "leave TorchServe's system metrics (CPUUtilization, MemoryUsed, DiskUsage, ...) out of the metrics API"},
	{"enable_grpc", "grpc", "true", kBool, "serve TorchServe's gRPC APIs (ts's own key; false: no gRPC listeners)"},
	{"grpc_inference_address", "", "127.0.0.1", kString, "gRPC inference API host (TorchServe's InferenceAPIsService)"},
	{"grpc_inference_port", "grpc-inference-port", "7070", kInt, "gRPC inference API port"},
	{"grpc_management_address", "", "127.0.0.1", kString, "gRPC management API host (TorchServe's ManagementAPIsService)"},
	{"grpc_management_port", "grpc-management-port", "7071", kInt, "gRPC management API port"},
	{"enable_grpc_ssl", "", "false", kBool, "serve gRPC over TLS with the certificate of https:// addresses (keystore, certificate_file, or self-signed)"},
	{"grpc_inference_max_connection_age_ms", "", "0", kInt, "close gRPC inference connections this old (ms; 0 = never), as load balancers need to spread clients"},
	{"grpc_inference_max_connection_age_grace_ms", "", "0", kInt, "then give a closing connection's calls this long to finish (ms; 0 = as long as they take)"},
	{"grpc_management_max_connection_age_ms", "", "0", kInt, "close gRPC management connections this old (ms; 0 = never)"},
	{"grpc_management_max_connection_age_grace_ms", "", "0", kInt, "then give a closing connection's calls this long to finish (ms; 0 = as long as they take)"},
	{"model_store", "model-store", "", kString, "folder of model archives"},
	{"repository_poll_secs", "repository-poll-secs", "0", kSeconds, "every this many seconds, reload the registered versions whose archive in the model store changed (Triton's poll mode; 0: never)"},
	{"workflow_store", "workflow-store", "", kString, "folder of workflow archives (.war; default: the model store)"},
	{"load_models", "models", "", kList, "models to load at start: all, URL or NAME=URL (as POST /models' url), comma-separated"},
	{"exit_on_error", "exit-on-error", "false", kBool, "stop the server when a model of load_models does not load (Triton's --exit-on-error; false: log it and serve the others, as TorchServe)"},
	{"models", "", "", kJSON, `per-model settings: {"name": {"version": {"minWorkers": 1, "batchSize": 4, ...}}}`},
	{"model_snapshot", "", "", kJSON, `TorchServe's start-up snapshot, as KServe's config.properties holds it: {"models": {"name": {"version": {"marName": "name.mar", "defaultVersion": true, "minWorkers": 1, ...}}}}; each version loads at start with its settings`},
	{"default_workers_per_model", "workers", "0", kInt, "workers for models loaded at start and registered without initial_workers (0 = one per CPU core)"},
	{"job_queue_size", "", "100", kInt, "requests a model version may queue before answering 503"},
	{"job_queue_full_status", "", "503", kInt, "HTTP status of a request turned away because its model's job queue is full: 503 (TorchServe's, with its message) or 429 (Too Many Requests, with Retry-After, for clients and proxies that back off on it; gRPC RESOURCE_EXHAUSTED)"},
	{"default_response_timeout", "", "120", kSeconds, "seconds a request may take before it fails with a timeout"},
	{"default_startup_timeout", "", "120", kSeconds, "seconds a model may take to load"},
	{"unregister_model_timeout", "", "120", kSeconds, "seconds an unregister waits for requests in flight"},
	{"default_unload_after_idle", "unload-after-idle", "0", kSeconds, "seconds without a request after which a model is unloaded, its memory freed, until the next request loads it again (0: never; model-config.yaml's unloadAfterIdle wins; ts's own, as Ollama's keep_alive)"},
	{"max_request_size", "", "6553500", kBytes, "largest request body, bytes"},
	{"max_response_size", "", "6553500", kBytes, "largest response body, bytes"},
	{"enable_shared_memory", "shared-memory", "false", kBool, "let inference clients on this machine register system shared memory regions (Triton's shared memory extension) and pass tensors through them"},
	{"response_cache_size", "", "67108864", kBytes, "memory for the answers of models whose model-config.yaml sets responseCache: true, bytes (0: no cache); Triton's response cache"},
	{"trace_level", "trace-level", "OFF", kList, "Triton's trace extension: OFF, or TIMESTAMPS and/or TENSORS (comma-separated): which details of sampled requests are traced; the API changes it while the server runs"},
	{"trace_rate", "", "1000", kInt, "trace one request in this many"},
	{"trace_count", "", "-1", kInt, "traces to take, then stop (-1: no end)"},
	{"trace_log_frequency", "", "0", kInt, "write the traces to trace_file.N each time this many are taken (0: to trace_file when the server stops)"},
	{"trace_file", "trace-file", "", kString, "where traces go, as JSON (\"\": the log, one line each); the API cannot change it"},
	{"enable_envvars_config", "", "false", kBool, "let TS_<KEY> environment variables set these keys"},
	{"enable_model_api", "", "true", kBool, "allow POST /models and DELETE /models (register and unregister)"},
	{"enable_model_upload", "enable-upload", "false", kBool, "allow POST /models/upload: clients send archives into the model store (ts register of a local file)"},
	{"max_upload_size", "", "1073741824", kBytes, "largest uploaded archive, bytes"},
	{"trusted_keys", "trusted-keys", "", kList, "Ed25519 public keys (PEM files, or folders of .pub/.pem files), comma-separated: every model and workflow archive must be signed by one of them (tsarchive sign); none by default"},
	{"allowed_urls", "", "", kList, "regular expressions of register URLs allowed beyond the model store (http(s)://, file://, paths); none by default"},
	{"use_env_allowed_urls", "", "false", kBool, "let TS_ALLOWED_URLS set allowed_urls"},
	{"max_download_size", "", "4294967296", kBytes, "largest archive downloaded from an allowed URL, bytes"},
	{"download_timeout", "", "300", kSeconds, "seconds a download from an allowed URL may take"},
	{"service_envelope", "", "", kString, "TorchServe's envelope of /predictions and /explanations bodies: json or kserve (KServe v1: {\"instances\"} in, {\"predictions\"} or {\"explanations\"} out), kservev2 (Open Inference Protocol tensors in and out); \"\" or body: none"},
	{"ts_header_key_sequence_id", "", "ts_request_sequence_id", kString, "request header naming a stateful model's sequence (sequenceBatching); answered with the id, new when absent"},
	{"ts_header_key_sequence_start", "", "ts_request_sequence_start", kString, "request header starting a sequence afresh"},
	{"ts_header_key_sequence_end", "", "ts_request_sequence_end", kString, "request header ending a sequence after its answer"},
	{"enable_model_snapshot", "snapshot", "false", kBool, "save registered models after each change and restore them at start"},
	{"model_snapshot_file", "", "logs/config/snapshot.json", kString, "where the snapshot is saved"},
	{"cors_allowed_origin", "", "", kString, "CORS Access-Control-Allow-Origin (CORS off when empty)"},
	{"cors_allowed_methods", "", "", kString, "CORS Access-Control-Allow-Methods"},
	{"cors_allowed_headers", "", "", kString, "CORS Access-Control-Allow-Headers"},
	{"execution_provider", "provider", "cpu", kString, "ONNX Runtime execution provider: cpu, cuda[:N], tensorrt[:N]"},
	{"provider_fallback", "provider-fallback", "false", kBool, "run on CPU, with a warning, when the execution provider is unavailable"},
	{"number_of_gpu", "gpus", "", kInt, "GPUs the model versions go round when execution_provider names no device (cuda, tensorrt), as TorchServe's: each on the next; default: the GPUs the NVIDIA driver lists; 0 or 1: all on GPU 0"},
	{"intra_op_threads", "intra-op-threads", "0", kInt, "ONNX Runtime intra-op threads per model version (0 = cores / workers)"},
	{"drain_timeout", "", "30", kSeconds, "seconds to finish requests in flight after SIGTERM"},
	{"keystore", "keystore", "", kString, "PKCS#12 keystore (TorchServe's): its key and certificate chain are served on https:// addresses (before certificate_file)"},
	{"keystore_pass", "", "changeit", kString, "password of keystore (TorchServe's default)"},
	{"keystore_type", "", "PKCS12", kString, "type of keystore: PKCS12 (a Java JKS keystore converts with keytool -importkeystore -deststoretype PKCS12)"},
	{"certificate_file", "certificate-file", "", kString, "PEM certificate (chain) served on https:// addresses; with no keystore nor certificate_file, a self-signed certificate made at start (as TorchServe's)"},
	{"private_key_file", "private-key-file", "", kString, "PEM private key of certificate_file"},
	{"client_ca_file", "client-ca-file", "", kString, "PEM certificate authorities of clients: https:// addresses (and gRPC over TLS) then require a client certificate one of them signed (mutual TLS; ts's own key, as Triton's --grpc-use-ssl-mutual)"},
	{"disable_token_authorization", "", "true", kBool, "no API keys (ts's default); false: every inference and management request needs the key from key_file, as TorchServe's default"},
	{"token_expiration_min", "", "60", kInt, "minutes an inference or management key stays valid (GET /token?type=... makes a new one)"},
	{"key_file", "key-file", "key_file.json", kString, "where the keys are written (mode 0600) when token authorization is on; removed at stop"},
	{"http_restricted_api", "", "", kString, "Triton's --http-restricted-api: API groups that answer only requests carrying a header, GROUP,...:HEADER=VALUE (groups: " + strings.Join(APIGroups, ", ") + "; TorchServe's routes belong to them too, docs/serve.md), more rules separated by ;"},
	{"grpc_restricted_protocol", "", "", kString, "Triton's --grpc-restricted-protocol: the same for gRPC calls, whose metadata must hold triton-grpc-protocol-HEADER: VALUE"},
}

// APIGroups are Triton's groups of APIs, which http_restricted_api and
// grpc_restricted_protocol may restrict to requests carrying a header.
var APIGroups = []string{"health", "metadata", "inference", "shared-memory", "model-config", "model-repository", "statistics", "trace", "logging"}

// GRPCRestrictionPrefix starts the metadata key of a gRPC restriction's header, as Triton's.
const GRPCRestrictionPrefix = "triton-grpc-protocol-"

// Restriction is the header, with its value, that requests to a restricted API group must
// carry.
type Restriction struct{ Header, Value string }

// Restrictions are the restricted API groups (APIGroups) and their headers.
type Restrictions map[string]Restriction

// String names each restricted group with its header, never its value: "inference:infer-key
// model-repository:admin-key".
func (rs Restrictions) String() string {
	var out []string
	for _, g := range APIGroups {
		if r, ok := rs[g]; ok {
			out = append(out, g+":"+r.Header)
		}
	}
	return strings.Join(out, " ")
}

// Service envelopes (service_envelope): the protocol /predictions and /explanations bodies
// are in.
const (
	EnvelopeJSON     = "json"     // KServe v1's instances and predictions
	EnvelopeKServe   = "kserve"   // the same, and explanations
	EnvelopeKServeV2 = "kservev2" // the Open Inference Protocol's tensors
)

// SequenceHeaders name the request headers of a stateful model's sequences.
type SequenceHeaders struct{ ID, Start, End string }

// unsupported are TorchServe keys ts accepts and ignores, with a warning.
var unsupported = map[string]string{
	"number_of_netty_threads": "Netty", "netty_client_threads": "Netty", "vmargs": "the JVM",
	"prefer_direct_buffer": "Netty", "async_logging": "log4j", "initial_worker_port": "Python workers",
	"install_py_dep_per_model": "Python workers", "blacklist_env_vars": "Python workers",
	"default_service_handler": "Python handlers", "decode_input_request": "Python workers",
	"metrics_mode": "metrics modes (the metrics API is always Prometheus)", "metrics_config": "metrics.yaml",
	"metric_time_interval": "system metrics (read at each scrape)",
	"system_metrics_cmd":   "system metrics", "model_metrics_auto_detect": "handler metrics",
	"limit_max_image_pixels": "turning the image size limit off", "ipex_enable": "IPEX",
	"ts_open_inference_protocol": "turning the Open Inference Protocol off: ts always serves /v2", "io_ratio": "Netty",
	"cpu_launcher_enable": "the CPU launcher", "cpu_launcher_args": "the CPU launcher",
	"model_server_home": "TorchServe's home folder", "plugins_path": "plugins",
	"use_native_io": "Netty",
}

// ModelConfig is one entry of the `models` setting (TorchServe's per-model JSON).
type ModelConfig struct {
	DefaultVersion  bool   `json:"defaultVersion,omitempty"`
	MarName         string `json:"marName,omitempty"`
	MinWorkers      *int   `json:"minWorkers,omitempty"`
	MaxWorkers      *int   `json:"maxWorkers,omitempty"`
	BatchSize       *int   `json:"batchSize,omitempty"`
	MaxBatchDelay   *int   `json:"maxBatchDelay,omitempty"`
	ResponseTimeout *int   `json:"responseTimeout,omitempty"`
	StartupTimeout  *int   `json:"startupTimeout,omitempty"`
	JobQueueSize    *int   `json:"jobQueueSize,omitempty"`
}

// Settings are the effective settings of a server.
type Settings struct {
	InferenceAddress  string
	ManagementAddress string
	MetricsAddress    string
	// EnableHTTP is false when the inference and management APIs serve gRPC only (enable_http).
	EnableHTTP bool
	// StrictReadiness: the server is ready (Open Inference Protocol) once every model is.
	StrictReadiness bool
	// EnableMetricsAPI is false when no metrics listener opens (enable_metrics_api).
	EnableMetricsAPI bool
	// DisableSystemMetrics leaves the host's metrics out of the metrics API.
	DisableSystemMetrics bool
	ModelStore           string
	WorkflowStore        string // workflow archives (.war); the model store unless set
	// RepositoryPoll is how often the model store's archives are checked for changes (0: never).
	RepositoryPoll time.Duration
	// ExitOnError stops the server when a start-up model does not load.
	ExitOnError bool
	LoadModels  []string
	Models      map[string]map[string]ModelConfig
	// ModelSnapshot is TorchServe's model_snapshot: versions to load at start (by name and
	// version), each with its archive (marName) and settings, which Models also holds.
	ModelSnapshot          map[string]map[string]ModelConfig
	DefaultWorkersPerModel int
	JobQueueSize           int
	// JobQueueFullStatus is the HTTP status of a request its model's full job queue turns
	// away: 503 (TorchServe's) or 429.
	JobQueueFullStatus     int
	DefaultResponseTimeout time.Duration
	DefaultStartupTimeout  time.Duration
	UnregisterModelTimeout time.Duration
	// DefaultUnloadAfterIdle unloads models idle this long (0: never).
	DefaultUnloadAfterIdle time.Duration
	MaxRequestSize         int64
	MaxResponseSize        int64
	// EnableSharedMemory turns Triton's system shared memory extension on.
	EnableSharedMemory bool
	// ResponseCacheSize bounds the response cache, in bytes (0: no cache).
	ResponseCacheSize int64
	// Trace is the global trace settings (Triton's trace extension).
	Trace          trace.Settings
	EnableModelAPI bool
	// SequenceHeaders are the request headers of stateful models' sequences: its id, its
	// start, its end (TorchServe's ts_header_key_sequence_*).
	SequenceHeaders   SequenceHeaders
	EnableModelUpload bool
	MaxUploadSize     int64
	// TrustedKeys are the public keys' files and folders archives must be signed by (none:
	// signatures are not required).
	TrustedKeys         []string
	AllowedURLs         []*regexp.Regexp
	MaxDownloadSize     int64
	DownloadTimeout     time.Duration
	EnableModelSnapshot bool
	ModelSnapshotFile   string
	CORSAllowedOrigin   string
	CORSAllowedMethods  string
	CORSAllowedHeaders  string
	ExecutionProvider   string
	ProviderFallback    bool
	// ServiceEnvelope is the protocol of /predictions and /explanations bodies: one of the
	// Envelope constants ("": TorchServe's own).
	ServiceEnvelope string
	// NumberOfGPU is how many GPUs the model versions go round (number_of_gpu, else the
	// NVIDIA driver's GPUs, DetectGPUs).
	NumberOfGPU    int
	IntraOpThreads int
	DrainTimeout   time.Duration
	// Keystore is TorchServe's keystore: a PKCS#12 file, KeystorePass its password; it is
	// served before CertificateFile and PrivateKeyFile. With none of them, TLS listeners serve
	// a self-signed certificate made at start.
	Keystore        string
	KeystorePass    string
	CertificateFile string
	PrivateKeyFile  string
	// ClientCAFile is client_ca_file: with it, TLS listeners require client certificates its
	// authorities signed (mutual TLS).
	ClientCAFile string
	// TokenAuthorization is !disable_token_authorization: API keys are required.
	TokenAuthorization bool
	TokenExpiration    time.Duration
	KeyFile            string
	// RestrictedHTTP and RestrictedGRPC are the API groups that answer only requests with a
	// header (Triton's --http-restricted-api and --grpc-restricted-protocol); a gRPC
	// restriction's header is GRPCRestrictionPrefix and the key given.
	RestrictedHTTP, RestrictedGRPC Restrictions

	// GRPCInference and GRPCManagement are the gRPC APIs' settings (their keys grpc_inference_*
	// and grpc_management_*).
	GRPCInference, GRPCManagement GRPCAPI

	// ConfigFile is the config.properties read ("" if none).
	ConfigFile string
	// Warnings lists keys that were accepted but ignored.
	Warnings []string

	values  map[string]string
	sources map[string]string
}

// The APIs a server answers, as Listeners names them.
const (
	APIInference      = "inference"
	APIManagement     = "management"
	APIMetrics        = "metrics"
	APIGRPCInference  = "grpc_inference"
	APIGRPCManagement = "grpc_management"
)

// Listeners are the configured address of each API that listens, by API: the HTTP inference
// and management APIs' unless enable_http is off, the metrics API's unless
// enable_metrics_api is, the gRPC APIs' when enable_grpc is on.
func (s *Settings) Listeners() map[string]string {
	a := map[string]string{}
	if s.EnableHTTP {
		a[APIInference], a[APIManagement] = s.InferenceAddress, s.ManagementAddress
	}
	if s.EnableMetricsAPI {
		a[APIMetrics] = s.MetricsAddress
	}
	if s.GRPCInference.Address != "" {
		a[APIGRPCInference], a[APIGRPCManagement] = s.GRPCInference.Address, s.GRPCManagement.Address
	}
	return a
}

// GRPCAPI is one gRPC API's settings.
type GRPCAPI struct {
	// Address is http://host:port (https:// with enable_grpc_ssl); "" when enable_grpc is off.
	Address string
	// MaxConnectionAge and MaxConnectionAgeGrace are grpc_*_max_connection_age_ms and
	// _grace_ms; 0: none.
	MaxConnectionAge, MaxConnectionAgeGrace time.Duration
}

// Inputs are where settings come from, besides the defaults.
type Inputs struct {
	// Flags holds the keys given as `ts serve` flags (key name → value).
	Flags map[string]string
	// FlagNames names the flag that set a key of Flags where it is not the key's own (Triton's
	// --model-repository for model_store), as --print-config shows its source.
	FlagNames map[string]string
	// Parts replace the host or the port of an address setting (inference_address,
	// metrics_address), the rest kept from wherever the address came: Triton's
	// --http-address, --http-port and --metrics-port. By key.
	Parts map[string]AddressPart
	// ConfigFile is --ts-config ("" = $TS_CONFIG_FILE, else ./config.properties if present).
	ConfigFile string
	// Env is the environment (os.Environ()).
	Env []string
}

// AddressPart is a host or a port flags give an address setting.
type AddressPart struct {
	Host string // "" keeps the address's
	Port *int   // nil keeps the address's
	Flag string // the flags' names, as --print-config shows them
}

// Load resolves every setting: flag > environment (TS_<KEY>, when enable_envvars_config is
// on) > config.properties > default. An invalid value stops with an error naming the key.
func Load(in Inputs) (*Settings, error) {
	env := envMap(in.Env)
	s := &Settings{values: map[string]string{}, sources: map[string]string{}}
	for _, k := range Keys {
		s.values[k.Name], s.sources[k.Name] = k.Default, "default"
	}
	file, explicit := in.ConfigFile, in.ConfigFile != ""
	if file == "" {
		file, explicit = env[EnvConfigFile], env[EnvConfigFile] != ""
	}
	if file == "" {
		file = "config.properties"
	}
	props, err := readProperties(file, explicit, env)
	if err != nil {
		return nil, err
	}
	if props != nil {
		s.ConfigFile = file
		for _, name := range sortedKeys(props) {
			if _, ok := lookupKey(name); ok {
				s.values[name], s.sources[name] = props[name], "file "+file
			} else if why, ok := unsupported[name]; ok {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %s is not supported by ts (%s); ignored", file, name, why))
			} else {
				s.Warnings = append(s.Warnings, fmt.Sprintf("%s: unknown key %s; ignored", file, name))
			}
		}
	}
	envOn := s.values["enable_envvars_config"]
	if v, ok := env["TS_ENABLE_ENVVARS_CONFIG"]; ok {
		envOn = v
	}
	if v, ok := in.Flags["enable_envvars_config"]; ok {
		envOn = v
	}
	if on, _ := strconv.ParseBool(envOn); on {
		for _, k := range Keys {
			name := "TS_" + strings.ToUpper(k.Name)
			v, ok := env[name]
			if !ok || (k.Name == "allowed_urls" && !s.bool("use_env_allowed_urls", env)) {
				continue
			}
			s.values[k.Name], s.sources[k.Name] = v, "env "+name
		}
	}
	for name, v := range in.Flags {
		k, ok := lookupKey(name)
		if !ok {
			return nil, fmt.Errorf("internal: flag for unknown key %s", name)
		}
		flag := "--" + k.Flag
		switch {
		case in.FlagNames[name] != "":
			flag = in.FlagNames[name]
		case k.Flag == "":
			flag = "flag"
		}
		s.values[name], s.sources[name] = v, flag
	}
	for _, name := range []string{"inference_address", "management_address", "metrics_address"} {
		p, ok := in.Parts[name]
		if !ok {
			continue
		}
		a, err := withParts(s.values[name], p.Host, p.Port)
		if err != nil {
			return nil, fmt.Errorf("%s: %s (from %s): %w", p.Flag, name, s.sources[name], err)
		}
		source := p.Flag
		if s.sources[name] != "default" {
			source = s.sources[name] + ", then " + p.Flag
		}
		s.values[name], s.sources[name] = a, source
	}
	if err := s.parse(); err != nil {
		return nil, err
	}
	return s, nil
}

// bool reads use_env_allowed_urls-style switches, which may come from the file or env.
func (s *Settings) bool(name string, env map[string]string) bool {
	v := s.values[name]
	if e, ok := env["TS_"+strings.ToUpper(name)]; ok {
		v = e
	}
	b, _ := strconv.ParseBool(v)
	return b
}

func lookupKey(name string) (Key, bool) {
	for _, k := range Keys {
		if k.Name == name {
			return k, true
		}
	}
	return Key{}, false
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// restrictionValues are the secret values of restriction rules, which --print-config hides.
var restrictionValues = regexp.MustCompile(`=[^;]*`)

var envRef = regexp.MustCompile(`\$\$([A-Za-z_][A-Za-z0-9_]*)\$\$`)

// readProperties reads a Java properties file; $$NAME$$ in a value is replaced by the
// environment variable NAME, as TorchServe does. A missing file is an error only when named.
func readProperties(path string, explicit bool, env map[string]string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	l := &properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	p, err := l.LoadBytes(b)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	out := map[string]string{}
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		var missing string
		v = envRef.ReplaceAllStringFunc(v, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			val, ok := env[name]
			if !ok {
				missing = name
			}
			return val
		})
		if missing != "" {
			return nil, fmt.Errorf("config file %s: %s refers to $$%s$$, which is not set in the environment", path, k, missing)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// parse turns the raw values into typed fields, naming the key of any bad value.
func (s *Settings) parse() error {
	var errs []error
	str := func(name string) string { return s.values[name] }
	num := func(name string, min int64) int64 {
		v := strings.TrimSpace(str(name))
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < min {
			errs = append(errs, fmt.Errorf("%s (from %s): %q is not an integer ≥ %d", name, s.sources[name], v, min))
		}
		return n
	}
	atMost := func(name string, n, max int64) int64 {
		if n > max {
			errs = append(errs, fmt.Errorf("%s (from %s): %d is more than ts allows (%d)", name, s.sources[name], n, max))
			return max
		}
		return n
	}
	boolean := func(name string) bool {
		b, err := strconv.ParseBool(strings.TrimSpace(str(name)))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %q is not true or false", name, s.sources[name], str(name)))
		}
		return b
	}
	seconds := func(name string) time.Duration { return time.Duration(num(name, 0)) * time.Second }
	list := func(name string) []string {
		var out []string
		for _, x := range strings.Split(str(name), ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	s.InferenceAddress = str("inference_address")
	s.ManagementAddress = str("management_address")
	s.MetricsAddress = str("metrics_address")
	s.EnableHTTP = boolean("enable_http")
	s.StrictReadiness = boolean("strict_readiness")
	s.EnableMetricsAPI = boolean("enable_metrics_api")
	s.DisableSystemMetrics = boolean("disable_system_metrics")
	s.Keystore = str("keystore")
	s.KeystorePass = str("keystore_pass")
	if t := str("keystore_type"); s.Keystore != "" && !strings.EqualFold(t, "PKCS12") {
		errs = append(errs, fmt.Errorf("keystore_type (from %s): %q: ts reads PKCS12 keystores; convert a JKS one with keytool -importkeystore -srckeystore %s -destkeystore keystore.p12 -deststoretype PKCS12", s.sources["keystore_type"], t, s.Keystore))
	}
	s.CertificateFile = str("certificate_file")
	s.PrivateKeyFile = str("private_key_file")
	if (s.CertificateFile == "") != (s.PrivateKeyFile == "") {
		errs = append(errs, errors.New("certificate_file and private_key_file go together: give both, or neither"))
	}
	s.ClientCAFile = str("client_ca_file")
	for _, a := range []string{"inference_address", "management_address", "metrics_address"} {
		if err := checkAddress(str(a)); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %w", a, s.sources[a], err))
		}
	}
	if !s.EnableHTTP && !boolean("enable_grpc") {
		errs = append(errs, fmt.Errorf("enable_http (from %s): false leaves the gRPC APIs to serve inference and management, and enable_grpc (from %s) is false too", s.sources["enable_http"], s.sources["enable_grpc"]))
	}
	if boolean("enable_grpc") {
		scheme := "http://"
		if boolean("enable_grpc_ssl") {
			scheme = "https://"
		}
		grpcAPI := func(prefix string) GRPCAPI { // prefix: grpc_inference or grpc_management
			host, port := prefix+"_address", prefix+"_port"
			h := strings.TrimSpace(str(host))
			if h == "" || strings.ContainsAny(h, "/ ") {
				errs = append(errs, fmt.Errorf("%s (from %s): %q is not a host name or IP address", host, s.sources[host], h))
			}
			p := num(port, 0)
			if p > 65535 {
				errs = append(errs, fmt.Errorf("%s (from %s): %d is not a port", port, s.sources[port], p))
			}
			ms := func(key string) time.Duration { return time.Duration(num(key, 0)) * time.Millisecond }
			return GRPCAPI{Address: scheme + net.JoinHostPort(strings.Trim(h, "[]"), strconv.FormatInt(p, 10)),
				MaxConnectionAge: ms(prefix + "_max_connection_age_ms"), MaxConnectionAgeGrace: ms(prefix + "_max_connection_age_grace_ms")}
		}
		s.GRPCInference, s.GRPCManagement = grpcAPI("grpc_inference"), grpcAPI("grpc_management")
	}
	if s.ClientCAFile != "" && !slices.ContainsFunc(slices.Collect(maps.Values(s.Listeners())), IsTLS) {
		errs = append(errs, fmt.Errorf("client_ca_file (from %s): client certificates are asked over TLS, and no API listens with it: give https:// addresses (or enable_grpc_ssl)", s.sources["client_ca_file"]))
	}
	s.ModelStore = str("model_store")
	s.RepositoryPoll = seconds("repository_poll_secs")
	s.ExitOnError = boolean("exit_on_error")
	if s.WorkflowStore = str("workflow_store"); s.WorkflowStore == "" {
		s.WorkflowStore = s.ModelStore // TorchServe's default
	}
	s.LoadModels = list("load_models")
	if v := str("models"); v != "" {
		if err := json.Unmarshal([]byte(v), &s.Models); err != nil {
			errs = append(errs, fmt.Errorf("models (from %s): not valid JSON of {name: {version: settings}}: %v", s.sources["models"], err))
		}
	}
	if v := str("model_snapshot"); v != "" {
		var snap struct {
			Models map[string]map[string]ModelConfig `json:"models"`
		}
		if err := json.Unmarshal([]byte(v), &snap); err != nil {
			errs = append(errs, fmt.Errorf(`model_snapshot (from %s): not valid JSON of {"models": {name: {version: settings}}}: %v`, s.sources["model_snapshot"], err))
		}
		s.ModelSnapshot = snap.Models
		for name, versions := range snap.Models {
			for version, mc := range versions {
				if mc.MarName == "" {
					errs = append(errs, fmt.Errorf("model_snapshot (from %s): model %s version %s has no marName, its archive", s.sources["model_snapshot"], name, version))
				}
				if _, set := s.Models[name][version]; set {
					continue // models' own settings win
				}
				if s.Models == nil {
					s.Models = map[string]map[string]ModelConfig{}
				}
				if s.Models[name] == nil {
					s.Models[name] = map[string]ModelConfig{}
				}
				s.Models[name][version] = mc
			}
		}
	}
	s.DefaultWorkersPerModel = int(atMost("default_workers_per_model", num("default_workers_per_model", 0), MaxWorkersPerModel))
	if s.DefaultWorkersPerModel == 0 {
		s.DefaultWorkersPerModel = runtime.NumCPU()
	}
	s.JobQueueSize = int(num("job_queue_size", 1))
	switch s.JobQueueFullStatus = int(num("job_queue_full_status", 1)); s.JobQueueFullStatus {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
	case 0: // not a number: num said so
	default:
		errs = append(errs, fmt.Errorf("job_queue_full_status (from %s): %d: want 503 or 429", s.sources["job_queue_full_status"], s.JobQueueFullStatus))
	}
	s.DefaultResponseTimeout = seconds("default_response_timeout")
	s.DefaultStartupTimeout = seconds("default_startup_timeout")
	s.UnregisterModelTimeout = seconds("unregister_model_timeout")
	s.DefaultUnloadAfterIdle = seconds("default_unload_after_idle")
	s.MaxRequestSize = num("max_request_size", 1)
	s.MaxResponseSize = num("max_response_size", 1)
	s.ResponseCacheSize = num("response_cache_size", 0)
	s.EnableSharedMemory = boolean("enable_shared_memory")
	s.Trace = trace.Settings{Rate: int(num("trace_rate", 1)), Count: int(num("trace_count", -1)), LogFrequency: int(num("trace_log_frequency", 0)), File: str("trace_file")}
	if levels, err := trace.ParseLevels(list("trace_level")); err != nil {
		errs = append(errs, fmt.Errorf("trace_level (from %s): %v", s.sources["trace_level"], err))
	} else {
		s.Trace.Levels = levels
	}
	boolean("enable_envvars_config")
	s.EnableModelAPI = boolean("enable_model_api")
	switch e := strings.ToLower(strings.TrimSpace(str("service_envelope"))); e {
	case "", "body":
	case EnvelopeJSON, EnvelopeKServe, EnvelopeKServeV2:
		s.ServiceEnvelope = e
	default:
		errs = append(errs, fmt.Errorf("service_envelope (from %s): %q is not an envelope: want json, kserve, kservev2 or body", s.sources["service_envelope"], e))
	}
	s.SequenceHeaders = SequenceHeaders{ID: str("ts_header_key_sequence_id"), Start: str("ts_header_key_sequence_start"), End: str("ts_header_key_sequence_end")}
	s.EnableModelUpload = boolean("enable_model_upload")
	s.MaxUploadSize = num("max_upload_size", 1)
	s.TrustedKeys = list("trusted_keys")
	for _, pat := range list("allowed_urls") {
		re, err := regexp.Compile("(?i)^(?:" + pat + ")$")
		if err != nil {
			errs = append(errs, fmt.Errorf("allowed_urls (from %s): %q: %v", s.sources["allowed_urls"], pat, err))
			continue
		}
		s.AllowedURLs = append(s.AllowedURLs, re)
	}
	boolean("use_env_allowed_urls")
	s.MaxDownloadSize = num("max_download_size", 1)
	s.DownloadTimeout = seconds("download_timeout")
	s.EnableModelSnapshot = boolean("enable_model_snapshot")
	s.ModelSnapshotFile = str("model_snapshot_file")
	s.CORSAllowedOrigin = str("cors_allowed_origin")
	s.CORSAllowedMethods = str("cors_allowed_methods")
	s.CORSAllowedHeaders = str("cors_allowed_headers")
	s.ExecutionProvider = str("execution_provider")
	s.ProviderFallback = boolean("provider_fallback")
	if v := strings.TrimSpace(str("number_of_gpu")); v == "" {
		s.NumberOfGPU = DetectGPUs()
	} else {
		s.NumberOfGPU = int(atMost("number_of_gpu", num("number_of_gpu", 0), MaxGPUs))
	}
	s.IntraOpThreads = int(atMost("intra_op_threads", num("intra_op_threads", 0), MaxIntraOpThreads))
	s.DrainTimeout = seconds("drain_timeout")
	s.TokenAuthorization = !boolean("disable_token_authorization")
	s.TokenExpiration = time.Duration(num("token_expiration_min", 1)) * time.Minute
	s.KeyFile = str("key_file")
	for _, r := range []struct {
		key    string
		prefix string
		to     *Restrictions
	}{{"http_restricted_api", "", &s.RestrictedHTTP}, {"grpc_restricted_protocol", GRPCRestrictionPrefix, &s.RestrictedGRPC}} {
		var err error
		if *r.to, err = parseRestrictions(str(r.key), r.prefix); err != nil {
			errs = append(errs, fmt.Errorf("%s (from %s): %w", r.key, s.sources[r.key], err))
		}
	}
	return errors.Join(errs...)
}

// parseRestrictions reads Triton's restriction rules, GROUP,...:HEADER=VALUE, separated by
// ";": each group in one rule at most, as Triton allows; prefix starts each header.
func parseRestrictions(rules, prefix string) (Restrictions, error) {
	out := Restrictions{}
	for _, rule := range strings.Split(rules, ";") {
		if rule = strings.TrimSpace(rule); rule == "" {
			continue
		}
		groups, kv, ok := strings.Cut(rule, ":")
		header, value, hasValue := strings.Cut(kv, "=")
		if !ok || !hasValue || groups == "" || header == "" || value == "" {
			return nil, fmt.Errorf("%q: want GROUP,...:HEADER=VALUE", rule)
		}
		if !httpguts.ValidHeaderFieldName(header) {
			return nil, fmt.Errorf("%q: %q is not a header name", rule, header)
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return nil, fmt.Errorf("%q: the value holds characters a header cannot", rule)
		}
		for _, g := range strings.Split(groups, ",") {
			g = strings.TrimSpace(g)
			switch {
			case !slices.Contains(APIGroups, g):
				return nil, fmt.Errorf("%q: unknown API group %q (groups: %s)", rule, g, strings.Join(APIGroups, ", "))
			case out[g] != Restriction{}:
				return nil, fmt.Errorf("%q: API group %s is restricted by another rule already", rule, g)
			}
			out[g] = Restriction{Header: prefix + header, Value: value}
		}
	}
	return out, nil
}

// checkAddress accepts TorchServe's http://host:port, https://host:port and unix:/path.
func checkAddress(a string) error {
	if path, ok := strings.CutPrefix(a, "unix:"); ok {
		if path == "" {
			return fmt.Errorf("%q: want unix:/path/to/socket", a)
		}
		return nil
	}
	rest, ok := strings.CutPrefix(a, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(a, "https://")
	}
	if !ok {
		if strings.Contains(a, "://") {
			return fmt.Errorf("%q: want http://host:port, https://host:port or unix:/path", a)
		}
		rest = a
	}
	rest = strings.TrimSuffix(rest, "/")
	i := strings.LastIndex(rest, ":")
	if i < 0 {
		return fmt.Errorf("%q: want http://host:port", a)
	}
	if p, err := strconv.Atoi(rest[i+1:]); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q: bad port", a)
	}
	return nil
}

// withParts is a TorchServe address with another host or port ("" and nil keep the
// address's): http://127.0.0.1:8080 with 0.0.0.0 and 8000 gives http://0.0.0.0:8000.
func withParts(address, host string, port *int) (string, error) {
	if port != nil && (*port < 0 || *port > 65535) {
		return "", fmt.Errorf("%d is not a port (0-65535)", *port)
	}
	if UnixSocket(address) != "" {
		return "", fmt.Errorf("%s is a Unix socket, which has no host or port", address)
	}
	if err := checkAddress(address); err != nil {
		return "", err
	}
	hostPort := HostPort(address)
	scheme := strings.TrimSuffix(strings.TrimSuffix(address, "/"), hostPort)
	h, p, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", fmt.Errorf("%q: %w", address, err)
	}
	if host != "" {
		h = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	if port != nil {
		p = strconv.Itoa(*port)
	}
	return scheme + net.JoinHostPort(h, p), nil
}

// HostPort strips the scheme from a TorchServe address: http://127.0.0.1:8080 → 127.0.0.1:8080.
func HostPort(address string) string {
	address = strings.TrimPrefix(strings.TrimPrefix(address, "http://"), "https://")
	return strings.TrimSuffix(address, "/")
}

// UnixSocket is the socket path of a unix:/path address (as TorchServe's Unix domain socket
// addresses), or "" for an http(s) address.
func UnixSocket(address string) string {
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		return path
	}
	return ""
}

// IsTLS reports whether a TorchServe address is https://.
func IsTLS(address string) bool { return strings.HasPrefix(address, "https://") }

// Source says where a setting's value came from.
func (s *Settings) Source(key string) string { return s.sources[key] }

// Value is a setting's raw text.
func (s *Settings) Value(key string) string { return s.values[key] }

// Print writes every setting with its value and source, for --print-config.
func (s *Settings) Print(w io.Writer) error {
	width := 0
	for _, k := range Keys {
		width = max(width, len(k.Name))
	}
	if s.ConfigFile != "" {
		fmt.Fprintf(w, "# config file: %s\n", s.ConfigFile)
	}
	for _, k := range Keys {
		v := s.values[k.Name]
		if k.Name == "default_workers_per_model" && v == "0" {
			v = fmt.Sprintf("0 (= %d, the CPU cores)", s.DefaultWorkersPerModel)
		}
		if k.Name == "keystore_pass" && v != k.Default {
			v = "(hidden)"
		}
		if k.Name == "http_restricted_api" || k.Name == "grpc_restricted_protocol" {
			v = restrictionValues.ReplaceAllString(v, "=(hidden)")
		}
		if _, err := fmt.Fprintf(w, "%-*s = %-24s # %s\n", width, k.Name, v, s.sources[k.Name]); err != nil {
			return err
		}
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(w, "# warning: %s\n", warn)
	}
	return nil
}

// ModelToLoad is one entry of load_models or model_snapshot.
type ModelToLoad struct {
	Name string // "" = the manifest's name
	// Version is the version model_snapshot names ("" = the manifest's), and Default whether
	// it is the model's default version.
	Version string
	Default bool
	// URL is the archive as given, resolved as POST /models resolves its url: a file or
	// folder in the model store, or a path or URL that allowed_urls lets in.
	URL string
}

// ModelsToLoad reads load_models: "all" loads every archive in the model store,
// "name=url" names a model, "url" uses the manifest's name; then model_snapshot's versions.
func (s *Settings) ModelsToLoad(list func(dir string) ([]string, error)) ([]ModelToLoad, error) {
	var out []ModelToLoad
	for _, name := range slices.Sorted(maps.Keys(s.ModelSnapshot)) {
		if s.ModelStore == "" {
			return nil, fmt.Errorf("model_snapshot needs a model store (--model-store)")
		}
		versions := s.ModelSnapshot[name]
		for _, version := range slices.Sorted(maps.Keys(versions)) {
			mc := versions[version]
			out = append(out, ModelToLoad{Name: name, Version: version, Default: mc.DefaultVersion, URL: mc.MarName})
		}
	}
	for _, entry := range s.LoadModels {
		if s.ModelStore == "" {
			return nil, fmt.Errorf("load_models %q needs a model store (--model-store)", entry)
		}
		if entry == "all" {
			files, err := list(s.ModelStore)
			if err != nil {
				return nil, fmt.Errorf("model store: %w", err)
			}
			for _, f := range files {
				out = append(out, ModelToLoad{URL: f})
			}
			continue
		}
		// name=url, where name is a model name: a URL's own "=" (in its query) is no name
		name, url, hasName := strings.Cut(entry, "=")
		if !hasName || archive.ValidModelName(name) != nil {
			name, url = "", entry
		}
		out = append(out, ModelToLoad{Name: name, URL: url})
	}
	return out, nil
}
