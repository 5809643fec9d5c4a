package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/metrics"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/server"
	"github.com/tsserve/ts/pkg/trace"
)

// ServeCmd is `ts serve`. Flags override environment variables, which override
// config.properties, which overrides the defaults; --print-config shows the result.
type ServeCmd struct {
	Files             []string `arg:"" optional:"" name:"model" placeholder:"[NAME=]MODEL" help:"Models to serve from where they are, as [NAME=]PATH: archives, bare .onnx files or Triton model folders (named NAME, else as their manifest; a bare file after itself); one that does not load stops the server."`
	Handler           string   `name:"handler" placeholder:"NAME" help:"Handler for the models given as arguments (default: their manifest's; tensor for a bare .onnx file)."`
	TSConfig          string   `name:"ts-config" type:"path" placeholder:"FILE" help:"config.properties to read (default: $$TS_CONFIG_FILE, else ./config.properties when present)."`
	ModelStore        *string  `name:"model-store" placeholder:"DIR" help:"Folder of model archives, bare .onnx files or Triton model folders (model_store)."`
	ModelRepository   *string  `name:"model-repository" placeholder:"DIR" help:"The model store under Triton's name, with Triton's default: every model in it loads at start, unless --models, --load-model or --model-control-mode explicit name them."`
	ModelControlMode  string   `name:"model-control-mode" enum:"none,poll,explicit," default:"" placeholder:"MODE" help:"Triton's: none (every model of --model-repository loads at start), poll (and what changes in it reloads, every --repository-poll-secs, 15 by default) or explicit (only --load-model's load at start)."`
	LoadModel         []string `name:"load-model" placeholder:"NAME" help:"Triton's: a model of the store to load at start (repeat it; * for every model; --models as TorchServe names it)."`
	ExitOnError       *bool    `name:"exit-on-error" negatable:"" help:"Stop the server when a model of --models does not load (Triton's; exit_on_error; on with --model-repository, as in Triton; otherwise off: logged, the others served, as TorchServe)."`
	RepositoryPoll    *int     `name:"repository-poll-secs" placeholder:"SECONDS" help:"Reload the registered versions whose archive in the model store changed, checking every this many seconds (Triton's poll mode; repository_poll_secs; 0, the default: never)."`
	WorkflowStore     *string  `name:"workflow-store" placeholder:"DIR" help:"Folder of workflow archives, .war (workflow_store; default: the model store)."`
	Models            []string `name:"models" placeholder:"NAME=FILE.mar" help:"Models to load at start: all, FILE.mar or NAME=FILE.mar (a file or folder in the model store, or a URL allowed_urls lets in); repeat or separate with commas (load_models)."`
	InferenceAddress  *string  `name:"inference-address" placeholder:"ADDR" help:"Inference API address (inference_address, default http://127.0.0.1:8080)."`
	ManagementAddress *string  `name:"management-address" placeholder:"ADDR" help:"Management API address (management_address, default http://127.0.0.1:8081)."`
	MetricsAddress    *string  `name:"metrics-address" placeholder:"ADDR" help:"Metrics API address (metrics_address, default http://127.0.0.1:8082); a host alone, as Triton's flag, keeps the port."`
	HTTP              *bool    `name:"http" negatable:"" aliases:"allow-http" help:"Serve the inference and management APIs over HTTP (enable_http; on by default; --no-http: gRPC only; Triton's --allow-http)."`
	Metrics           *bool    `name:"metrics" negatable:"" aliases:"allow-metrics" help:"Serve the metrics API (enable_metrics_api; on by default; Triton's --allow-metrics)."`
	GRPC              *bool    `name:"grpc" negatable:"" aliases:"allow-grpc" help:"Serve TorchServe's gRPC inference and management APIs (enable_grpc; on by default, 127.0.0.1:7070 and :7071; Triton's --allow-grpc)."`
	HTTPAddress       string   `name:"http-address" placeholder:"HOST" help:"Triton's: the inference API's host (0.0.0.0: every interface), the port kept from --inference-address or the default."`
	HTTPPort          *int     `name:"http-port" placeholder:"PORT" help:"Triton's: the inference API's port (its /v2 and repository paths with it), the host kept from --inference-address or the default."`
	GRPCAddress       *string  `name:"grpc-address" placeholder:"HOST" help:"Triton's: the gRPC inference API's host (grpc_inference_address)."`
	MetricsPort       *int     `name:"metrics-port" placeholder:"PORT" help:"Triton's: the metrics API's port, the host kept from --metrics-address or the default."`
	GRPCInferencePort *int     `name:"grpc-inference-port" aliases:"grpc-port" placeholder:"PORT" help:"gRPC inference API port (grpc_inference_port, default 7070; Triton's --grpc-port)."`
	GRPCManagePort    *int     `name:"grpc-management-port" placeholder:"PORT" help:"gRPC management API port (grpc_management_port, default 7071)."`
	Workers           *int     `name:"workers" placeholder:"N" help:"Workers per model loaded at start (default_workers_per_model; default: one per CPU core)."`
	UnloadAfterIdle   *int     `name:"unload-after-idle" placeholder:"SECONDS" help:"Unload a model after this many seconds without a request, freeing its memory; the next request loads it again (default_unload_after_idle; 0, the default: never)."`
	Provider          *string  `name:"provider" placeholder:"EP" help:"Execution provider: cpu, cuda[:N] or tensorrt[:N] (execution_provider)."`
	ProviderFallback  *bool    `name:"provider-fallback" help:"Run on CPU, with a warning, when the execution provider is unavailable."`
	IntraOpThreads    *int     `name:"intra-op-threads" placeholder:"N" help:"ONNX Runtime intra-op threads per model (default: cores / workers)."`
	GPUs              *int     `name:"gpus" placeholder:"N" help:"GPUs the models go round when --provider names no device (cuda, tensorrt), each on the next, as TorchServe (number_of_gpu; default: the NVIDIA driver's GPUs)."`
	EnableModelAPI    *bool    `name:"enable-model-api" negatable:"" help:"Allow registering and unregistering models through the management API (on by default)."`
	EnableUpload      *bool    `name:"enable-upload" help:"Accept archives uploaded into the model store (ts register of a local file on a remote server)."`
	SharedMemory      *bool    `name:"shared-memory" help:"Let inference clients on this machine pass tensors through system shared memory regions (Triton's extension; enable_shared_memory)."`
	TraceLevel        []string `name:"trace-level" placeholder:"LEVEL" help:"Trace sampled requests (Triton's trace extension): TIMESTAMPS and/or TENSORS (trace_level; OFF by default; one request in trace_rate, 1000)."`
	TraceFile         *string  `name:"trace-file" placeholder:"FILE" help:"Where traces go, as Triton's JSON (trace_file; default: the log)."`
	TrustedKeys       []string `name:"trusted-keys" placeholder:"PUB" help:"Require every model and workflow archive to be signed by one of these Ed25519 public keys (PEM files or folders; repeat or separate with commas; trusted_keys)."`
	TokenAuth         *bool    `name:"token-auth" help:"Require API keys, as TorchServe does by default: they are written to the key file (disable_token_authorization=false)."`
	DisableTokenAuth  bool     `name:"disable-token-auth" aliases:"dt" hidden:"" help:"Accepted for TorchServe compatibility: token authorization is off unless --token-auth."`
	LogConfig         string   `name:"log-config" hidden:"" help:"TorchServe's log4j2 configuration: accepted, with a warning, and not read."`
	PluginsPath       string   `name:"plugins-path" hidden:"" help:"TorchServe's Java plugins: accepted, with a warning, and not loaded."`
	MetricsConfig     []string `name:"metrics-config" sep:"none" hidden:"" help:"TorchServe's metrics.yaml, Triton's metrics settings: accepted, with a warning, and not read."`
	StrictReadiness   *bool    `name:"strict-readiness" hidden:"" help:"Triton's: false makes /v2/health/ready ready once the server is up, before its models (strict_readiness)."`
	LogFile           string   `name:"log-file" placeholder:"FILE" help:"Append the log to FILE instead of writing it to stderr (Triton's --log-file)."`
	LogVerbose        int      `name:"log-verbose" hidden:"" help:"Triton's: 1 or more logs at debug level (--log-level debug)."`
	LogInfo           *bool    `name:"log-info" hidden:"" help:"Triton's: false logs warnings and errors only."`
	LogWarning        *bool    `name:"log-warning" hidden:"" help:"Triton's: false (with --log-info=false) logs errors only."`
	LogError          *bool    `name:"log-error" hidden:"" help:"Triton's: false (with the two others false) logs nothing."`
	CacheConfig       []string `name:"cache-config" sep:"none" hidden:"" help:"Triton's: local,size=BYTES is the response cache's size (response_cache_size)."`
	ResponseCacheSize *string  `name:"response-cache-byte-size" hidden:"" help:"Triton's older flag: the response cache's size (response_cache_size)."`
	TraceConfig       []string `name:"trace-config" sep:"none" hidden:"" help:"Triton's: [triton,]level|rate|count|log-frequency|file=VALUE (trace_level, trace_rate, ...)."`
	GRPCUseSSL        *bool    `name:"grpc-use-ssl" hidden:"" help:"Triton's: gRPC over TLS (enable_grpc_ssl)."`
	GRPCUseSSLMutual  *bool    `name:"grpc-use-ssl-mutual" hidden:"" help:"Triton's: gRPC over TLS asking clients for a certificate --grpc-root-cert signed (client_ca_file)."`
	GRPCServerCert    *string  `name:"grpc-server-cert" hidden:"" help:"Triton's: the PEM certificate of gRPC over TLS (certificate_file)."`
	GRPCServerKey     *string  `name:"grpc-server-key" hidden:"" help:"Triton's: its PEM key (private_key_file)."`
	GRPCRootCert      *string  `name:"grpc-root-cert" hidden:"" help:"Triton's: the PEM authority of clients' certificates, with --grpc-use-ssl-mutual (client_ca_file)."`
	RestrictedAPI     []string `name:"http-restricted-api" sep:"none" hidden:"" help:"Triton's: serve API groups only to requests carrying HEADER: VALUE (groups: health, metadata, inference, shared-memory, model-config, model-repository, statistics, trace, logging); repeatable (http_restricted_api)."`
	RestrictedGRPC    []string `name:"grpc-restricted-protocol" sep:"none" hidden:"" help:"Triton's: the same for gRPC calls, whose metadata must hold triton-grpc-protocol-KEY: VALUE (grpc_restricted_protocol)."`
	TritonUnapplied   `embed:""`
	ExitTimeoutSecs   *int    `name:"exit-timeout-secs" hidden:"" help:"Triton's: seconds to finish requests in flight when stopping (drain_timeout)."`
	StrictConfig      *bool   `name:"strict-model-config" hidden:"" help:"Triton's: accepted; true is not applied (a model folder without config.pbtxt loads, its configuration completed, as Triton's default)."`
	NoAutoComplete    bool    `name:"disable-auto-complete-config" hidden:"" help:"Triton's: accepted, with a warning, and not applied."`
	KeyFile           *string `name:"key-file" placeholder:"FILE" help:"Where the API keys are written with --token-auth (key_file, default ./key_file.json)."`
	Keystore          *string `name:"keystore" placeholder:"FILE" help:"PKCS#12 keystore for https:// addresses, its password keystore_pass (keystore)."`
	CertificateFile   *string `name:"certificate-file" placeholder:"FILE" help:"PEM certificate for https:// addresses (certificate_file); with neither, a self-signed one."`
	PrivateKeyFile    *string `name:"private-key-file" placeholder:"FILE" help:"PEM private key for https:// addresses (private_key_file)."`
	ClientCAFile      *string `name:"client-ca-file" placeholder:"FILE" help:"Require client certificates these PEM authorities signed on https:// addresses and gRPC over TLS (mutual TLS; client_ca_file)."`
	Snapshot          *bool   `name:"snapshot" help:"Save registered models after each change and restore them at start (enable_model_snapshot)."`
	NoConfigSnapshots bool    `name:"ncs" aliases:"no-config-snapshots" help:"Neither restore nor save the model snapshot."`
	PrintConfig       bool    `name:"print-config" help:"Print every setting with its value and where it came from, then exit."`
	Foreground        bool    `name:"foreground" help:"With --start: run in the foreground after all (TorchServe's --foreground)."`
	Start             bool    `name:"start" help:"Run in the background, as TorchServe's --start: the log goes to logs/ts_log.log ($$LOG_LOCATION), and ts serve --stop stops it."`
	Stop              bool    `name:"stop" help:"Stop the server ts serve --start started, once its requests in flight are answered."`
}

