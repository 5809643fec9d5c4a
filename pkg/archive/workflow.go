package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// WorkflowManifestPath is where a workflow archive (.war) keeps its manifest.
const WorkflowManifestPath = "WAR-INF/MANIFEST.json"

// ErrNoWorkflowManifest: the archive is not a workflow archive.
var ErrNoWorkflowManifest = errors.New("archive has no " + WorkflowManifestPath)

// WorkflowManifest is WAR-INF/MANIFEST.json, as torch-workflow-archiver writes it, plus ts's
// optional Files (the files packed, with their hashes, checked when the archive is read).
type WorkflowManifest struct {
	CreatedOn       string   `json:"createdOn"`
	Description     string   `json:"description,omitempty"`
	ArchiverVersion string   `json:"archiverVersion"`
	Workflow        Workflow `json:"workflow"`
	Files           []File   `json:"files,omitempty"`
	// Signed is what the reader found about the manifest's signatures (not part of it).
	Signed *Signing `json:"-"`
}

// Workflow is the manifest's "workflow" object: the workflow's name, its specification
// (YAML: models and DAG) and the handler file its function nodes are in.
type Workflow struct {
	WorkflowName string `json:"workflowName"`
	SpecFile     string `json:"specFile"`
	Handler      string `json:"handler,omitempty"`
}

func (m *WorkflowManifest) location() string        { return WorkflowManifestPath }
func (m *WorkflowManifest) setFiles(files []File)   { m.Files = files }
func (m *WorkflowManifest) encode() ([]byte, error) { return manifestJSON(m) }
func (m *WorkflowManifest) created() time.Time {
	t, _ := time.Parse(CreatedOnLayout, m.CreatedOn)
	return t
}

// ParseWorkflowManifest reads and checks a workflow manifest: a valid workflow name (a
// model name's rule: the workflow's models are named after it) and a spec file in the archive.
func ParseWorkflowManifest(b []byte) (*WorkflowManifest, error) {
	var m WorkflowManifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", WorkflowManifestPath, err)
	}
	w := m.Workflow
	if err := ValidModelName(w.WorkflowName); err != nil {
		return nil, fmt.Errorf("%s: workflow.workflowName: %w", WorkflowManifestPath, err)
	}
	if !localPath(w.SpecFile) {
		return nil, fmt.Errorf("%s: workflow.specFile %q is not a file in the archive", WorkflowManifestPath, w.SpecFile)
	}
	if w.Handler != "" && !localPath(w.Handler) {
		return nil, fmt.Errorf("%s: workflow.handler %q is not a file in the archive", WorkflowManifestPath, w.Handler)
	}
	for _, f := range m.Files {
		if !localPath(f.Path) {
			return nil, fmt.Errorf("%s lists a file outside the archive: %q", WorkflowManifestPath, f.Path)
		}
	}
	return &m, nil
}

// ExtractWorkflow unpacks a workflow archive (.war: a zip, or any format Extract reads) into
// dest, which must not exist yet, with Extract's safety rules; the spec and handler files
// must be there, and every file must match the manifest's list when it has one. On any
// failure nothing is left at dest.
func ExtractWorkflow(ctx context.Context, src, dest string, lim Limits) (m *WorkflowManifest, err error) {
	err = extract(ctx, src, dest, lim, func(r *reader, read func(name string) ([]byte, error)) (prefix string, err error) {
		m, prefix, err = r.checkWorkflow(read)
		return prefix, err
	})
	return m, err
}

// VerifyWorkflow re-reads every file of a workflow archive and checks it as ExtractWorkflow
// does, writing nothing.
func VerifyWorkflow(ctx context.Context, src string, lim Limits) (m *WorkflowManifest, err error) {
	err = verify(ctx, src, lim, WorkflowManifestPath, ErrNoWorkflowManifest, func(r *reader, read func(name string) ([]byte, error)) (err error) {
		m, _, err = r.checkWorkflow(read)
		return err
	})
	return m, err
}

