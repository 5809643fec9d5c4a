package archivecmd

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/cli/term"
)

// PackCmd packs a model; its flags are torch-model-archiver's.
type PackCmd struct {
	ModelName        string `name:"model-name" required:"" placeholder:"NAME" help:"Model name; the archive is NAME.mar."`
	Version          string `name:"version" short:"v" default:"1.0" help:"Model version."`
	SerializedFile   string `name:"serialized-file" placeholder:"FILE" help:"The ONNX model (.onnx); may be left out for a custom handler that runs its own model (defines inference)."`
	ModelFile        string `name:"model-file" placeholder:"FILE" help:"torch-model-archiver's Python file with the model's class: packed for a custom handler that imports it (ts runs the ONNX model)."`
	Handler          string `name:"handler" required:"" placeholder:"HANDLER" help:"A built-in handler (${builtin_handlers}) or a custom handler file or folder."`
	ExtraFiles       string `name:"extra-files" placeholder:"FILES" help:"Comma-separated files, folders and wildcard patterns to add (a folder's contents go to the archive's root)."`
	RequirementsFile string `name:"requirements-file" short:"r" placeholder:"FILE" help:"Requirements file for a custom handler."`
	ConfigFile       string `name:"config-file" short:"c" placeholder:"FILE" help:"model-config.yaml with batching, worker and handler settings."`
	Runtime          string `name:"runtime" default:"python" help:"Runtime recorded in the manifest (TorchServe's field): python, python3, LSP or onnx."`
	ExportPath       string `name:"export-path" default:"." placeholder:"DIR" help:"Folder to write the archive to (created if missing)."`
	ArchiveFormat    string `name:"archive-format" default:"default" enum:"default,zip-store,tgz,tzst,no-archive" help:"default (.mar zip, weights stored), zip-store, tgz, tzst (zstd tarball) or no-archive (a folder)."`
	Force            bool   `name:"force" short:"f" help:"Replace an existing archive."`
	FP16             bool   `name:"fp16" help:"Store the model's float32 weights as float16 (half the size; inputs, outputs and arithmetic stay float32)."`
	Description      string `name:"description" placeholder:"TEXT" help:"Description stored in the manifest."`
	SignKey          string `name:"sign-key" placeholder:"FILE" help:"Sign the archive with this Ed25519 private key (PEM; tsarchive keygen makes one)."`
	Output           string `name:"output" short:"o" default:"text" enum:"text,json" help:"Output: text or json."`
}

// Run packs the archive and prints where it went.
func (c *PackCmd) Run(g *globals) error {
	var extra []string
	if c.ExtraFiles != "" {
		extra = strings.Split(c.ExtraFiles, ",")
	}
	key, err := loadSigningKey(c.SignKey)
	if err != nil {
		return err
	}
	res, err := archive.Pack(g.ctx, archive.PackOptions{
		ModelName: c.ModelName, Version: c.Version, SerializedFile: c.SerializedFile, ModelFile: c.ModelFile, Handler: c.Handler,
		ExtraFiles: extra, RequirementsFile: c.RequirementsFile, ConfigFile: c.ConfigFile,
		ExportPath: c.ExportPath, Format: archive.Format(c.ArchiveFormat), Force: c.Force,
		Runtime: c.Runtime, Description: c.Description, ArchiverVersion: Version, FP16: c.FP16, SignKey: key,
	})
	if errors.Is(err, archive.ErrNeedsModel) {
		return term.Usagef("%v (see --help)", err)
	}
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(g.stderr, "tsarchive: note: %s\n", n)
	}
	return printPacked(g, c.Output, key, map[string]any{"path": res.Path, "bytes": res.Size, "manifest": res.Manifest},
		fmt.Sprintf("%s (%s, %s, %s", res.Path, c.ArchiveFormat, plural(len(res.Manifest.Files), "file"), humanBytes(res.Size)))
}
