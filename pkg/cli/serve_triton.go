package cli

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// TritonUnapplied are tritonserver's flags that ts serve accepts, so that Triton start
// commands run, but does not apply: each one given is warned of at start (and by
// --print-config), its help saying why it does not apply.
type TritonUnapplied struct {
	BackendConfig        []string `name:"backend-config" sep:"none" hidden:"" help:"the backend is ONNX Runtime's, set per model by config.pbtxt's parameters or model-config.yaml"`
	ID                   string   `name:"id" hidden:"" help:"the server's identity is ts's, GET /v2"`
	HTTPThreadCount      string   `name:"http-thread-count" hidden:"" help:"each connection is served on a goroutine of its own"`
	HTTPHeaderForward    []string `name:"http-header-forward-pattern" sep:"none" hidden:"" help:"request headers are not forwarded as parameters"`
	GRPCHeaderForward    []string `name:"grpc-header-forward-pattern" sep:"none" hidden:"" help:"request headers are not forwarded as parameters"`
	GRPCAllocationPool   string   `name:"grpc-infer-allocation-pool-size" hidden:"" help:"gRPC's memory is Go's"`
	GRPCResponsePool     string   `name:"grpc-max-response-pool-size" hidden:"" help:"gRPC's memory is Go's"`
	GRPCCompression      string   `name:"grpc-infer-response-compression-level" hidden:"" help:"answers go uncompressed"`
	GRPCKeepaliveTime    string   `name:"grpc-keepalive-time" hidden:"" help:"gRPC's keep-alive defaults; grpc_*_max_connection_age_ms bounds connections"`
	GRPCKeepaliveTimeout string   `name:"grpc-keepalive-timeout" hidden:"" help:"gRPC's keep-alive defaults"`
	GRPCKeepalivePermit  string   `name:"grpc-keepalive-permit-without-calls" hidden:"" help:"gRPC's keep-alive defaults"`
	GRPCMaxPings         string   `name:"grpc-http2-max-pings-without-data" hidden:"" help:"gRPC's keep-alive defaults"`
	GRPCMinPingInterval  string   `name:"grpc-http2-min-recv-ping-interval-without-data" hidden:"" help:"gRPC's keep-alive defaults"`
	GRPCMaxPingStrikes   string   `name:"grpc-http2-max-ping-strikes" hidden:"" help:"gRPC's keep-alive defaults"`
	AllowGPUMetrics      string   `name:"allow-gpu-metrics" hidden:"" help:"no GPU metrics are collected"`
	AllowCPUMetrics      string   `name:"allow-cpu-metrics" hidden:"" help:"the host's metrics are TorchServe's; disable_system_metrics leaves them out"`
	MetricsInterval      string   `name:"metrics-interval-ms" hidden:"" help:"metrics are read at each scrape"`
	ModelLoadThreads     string   `name:"model-load-thread-count" hidden:"" help:"models load concurrently, each on its own"`
	ModelLoadRetries     string   `name:"model-load-retry-count" hidden:"" help:"a model that does not load is not tried again"`
	ModelNamespacing     string   `name:"model-namespacing" hidden:"" help:"one model repository, its names unique"`
	PinnedMemory         string   `name:"pinned-memory-pool-byte-size" hidden:"" help:"no CUDA pinned memory pool"`
	CUDAMemoryPool       []string `name:"cuda-memory-pool-byte-size" sep:"none" hidden:"" help:"ONNX Runtime's CUDA allocator is its own"`
	CUDAVirtualAddress   []string `name:"cuda-virtual-address-size" sep:"none" hidden:"" help:"ONNX Runtime's CUDA allocator is its own"`
	MinCompute           string   `name:"min-supported-compute-capability" hidden:"" help:"ONNX Runtime's CUDA build decides"`
	BufferManagerThreads string   `name:"buffer-manager-thread-count" hidden:"" help:"no buffer manager threads"`
	HostPolicy           []string `name:"host-policy" sep:"none" hidden:"" help:"no host policies: ONNX Runtime's threads are set per model"`
	RateLimit            string   `name:"rate-limit" hidden:"" help:"requests wait in each model's queue: job_queue_size and the queue policy bound it"`
	RateLimitResource    []string `name:"rate-limit-resource" sep:"none" hidden:"" help:"no rate limiter"`
	BackendDirectory     string   `name:"backend-directory" hidden:"" help:"the backend is ONNX Runtime, built in"`
	RepoAgentDirectory   string   `name:"repoagent-directory" hidden:"" help:"no repository agents"`
	CacheDirectory       string   `name:"cache-directory" hidden:"" help:"the response cache is in memory"`
}

// warnings says, for each flag given, that it is not applied and why.
func (t TritonUnapplied) warnings() []string {
	var w []string
	v := reflect.ValueOf(t)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		var given []string
		switch x := v.Field(i).Interface().(type) {
		case string:
			if x != "" {
				given = []string{x}
			}
		case []string:
			given = x
		}
		for _, g := range given {
			w = append(w, fmt.Sprintf("--%s %s is not applied by ts (%s); ignored", f.Tag.Get("name"), g, f.Tag.Get("help")))
		}
	}
	return w
}

