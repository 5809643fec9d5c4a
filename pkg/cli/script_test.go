package cli

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/cli/archivecmd"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestMain runs the tests, or ts or tsarchive when a script calls them. testscript.Main
// exits itself, so the binaries the serve command built are removed when the tests end, in
// Run (they were left in the temporary folder, 49 MB each run).
func TestMain(m *testing.M) {
	testscript.Main(removingBinaries{m}, map[string]func(){
		"ts":        func() { os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr)) },
		"tsarchive": func() { os.Exit(archivecmd.Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// removingBinaries runs the tests, then removes the binaries they built.
type removingBinaries struct{ m *testing.M }

func (r removingBinaries) Run() int {
	defer testenv.RemoveBinaries()
	return r.m.Run()
}

// TestScripts runs testdata/script/*.txtar: the ts CLI against a real `ts serve` (started by
// the serve command below) with the sample models, checking output, piped and on a
// (forced) terminal, JSON, and exit codes.
func TestScripts(t *testing.T) {
	ortLib := ""
	for _, c := range config.ORTCandidates("") {
		if _, err := os.Stat(c.Path); err == nil {
			ortLib = c.Path
			break
		}
	}
	if ortLib == "" {
		t.Fatal("ONNX Runtime not found: run make setup")
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SAMPLES", testenv.Path("samples"))
			env.Setenv("ENGINE_TESTDATA", testenv.Path("pkg/engine/testdata"))
			env.Setenv("HANDLER_TESTDATA", testenv.Path("pkg/handler/testdata"))
			env.Setenv("KEYSTORES", testenv.Path("pkg/server/testdata/keystores"))
			env.Setenv("TEMPLATES", testenv.Path("templates"))
			env.Setenv(config.EnvORTLib, ortLib)
			// a model store with the digits (image classifier) and iris (tensor) samples
			store := filepath.Join(env.WorkDir, "store")
			for _, m := range []archive.PackOptions{
				{ModelName: "digits", Version: "1.0", SerializedFile: testenv.Path("samples/digits/model.onnx"), Handler: "image_classifier",
					ExtraFiles: []string{testenv.Path("samples/digits/index_to_name.json")}},
				{ModelName: "iris", Version: "1.0", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor"},
			} {
				m.ExportPath = store
				if _, err := archive.Pack(context.Background(), m); err != nil {
					return err
				}
			}
			env.Setenv("STORE", store)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// code N PROG ARGS...: run PROG and check it exits with status N (stdout and
			// stderr are kept for the stdout and stderr commands, as exec does).
			"code": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: code N PROG ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				if err := ts.Exec(args[1], args[2:]...); err != nil {
					var exit *exec.ExitError
					if !errors.As(err, &exit) {
						ts.Fatalf("%s: %v", args[1], err)
					}
					got = exit.ExitCode()
				}
				if got != want {
					ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
				}
			},
			// selfsigned DIR: write DIR/cert.pem (for 127.0.0.1) and DIR/key.pem.
			"selfsigned": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: selfsigned DIR")
				}
				_, _, err := testenv.SelfSigned(ts.MkAbs(args[0]))
				ts.Check(err)
			},
			// serve [FLAGS...]: start `ts serve --model-store $STORE --workers 1 FLAGS` on free
			// ports, wait until it is healthy, and point TS_HOST, TS_MANAGEMENT_HOST and
			// TS_METRICS_HOST at it; it is stopped when the script ends.
			"serve": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg {
					ts.Fatalf("unsupported: ! serve")
				}
				args = append([]string{"--model-store", ts.Getenv("STORE"), "--workers", "1", "--ort-lib", ortLib}, args...)
				srv, err := testenv.Launch(args...)
				if srv != nil {
					ts.Defer(func() { srv.Shutdown() })
				}
				ts.Check(err)
				if !slices.Contains(args, "--token-auth") && !slices.Contains(args, "--client-ca-file") { // /ping wants a key, or a client certificate, then
					if err := srv.AwaitHealthy(); err != nil {
						ts.Fatalf("%v", err)
					}
				}
				ts.Setenv(config.EnvHost, srv.Inference)
				ts.Setenv(config.EnvManagementHost, srv.Management)
				ts.Setenv(config.EnvMetricsHost, srv.Metrics)
			},
		},
	})
}
