// Package cli holds the ts commands, one file per command, built with kong.
package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/client"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
)

// Version is ts's version, set at link time (-X github.com/tsserve/ts/pkg/cli.Version=v1.2.3).
var Version = ""

// VersionString returns Version, or the module version from the build information.
func VersionString() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// Globals are the flags every ts command takes.
type Globals struct {
	ORTLib    string `name:"ort-lib" placeholder:"PATH" help:"ONNX Runtime shared library to load (default: $$TS_ORT_LIB, then beside the executable, then the set-up folder)."`
	LogLevel  string `name:"log-level" default:"info" enum:"debug,info,warn,error" help:"Log level: debug, info, warn or error."`
	LogFormat string `name:"log-format" env:"${env_log_format}" default:"text" enum:"text,json,default,ISO8601" help:"Log format: text (key=value lines) or json (a JSON object a line, for log collectors); Triton's default and ISO8601 are text."`
	Output    string `name:"output" short:"o" default:"text" enum:"text,json,yaml" help:"Output: text (tables on a terminal, tab-separated in a pipe), json or yaml."`

	Host           string   `name:"host" env:"${env_host}" placeholder:"ADDR" help:"Server address (inference API): host[:port], http(s)://host[:port] or unix:/path; default 127.0.0.1:8080."`
	ManagementHost string   `name:"management-host" env:"${env_management_host}" placeholder:"ADDR" help:"Management API address (default: the host's name, port 8081)."`
	MetricsHost    string   `name:"metrics-host" env:"${env_metrics_host}" placeholder:"ADDR" help:"Metrics API address (default: the host's name, port 8082)."`
	Token          string   `name:"token" env:"${env_token}" placeholder:"TOKEN" help:"Bearer token for servers that want one."`
	TokenFile      string   `name:"token-file" type:"path" placeholder:"FILE" help:"TorchServe's key_file.json: its inference and management keys."`
	Insecure       bool     `name:"insecure" help:"Do not verify the server's TLS certificate."`
	CAFile         string   `name:"ca-file" type:"path" placeholder:"FILE" help:"PEM certificate authority for the server's TLS certificate."`
	ClientCert     string   `name:"client-cert" type:"path" placeholder:"FILE" help:"PEM client certificate, for servers that ask for one (mutual TLS; with --client-key)."`
	ClientKey      string   `name:"client-key" type:"path" placeholder:"FILE" help:"PEM private key of --client-cert."`
	Header         []string `name:"header" short:"H" sep:"none" placeholder:"NAME: VALUE" help:"A header sent with every request, as curl's -H: a restricted API's (Triton's --http-restricted-api), a stateful model's ts_request_sequence_id: ID, X-TS-Priority: high; repeatable."`

	stdout io.Writer
	stderr io.Writer
	logOut io.Writer // ts serve --log-file; nil: stderr
	// args are the command line's arguments, as Main got them
	args []string
	// client is the last client Client made (nil: none), which an error's hint may ask
	client *client.Client
	logger *slog.Logger
	// level is the logger's level, which a server's logging API may change while it runs.
	level  *slog.LevelVar
	io     *term.IO
	parser *kong.Kong
}

// IO is where results go, knowing terminals from pipes.
func (g *Globals) IO() *term.IO {
	if g.io == nil {
		g.io = term.New(g.Stdout(), g.stderr, os.Environ(), os.Getenv(config.EnvForceTTY) != "")
		g.io.Format = g.Output
	}
	return g.io
}

// Client connects to the server the flags and environment name.
func (g *Globals) Client() (*client.Client, error) {
	o := client.Options{Host: g.Host, Management: g.ManagementHost, Metrics: g.MetricsHost, Token: g.Token,
		Insecure: g.Insecure, CAFile: g.CAFile, CertFile: g.ClientCert, KeyFile: g.ClientKey}
	if g.TokenFile != "" {
		b, err := os.ReadFile(g.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("token file: %w", err)
		}
		var keys struct {
			Management struct{ Key string } `json:"management"`
			Inference  struct{ Key string } `json:"inference"`
		}
		if err := json.Unmarshal(b, &keys); err != nil {
			return nil, fmt.Errorf("token file %s: %w", g.TokenFile, err)
		}
		o.ManagementToken, o.InferenceToken = keys.Management.Key, keys.Inference.Key
	}
	if (g.ClientCert == "") != (g.ClientKey == "") {
		return nil, term.Usagef("--client-cert and --client-key go together")
	}
	var err error
	if o.Header, err = parseHeaders(g.Header); err != nil {
		return nil, err
	}
	c, err := client.New(o)
	if err != nil {
		return nil, term.WithCode(term.ExitUsage, err)
	}
	g.client = c
	return c, nil
}