// flags collects the settings given on the command line, by config key, and the flags that
// set a key under another name than its own (Triton's).
func (c *ServeCmd) flags() (f, names map[string]string) {
	f, names = map[string]string{}, map[string]string{}
	str := func(key string, v *string) {
		if v != nil {
			f[key] = *v
		}
	}
	num := func(key string, v *int) {
		if v != nil {
			f[key] = strconv.Itoa(*v)
		}
	}
	boolean := func(key string, v *bool) {
		if v != nil {
			f[key] = strconv.FormatBool(*v)
		}
	}
	str("model_store", c.ModelStore)
	if c.ModelRepository != nil { // Triton's name wins: a harness may pass both
		f["model_store"], names["model_store"] = *c.ModelRepository, "--model-repository"
	}
	str("workflow_store", c.WorkflowStore)
	num("repository_poll_secs", c.RepositoryPoll)
	if c.ModelControlMode == "poll" && c.RepositoryPoll == nil {
		// Triton's --repository-poll-secs default
		f["repository_poll_secs"], names["repository_poll_secs"] = "15", "--model-control-mode poll"
	}
	switch {
	case c.Models != nil || c.LoadModel != nil:
		load := slices.Clone(c.LoadModel)
		for i, m := range load {
			if m == "*" { // Triton's every model
				load[i] = "all"
			}
		}
		f["load_models"] = strings.Join(slices.Concat(c.Models, load), ",")
		if c.Models == nil {
			names["load_models"] = "--load-model"
		}
	case c.ModelRepository != nil && c.ModelControlMode != "explicit":
		// Triton loads its whole repository unless told otherwise
		f["load_models"], names["load_models"] = "all", "--model-repository"
	}
	boolean("exit_on_error", c.ExitOnError)
	if c.ModelRepository != nil && c.ExitOnError == nil { // Triton's default
		f["exit_on_error"], names["exit_on_error"] = "true", "--model-repository"
	}
	str("inference_address", c.InferenceAddress)
	str("management_address", c.ManagementAddress)
	if c.tritonMetricsHost() == "" {
		str("metrics_address", c.MetricsAddress)
	}
	boolean("enable_http", c.HTTP)
	boolean("strict_readiness", c.StrictReadiness)
	boolean("enable_metrics_api", c.Metrics)
	boolean("enable_grpc", c.GRPC)
	num("grpc_inference_port", c.GRPCInferencePort)
	num("grpc_management_port", c.GRPCManagePort)
	num("default_workers_per_model", c.Workers)
	num("default_unload_after_idle", c.UnloadAfterIdle)
	str("execution_provider", c.Provider)
	boolean("provider_fallback", c.ProviderFallback)
	num("intra_op_threads", c.IntraOpThreads)
	num("number_of_gpu", c.GPUs)
	boolean("enable_model_api", c.EnableModelAPI)
	boolean("enable_model_upload", c.EnableUpload)
	boolean("enable_shared_memory", c.SharedMemory)
	if c.TrustedKeys != nil {
		f["trusted_keys"] = strings.Join(c.TrustedKeys, ",")
	}
	if c.TraceLevel != nil {
		f["trace_level"] = strings.Join(c.TraceLevel, ",")
	}
	str("trace_file", c.TraceFile)
	boolean("enable_model_snapshot", c.Snapshot)
	if c.TokenAuth != nil {
		f["disable_token_authorization"] = strconv.FormatBool(!*c.TokenAuth)
	}
	if c.DisableTokenAuth {
		f["disable_token_authorization"] = "true"
	}
	str("key_file", c.KeyFile)
	str("keystore", c.Keystore)
	str("certificate_file", c.CertificateFile)
	str("private_key_file", c.PrivateKeyFile)
	str("client_ca_file", c.ClientCAFile)
	if c.NoConfigSnapshots {
		f["enable_model_snapshot"] = "false"
	}
	return f, names
}

