package archivecmd

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/tensor"
)

// inspectCmd is `tsarchive inspect`.
type inspectCmd struct {
	Archive string `arg:"" placeholder:"FILE|DIR" help:"Archive file or no-archive folder."`
	Output  string `name:"output" short:"o" default:"text" enum:"text,json" help:"Output: text or json."`
}

// Run prints the manifest, the files with their sizes, and the model's signature.
func (c *inspectCmd) Run(g *globals) error {
	info, err := archive.Inspect(c.Archive)
	if err != nil {
		return archiveError(c.Archive, err)
	}
	if c.Output == "json" {
		return printJSON(g.stdout, info)
	}
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	size := ""
	if info.Size > 0 {
		size = ", " + humanBytes(info.Size)
	}
	fmt.Fprintf(w, "%s\t(%s%s)\n", info.Path, info.Format, size)
	if wf := info.Workflow; wf != nil {
		fmt.Fprintf(w, "workflow\t%s\n", wf.Workflow.WorkflowName)
		fmt.Fprintf(w, "spec file\t%s\n", wf.Workflow.SpecFile)
		fmt.Fprintf(w, "handler\t%s\n", orDash(wf.Workflow.Handler))
		fmt.Fprintf(w, "created\t%s, archiver %s\n", wf.CreatedOn, orDash(wf.ArchiverVersion))
		fmt.Fprintf(w, "signing\t%s\n", signedBy(&archive.Signing{Signatures: info.Signatures}))
		if err := w.Flush(); err != nil {
			return err
		}
		return printEntries(g, info.Entries, wf.Files)
	}
	m := info.Manifest
	fmt.Fprintf(w, "model\t%s %s\n", m.Model.ModelName, m.Model.ModelVersion)
	fmt.Fprintf(w, "handler\t%s\n", m.Model.Handler)
	serialized := m.Model.SerializedFile
	switch {
	case len(info.Ensemble) > 0:
		serialized = "none (a Triton ensemble: its steps run " + strings.Join(info.Ensemble, ", ") + ")"
	case serialized == "":
		serialized = "none (the handler runs its own model)"
	}
	fmt.Fprintf(w, "serialized file\t%s\n", serialized)
	for _, f := range []struct{ k, v string }{{"model file", m.Model.ModelFile}, {"requirements", m.Model.RequirementsFile}, {"config", m.Model.ConfigFile}, {"description", m.Description}} {
		if f.v != "" {
			fmt.Fprintf(w, "%s\t%s\n", f.k, f.v)
		}
	}
	fmt.Fprintf(w, "created\t%s, archiver %s, runtime %s\n", m.CreatedOn, orDash(m.ArchiverVersion), m.Runtime)
	fmt.Fprintf(w, "signing\t%s\n", signedBy(&archive.Signing{Signatures: info.Signatures}))
	if err := w.Flush(); err != nil {
		return err
	}
	if err := printEntries(g, info.Entries, m.Files); err != nil {
		return err
	}
	w = tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	if m.Signature != nil {
		fmt.Fprintln(w, "\nsignature")
		for _, part := range []struct {
			kind  string
			infos []tensor.Info
		}{{"input", m.Signature.Inputs}, {"output", m.Signature.Outputs}} {
			for _, i := range part.infos {
				fmt.Fprintf(w, "  %s\t%s\t%s %s\n", part.kind, i.Name, i.DType, i.NamedShape())
			}
		}
	} else if m.Model.SerializedFile != "" {
		fmt.Fprintln(w, "\nsignature: not recorded (archive made by torch-model-archiver?)")
	}
	return w.Flush()
}

// printEntries lists an archive's files, with their hashes when the manifest has them.
func printEntries(g *globals, entries []archive.Entry, files []archive.File) error {
	fmt.Fprintln(g.stdout, "\nfiles")
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	for _, e := range entries {
		line := fmt.Sprintf("  %s\t%s", e.Path, humanBytes(e.Size))
		if e.Method != "" {
			line += "\t" + e.Method
		}
		for _, f := range files {
			if f.Path == e.Path {
				line += "\tsha256 " + f.SHA256[:min(16, len(f.SHA256))] + "…"
			}
		}
		fmt.Fprintln(w, line)
	}
	return w.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
