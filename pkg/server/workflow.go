package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/registry"
	"github.com/tsserve/ts/pkg/workflow"
	"github.com/tsserve/ts/templates"
)

// Files ts writes into an extracted workflow archive so that its function nodes run as
// custom handlers: the Python kit, a script that serves one function of the workflow's
// handler file, and a model manifest naming that script.
const (
	workflowKit  = "ts_workflow_kit.py"
	workflowNode = "ts_workflow_node.py"
)

// servedWorkflow is a registered workflow.
type servedWorkflow struct {
	name string
	url  string
	spec *workflow.Spec
	dir  string // the extracted archive
	// downloaded is the archive fetched into the workflow store for this registration,
	// deleted when the workflow is unregistered ("" for any other).
	downloaded string
}

// workflows are the registered workflows, and the names being registered.
type workflows struct {
	mu      sync.Mutex
	byName  map[string]*servedWorkflow
	pending map[string]bool
}

func (s *Server) workflowRoutes(rt *router) {
	rt.handle("GET /workflows", s.listWorkflows)
	rt.handle("POST /workflows", s.modelAPI(s.registerWorkflow))
	rt.handle("GET /workflows/{name}", s.describeWorkflow)
	rt.handle("DELETE /workflows/{name}", s.modelAPI(s.unregisterWorkflow))
}

// workflow returns a registered workflow.
func (s *Server) workflow(name string) (*servedWorkflow, error) {
	s.wf.mu.Lock()
	defer s.wf.mu.Unlock()
	if wf := s.wf.byName[name]; wf != nil {
		return wf, nil
	}
	return nil, apierror.WorkflowNotFound(name)
}

// registerWorkflow is POST /workflows?url=NAME.war[&workflow_name=..&response_timeout=..
// &startup_timeout=..]: TorchServe's workflow registration. Every node is registered as a
// model named <workflow>__<node> and its workers started before the answer (TorchServe
// registers workflows synchronously); if any fails, those already registered are removed.
func (s *Server) registerWorkflow(w http.ResponseWriter, r *http.Request) error {
	q, path, shown, err := s.archiveParams(r, s.workflowStore())
	if err != nil {
		return err
	}
	downloaded := ""
	if isRemote(q.Get("url")) {
		downloaded = path
	}
	keep := false
	defer func() {
		if !keep && downloaded != "" {
			os.Remove(downloaded) // as a model's: downloaded for this registration only
		}
	}()
	dir, man, spec, err := s.unpackWorkflow(r.Context(), path, shown)
	if err != nil {
		return err
	}
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()
	name := man.Workflow.WorkflowName
	if n := q.Get("workflow_name"); n != "" {
		if err := archive.ValidModelName(n); err != nil {
			return apierror.BadRequest("workflow_name: %v", err)
		}
		name = n
	}
	if err := s.reserveWorkflow(name); err != nil {
		return err
	}
	defer s.releaseWorkflow(name)
	if err := s.registerNodes(r.Context(), name, shown, dir, spec, q); err != nil {
		return err
	}
	s.wf.mu.Lock()
	if s.wf.byName == nil {
		s.wf.byName = map[string]*servedWorkflow{}
	}
	s.wf.byName[name] = &servedWorkflow{name: name, url: shown, spec: spec, dir: dir, downloaded: downloaded}
	s.wf.mu.Unlock()
	keep = true
	s.log.Info("workflow registered", "workflow", name, "url", shown, "nodes", len(spec.Nodes))
	return statusJSON(w, http.StatusOK, "Workflow %s has been registered and scaled successfully.", name)
}

