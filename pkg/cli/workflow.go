package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/client"
)

// WorkflowCmd is `ts workflow`: TorchServe's workflows (models and functions in a DAG,
// packed by `tsarchive workflow` into a .war) on a server.
type WorkflowCmd struct {
	Register   WorkflowRegisterCmd   `cmd:"" help:"Register a workflow archive (.war): a name in the server's workflow store, a path it can read, or a URL."`
	Unregister WorkflowUnregisterCmd `cmd:"" help:"Unregister a workflow and its models."`
	List       WorkflowListCmd       `cmd:"" aliases:"ls" help:"List the registered workflows."`
	Describe   WorkflowDescribeCmd   `cmd:"" help:"Describe a workflow: its models' settings and its DAG."`
	Infer      WorkflowInferCmd      `cmd:"" help:"Send files through a workflow and show the answers."`
}

// WorkflowRegisterCmd is `ts workflow register`.
type WorkflowRegisterCmd struct {
	Archive        string `arg:"" placeholder:"ARCHIVE|URL" help:"Workflow archive: a name in the server's workflow store, a local path the server can read, or an http(s) URL."`
	Name           string `name:"name" placeholder:"NAME" help:"Workflow name (default: the archive's)."`
	Timeout        int    `name:"timeout" placeholder:"SECONDS" help:"Response timeout of each of its models."`
	StartupTimeout int    `name:"startup-timeout" placeholder:"SECONDS" help:"How long each model may take to start."`
}

func (c *WorkflowRegisterCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	url := c.Archive
	if st, err := os.Stat(c.Archive); err == nil && st.Mode().IsRegular() && !strings.Contains(c.Archive, "://") {
		url, _ = filepath.Abs(c.Archive) // a local server reads it from its store, or where allowed_urls lets it
	}
	status, err := cl.RegisterWorkflow(ctx, client.RegisterWorkflowOptions{URL: url, Name: c.Name, ResponseTimeout: c.Timeout, StartupTimeout: c.StartupTimeout})
	if err != nil {
		return fmt.Errorf("register workflow %s: %w", c.Archive, err)
	}
	return done(g, status)
}

// WorkflowUnregisterCmd is `ts workflow unregister`.
type WorkflowUnregisterCmd struct {
	Workflow string `arg:"" placeholder:"NAME" help:"Workflow."`
}

func (c *WorkflowUnregisterCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	status, err := cl.UnregisterWorkflow(ctx, c.Workflow)
	if err != nil {
		return fmt.Errorf("unregister workflow %s: %w", c.Workflow, err)
	}
	return done(g, status)
}

// WorkflowListCmd is `ts workflow list`.
type WorkflowListCmd struct{}

func (c *WorkflowListCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	refs, err := cl.AllWorkflows(ctx)
	if err != nil {
		return fmt.Errorf("list workflows: %w", err)
	}
	if refs == nil {
		refs = []api.WorkflowRef{}
	}
	io := g.IO()
	if ok, err := io.Data(refs); ok {
		return err
	}
	if len(refs) == 0 && io.OutTTY {
		io.Println("no workflows registered")
		return nil
	}
	var rows [][]string
	for _, r := range refs {
		rows = append(rows, []string{r.WorkflowName, r.WorkflowURL})
	}
	io.Table([]string{"NAME", "URL"}, rows)
	return nil
}

// WorkflowDescribeCmd is `ts workflow describe`.
type WorkflowDescribeCmd struct {
	Workflow string `arg:"" placeholder:"NAME" help:"Workflow."`
}

func (c *WorkflowDescribeCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	ds, err := cl.DescribeWorkflow(ctx, c.Workflow)
	if err != nil {
		return fmt.Errorf("describe workflow %s: %w", c.Workflow, err)
	}
	io := g.IO()
	if ok, err := io.Data(ds); ok {
		return err
	}
	for _, d := range ds {
		io.Println(io.Style(term.Bold, d.WorkflowName) + "  " + d.WorkflowURL)
		io.Println(fmt.Sprintf("models: %d–%d workers, batch %d, max delay %d ms", d.MinWorkers, d.MaxWorkers, d.BatchSize, d.MaxBatchDelay))
		var rows [][]string
		for _, n := range d.Nodes {
			kind := "function"
			if n.ModelURL != "" {
				kind = "model " + n.ModelURL
			}
			rows = append(rows, []string{n.Name, kind, n.Model, strings.Join(n.Feeds, ", ")})
		}
		if len(rows) > 0 {
			io.Table([]string{"NODE", "RUNS", "MODEL", "FEEDS"}, rows)
		} else {
			io.Println("dag: " + d.WorkflowDag)
		}
	}
	return nil
}

// WorkflowInferCmd is `ts workflow infer`: ts infer's rendering, through a workflow.
type WorkflowInferCmd struct {
	Workflow    string        `arg:"" placeholder:"WORKFLOW" help:"Workflow."`
	Files       []string      `arg:"" optional:"" placeholder:"FILE" help:"Files to send; - reads stdin."`
	Data        []string      `name:"data" short:"d" sep:"none" placeholder:"TEXT" help:"A request given on the command line, text or JSON, sent as is (after the files); repeatable."`
	Timeout     time.Duration `name:"timeout" default:"60s" help:"Give up on a request after this long."`
	Concurrency int           `name:"concurrency" short:"c" default:"4" help:"Requests in flight at once when sending many files."`
	Save        string        `name:"save" type:"path" placeholder:"DIR" help:"Also write each raw answer to DIR/<file>.<ext>."`
}

func (c *WorkflowInferCmd) Run(g *Globals) error {
	if len(c.Files) == 0 && len(c.Data) == 0 {
		return term.Usagef("nothing to send: ts workflow infer %s FILE... (- reads stdin; --data TEXT sends TEXT)", strconv.Quote(c.Workflow))
	}
	infer := &InferCmd{modelFiles: modelFiles{Files: c.Files, Data: c.Data}, Timeout: c.Timeout, Concurrency: c.Concurrency,
		Save: c.Save, workflow: c.Workflow}
	return infer.Run(g)
}
