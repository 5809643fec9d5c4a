// Package cli holds the ts commands, one file per command, built with kong.
package cli

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/tsserve/ts/pkg/cli/term"
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
	ORTLib   string `name:"ort-lib" placeholder:"PATH" help:"ONNX Runtime shared library to load (default: $$TS_ORT_LIB, then beside the executable, then the set-up folder)."`
	LogLevel string `name:"log-level" default:"info" enum:"debug,info,warn,error" help:"Log level: debug, info, warn or error."`

	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
}

// Logger returns the logger built from --log-level, writing to stderr.
func (g *Globals) Logger() *slog.Logger {
	if g.logger == nil {
		var level slog.Level
		_ = level.UnmarshalText([]byte(g.LogLevel))
		g.logger = slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
	}
	return g.logger
}

// InitEngine loads ONNX Runtime from --ort-lib, TS_ORT_LIB, beside the executable or the
// set-up folder.
func (g *Globals) InitEngine() (*engine.Library, error) {
	return engine.Init(config.ORTCandidates(g.ORTLib))
}

type tsCLI struct {
	Globals

	Serve   ServeCmd   `cmd:"" help:"Serve models over HTTP with TorchServe's inference and management APIs."`
	Version VersionCmd `cmd:"" help:"Print the versions of ts and ONNX Runtime, and the execution providers available."`
}

// Main runs the ts command line and returns the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	var c tsCLI
	c.stdout, c.stderr = stdout, stderr
	exit := -1
	parser, err := kong.New(&c,
		kong.Name("ts"),
		kong.Description("ts serves ONNX models: TorchServe's APIs in one binary."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
		kong.Bind(&c.Globals),
	)
	if err != nil {
		return term.Report(stderr, "ts", err)
	}
	ctx, err := parser.Parse(args)
	if exit >= 0 { // --help
		return exit
	}
	if err != nil {
		return term.Report(stderr, "ts", usageError(err))
	}
	return term.Report(stderr, "ts", ctx.Run())
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
