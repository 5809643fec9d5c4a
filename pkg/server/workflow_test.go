package server

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// storeWorkflow packs a workflow archive into the server's workflow (= model) store.
func (ts *testServer) storeWorkflow(t *testing.T, name, spec, handlerFile string, extra ...string) {
	t.Helper()
	res, err := archive.PackWorkflow(context.Background(), archive.WorkflowPackOptions{
		WorkflowName: name, SpecFile: spec, Handler: handlerFile, ExtraFiles: extra, ExportPath: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(res.Path, filepath.Join(ts.store, name+".war")); err != nil {
		t.Fatal(err)
	}
}

// irisClasses asks the iris model itself (no workflow) for the class of each flower.
func irisClasses(t *testing.T, ts *testServer, flowers string) []int {
	t.Helper()
	var rows [][]float64
	for _, line := range strings.Split(strings.TrimSpace(flowers), "\n") {
		var row []float64
		json.Unmarshal([]byte("["+line+"]"), &row)
		rows = append(rows, row)
	}
	body, _ := json.Marshal(rows)
	status, b, _ := post(t, ts.inference.URL+"/predictions/iris", body)
	if status != 200 {
		t.Fatalf("iris: %d %s", status, b)
	}
	var res struct {
		Outputs []struct{ Data []float64 } `json:"outputs"`
	}
	json.Unmarshal(b, &res)
	var classes []int
	for i := 0; i+3 <= len(res.Outputs[0].Data); i += 3 {
		p := res.Outputs[0].Data[i : i+3]
		classes = append(classes, slices.Index(p, slices.Max(p)))
	}
	return classes
}

// TestWorkflows registers TorchServe workflows (model and function nodes, sequential and
// parallel), runs requests through them against the answers of the models alone, and
// checks their management API and failures.
func TestWorkflows(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"iris alone", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	sample := testenv.Path("samples/workflow")
	ts.storeWorkflow(t, "iris_pipeline", filepath.Join(sample, "iris_workflow.yaml"), filepath.Join(sample, "iris_workflow_handler.py"), testenv.Path("samples/iris/index_to_name.json"))
	handlerFile := filepath.Join("testdata", "workflow", "handler.py")
	for _, name := range []string{"parallel", "two_leaves", "missing_model", "loop"} {
		ts.storeWorkflow(t, name, filepath.Join("testdata", "workflow", name+".yaml"), handlerFile)
	}
	ts.storeWorkflow(t, "no_handler", filepath.Join("testdata", "workflow", "parallel.yaml"), "")
	flowers := "5.1,3.5,1.4,0.2\n6.3,3.3,6.0,2.5\n5.9,3.0,4.2,1.5"
	want := irisClasses(t, ts, flowers)
	names := []string{"setosa", "versicolor", "virginica"}

	for _, x := range []exchange{
		{"register the sample", "POST", "/workflows?url=iris_pipeline.war", "", nil, 200, "", "Workflow iris_pipeline has been registered and scaled successfully."},
		{"register parallel", "POST", "/workflows?url=parallel.war&workflow_name=vote", "", nil, 200, "", "Workflow vote has been registered"},
		{"register two leaves", "POST", "/workflows?url=two_leaves.war", "", nil, 200, "", ""},
		{"again", "POST", "/workflows?url=iris_pipeline.war", "", nil, 409, "ConflictStatusException", "Workflow iris_pipeline is already registered."},
		{"no url", "POST", "/workflows", "", nil, 400, "BadRequestException", "Parameter url is required."},
		{"not in the store", "POST", "/workflows?url=nothing.war", "", nil, 404, "WorkflowNotFoundException", "Workflow not found in workflow store: nothing.war"},
		{"not a workflow archive", "POST", "/workflows?url=iris.mar", "", nil, 400, "InvalidModelException", "archive has no WAR-INF/MANIFEST.json"},
		{"a loop", "POST", "/workflows?url=loop.war", "", nil, 400, "BadRequestException", "not acyclic: check, iris"},
		{"functions with no handler file", "POST", "/workflows?url=no_handler.war", "", nil, 400, "BadRequestException", "the archive has no handler file"},
		{"a model archive missing", "POST", "/workflows?url=missing_model.war", "", nil, 404, "ModelNotFoundException", "Workflow Node missing_model__ghost failed to register. Details: Model not found in model store: ghost.mar"},
		{"bad name", "POST", "/workflows?url=parallel.war&workflow_name=a/b", "", nil, 400, "BadRequestException", "workflow_name"},
		{"describe unknown", "GET", "/workflows/nothing", "", nil, 404, "WorkflowNotFoundException", "Workflow not found: nothing"},
		{"unregister unknown", "DELETE", "/workflows/nothing", "", nil, 404, "WorkflowNotFoundException", "Workflow not found: nothing"},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, ts.management.URL) })
	}
	// a failed registration leaves none of its models behind
	var models api.ModelList
	_, b, _, _ := send("GET", ts.management.URL+"/models", nil)
	json.Unmarshal(b, &models)
	var got []string
	for _, m := range models.Models {
		got = append(got, m.ModelName)
	}
	wantModels := []string{"iris", "iris_pipeline__iris", "iris_pipeline__name_species", "iris_pipeline__parse_csv",
		"two_leaves__iris", "two_leaves__iris2", "two_leaves__parse_csv",
		"vote__iris", "vote__iris2", "vote__parse_csv", "vote__vote"}
	if !slices.Equal(got, wantModels) {
		t.Errorf("models %v, want %v", got, wantModels)
	}
	for _, s := range ts.reg.Snapshot().Models {
		if strings.Contains(s.Name, "__") {
			t.Errorf("snapshot holds the workflow model %s", s.Name)
		}
	}

	t.Run("list and describe", func(t *testing.T) {
		_, b, _, _ := send("GET", ts.management.URL+"/workflows?limit=2", nil)
		var list api.WorkflowList
		json.Unmarshal(b, &list)
		if len(list.Workflows) != 2 || list.Workflows[0] != (api.WorkflowRef{WorkflowName: "iris_pipeline", WorkflowURL: "iris_pipeline.war"}) ||
			list.Workflows[1].WorkflowName != "two_leaves" || list.NextPageToken != "2" {
			t.Errorf("list %s", b)
		}
		_, b, _, _ = send("GET", ts.management.URL+"/workflows/vote", nil)
		var d []api.WorkflowDescription
		json.Unmarshal(b, &d)
		if len(d) != 1 || d[0].WorkflowName != "vote" || d[0].WorkflowURL != "parallel.war" || d[0].BatchSize != 4 || d[0].MaxBatchDelay != 2 ||
			d[0].MinWorkers != 1 || d[0].MaxWorkers != 1 || d[0].WorkflowDag != "{parse_csv=[iris, iris2], iris=[vote], iris2=[vote]}" ||
			len(d[0].Nodes) != 4 || d[0].Nodes[1].Model != "vote__iris" || d[0].Nodes[1].ModelURL != "iris.mar" {
			t.Errorf("describe %s", b)
		}
		// the spec's settings reach the models
		v, err := ts.reg.Get("vote__iris2", "")
		if err != nil {
			t.Fatal(err)
		}
		if st := v.Settings(); st.BatchSize != 4 || st.MaxBatchDelay != 2 || st.MaxWorkers != 2 {
			t.Errorf("vote__iris2 settings %+v", st)
		}
	})

	t.Run("sequential", func(t *testing.T) {
		status, b, ctype := post(t, ts.inference.URL+"/wfpredict/iris_pipeline", []byte(flowers), "Content-Type", "text/csv")
		var answer []struct{ Species string }
		if err := json.Unmarshal(b, &answer); status != 200 || err != nil || ctype != "application/json" || len(answer) != len(want) {
			t.Fatalf("%d %s %s", status, ctype, b)
		}
		for i, a := range answer {
			if a.Species != names[want[i]] {
				t.Errorf("flower %d: %s, the model alone says %s", i, a.Species, names[want[i]])
			}
		}
	})

	t.Run("parallel", func(t *testing.T) {
		status, b, _ := post(t, ts.inference.URL+"/wfpredict/vote", []byte(flowers))
		var answer struct {
			Inputs []string
			Choice map[string][]int
		}
		if err := json.Unmarshal(b, &answer); status != 200 || err != nil {
			t.Fatalf("%d %s", status, b)
		}
		if !slices.Equal(answer.Inputs, []string{"iris", "iris2"}) || !slices.Equal(answer.Choice["iris"], want) || !slices.Equal(answer.Choice["iris2"], want) {
			t.Errorf("answer %s, want both models' classes %v", b, want)
		}
	})

	t.Run("concurrent requests each get their own answer", func(t *testing.T) {
		lines := strings.Split(flowers, "\n")
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() {
				line := lines[i%len(lines)]
				status, b, _, err := send("POST", ts.inference.URL+"/wfpredict/vote", []byte(line))
				var answer struct{ Choice map[string][]int }
				if err != nil || status != 200 || json.Unmarshal(b, &answer) != nil {
					t.Errorf("request %d: %v %d %s", i, err, status, b)
					return
				}
				if w := want[i%len(lines)]; !slices.Equal(answer.Choice["iris"], []int{w}) || !slices.Equal(answer.Choice["iris2"], []int{w}) {
					t.Errorf("request %d (%s): %s, want class %d", i, line, b, w)
				}
			})
		}
		wg.Wait()
	})

	t.Run("two leaves", func(t *testing.T) {
		status, b, _ := post(t, ts.inference.URL+"/wfpredict/two_leaves", []byte(flowers))
		var answer map[string]struct {
			Outputs []struct{ Data []float64 }
		}
		if err := json.Unmarshal(b, &answer); status != 200 || err != nil || len(answer) != 2 || len(answer["iris"].Outputs[0].Data) != 9 || len(answer["iris2"].Outputs[0].Data) != 9 {
			t.Fatalf("%d %s", status, b)
		}
	})

	for _, x := range []exchange{
		{"a function's own error code", "POST", "/wfpredict/vote", "", []byte("refuse"), 422, "BadRequestException", "workflow node parse_csv: refused on purpose"},
		{"a function's exception", "POST", "/wfpredict/vote", "", []byte("a,b"), 500, "InternalServerException", "workflow node parse_csv failed after 2 attempts: ValueError"},
		{"a model's 4xx", "POST", "/wfpredict/vote", "", []byte("1,2"), 400, "BadRequestException", "workflow node iris"},
		{"unknown workflow", "POST", "/wfpredict/nothing", "", []byte("1"), 404, "WorkflowNotFoundException", "Workflow not found: nothing"},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, ts.inference.URL) })
	}

	t.Run("unregister", func(t *testing.T) {
		exchange{"unregister", "DELETE", "/workflows/vote", "", nil, 200, "", `Workflow \"vote\" unregistered`}.run(t, ts.management.URL)
		exchange{"gone", "POST", "/wfpredict/vote", "", []byte(flowers), 404, "WorkflowNotFoundException", ""}.run(t, ts.inference.URL)
		for _, m := range []string{"vote__iris", "vote__iris2", "vote__parse_csv", "vote__vote"} {
			if _, err := ts.reg.Get(m, ""); err == nil {
				t.Errorf("%s is still registered", m)
			}
		}
		// its name is free again, and the other workflows go on
		exchange{"register again", "POST", "/workflows?url=parallel.war&workflow_name=vote", "", nil, 200, "", ""}.run(t, ts.management.URL)
		exchange{"serves", "POST", "/wfpredict/vote", "", []byte(flowers), 200, "", `"choice"`}.run(t, ts.inference.URL)
		exchange{"the sample serves", "POST", "/wfpredict/iris_pipeline", "", []byte(flowers), 200, "", `"species"`}.run(t, ts.inference.URL)
	})
}

