package main

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tsserve/ts/pkg/cli/archivecmd"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"tsarchive": func() { os.Exit(archivecmd.Main(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar against the real tsarchive.
func TestScripts(t *testing.T) {
	samples, err := filepath.Abs(filepath.Join("..", "..", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	testModels, err := filepath.Abs(filepath.Join("..", "..", "pkg", "engine", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SAMPLES", samples)
			env.Setenv("TESTMODELS", testModels)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// waitfor GLOB [SECONDS]: wait until a file matching GLOB exists.
			"waitfor": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 1 {
					ts.Fatalf("usage: waitfor GLOB [SECONDS]")
				}
				limit := 20 * time.Second
				if len(args) > 1 {
					s, _ := strconv.Atoi(args[1])
					limit = time.Duration(s) * time.Second
				}
				for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					if m, _ := filepath.Glob(ts.MkAbs(args[0])); len(m) > 0 {
						return
					}
				}
				ts.Fatalf("no file matched %s within %v", args[0], limit)
			},
			// sparse FILE SIZE: create a sparse file of SIZE bytes.
			"sparse": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: sparse FILE SIZE")
				}
				size, err := strconv.ParseInt(args[1], 10, 64)
				ts.Check(err)
				f, err := os.Create(ts.MkAbs(args[0]))
				ts.Check(err)
				ts.Check(f.Truncate(size))
				ts.Check(f.Close())
			},
		},
	})
}
