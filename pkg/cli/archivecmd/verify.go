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
	m, err := archive.Verify(g.ctx, c.Archive, archive.DefaultLimits())
	if err != nil {
		return archiveError(c.Archive, err)
	}
	var total int64
	for _, f := range m.Files {
		total += f.Size
	}
	if c.Output == "json" {
		return printJSON(g.stdout, map[string]any{"path": c.Archive, "ok": true, "files": len(m.Files), "bytes": total, "hashed": len(m.Files) > 0})
	}
	if len(m.Files) == 0 {
		_, err = fmt.Fprintf(g.stdout, "%s: readable; its manifest lists no hashes to check (made by torch-model-archiver?)\n", c.Archive)
		return err
	}
	_, err = fmt.Fprintf(g.stdout, "%s: OK, %s (%s) match the manifest\n", c.Archive, plural(len(m.Files), "file"), humanBytes(total))
	return err
}
