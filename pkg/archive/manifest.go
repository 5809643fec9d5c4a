// Package archive is the one place that knows the model archive format: the manifest,
// packing a model into every format (.mar zip, zip-store, tar.gz, tar.zst, a plain folder),
// and reading archives back safely (no zip-slip, no zip bombs, hashes checked).
package archive

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/tensor"
)

// ManifestPath is where the manifest lives inside an archive.
const ManifestPath = "MAR-INF/MANIFEST.json"

// CreatedOnLayout is TorchServe's createdOn format (DD/MM/YYYY HH:MM:SS).
const CreatedOnLayout = "02/01/2006 15:04:05"

// Manifest is MAR-INF/MANIFEST.json: TorchServe's fields, plus ts's optional Files and
// Signature (archives made by torch-model-archiver have neither).
type Manifest struct {
	CreatedOn       string     `json:"createdOn"`
	Description     string     `json:"description,omitempty"`
	Runtime         string     `json:"runtime"`
	Model           Model      `json:"model"`
	ArchiverVersion string     `json:"archiverVersion"`
	Files           []File     `json:"files,omitempty"`
	Signature       *Signature `json:"signature,omitempty"`
	// Signed is what the reader found about the manifest's signatures (not part of it).
	Signed *Signing `json:"-"`
}

// Model is the manifest's "model" object.
type Model struct {
	ModelName        string `json:"modelName"`
	Description      string `json:"description,omitempty"`
	SerializedFile   string `json:"serializedFile,omitempty"`
	Handler          string `json:"handler"`
	ModelFile        string `json:"modelFile,omitempty"`
	ModelVersion     string `json:"modelVersion"`
	Extensions       string `json:"extensions,omitempty"`
	RequirementsFile string `json:"requirementsFile,omitempty"`
	ConfigFile       string `json:"configFile,omitempty"`
	Envelope         string `json:"envelope,omitempty"`
}

// File is one file of the archive with its size and sha256 (hex).
type File struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Signature is the model's inputs and outputs as the ONNX graph declares them.
type Signature struct {
	Inputs  []tensor.Info `json:"inputs"`
	Outputs []tensor.Info `json:"outputs"`
}

var modelNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_\-.]*$`)

// ValidModelName checks a model name against torch-model-archiver's rule.
func ValidModelName(name string) error {
	if !modelNameRE.MatchString(name) {
		return fmt.Errorf("invalid model name %q: it must start with a letter or digit and contain only letters, digits, '_', '-' and '.'", name)
	}
	return nil
}

// ValidVersion checks a model version: non-empty, no '/' or spaces (it appears in URLs).
func ValidVersion(v string) error {
	if v == "" || strings.ContainsAny(v, "/\\ \t\n?#%") || v == "." || v == ".." {
		return fmt.Errorf("invalid model version %q: it must be non-empty, without '/', spaces, '?', '#' or '%%'", v)
	}
	return nil
}

// Runtimes are the manifest runtimes a model archive may declare: TorchServe's (python,
// python3, LSP; ts runs every model itself, whatever the value) and onnx.
var Runtimes = []string{"python", "python3", "LSP", "onnx"}

// ValidRuntime checks a runtime against Runtimes, with TorchServe's message.
func ValidRuntime(r string) error {
	if !slices.Contains(Runtimes, r) {
		//lint:ignore ST1005 TorchServe's message, word for word
		return fmt.Errorf("Invalid RuntimeType value: %s (one of %s)", r, strings.Join(Runtimes, ", "))
	}
	return nil
}

// ParseManifest reads and checks a manifest: a model name is required and the version
// defaults to "1.0" as TorchServe does. The runtime is not checked here (tsarchive inspect
// shows any), but by the server, which refuses one not in Runtimes.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %w", ManifestPath, err)
	}
	if m.Model.ModelName == "" {
		return nil, fmt.Errorf("%s has no model.modelName", ManifestPath)
	}
	if err := ValidModelName(m.Model.ModelName); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestPath, err)
	}
	if m.Model.ModelVersion == "" {
		m.Model.ModelVersion = "1.0"
	}
	if err := ValidVersion(m.Model.ModelVersion); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestPath, err)
	}
	for _, f := range m.Files {
		if !localPath(f.Path) {
			return nil, fmt.Errorf("%s lists a file outside the archive: %q", ManifestPath, f.Path)
		}
	}
	return &m, nil
}

// Created parses CreatedOn (zero time when absent or malformed).
func (m *Manifest) Created() time.Time {
	t, _ := time.Parse(CreatedOnLayout, m.CreatedOn)
	return t
}

// FileDigest returns the manifest's entry for path.
func (m *Manifest) FileDigest(path string) (File, bool) {
	for _, f := range m.Files {
		if f.Path == path {
			return f, true
		}
	}
	return File{}, false
}

// errors for the reader, so callers and tests can tell them apart.
var (
	ErrNoManifest       = errors.New("archive has no " + ManifestPath)
	ErrUnsafePath       = errors.New("unsafe path in archive")
	ErrDuplicateEntry   = errors.New("duplicate entry in archive")
	ErrTooLarge         = errors.New("archive exceeds the size limit")
	ErrCompressionRatio = errors.New("archive entry exceeds the compression ratio limit")
	ErrTooManyFiles     = errors.New("archive has too many files")
	ErrCorrupt          = errors.New("archive is corrupt or truncated")
	ErrMissingModel     = errors.New("archive lacks its serialized file")
	ErrDigestMismatch   = errors.New("file differs from the manifest")
	ErrMissingFile      = errors.New("file listed in the manifest is missing")
	ErrExtraFile        = errors.New("file not listed in the manifest")
	ErrUnknownFormat    = errors.New("not a model archive")
)
