package archivecmd

import (
	"fmt"

	"github.com/tsserve/ts/pkg/archive"
)

// verifyCmd is `tsarchive verify`.
type verifyCmd struct {
	Archive string `arg:"" placeholder:"FILE|DIR" help:"Archive file or no-archive folder."`
	Output  string `name:"output" short:"o" default:"text" enum:"text,json" help:"Output: text or json."`
}

// Run re-hashes every file against the manifest; the error names the first file that
// differs, is missing or is extra.
func (c *verifyCmd) Run(g *globals) error {
	var files []archive.File
	if isWorkflow(c.Archive) {
		m, err := archive.VerifyWorkflow(g.ctx, c.Archive, archive.DefaultLimits())
		if err != nil {
			return archiveError(c.Archive, err)
		}
		files = m.Files
	} else {
		m, err := archive.Verify(g.ctx, c.Archive, archive.DefaultLimits())
		if err != nil {
			return archiveError(c.Archive, err)
		}
		files = m.Files
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	if c.Output == "json" {
		return printJSON(g.stdout, map[string]any{"path": c.Archive, "ok": true, "files": len(files), "bytes": total, "hashed": len(files) > 0})
	}
	if len(files) == 0 {
		_, err := fmt.Fprintf(g.stdout, "%s: readable; its manifest lists no hashes to check (made by TorchServe's archivers?)\n", c.Archive)
		return err
	}
	_, err := fmt.Fprintf(g.stdout, "%s: OK, %s (%s) match the manifest\n", c.Archive, plural(len(files), "file"), humanBytes(total))
	return err
}

// isWorkflow reports whether an archive is a workflow archive (.war), by its manifest.
func isWorkflow(src string) bool {
	info, err := archive.Inspect(src)
	return err == nil && info.Workflow != nil
}
