// Package archivecmd is the tsarchive command line: packing models with
// torch-model-archiver's flags, and inspecting, verifying and extracting archives. It is
// pure Go, so tsarchive builds with CGO_ENABLED=0.
package archivecmd

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/tsserve/ts/pkg/cli/complete"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/cli/term"
)

// Version is tsarchive's version, set at link time.
var Version = "dev"

type globals struct {
	stdout io.Writer
	stderr io.Writer
	ctx    context.Context
}

type archiverCLI struct {
	Pack     PackCmd     `cmd:"" default:"withargs" help:"Pack a model into an archive (the default command; flags as torch-model-archiver)."`
	Inspect  inspectCmd  `cmd:"" help:"Show an archive's manifest, files and model signature."`
	Verify   verifyCmd   `cmd:"" help:"Re-hash every file of an archive against its manifest."`
	Extract  extractCmd  `cmd:"" help:"Extract an archive into a folder, checking every file."`
	Sign     signCmd     `cmd:"" help:"Sign an archive's manifest (and so every file it lists) with an Ed25519 key."`
	Keygen   keygenCmd   `cmd:"" help:"Make an Ed25519 key pair for signing archives."`
	Workflow workflowCmd `cmd:"" help:"Pack a workflow (models and functions in a DAG) into NAME.war (flags as torch-workflow-archiver)."`
	Version  versionCmd  `cmd:"" help:"Print tsarchive's version."`

	Completion completionCmd `cmd:"" hidden:"" help:"Print a shell completion script (bash, zsh or fish)."`
}

type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (c *completionCmd) Run(g *globals, k *kong.Context) error {
	s, err := complete.Script(c.Shell, k.Model)
	if err != nil {
		return err
	}
	_, err = io.WriteString(g.stdout, s)
	return err
}

type versionCmd struct{}

func (versionCmd) Run(g *globals) error {
	_, err := io.WriteString(g.stdout, "tsarchive "+Version+"\n")
	return err
}

// Main runs tsarchive and returns the process exit code. SIGINT and SIGTERM cancel the work
// in progress; nothing half-written is left behind.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &globals{stdout: stdout, stderr: stderr, ctx: ctx}
	var c archiverCLI
	exit := -1
	parser, err := kong.New(&c,
		kong.Name("tsarchive"),
		kong.Description("tsarchive packs an ONNX model, its handler and extra files into a model archive for ts serve."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { exit = code }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
		kong.Bind(g),
		kong.Vars{"builtin_handlers": strings.Join(archive.BuiltinHandlers, ", ")},
	)
	if err != nil {
		return term.Report(stderr, "tsarchive", err)
	}
	if len(args) == 0 { // a bare command shows what it can do
		args = []string{"--help"}
	}
	kctx, err := parser.Parse(args)
	if exit >= 0 {
		return exit
	}
	if err != nil {
		return term.Report(stderr, "tsarchive", term.WithCode(term.ExitUsage, errors.New(strings.TrimSpace(err.Error())+" (see --help)")))
	}
	err = kctx.Run()
	if ctx.Err() != nil && err != nil {
		err = errors.New("interrupted; nothing was written")
	}
	return term.Report(stderr, "tsarchive", err)
}