// unpackWorkflow extracts a workflow archive into a new folder under the registry's
// extraction folder, reads and checks its specification, and writes what runs its function
// nodes there (writeFunctionRunner). On failure nothing is left behind.
func (s *Server) unpackWorkflow(ctx context.Context, path, shown string) (dir string, man *archive.WorkflowManifest, spec *workflow.Spec, err error) {
	tmpRoot, lim := s.reg.Extraction()
	if tmpRoot == "" {
		tmpRoot = os.TempDir()
	}
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return "", nil, nil, err
	}
	if dir, err = os.MkdirTemp(tmpRoot, "workflow-*"); err != nil {
		return "", nil, nil, err
	}
	os.Remove(dir) // ExtractWorkflow creates it
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if man, err = archive.ExtractWorkflow(ctx, path, dir, lim); err != nil {
		return "", nil, nil, apierror.New(http.StatusBadRequest, apierror.TypeInvalidModel, "invalid workflow archive %s: %v", shown, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(man.Workflow.SpecFile)))
	if err != nil {
		return "", nil, nil, err
	}
	if spec, err = workflow.ParseSpec(b); err != nil {
		return "", nil, nil, apierror.BadRequest("Invalid workflow specification %s: %v", man.Workflow.SpecFile, err)
	}
	if fns := spec.Functions(); len(fns) > 0 {
		if man.Workflow.Handler == "" {
			return "", nil, nil, apierror.BadRequest("Invalid workflow specification %s: %s is neither a model of its models section nor a function, and the archive has no handler file for functions", man.Workflow.SpecFile, fns[0])
		}
		if err = writeFunctionRunner(dir, man.Workflow.Handler); err != nil {
			return "", nil, nil, err
		}
	}
	return dir, man, spec, nil
}

// reserveWorkflow claims a name for a registration in progress (409 when taken).
func (s *Server) reserveWorkflow(name string) error {
	s.wf.mu.Lock()
	defer s.wf.mu.Unlock()
	if s.wf.byName[name] != nil || s.wf.pending[name] {
		return apierror.New(http.StatusConflict, apierror.TypeConflict, "Workflow %s is already registered.", name)
	}
	if s.wf.pending == nil {
		s.wf.pending = map[string]bool{}
	}
	s.wf.pending[name] = true
	return nil
}

func (s *Server) releaseWorkflow(name string) {
	s.wf.mu.Lock()
	delete(s.wf.pending, name)
	s.wf.mu.Unlock()
}

// writeFunctionRunner writes what runs the function nodes into the extracted workflow: the
// Python kit, a script serving one function of the handler file (its name the argument), and
// a model manifest naming it, so that each function registers as a custom-handler model.
func writeFunctionRunner(dir, handlerFile string) error {
	for _, name := range []string{workflowKit, workflowNode, archive.ManifestPath} {
		if _, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(name))); err == nil {
			return apierror.BadRequest("the workflow archive holds %s, a name ts keeps for running its functions", name)
		}
	}
	script := fmt.Sprintf(`# Written by ts serve: serves one function (argv[1]) of the workflow's handler file.
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
from ts_workflow_kit import run_function

run_function(os.path.join(here, %q), sys.argv[1])
`, handlerFile)
	manifest, err := json.MarshalIndent(archive.Manifest{
		Runtime: "python", Model: archive.Model{ModelName: "workflow_functions", ModelVersion: "1.0", Handler: workflowNode},
	}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(filepath.FromSlash(archive.ManifestPath))), 0o755); err != nil {
		return err
	}
	for name, content := range map[string][]byte{workflowKit: templates.PythonKit, workflowNode: []byte(script), archive.ManifestPath: manifest} {
		if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), content, 0o644); err != nil {
			return fmt.Errorf("write %s for the workflow's functions: %w", name, err)
		}
	}
	return nil
}