// unappliedFlags are the warnings for torchserve's flags that ts accepts, so that start
// scripts written for it run, but does not apply, as config.properties' keys of the kind
// (tritonserver's: tritonSettings).
func (c *ServeCmd) unappliedFlags() []string {
	var w []string
	warn := func(given bool, flag, why string) {
		if given {
			w = append(w, fmt.Sprintf("%s is not applied by ts (%s); ignored", flag, why))
		}
	}
	warn(c.LogConfig != "", "--log-config "+c.LogConfig, "a log4j2 configuration: ts logs to stderr, or --log-file, as --log-level and --log-format say")
	warn(c.PluginsPath != "", "--plugins-path "+c.PluginsPath, "Java plugins")
	for _, m := range c.MetricsConfig {
		warn(true, "--metrics-config "+m, "ts's metrics are its own, docs/serve.md")
	}
	return w
}

// addressParts are the hosts and ports Triton's flags give the address settings
// (--http-address, --http-port, --metrics-address HOST, --metrics-port).
func (c *ServeCmd) addressParts() map[string]config.AddressPart {
	p := map[string]config.AddressPart{}
	part := func(key, host, hostFlag string, port *int, portFlag string) {
		var flags []string
		if host != "" {
			flags = append(flags, hostFlag)
		}
		if port != nil {
			flags = append(flags, portFlag)
		}
		if flags != nil {
			p[key] = config.AddressPart{Host: host, Port: port, Flag: strings.Join(flags, " and ")}
		}
	}
	part("inference_address", c.HTTPAddress, "--http-address", c.HTTPPort, "--http-port")
	part("metrics_address", c.tritonMetricsHost(), "--metrics-address", c.MetricsPort, "--metrics-port")
	return p
}