// tritonSettings adds to f (and names) the settings tritonserver's flags give under its own
// names: the gRPC host (--grpc-address), the drain (--exit-timeout-secs), the response cache
// (--cache-config local,size=N, --response-cache-byte-size), traces (--trace-config), gRPC
// over TLS (--grpc-use-ssl and its files) and restricted APIs (--http-restricted-api,
// --grpc-restricted-protocol); it returns warnings for what it does not
// apply, and an error for a flag it cannot read.
func (c *ServeCmd) tritonSettings(f, names map[string]string) ([]string, error) {
	const autoComplete = "a model folder without config.pbtxt loads, its configuration completed from the model, as Triton's default"
	var w []string
	set := func(key, value, flag string) {
		f[key], names[key] = value, flag
	}
	if c.GRPCAddress != nil {
		set("grpc_inference_address", *c.GRPCAddress, "--grpc-address")
	}
	if c.ExitTimeoutSecs != nil {
		set("drain_timeout", strconv.Itoa(*c.ExitTimeoutSecs), "--exit-timeout-secs")
	}
	if c.StrictConfig != nil && *c.StrictConfig {
		w = append(w, "--strict-model-config=true is not applied by ts ("+autoComplete+"); ignored")
	}
	if c.NoAutoComplete {
		w = append(w, "--disable-auto-complete-config is not applied by ts ("+autoComplete+"); ignored")
	}
	if c.ResponseCacheSize != nil {
		set("response_cache_size", *c.ResponseCacheSize, "--response-cache-byte-size")
	}
	for _, cc := range c.CacheConfig {
		cache, setting, ok := strings.Cut(cc, ",")
		key, value, kv := strings.Cut(setting, "=")
		switch {
		case !ok || !kv:
			return nil, fmt.Errorf("--cache-config %q: want CACHE,SETTING=VALUE (local,size=1048576)", cc)
		case cache == "local" && key == "size":
			set("response_cache_size", value, "--cache-config")
		default:
			w = append(w, fmt.Sprintf("--cache-config %s is not applied by ts (its response cache is local, in memory, sized by local,size=BYTES); ignored", cc))
		}
	}
	traceKeys := map[string]string{"level": "trace_level", "rate": "trace_rate", "count": "trace_count", "log-frequency": "trace_log_frequency", "file": "trace_file"}
	var levels []string
	for _, tc := range c.TraceConfig {
		setting := tc
		if mode, rest, ok := strings.Cut(tc, ","); ok {
			if mode != "triton" {
				w = append(w, fmt.Sprintf("--trace-config %s is not applied by ts (its traces are Triton's own, trace mode triton); ignored", tc))
				continue
			}
			setting = rest
		}
		key, value, ok := strings.Cut(setting, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("--trace-config %q: want [triton,]SETTING=VALUE (level=TIMESTAMPS, rate=100, count, log-frequency, file)", tc)
		case key == "mode":
			if value != "triton" {
				w = append(w, fmt.Sprintf("--trace-config %s is not applied by ts (its traces are Triton's own, trace mode triton); ignored", tc))
			}
		case key == "level":
			levels = append(levels, value) // repeated: TIMESTAMPS and TENSORS
			set("trace_level", strings.Join(levels, ","), "--trace-config")
		case traceKeys[key] != "":
			set(traceKeys[key], value, "--trace-config")
		default:
			return nil, fmt.Errorf("--trace-config %q: ts knows level, rate, count, log-frequency, file and mode", tc)
		}
	}
	if c.GRPCUseSSL != nil {
		set("enable_grpc_ssl", fmt.Sprint(*c.GRPCUseSSL), "--grpc-use-ssl")
	}
	if c.GRPCServerCert != nil {
		set("certificate_file", *c.GRPCServerCert, "--grpc-server-cert")
	}
	if c.GRPCServerKey != nil {
		set("private_key_file", *c.GRPCServerKey, "--grpc-server-key")
	}
	if c.GRPCUseSSLMutual != nil && *c.GRPCUseSSLMutual {
		set("enable_grpc_ssl", "true", "--grpc-use-ssl-mutual")
		if c.GRPCRootCert == nil {
			return nil, fmt.Errorf("--grpc-use-ssl-mutual asks clients for a certificate that --grpc-root-cert signed: give it")
		}
		set("client_ca_file", *c.GRPCRootCert, "--grpc-root-cert")
	}
	for _, r := range []struct {
		key, flag string
		rules     []string
	}{{"http_restricted_api", "--http-restricted-api", c.RestrictedAPI}, {"grpc_restricted_protocol", "--grpc-restricted-protocol", c.RestrictedGRPC}} {
		for _, rule := range r.rules {
			if strings.Contains(rule, ";") {
				return nil, fmt.Errorf("%s %q: a rule cannot hold ; (it separates the rules of %s)", r.flag, rule, r.key)
			}
		}
		if len(r.rules) > 0 {
			set(r.key, strings.Join(r.rules, ";"), r.flag)
		}
	}
	return append(w, c.TritonUnapplied.warnings()...), nil
}

// tritonLogLevel sets the log level from tritonserver's flags: --log-verbose N > 0 logs debug
// records, and --log-info, --log-warning and --log-error turn levels off from the lowest up,
// as ts's logging API reads them (false for all three: no log).
func (c *ServeCmd) tritonLogLevel(g *Globals) {
	on := func(b *bool) bool { return b == nil || *b }
	switch {
	case c.LogVerbose > 0:
		g.LogLevel = "debug"
	case c.LogInfo == nil && c.LogWarning == nil && c.LogError == nil:
	case on(c.LogInfo):
		g.LogLevel = "info"
	case on(c.LogWarning):
		g.LogLevel = "warn"
	case on(c.LogError):
		g.LogLevel = "error"
	default:
		g.LogLevel = logOff
	}
}
