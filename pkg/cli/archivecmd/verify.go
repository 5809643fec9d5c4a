package archivecmd

import (
	"fmt"

	"github.com/tsserve/ts/pkg/archive"
)

// verifyCmd is `tsarchive verify`.
type verifyCmd struct {
	Archive string   `arg:"" placeholder:"FILE|DIR" help:"Archive file or no-archive folder."`
	Keys    []string `name:"key" placeholder:"PUB" help:"Trusted Ed25519 public key (PEM file, or a folder of .pub/.pem files); repeatable: the archive must be signed by one of them."`
	Output  string   `name:"output" short:"o" default:"text" enum:"text,json" help:"Output: text or json."`
}

// Run re-hashes every file against the manifest; the error names the first file that
// differs, is missing or is extra.
func (c *verifyCmd) Run(g *globals) error {
	if archive.IsONNXFile(c.Archive) || archive.IsTritonModel(c.Archive) {
		return fmt.Errorf("%s is a model, not an archive: it has no manifest of hashes to verify (tsarchive inspect shows its signature; tsarchive packs it into an archive that has one)", c.Archive)
	}
	lim := archive.DefaultLimits()
	if len(c.Keys) > 0 {
		ring, err := archive.LoadKeyring(c.Keys...)
		if err != nil {
			return fmt.Errorf("--key: %w", err)
		}
		lim.Trusted = ring
	}
	var files []archive.File
	var signing *archive.Signing
	if isWorkflow(c.Archive) {
		m, err := archive.VerifyWorkflow(g.ctx, c.Archive, lim)
		if err != nil {
			return archiveError(c.Archive, err)
		}
		files, signing = m.Files, m.Signed
	} else {
		m, err := archive.Verify(g.ctx, c.Archive, lim)
		if err != nil {
			return archiveError(c.Archive, err)
		}
		files, signing = m.Files, m.Signed
	}
	var total int64
	for _, f := range files {
		total += f.Size
	}
	if c.Output == "json" {
		out := map[string]any{"path": c.Archive, "ok": true, "files": len(files), "bytes": total, "hashed": len(files) > 0}
		if len(signing.Signatures) > 0 {
			out["signatures"] = signing.Signatures
		}
		if signing.TrustedKey != "" {
			out["trustedKey"] = signing.TrustedKey
		}
		return printJSON(g.stdout, out)
	}
	if len(files) == 0 {
		_, err := fmt.Fprintf(g.stdout, "%s: readable; its manifest lists no hashes to check (made by TorchServe's archivers?)\n", c.Archive)
		return err
	}
	_, err := fmt.Fprintf(g.stdout, "%s: OK, %s (%s) match the manifest; %s\n", c.Archive, plural(len(files), "file"), humanBytes(total), signedBy(signing))
	return err
}

// isWorkflow reports whether an archive is a workflow archive (.war), by its manifest.
func isWorkflow(src string) bool {
	info, err := archive.Inspect(src)
	return err == nil && info.Workflow != nil
}