// checkWorkflow finds the workflow manifest among what was read and checks the files
// against it: the spec and handler there, and every file as listed when it lists them.
func (r *reader) checkWorkflow(read func(name string) ([]byte, error)) (*WorkflowManifest, string, error) {
	prefix, ok := r.rootOf(WorkflowManifestPath)
	if !ok {
		return nil, "", ErrNoWorkflowManifest
	}
	b, err := read(prefix + WorkflowManifestPath)
	if err != nil {
		return nil, "", err
	}
	m, err := ParseWorkflowManifest(b)
	if err != nil {
		return nil, "", err
	}
	got := r.below(prefix, WorkflowManifestPath)
	if err := checkFiles(m.Files, got); err != nil {
		return nil, "", err
	}
	if m.Signed, err = r.signing(prefix+WorkflowManifestPath, b, len(m.Files) > 0, read); err != nil {
		return nil, "", err
	}
	for _, f := range []string{m.Workflow.SpecFile, m.Workflow.Handler} {
		if _, ok := got[f]; f != "" && !ok {
			return nil, "", fmt.Errorf("%w: %s", ErrMissingFile, f)
		}
	}
	return m, prefix, nil
}

// WorkflowPackOptions are torch-workflow-archiver's flags.
type WorkflowPackOptions struct {
	WorkflowName string
	SpecFile     string
	Handler      string
	ExtraFiles   []string
	ExportPath   string
	Force        bool
	// Description goes into the manifest (torch-workflow-archiver has no flag for it).
	Description     string
	ArchiverVersion string
	// SignKey, when set, signs the manifest (see LoadSigningKey).
	SignKey *SigningKey
	// Now stamps createdOn; nil means time.Now.
	Now func() time.Time
}

// WorkflowResult is what PackWorkflow wrote.
type WorkflowResult struct {
	Path     string
	Manifest *WorkflowManifest
	Size     int64 // bytes of content packed
}

// PackWorkflow writes a workflow archive, NAME.war (a zip with WAR-INF/MANIFEST.json), as
// torch-workflow-archiver does: the spec file, the handler file and the extra files at the
// archive's root. Like Pack, the archive appears whole or not at all, and an existing one is
// replaced only with Force. The spec's content is not checked here (see package workflow).
func PackWorkflow(ctx context.Context, o WorkflowPackOptions) (*WorkflowResult, error) {
	if o.ExportPath == "" {
		o.ExportPath = "."
	}
	if err := ValidModelName(o.WorkflowName); err != nil {
		return nil, fmt.Errorf("workflow name: %w", err)
	}
	if o.SpecFile == "" {
		return nil, errors.New("a workflow needs its specification file (--spec-file)")
	}
	if err := checkExportPath(o.ExportPath); err != nil {
		return nil, err
	}
	out := filepath.Join(o.ExportPath, o.WorkflowName+".war")
	if _, err := os.Lstat(out); err == nil && !o.Force {
		return nil, fmt.Errorf("%s already exists; use --force to replace it", out)
	}
	m := &WorkflowManifest{
		CreatedOn: now(PackOptions{Now: o.Now}).Format(CreatedOnLayout), Description: o.Description,
		ArchiverVersion: o.ArchiverVersion, Workflow: Workflow{WorkflowName: o.WorkflowName},
	}
	var entries entryList
	add := entries.add
	var err error
	if m.Workflow.SpecFile, err = add(filepath.Base(o.SpecFile), o.SpecFile); err != nil {
		return nil, fmt.Errorf("spec file: %w", err)
	}
	if o.Handler != "" {
		if m.Workflow.Handler, err = add(filepath.Base(o.Handler), o.Handler); err != nil {
			return nil, fmt.Errorf("handler: %w", err)
		}
	}
	if err := addExtraFiles(o.ExtraFiles, add); err != nil {
		return nil, err
	}
	if entries, err = uniqueEntries(entries, WorkflowManifestPath); err != nil {
		return nil, err
	}
	res := &WorkflowResult{Path: out, Manifest: m}
	for _, e := range entries {
		res.Size += e.size
	}
	return res, writeFile(ctx, out, Default, o.WorkflowName, entries, m, o.SignKey)
}