// parseHeaders reads --header values, "Name: value" as curl's -H.
func parseHeaders(list []string) (http.Header, error) {
	if len(list) == 0 {
		return nil, nil
	}
	h := http.Header{}
	for _, x := range list {
		name, value, ok := strings.Cut(x, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, term.Usagef("--header %q: write it as NAME: VALUE", x)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// logOff is a log level above every record's (Triton's flags can turn every level off).
const logOff = "off"

// Logger returns the logger built from --log-level and --log-format, writing to stderr (or
// to ts serve's --log-file).
func (g *Globals) Logger() *slog.Logger {
	if g.logger == nil {
		var level slog.Level
		if g.LogLevel == logOff {
			level = slog.LevelError + 4
		} else {
			_ = level.UnmarshalText([]byte(g.LogLevel))
		}
		g.level = &slog.LevelVar{}
		g.level.Set(level)
		g.logger = slog.New(g.logHandler(g.level))
	}
	return g.logger
}

// quietLogger logs warnings and errors only (for commands that load models in-process).
func (g *Globals) quietLogger() *slog.Logger {
	return slog.New(g.logHandler(slog.LevelWarn))
}

// logHandler writes records from level on to stderr (or logOut), in --log-format.
func (g *Globals) logHandler(level slog.Leveler) slog.Handler {
	out := g.stderr
	if g.logOut != nil {
		out = g.logOut
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.LogFormat == config.LogJSON {
		return slog.NewJSONHandler(out, opts)
	}
	return slog.NewTextHandler(out, opts)
}

// InitEngine loads ONNX Runtime from --ort-lib, TS_ORT_LIB, beside the executable or the
// set-up folder, after fixing the C allocator's mmap threshold so that the large buffers
// ONNX Runtime frees go back to the system. ONNX Runtime's own log lines (outside ts's log)
// show with --log-level debug only.
func (g *Globals) InitEngine() (*engine.Library, error) {
	lib, err := engine.InitTuned(config.ORTCandidates(g.ORTLib), config.MallocMmapThreshold())
	if err != nil {
		return nil, err
	}
	if err := engine.SetRuntimeLogging(g.LogLevel == "debug"); err != nil {
		return nil, fmt.Errorf("set ONNX Runtime's log level: %w", err)
	}
	return lib, nil
}

type tsCLI struct {
	Globals

	Serve      ServeCmd      `cmd:"" help:"Serve models over HTTP with TorchServe's inference and management APIs."`
	Register   RegisterCmd   `cmd:"" help:"Register a model archive (a file in the server's model store, a URL, or a local file to upload)."`
	Unregister UnregisterCmd `cmd:"" aliases:"rm" help:"Unregister a model or one of its versions."`
	Reload     ReloadCmd     `cmd:"" help:"Load a model again from the server's model store after its archive changed, with no request lost (or load it for the first time)."`
	List       ListCmd       `cmd:"" aliases:"ls" help:"List the registered models."`
	Describe   DescribeCmd   `cmd:"" aliases:"show" help:"Describe a model: versions, workers, batching, inputs and outputs, traffic split."`
	Scale      ScaleCmd      `cmd:"" help:"Set a model version's workers."`
	SetDefault SetDefaultCmd `cmd:"" name:"set-default" help:"Make a version the model's default."`
	Split      SplitCmd      `cmd:"" help:"Show or set a model's traffic split across versions (A/B tests, canaries)."`
	Infer      InferCmd      `cmd:"" help:"Send files to a model and show the answers (or run an archive locally with --local)."`
	Explain    ExplainCmd    `cmd:"" help:"Show which parts of files (image patches, words, tensor elements) made a model answer as it did."`
	Perf       PerfCmd       `cmd:"" help:"Load-test a model as Triton's perf_analyzer: throughput, latency percentiles and the server's queue and run times at each concurrency."`
	Workflow   WorkflowCmd   `cmd:"" help:"Register, list, describe, run and unregister workflows (models and functions in a DAG, .war archives)."`
	Metrics    MetricsCmd    `cmd:"" help:"Print the server's Prometheus metrics."`
	Ping       PingCmd       `cmd:"" help:"Check the server's health."`
	LogLevel   LogLevelCmd   `cmd:"" name:"log-level" help:"Show or change a running server's log level."`
	Trace      TraceCmd      `cmd:"" help:"Show or change which requests a running server traces (Triton's trace extension), globally or for a model."`
	Version    VersionCmd    `cmd:"" help:"Print the versions of ts and ONNX Runtime, and the execution providers available (also ts --version)."`
	Completion CompletionCmd `cmd:"" hidden:"" help:"Print a shell completion script (bash, zsh or fish)."`
}

// Main runs the ts command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	var c tsCLI
	c.stdout, c.stderr, c.args = stdout, stderr, args
	exit := -1
	parser, err := newParser(&c, func(code int) { exit = code })
	if err != nil {
		return term.Report(stderr, "ts", err)
	}
	if len(args) == 0 { // a bare command shows what it can do
		args = []string{"--help"}
	}
	if args[0] == "--version" { // as most CLIs take it; a flag of its own would clash with register's --version
		args = append([]string{"version"}, args[1:]...)
	}
	ctx, err := parser.Parse(args)
	if exit >= 0 { // --help
		return exit
	}
	if err != nil {
		return term.Report(stderr, "ts", usageError(err))
	}
	if c.LogFormat == "default" || c.LogFormat == "ISO8601" { // Triton's names; slog's text has ISO 8601 times
		c.LogFormat = config.LogText
	}
	c.parser = parser
	return term.Report(stderr, "ts", exitError(c.Globals.withModelHint(ctx.Run())))
}

// newParser is ts's command line, parsed into c; exit is called where kong would exit (--help).
func newParser(c *tsCLI, exit func(int)) (*kong.Kong, error) {
	return kong.New(c,
		kong.Name("ts"),
		kong.Description("ts serves ONNX models: TorchServe's APIs in one binary."),
		kong.Writers(c.stdout, c.stderr),
		kong.Exit(exit),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
		kong.Bind(&c.Globals),
		kong.TypeMapper(reflect.TypeFor[time.Duration](), durationMapper()),
		kong.Vars{"env_host": config.EnvHost, "env_management_host": config.EnvManagementHost,
			"env_metrics_host": config.EnvMetricsHost, "env_token": config.EnvToken, "env_log_format": config.EnvLogFormat},
	)
}

// durationMapper reads a duration flag as Go writes durations (30s, 1m30s, 500ms), or a bare
// number as seconds (--timeout 30, as TorchServe counts its timeouts).
func durationMapper() kong.MapperFunc {
	return func(ctx *kong.DecodeContext, target reflect.Value) error {
		t, err := ctx.Scan.PopValue("duration")
		if err != nil {
			return err
		}
		d, err := parseDuration(fmt.Sprint(t.Value))
		if err != nil {
			return err
		}
		target.SetInt(int64(d))
		return nil
	}
}

// parseDuration reads a Go duration, or a number of seconds.
func parseDuration(s string) (time.Duration, error) {
	if secs, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(secs) && !math.IsInf(secs, 0) && math.Abs(secs) < math.MaxInt64/float64(time.Second) {
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: give one as 30s, 1m30s or 500ms, or a number of seconds", s)
	}
	return d, nil
}

// usageError marks a kong parse error as a usage error.
func usageError(err error) error {
	var pe *kong.ParseError
	msg := err.Error()
	if errors.As(err, &pe) {
		msg = pe.Error()
	}
	return term.WithCode(term.ExitUsage, errors.New(strings.TrimSpace(msg)+" (see --help)"))
}

// Stdout is where a command writes its results.
func (g *Globals) Stdout() io.Writer {
	if g.stdout == nil {
		return os.Stdout
	}
	return g.stdout
}
