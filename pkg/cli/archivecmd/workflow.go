package archivecmd

import (
	"fmt"
	"os"
	"strings"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/workflow"
)

// workflowCmd packs a workflow archive, with torch-workflow-archiver's flags.
type workflowCmd struct {
	WorkflowName string `name:"workflow-name" required:"" placeholder:"NAME" help:"Workflow name; the archive is NAME.war."`
	SpecFile     string `name:"spec-file" required:"" placeholder:"FILE" help:"The workflow specification (YAML): its models (archives in the model store) and the DAG of models and functions."`
	Handler      string `name:"handler" placeholder:"FILE" help:"Python file with the DAG's function nodes, fn(data, context); needed when the DAG has functions."`
	ExtraFiles   string `name:"extra-files" placeholder:"FILES" help:"Comma-separated files, folders and wildcard patterns to add (a folder's contents go to the archive's root)."`
	ExportPath   string `name:"export-path" default:"." placeholder:"DIR" help:"Folder to write the archive to (created if missing)."`
	Force        bool   `name:"force" short:"f" help:"Replace an existing archive."`
	SignKey      string `name:"sign-key" placeholder:"FILE" help:"Sign the archive with this Ed25519 private key (PEM; tsarchive keygen makes one)."`
	Output       string `name:"output" short:"o" default:"text" enum:"text,json" help:"Output: text or json."`
}

// Run checks the specification as ts serve will, packs the archive and prints where it went.
func (c *workflowCmd) Run(g *globals) error {
	b, err := os.ReadFile(c.SpecFile)
	if err != nil {
		return fmt.Errorf("spec file: %w", err)
	}
	spec, err := workflow.ParseSpec(b)
	if err != nil {
		return term.Usagef("%s: %v", c.SpecFile, err)
	}
	if fns := spec.Functions(); len(fns) > 0 && c.Handler == "" {
		return term.Usagef("%s: the DAG's %s %s not in its models section, so a function of --handler, and none is given",
			c.SpecFile, strings.Join(fns, ", "), map[bool]string{true: "is", false: "are"}[len(fns) == 1])
	}
	var extra []string
	if c.ExtraFiles != "" {
		extra = strings.Split(c.ExtraFiles, ",")
	}
	key, err := loadSigningKey(c.SignKey)
	if err != nil {
		return err
	}
	res, err := archive.PackWorkflow(g.ctx, archive.WorkflowPackOptions{
		WorkflowName: c.WorkflowName, SpecFile: c.SpecFile, Handler: c.Handler, ExtraFiles: extra,
		ExportPath: c.ExportPath, Force: c.Force, ArchiverVersion: Version, SignKey: key,
	})
	if err != nil {
		return err
	}
	return printPacked(g, c.Output, key, map[string]any{"path": res.Path, "bytes": res.Size, "manifest": res.Manifest},
		fmt.Sprintf("%s (workflow, %s: %s, %s", res.Path, plural(len(spec.Nodes), "node"), strings.Join(spec.Order, ", "), humanBytes(res.Size)))
}