// TestWorkflowFromURL: a workflow archive downloaded from an allowed url is deleted from the
// workflow store when the workflow is unregistered, as a model's is, so that the url can be
// registered again.
func TestWorkflowFromURL(t *testing.T) {
	packer := emptyServer(t, nil)
	packer.storeWorkflow(t, "parallel", filepath.Join("testdata", "workflow", "parallel.yaml"), filepath.Join("testdata", "workflow", "handler.py"))
	war, err := os.ReadFile(filepath.Join(packer.store, "parallel.war"))
	if err != nil {
		t.Fatal(err)
	}
	files := testenv.FileServer(t, "/flows/parallel.war", war)
	ts := emptyServer(t, map[string]string{"allowed_urls": files.URL + "/flows/.*"})
	downloaded := filepath.Join(ts.store, "parallel.war")
	register := exchange{"register", "POST", "/workflows?url=" + files.URL + "/flows/parallel.war&workflow_name=vote", "", nil, 200, "", "Workflow vote has been registered"}
	register.run(t, ts.management.URL)
	if _, err := os.Stat(downloaded); err != nil {
		t.Fatalf("the download is not in the workflow store: %v", err)
	}
	exchange{"unregister", "DELETE", "/workflows/vote", "", nil, 200, "", `Workflow \"vote\" unregistered`}.run(t, ts.management.URL)
	if _, err := os.Stat(downloaded); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the downloaded workflow archive stayed after the workflow was unregistered (%v)", err)
	}
	register.run(t, ts.management.URL)
}