// registerNodes registers each node of a workflow as a model and starts its workers, all at
// once. If one fails, the others are unregistered again and the first failure is returned
// (a 4xx when the request was at fault: a model archive not found, say).
func (s *Server) registerNodes(ctx context.Context, wf, shown, dir string, spec *workflow.Spec, q map[string][]string) error {
	query := func(key string) *int { return optInt(q, key) }
	responseTimeout, startupTimeout := query("response_timeout"), query("startup_timeout")
	if responseTimeout != nil && *responseTimeout <= 0 {
		responseTimeout = nil
	}
	errs := make([]error, len(spec.Order))
	var wg sync.WaitGroup
	for i, name := range spec.Order {
		wg.Go(func() {
			n := spec.Nodes[name]
			st := n.Settings
			workers := max(st.MaxWorkers, st.MinWorkers, 1) // TorchServe starts max-workers
			sp := registry.Spec{
				Name: workflow.ModelName(wf, name), Workflow: wf, Synchronous: true,
				Overrides: registry.Overrides{InitialWorkers: &workers, BatchSize: &st.BatchSize, MaxBatchDelay: &st.MaxBatchDelay,
					ResponseTimeout: responseTimeout, StartupTimeout: startupTimeout},
			}
			if n.IsFunction() {
				sp.Path, sp.URL, sp.Handler, sp.Internal = dir, shown, workflowNode+":"+name, true
			} else {
				path, url, err := s.resolveURL(ctx, n.URL, false)
				if err != nil {
					errs[i] = err
					return
				}
				sp.Path, sp.URL, sp.Downloaded = path, url, isRemote(n.URL)
			}
			_, errs[i] = s.reg.Register(ctx, sp)
		})
	}
	wg.Wait()
	var failed []string
	var first *apierror.Error
	for i, err := range errs {
		if err == nil {
			continue
		}
		e := errorOf(err)
		if first == nil || (e.Code < 500 && first.Code >= 500) {
			first = e
		}
		failed = append(failed, fmt.Sprintf("Workflow Node %s failed to register. Details: %s", workflow.ModelName(wf, spec.Order[i]), e.Message))
	}
	if first == nil {
		return nil
	}
	s.unregisterNodes(wf, spec)
	code := http.StatusInternalServerError
	if first.Code < 500 {
		code = first.Code
	}
	return apierror.New(code, first.Type, "Workflow %s has failed to register. Failures: [%s]", wf, strings.Join(failed, ", "))
}

// unregisterNodes removes a workflow's models (those that are registered).
func (s *Server) unregisterNodes(wf string, spec *workflow.Spec) {
	ctx := context.Background()
	for _, name := range spec.Order {
		model := workflow.ModelName(wf, name)
		if v, err := s.reg.Get(model, ""); err == nil && v.Workflow == wf {
			if _, err := s.reg.Unregister(ctx, model, ""); err != nil {
				s.log.Warn("unregistering a workflow's model", "workflow", wf, "model", model, "err", err)
			}
		}
	}
}

// unregisterWorkflow is DELETE /workflows/{name}: the workflow and its models go.
func (s *Server) unregisterWorkflow(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	s.wf.mu.Lock()
	wf := s.wf.byName[name]
	delete(s.wf.byName, name)
	s.wf.mu.Unlock()
	if wf == nil {
		return apierror.WorkflowNotFound(name)
	}
	s.unregisterNodes(name, wf.spec)
	os.RemoveAll(wf.dir)
	if wf.downloaded != "" {
		os.Remove(wf.downloaded)
	}
	s.log.Info("workflow unregistered", "workflow", name)
	return statusJSON(w, http.StatusOK, "Workflow \"%s\" unregistered", name)
}

// listWorkflows is GET /workflows[?limit=N&next_page_token=T].
func (s *Server) listWorkflows(w http.ResponseWriter, r *http.Request) error {
	s.wf.mu.Lock()
	names := make([]string, 0, len(s.wf.byName))
	for name := range s.wf.byName {
		names = append(names, name)
	}
	slices.Sort(names)
	offset, limit := page(r)
	res := api.WorkflowList{Workflows: []api.WorkflowRef{}}
	for i := offset; i < len(names) && i < offset+limit; i++ {
		res.Workflows = append(res.Workflows, api.WorkflowRef{WorkflowName: names[i], WorkflowURL: s.wf.byName[names[i]].url})
	}
	s.wf.mu.Unlock()
	if offset+limit < len(names) {
		res.NextPageToken = fmt.Sprint(offset + limit)
	}
	return writeJSON(w, http.StatusOK, res)
}

