package archivecmd

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tsserve/ts/pkg/archive"
)

// extractCmd is `tsarchive extract`.
type extractCmd struct {
	Archive string `arg:"" placeholder:"FILE" help:"Archive to extract."`
	Dir     string `arg:"" placeholder:"DIR" help:"Folder to create (it may exist if it is empty)."`
	Output  string `name:"output" short:"o" default:"text" enum:"text,json" help:"Output: text or json."`
}

// Run extracts safely and checks every file against the manifest; on failure DIR is left
// as it was.
func (c *extractCmd) Run(g *globals) error {
	if err := removeIfEmptyDir(c.Dir); err != nil {
		return err
	}
	if isWorkflow(c.Archive) {
		m, err := archive.ExtractWorkflow(g.ctx, c.Archive, c.Dir, archive.DefaultLimits())
		if err != nil {
			return archiveError(c.Archive, err)
		}
		if c.Output == "json" {
			return printJSON(g.stdout, map[string]any{"path": c.Archive, "dir": c.Dir, "workflow": m})
		}
		_, err = fmt.Fprintf(g.stdout, "%s: extracted workflow %s into %s\n", c.Archive, m.Workflow.WorkflowName, c.Dir)
		return err
	}
	m, err := archive.Extract(g.ctx, c.Archive, c.Dir, archive.DefaultLimits())
	if err != nil {
		return archiveError(c.Archive, err)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, map[string]any{"path": c.Archive, "dir": c.Dir, "manifest": m})
	}
	_, err = fmt.Fprintf(g.stdout, "%s: extracted %s %s into %s\n", c.Archive, m.Model.ModelName, m.Model.ModelVersion, c.Dir)
	return err
}

// removeIfEmptyDir lets extract target an existing empty folder; a non-empty one is refused.
func removeIfEmptyDir(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.IsDir() {
		return fmt.Errorf("%s exists and is not a folder", dir)
	}
	if _, err := f.Readdirnames(1); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%s is not empty; extract into a new or empty folder", dir)
	}
	return os.Remove(dir)
}
