package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

func packSampleWorkflow(t *testing.T, dir string) *WorkflowResult {
	t.Helper()
	sample := testenv.Path("samples/workflow")
	res, err := PackWorkflow(context.Background(), WorkflowPackOptions{
		WorkflowName: "iris_pipeline", SpecFile: filepath.Join(sample, "iris_workflow.yaml"),
		Handler:    filepath.Join(sample, "iris_workflow_handler.py"),
		ExtraFiles: []string{testenv.Path("samples/iris/index_to_name.json")}, ExportPath: dir, ArchiverVersion: "test",
		Now: func() time.Time { return time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestWorkflowRoundTrip: a packed .war reads back whole, as torch-workflow-archiver lays it
// out (the files at the root, WAR-INF/MANIFEST.json naming the spec and handler).
func TestWorkflowRoundTrip(t *testing.T) {
	dir := t.TempDir()
	res := packSampleWorkflow(t, dir)
	if res.Path != filepath.Join(dir, "iris_pipeline.war") {
		t.Errorf("path %s", res.Path)
	}
	if f, _ := Detect(res.Path); f != Default {
		t.Errorf("format %s, want a zip", f)
	}
	out := filepath.Join(t.TempDir(), "out")
	m, err := ExtractWorkflow(context.Background(), res.Path, out, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want := Workflow{WorkflowName: "iris_pipeline", SpecFile: "iris_workflow.yaml", Handler: "iris_workflow_handler.py"}
	if m.Workflow != want || m.CreatedOn != "28/11/2026 09:00:00" || m.ArchiverVersion != "test" || len(m.Files) != 3 {
		t.Errorf("manifest %+v", m)
	}
	for _, f := range []string{"iris_workflow.yaml", "iris_workflow_handler.py", "index_to_name.json", WorkflowManifestPath} {
		if _, err := os.Stat(filepath.Join(out, filepath.FromSlash(f))); err != nil {
			t.Error(err)
		}
	}
	info, err := Inspect(res.Path)
	if err != nil || info.Manifest != nil || info.Workflow == nil || info.Workflow.Workflow != want || len(info.Entries) != 3 {
		t.Errorf("inspect: %v %+v", err, info)
	}
	if vm, err := VerifyWorkflow(context.Background(), res.Path, Limits{}); err != nil || len(vm.Files) != 3 {
		t.Errorf("verify: %v", err)
	}
	// a model archive is not a workflow archive, nor the reverse
	if _, err := ExtractWorkflow(context.Background(), packDigits(t, t.TempDir(), Default).Path, filepath.Join(t.TempDir(), "x"), Limits{}); !errors.Is(err, ErrNoWorkflowManifest) {
		t.Errorf("a .mar read as a workflow: %v", err)
	}
	if _, err := Extract(context.Background(), res.Path, filepath.Join(t.TempDir(), "y"), Limits{}); !errors.Is(err, ErrNoManifest) {
		t.Errorf("a .war read as a model: %v", err)
	}
}

// TestWorkflowBadArchives: what ExtractWorkflow refuses, leaving nothing behind.
func TestWorkflowBadArchives(t *testing.T) {
	man := func(spec, handler string) string {
		return `{"workflow": {"workflowName": "w", "specFile": "` + spec + `", "handler": "` + handler + `"}}`
	}
	for _, tc := range []struct {
		name  string
		files [][2]string
		want  string
	}{
		{"TorchServe's own layout", [][2]string{{WorkflowManifestPath, man("w.yaml", "w.py")}, {"w.yaml", "dag: {}"}, {"w.py", ""}}, ""},
		{"spec missing", [][2]string{{WorkflowManifestPath, man("w.yaml", "w.py")}, {"w.py", ""}}, "missing: w.yaml"},
		{"handler missing", [][2]string{{WorkflowManifestPath, man("w.yaml", "w.py")}, {"w.yaml", ""}}, "missing: w.py"},
		{"spec outside", [][2]string{{WorkflowManifestPath, man("../w.yaml", "")}}, "not a file in the archive"},
		{"bad name", [][2]string{{WorkflowManifestPath, `{"workflow": {"workflowName": "a b", "specFile": "w.yaml"}}`}, {"w.yaml", ""}}, "invalid model name"},
		{"not JSON", [][2]string{{WorkflowManifestPath, "{"}}, "not valid JSON"},
		{"zip slip", [][2]string{{"../evil", "x"}, {WorkflowManifestPath, man("w.yaml", "")}}, "unsafe path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			_, err := ExtractWorkflow(context.Background(), zipOf(t, tc.files), out, Limits{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("something was left at the destination")
			}
		})
	}
}

// TestWorkflowPackErrors: torch-workflow-archiver's rules, and nothing written on failure.
func TestWorkflowPackErrors(t *testing.T) {
	sample := testenv.Path("samples/workflow")
	spec := filepath.Join(sample, "iris_workflow.yaml")
	for _, tc := range []struct {
		name string
		o    WorkflowPackOptions
		want string
	}{
		{"bad name", WorkflowPackOptions{WorkflowName: "a/b", SpecFile: spec}, "invalid model name"},
		{"no spec", WorkflowPackOptions{WorkflowName: "w"}, "--spec-file"},
		{"spec not there", WorkflowPackOptions{WorkflowName: "w", SpecFile: "nothing.yaml"}, "spec file"},
		{"handler not there", WorkflowPackOptions{WorkflowName: "w", SpecFile: spec, Handler: "nothing.py"}, "handler"},
		{"extra file named as the manifest", WorkflowPackOptions{WorkflowName: "w", SpecFile: spec, ExtraFiles: []string{testenv.Path("pkg/archive/testdata/war")}}, "overwrite the archive's manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.o.ExportPath = dir
			_, err := PackWorkflow(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
	dir := t.TempDir()
	packSampleWorkflow(t, dir)
	_, err := PackWorkflow(context.Background(), WorkflowPackOptions{WorkflowName: "iris_pipeline", SpecFile: spec, ExportPath: dir})
	if err == nil || !strings.Contains(err.Error(), "already exists; use --force") {
		t.Errorf("second pack: %v", err)
	}
}

// TestVerifyFolderWithOtherManifests: a model folder may hold other files named
// MANIFEST.json (a workflow's function nodes run from the extracted workflow, which holds
// WAR-INF's): only MAR-INF/MANIFEST.json is the model's manifest.
func TestVerifyFolderWithOtherManifests(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		ManifestPath:           `{"runtime": "python", "model": {"modelName": "functions", "handler": "node.py"}}`,
		WorkflowManifestPath:   `{"workflow": {"workflowName": "w", "specFile": "w.yaml"}}`,
		"labels/MANIFEST.json": `{"another": "manifest"}`,
		"node.py":              "",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	m, err := Verify(context.Background(), dir, Limits{})
	if err != nil || m.Model.ModelName != "functions" {
		t.Fatalf("verify: %v, %+v", err, m)
	}
	o, err := Open(context.Background(), dir, "", Limits{})
	if err != nil || o.Manifest.Model.Handler != "node.py" {
		t.Fatalf("open: %v", err)
	}
}