// describeWorkflow is GET /workflows/{name}: TorchServe's description, and the nodes.
func (s *Server) describeWorkflow(w http.ResponseWriter, r *http.Request) error {
	wf, err := s.workflow(r.PathValue("name"))
	if err != nil {
		return err
	}
	g := wf.spec.Global
	d := api.WorkflowDescription{WorkflowName: wf.name, WorkflowURL: wf.url, MinWorkers: g.MinWorkers, MaxWorkers: g.MaxWorkers,
		BatchSize: g.BatchSize, MaxBatchDelay: g.MaxBatchDelay, WorkflowDag: wf.spec.DAG}
	for _, name := range wf.spec.Order {
		n := wf.spec.Nodes[name]
		d.Nodes = append(d.Nodes, api.WorkflowNode{Name: name, Model: workflow.ModelName(wf.name, name), ModelURL: n.URL, Feeds: n.Children})
	}
	return writeJSON(w, http.StatusOK, []api.WorkflowDescription{d})
}

// answerType is the content type a node's answer goes on with: its own, but JSON for bytes
// that are JSON (a function that returns json.dumps(x).encode(), as TorchServe's often do,
// answers application/octet-stream, which the tensor handler would read as a raw tensor).
func answerType(res *handler.Response) string {
	if (res.ContentType == "" || strings.HasPrefix(res.ContentType, "application/octet-stream")) && json.Valid(res.Body) {
		return "application/json"
	}
	return res.ContentType
}

// workflowPredict is /wfpredict/{name} (any method): the request runs through the workflow's
// DAG (workflow.Spec.Run), each node on its model as a prediction would, and the answer is
// its leaf's (or its leaves', as one JSON object).
func (s *Server) workflowPredict(w http.ResponseWriter, r *http.Request) error {
	wf, err := s.workflow(r.PathValue("name"))
	if err != nil {
		return err
	}
	priority, err := registry.ParsePriority(handler.HeaderValue(r.Header, keyPriority))
	if err != nil {
		return apierror.BadRequest("%s: %v", api.HeaderPriority, err)
	}
	req, err := s.readRequest(w, r)
	if err != nil {
		return err
	}
	// Later nodes read their parents' answers: the request's own content type and shape
	// do not describe them.
	later := r.Header.Clone()
	for _, k := range []string{"Content-Type", "Content-Length", http.CanonicalHeaderKey(handler.HeaderShape)} {
		later.Del(k)
	}
	invoke := func(ctx context.Context, n *workflow.Node, in []handler.Input) (handler.Input, error) {
		v, err := s.reg.Route(workflow.ModelName(wf.name, n.Name), "", "")
		if err != nil {
			return handler.Input{}, err
		}
		nodeReq := &handler.Request{ID: req.ID, Inputs: in, Header: later}
		if n.Name == wf.spec.Start {
			nodeReq.Header, nodeReq.Query = req.Header, req.Query
		}
		start := time.Now()
		res, err := v.Infer(ctx, nodeReq, priority)
		if s.metrics != nil {
			code := http.StatusOK
			if err != nil {
				code = errorOf(err).Code
			}
			s.metrics.Request(v.Name, v.Version, code, time.Since(start))
		}
		if err != nil {
			return handler.Input{}, err
		}
		if res.Status >= 400 {
			return handler.Input{}, apierror.New(res.Status, apierror.TypeInternal, "%s", strings.TrimSpace(string(res.Body)))
		}
		return handler.Input{ContentType: answerType(res), Data: res.Body}, nil
	}
	out, err := wf.spec.Run(r.Context(), req.Inputs, invoke)
	if err != nil {
		return err
	}
	body, ctype, err := workflow.Answer(out)
	if err != nil {
		return err
	}
	if err := s.checkResponseSize(len(body)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	_, err = w.Write(body)
	return err
}