// tritonMetricsHost is --metrics-address when it is a host alone, as Triton's flag takes it
// (--metrics-address 0.0.0.0), where TorchServe's metrics_address is a whole address
// (http://0.0.0.0:8082); "" otherwise.
func (c *ServeCmd) tritonMetricsHost() string {
	if c.MetricsAddress == nil {
		return ""
	}
	a := *c.MetricsAddress
	if a == "" || strings.Contains(a, "/") || strings.HasPrefix(a, "unix:") {
		return ""
	}
	if _, _, err := net.SplitHostPort(a); err == nil {
		return "" // host:port
	}
	if net.ParseIP(strings.Trim(a, "[]")) != nil {
		return a // config's withParts takes [::1] as ::1
	}
	if strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == "" {
		return a // a host name
	}
	return ""
}

// Run serves until SIGINT or SIGTERM, then finishes the requests in flight and exits.
func (c *ServeCmd) Run(g *Globals) error {
	switch {
	case c.Stop:
		return stopBackground(g)
	case c.Start && !c.Foreground && !c.PrintConfig:
		return startInBackground(g)
	}
	c.tritonLogLevel(g) // before the logger is made
	notifySocket := config.TakeNotifySocket()
	flags, names := c.flags()
	tritonWarnings, err := c.tritonSettings(flags, names)
	if err != nil {
		return term.WithCode(term.ExitUsage, err)
	}
	cfg, err := config.Load(config.Inputs{Flags: flags, FlagNames: names, Parts: c.addressParts(), ConfigFile: c.TSConfig, Env: os.Environ()})
	if err != nil {
		return err
	}
	cfg.Warnings = slices.Concat(cfg.Warnings, c.unappliedFlags(), tritonWarnings)
	if c.PrintConfig {
		return cfg.Print(g.Stdout())
	}
	if c.LogFile != "" {
		f, err := os.OpenFile(c.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return fmt.Errorf("--log-file: %w", err)
		}
		defer f.Close()
		g.logOut = f
	}
	log := g.Logger()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	if _, _, err := engine.ParseProvider(cfg.ExecutionProvider); err != nil {
		return fmt.Errorf("execution_provider: %w", err)
	}
	if err := checkModelStore(cfg); err != nil {
		return err
	}
	files, err := c.modelFiles(cfg.ModelStore)
	if err != nil {
		return err
	}
	limits := archive.DefaultLimits()
	if len(cfg.TrustedKeys) > 0 {
		if limits.Trusted, err = archive.LoadKeyring(cfg.TrustedKeys...); err != nil {
			return fmt.Errorf("trusted_keys: %w", err)
		}
		log.Info("archives must be signed by a trusted key", "keys", strings.Join(limits.Trusted.IDs(), ","))
	}
	lib, err := g.InitEngine()
	if err != nil {
		return err
	}
	attrs := []any{"version", lib.Version, "path", lib.Path, "providers", strings.Join(lib.Providers, ",")}
	if name, _, _ := engine.ParseProvider(cfg.ExecutionProvider); name != "cpu" && cfg.NumberOfGPU > 1 {
		attrs = append(attrs, "gpus", cfg.NumberOfGPU) // the models go round them (number_of_gpu)
	}
	log.Info("ONNX Runtime loaded", attrs...)
	toLoad, err := cfg.ModelsToLoad(listArchives)
	if err != nil {
		return err
	}
	listeners := map[string]net.Listener{}
	defer func() {
		for _, ln := range listeners {
			ln.Close()
		}
	}()
	tlsConfig, err := server.TLSConfig(cfg, log)
	if err != nil {
		return err
	}
	bound := map[string]net.Listener{} // HTTP APIs may share an address, as in TorchServe
	for api, addr := range cfg.Listeners() {
		if ln, ok := bound[addr]; ok && !server.IsGRPC(api) && !strings.HasSuffix(config.HostPort(addr), ":0") { // port 0: a port each
			listeners[api] = ln
			continue
		}
		ln, err := server.Listen(api, addr, tlsConfig)
		if err != nil {
			if server.IsGRPC(api) {
				// on by default, so a second server on the machine meets the first one's ports
				return fmt.Errorf("%s_address: %w (choose another --%s-port, or --no-grpc)", api, err, strings.ReplaceAll(api, "_", "-"))
			}
			return fmt.Errorf("%s_address: %w", api, err)
		}
		listeners[api] = ln
		if !server.IsGRPC(api) {
			bound[addr] = ln
		}
	}

	tmp, err := os.MkdirTemp("", "ts-models-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	m := metrics.New()
	if cfg.DisableSystemMetrics {
		m.DropSystemMetrics()
	}
	tracer := trace.New(cfg.Trace, log)
	defer tracer.Close()                             // writes the traces kept for trace_file
	var snap atomic.Pointer[registry.SnapshotWriter] // set once the start-up models are in
	var reg *registry.Registry
	reg = registry.New(registry.Options{
		TempDir:         tmp,
		Limits:          limits,
		Logger:          log,
		Engine:          engine.Options{Provider: cfg.ExecutionProvider, ProviderFallback: cfg.ProviderFallback},
		GPUs:            cfg.NumberOfGPU,
		Defaults:        registry.DefaultsFrom(cfg),
		OnBatch:         m.Batch,
		OnHandlerMetric: m.Custom,
		OnRemoved:       m.Forget,
		Tracer:          tracer,
		OnChange: func() {
			if w := snap.Load(); w != nil {
				if err := w.Save(reg); err != nil {
					log.Error("model snapshot not saved", "err", err)
				}
			}
		},
	})

	srv := server.New(reg, server.Options{Settings: cfg, Metrics: m, Logger: log, LogLevel: g.level, LogFormat: g.LogFormat, Version: Version, TLS: tlsConfig, Tracer: tracer})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	ready := func() {
		for _, api := range []string{server.Inference, server.GRPCInference} { // the gRPC one with enable_http off
			if ln, ok := listeners[api]; ok { // bound: connections wait in its backlog until Serve takes them
				if err := notifyReady(notifySocket, srv.ListenAddress(api, ln)); err != nil {
					log.Warn("could not tell the supervisor that the server listens", "err", err)
				}
				return
			}
		}
	}
	// a server that stops when a start-up model fails says it is ready once they are in
	readyAfterLoads := len(files) > 0 || cfg.ExitOnError && len(toLoad) > 0
	release := reg.Hold()
	go func() {
		defer release()
		if cfg.EnableModelSnapshot {
			restoreSnapshot(ctx, reg, cfg, log)
		}
		if err := loadAll(ctx, reg, srv, toLoad, log); err != nil && cfg.ExitOnError {
			fail(loadFailure{fmt.Errorf("a start-up model failed to load (exit_on_error): %w", err)})
			return
		}
		if err := loadFiles(ctx, reg, files, log); err != nil {
			fail(loadFailure{fmt.Errorf("model given as an argument failed to load: %w", err)}) // the server was started to serve it
			return
		}
		if readyAfterLoads {
			ready()
		}
		if cfg.RepositoryPoll > 0 {
			go srv.PollStore(ctx, cfg.RepositoryPoll)
		}
		if cfg.EnableModelSnapshot {
			w := &registry.SnapshotWriter{Path: cfg.ModelSnapshotFile}
			snap.Store(w)
			if err := w.Save(reg); err != nil {
				log.Error("model snapshot not saved", "err", err)
			}
		}
	}()
	if !readyAfterLoads { // else once they are in (ts serve --start waits for it)
		ready()
	}
	err = srv.Serve(ctx, listeners, cfg.DrainTimeout)
	snap.Store(nil) // what unloads now is the shutdown, not a change to remember
	closeCtx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
	defer cancel()
	reg.Close(closeCtx)
	log.Info("stopped")
	var failed loadFailure
	if err == nil && errors.As(context.Cause(ctx), &failed) {
		return failed
	}
	return err
}

// loadFailure is a start-up model's failure that stops the server, as Triton stops for a
// model that does not load: a model given to ts serve as an argument, or one of load_models
// with exit_on_error (else logged and skipped, TorchServe's rule).
type loadFailure struct{ error }

// loadAll loads the start-up models in parallel, each url found as POST /models finds it;
// a model that fails is logged and skipped, as TorchServe does, and the first failure
// returned.
func loadAll(ctx context.Context, reg *registry.Registry, srv *server.Server, models []config.ModelToLoad, log *slog.Logger) error {
	var wg sync.WaitGroup
	errs := make([]error, len(models))
	for i, m := range models {
		wg.Go(func() {
			path, shown, downloaded, err := srv.ResolveStartupArchive(ctx, m.URL)
			if err == nil {
				_, err = reg.RegisterAll(ctx, registry.Spec{Path: path, URL: shown, Name: m.Name, Version: m.Version, Startup: true, Synchronous: true, Downloaded: downloaded})
			}
			if err != nil {
				log.Error("model failed to load", "url", m.URL, "err", err)
				errs[i] = err
			}
		})
	}
	wg.Wait()
	for _, m := range models {
		if m.Default {
			if err := reg.SetDefault(m.Name, m.Version); err != nil {
				log.Error("default version not set", "model", m.Name, "version", m.Version, "err", err)
			}
		}
	}
	return firstError(errs)
}

// firstError is the first of errs that is not nil, or nil.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// modelFiles reads the models given as arguments, [NAME=]PATH: registrations of each
// path, made absolute (so that a snapshot finds it again), with --handler. A relative path
// that is not here but is in the model store is one of the store's, named as --models names
// them (TorchServe's `--models a.mar b.mar` lists several after the flag), as is one that is
// here because ts serve runs in the store's folder; a path in neither stops start-up.
func (c *ServeCmd) modelFiles(store string) ([]registry.Spec, error) {
	var specs []registry.Spec
	if c.Handler != "" && len(c.Files) == 0 {
		return nil, term.Usagef("--handler applies to the models given as arguments: name one (ts serve [NAME=]MODEL --handler %s)", c.Handler)
	}
	for _, arg := range c.Files {
		name, path, named := strings.Cut(arg, "=")
		if !named {
			name, path = "", arg
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		here, hereErr := os.Stat(abs)
		stored, inStore := storeEntry(store, path)
		url := abs
		switch {
		case hereErr == nil && inStore && os.SameFile(here, stored):
			url = path // run from the model store: named as --models names it
		case hereErr != nil && inStore:
			if abs, err = filepath.Abs(filepath.Join(store, path)); err != nil {
				return nil, err
			}
			url = path // as the store's models are named
		case hereErr != nil:
			err := hereErr
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is said once, as given
			}
			if store != "" && filepath.IsLocal(path) {
				err = fmt.Errorf("%w, here nor in the model store %s", err, store)
			}
			return nil, term.WithCode(term.ExitNotFound, fmt.Errorf("model %s: %w", path, err))
		}
		if models := storedModels(abs); len(models) == 1 && archive.IsONNXFile(filepath.Join(abs, models[0])) {
			file := filepath.Join(path, models[0])
			switch dir := filepath.Base(abs); {
			case named:
				file = name + "=" + file
			case models[0] == "model.onnx" && archive.ValidModelName(dir) == nil:
				file = dir + "=" + file // named after its folder, not "model"
			}
			return nil, term.Usagef("%s is a folder, not a model: serve the model in it, ts serve %s", path, file)
		} else if len(models) > 0 {
			return nil, term.Usagef("%s is a folder of models, not a model: serve them with ts serve --model-repository %s (or --model-store %s --models all)", path, path, path)
		}
		specs = append(specs, registry.Spec{Path: abs, URL: url, Name: name, Handler: c.Handler, Startup: true, Synchronous: true})
	}
	return specs, nil
}

// storeEntry is the file or folder path names in the model store, if it is one.
func storeEntry(store, path string) (fs.FileInfo, bool) {
	if store == "" || !filepath.IsLocal(path) {
		return nil, false
	}
	fi, err := os.Stat(filepath.Join(store, path))
	return fi, err == nil
}

// loadFiles registers the models given as arguments in parallel; one that fails is logged,
// and the first failure returned.
func loadFiles(ctx context.Context, reg *registry.Registry, specs []registry.Spec, log *slog.Logger) error {
	var wg sync.WaitGroup
	errs := make([]error, len(specs))
	for i, s := range specs {
		wg.Go(func() {
			if _, err := reg.RegisterAll(ctx, s); err != nil {
				log.Error("model failed to load", "url", s.URL, "err", err)
				if ae, ok := errors.AsType[*apierror.Error](err); ok && ae.Code == http.StatusConflict && s.Name == "" {
					err = fmt.Errorf("%w (another argument has its name: give each a name, ts serve NAME=%s ...)", err, s.URL)
				}
				errs[i] = err
			}
		})
	}
	wg.Wait()
	return firstError(errs)
}

// restoreSnapshot registers what the last snapshot held, with its settings, defaults and
// traffic splits.
func restoreSnapshot(ctx context.Context, reg *registry.Registry, cfg *config.Settings, log *slog.Logger) {
	snap, err := registry.ReadSnapshot(cfg.ModelSnapshotFile)
	if err != nil {
		log.Error("model snapshot not restored", "err", err)
		return
	}
	splits := map[string]map[string]int{}
	var wg sync.WaitGroup
	for _, m := range snap.Models {
		path := m.URL
		if !filepath.IsAbs(path) {
			path = filepath.Join(cfg.ModelStore, m.URL)
		}
		if m.SplitWeight > 0 {
			if splits[m.Name] == nil {
				splits[m.Name] = map[string]int{}
			}
			splits[m.Name][m.Version] = m.SplitWeight
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			workers, batchSize, delay, timeout := m.MinWorkers, m.BatchSize, m.MaxBatchDelay, m.ResponseTimeout
			_, err := reg.Register(ctx, registry.Spec{
				Path: path, URL: m.URL, Name: m.Name, Version: m.Version, Handler: m.Handler, Default: m.Default,
				Synchronous: true, Overrides: registry.Overrides{InitialWorkers: &workers, BatchSize: &batchSize, MaxBatchDelay: &delay, ResponseTimeout: &timeout,
					PreferredBatchSizes: m.PreferredBatchSizes},
			})
			if err != nil {
				log.Error("model from the snapshot failed to load", "model", m.Name, "version", m.Version, "err", err)
			}
		}()
	}
	wg.Wait()
	for _, m := range snap.Models {
		if m.Default {
			reg.SetDefault(m.Name, m.Version)
		}
	}
	for name, weights := range splits {
		if err := reg.SetSplit(name, weights); err != nil {
			log.Error("traffic split from the snapshot not restored", "model", name, "err", err)
		}
	}
	log.Info("model snapshot restored", "file", cfg.ModelSnapshotFile, "versions", len(snap.Models))
}

// storedModels are the models in path when it is a folder of models rather than one
// (archive.IsModelFolder); none otherwise.
func storedModels(path string) []string {
	if archive.IsModelFolder(path) {
		return nil
	}
	models, _ := archive.List(path)
	return models
}

// listArchives lists the model archives in a model store (archive.List); none is an error.
func listArchives(dir string) ([]string, error) {
	out, err := archive.List(dir)
	if err == nil && len(out) == 0 {
		return nil, fmt.Errorf("no model archives in %s", dir)
	}
	return out, err
}

// checkModelStore stops start-up on a model store that is not a folder, as torchserve's
// "--model-store directory not found" does, rather than serving with every archive missing.
func checkModelStore(cfg *config.Settings) error {
	if cfg.ModelStore == "" {
		return nil
	}
	st, err := os.Stat(cfg.ModelStore)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("model_store (from %s): folder %s not found", cfg.Source("model_store"), cfg.ModelStore)
	case err != nil:
		return fmt.Errorf("model_store (from %s): %w", cfg.Source("model_store"), err)
	case !st.IsDir():
		return fmt.Errorf("model_store (from %s): %s is not a folder", cfg.Source("model_store"), cfg.ModelStore)
	}
	return nil
}
