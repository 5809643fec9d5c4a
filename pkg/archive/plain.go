package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/onnx"
)

// Models that are not archives, served as they are: a bare ONNX file, and a model folder of
// a Triton model repository (config.pbtxt, an optional label file, and version folders
// 1/, 2/, ... holding model.onnx). Open reads either into a temporary folder of links to
// the model's files, with a manifest made up for it, so that the rest of the server sees an
// archive.
const (
	// ONNXFile is a bare .onnx file (Opened.Format).
	ONNXFile Format = "onnx"
	// TritonModel is a model folder of a Triton model repository (Opened.Format).
	TritonModel Format = "triton"
)

// TritonConfigFile is a Triton model folder's configuration (protobuf text format).
const TritonConfigFile = "config.pbtxt"

// tritonModelFile is the model file a version folder holds unless config.pbtxt's
// default_model_filename names another.
const tritonModelFile = "model.onnx"

// PlainHandler is the handler a bare ONNX file or a Triton model is served with unless the
// registration names one (or config.pbtxt's parameter "handler" does).
const PlainHandler = "tensor"

// errPlainUnsigned says a model that is not an archive cannot carry a signature.
var errPlainUnsigned = fmt.Errorf("%w: a bare ONNX file or a Triton model folder carries no signature (pack it with tsarchive --sign-key)", ErrNotSigned)

// IsONNXFile tells whether path is a bare ONNX model file (named .onnx), which Open serves
// as it is.
func IsONNXFile(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && strings.EqualFold(filepath.Ext(path), ".onnx")
}

// IsModelFolder tells whether dir is one model: an archive unpacked (its manifest in it) or
// a Triton model folder (IsTritonModel), rather than a folder of models.
func IsModelFolder(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(ManifestPath))); err == nil {
		return true
	}
	return IsTritonModel(dir)
}

// IsTritonModel tells whether dir is a model folder of a Triton model repository: a folder
// without an archive's manifest, holding config.pbtxt or a numbered version folder.
func IsTritonModel(dir string) bool {
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(ManifestPath))); err == nil {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, TritonConfigFile)); err == nil {
		return true
	}
	versions, _ := tritonVersionDirs(dir)
	return len(versions) > 0
}

// ReadTritonConfig reads a Triton model folder's config.pbtxt; a folder without one has an
// empty configuration (Triton completes an ONNX model's configuration itself). Fields ts
// does not read are skipped.
func ReadTritonConfig(dir string) (*oippb.ModelConfig, error) {
	cfg, _, err := readTritonConfig(dir)
	return cfg, err
}

// readTritonConfig is ReadTritonConfig that also returns the file's bytes (none without one).
func readTritonConfig(dir string) (*oippb.ModelConfig, []byte, error) {
	cfg := &oippb.ModelConfig{}
	b, err := os.ReadFile(filepath.Join(dir, TritonConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return cfg, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if cfg, err = ParseTritonConfig(b); err != nil {
		return nil, nil, err
	}
	return cfg, b, nil
}

// ParseTritonConfig reads the text of a config.pbtxt; fields ts does not read are skipped.
func ParseTritonConfig(b []byte) (*oippb.ModelConfig, error) {
	cfg := &oippb.ModelConfig{}
	if err := (prototext.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", TritonConfigFile, err)
	}
	return cfg, nil
}

// tritonVersionDirs lists a Triton model folder's version folders (positive integers),
// highest first.
func tritonVersionDirs(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range entries {
		n, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || n < 1 || strconv.FormatInt(n, 10) != e.Name() {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && st.IsDir() {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

// TritonVersions are the versions of a Triton model folder its version_policy serves, highest
// first: by default the latest one; latest { num_versions: N }, all { } or
// specific { versions: [...] } as in Triton.
func TritonVersions(dir string, cfg *oippb.ModelConfig) ([]string, error) {
	have, err := tritonVersionDirs(dir)
	if err != nil {
		return nil, err
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("%s holds no version folder (1/, 2/, ... with %s inside)", dir, tritonModelFile)
	}
	var pick []int64
	switch p := cfg.GetVersionPolicy(); {
	case p.GetAll() != nil:
		pick = have
	case p.GetSpecific() != nil:
		for _, v := range p.GetSpecific().GetVersions() {
			if !slices.Contains(have, v) {
				return nil, fmt.Errorf("version_policy names version %d, but %s has no folder %d/", v, dir, v)
			}
			pick = append(pick, v)
		}
		slices.Sort(pick)
		slices.Reverse(pick)
		pick = slices.Compact(pick)
	default:
		n := 1
		if l := p.GetLatest(); l != nil && l.GetNumVersions() > 0 {
			n = int(l.GetNumVersions())
		}
		pick = have[:min(n, len(have))]
	}
	if len(pick) == 0 {
		return nil, fmt.Errorf("version_policy of %s serves no version", dir)
	}
	out := make([]string, len(pick))
	for i, v := range pick {
		out[i] = strconv.FormatInt(v, 10)
	}
	return out, nil
}

// openPlain opens a bare ONNX file or a Triton model's version as Open does an archive:
// link puts its files in a new temporary folder and makes up its manifest.
func openPlain(tmpRoot string, lim Limits, link func(dir string) (*Opened, error)) (*Opened, error) {
	if lim.Trusted != nil {
		return nil, errPlainUnsigned
	}
	dir, err := tempModelDir(tmpRoot)
	if err != nil {
		return nil, err
	}
	o, err := link(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	o.Dir, o.temp = dir, true
	return o, nil
}

// linkONNXFile links a bare ONNX file, and the external data files it names, into dir: the
// model is named after the file, version 1.0, served with PlainHandler.
func linkONNXFile(src, dir string) (*Opened, error) {
	m, err := onnx.ReadFile(src)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(src)
	for _, f := range m.ExternalData {
		if !localPath(f) {
			return nil, fmt.Errorf("the model's external data %q is not a file beside it or below", f)
		}
	}
	if err := link(src, filepath.Join(dir, base)); err != nil {
		return nil, err
	}
	for _, f := range m.ExternalData {
		if err := linkData(filepath.Join(filepath.Dir(src), filepath.FromSlash(f)), filepath.Join(dir, filepath.FromSlash(f))); err != nil {
			return nil, err
		}
	}
	h := sha256.New()
	if err := hashFiles(h, filepath.Join(dir, base)); err != nil {
		return nil, err
	}
	man := plainManifest(dir, strings.TrimSuffix(base, filepath.Ext(base)), "1.0", base, PlainHandler)
	return &Opened{Manifest: man, Format: ONNXFile, Digest: hex.EncodeToString(h.Sum(nil))}, nil
}

// linkTritonVersion links a version folder of a Triton model folder into dir (its files;
// the model folder's warmup/ folder for model_warmup's input_data_file), and writes there
// index_to_name.json from the first output's label_filename. The model's name is
// config.pbtxt's name, else the folder's.
func linkTritonVersion(src, version, dir string) (*Opened, error) {
	cfg, cfgBytes, err := readTritonConfig(src)
	if err != nil {
		return nil, err
	}
	if err := checkTritonConfig(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", TritonConfigFile, err)
	}
	if version == "" {
		versions, err := TritonVersions(src, cfg)
		if err != nil {
			return nil, err
		}
		version = versions[0]
	}
	vdir := filepath.Join(src, version)
	if n, err := strconv.ParseInt(version, 10, 64); err != nil || n < 1 || strconv.FormatInt(n, 10) != version {
		return nil, fmt.Errorf("version %q: a Triton model's versions are its numbered folders", version)
	}
	if st, err := os.Stat(vdir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("%s has no version folder %s/", src, version)
	}
	name := cfg.GetName()
	if name == "" {
		name = filepath.Base(src)
	}
	if IsTritonEnsemble(cfg) { // no model of its own: its steps are other models
		h := sha256.New()
		h.Write(cfgBytes)
		man := plainManifest(dir, name, version, "", PlainHandler)
		return &Opened{Manifest: man, Format: TritonModel, Digest: hex.EncodeToString(h.Sum(nil)), Triton: cfg}, nil
	}
	file := cfg.GetDefaultModelFilename()
	if file == "" {
		file = tritonModelFile
	}
	if !localPath(file) || strings.Contains(file, "/") {
		return nil, fmt.Errorf("%s: default_model_filename %q must be a file name", TritonConfigFile, file)
	}
	serialized := file
	st, err := os.Stat(filepath.Join(vdir, file))
	switch {
	case err != nil:
		return nil, fmt.Errorf("version %s: %w (Triton's ONNX models are %s/%s)", version, err, version, file)
	case st.IsDir(): // Triton's model.onnx folder: the model and its external data
		serialized = file + "/" + tritonModelFile
	}
	entries, err := os.ReadDir(vdir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := link(filepath.Join(vdir, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return nil, err
		}
	}
	for _, sub := range []string{"warmup", "initial_state"} { // model_warmup's and sequence_batching's data files
		if _, err := os.Stat(filepath.Join(src, sub)); err == nil {
			if _, err := os.Lstat(filepath.Join(dir, sub)); err != nil {
				if err := link(filepath.Join(src, sub), filepath.Join(dir, sub)); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := writeTritonLabels(src, dir, cfg); err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write(cfgBytes)
	if err := hashFiles(h, filepath.Join(dir, filepath.FromSlash(serialized))); err != nil {
		return nil, err
	}
	handler := PlainHandler
	if p, ok := cfg.GetParameters()["handler"]; ok && p.GetStringValue() != "" {
		handler = p.GetStringValue()
	}
	man := plainManifest(dir, name, version, serialized, handler)
	return &Opened{Manifest: man, Format: TritonModel, Digest: hex.EncodeToString(h.Sum(nil)), Triton: cfg}, nil
}

// IsTritonEnsemble reports whether a config.pbtxt is an ensemble's (platform "ensemble", or
// ensemble_scheduling given): its steps are other models (pkg/ensemble).
func IsTritonEnsemble(cfg *oippb.ModelConfig) bool {
	return cfg.GetPlatform() == "ensemble" || cfg.GetEnsembleScheduling() != nil
}

// checkTritonConfig refuses what ts cannot serve as Triton would.
func checkTritonConfig(cfg *oippb.ModelConfig) error {
	switch p, b := cfg.GetPlatform(), cfg.GetBackend(); {
	case IsTritonEnsemble(cfg):
		if p != "ensemble" || cfg.GetEnsembleScheduling() == nil {
			return errors.New(`an ensemble needs platform "ensemble" and ensemble_scheduling`)
		}
	case p != "" && p != "onnxruntime_onnx":
		return fmt.Errorf("platform %q: ts serves ONNX models only (platform onnxruntime_onnx, backend onnxruntime)", p)
	case b != "" && b != "onnxruntime":
		return fmt.Errorf("backend %q: ts serves ONNX models only (backend onnxruntime)", b)
	case len(cfg.GetModelOperations().GetOpLibraryFilename()) > 0:
		return errors.New("model_operations: ts does not load custom operator libraries")
	}
	if db := cfg.GetDynamicBatching(); db.GetPriorityLevels() > 0 && (db.GetDefaultPriorityLevel() < 1 || db.GetDefaultPriorityLevel() > db.GetPriorityLevels()) {
		return fmt.Errorf("dynamic_batching: default_priority_level must be between 1 and priority_levels (%d), got %d", db.GetPriorityLevels(), db.GetDefaultPriorityLevel())
	}
	return nil
}

// writeTritonLabels writes the first output's label_filename (a class name a line, as
// Triton reads it) into dir as index_to_name.json, unless the version folder has one.
func writeTritonLabels(src, dir string, cfg *oippb.ModelConfig) error {
	if _, err := os.Lstat(filepath.Join(dir, labelsFile)); err == nil {
		return nil
	}
	for _, out := range cfg.GetOutput() {
		name := out.GetLabelFilename()
		if name == "" {
			continue
		}
		if !localPath(name) {
			return fmt.Errorf("%s: output %q: label_filename %q must be a file of the model folder", TritonConfigFile, out.GetName(), name)
		}
		f, err := os.Open(filepath.Join(src, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("%s: output %q: %w", TritonConfigFile, out.GetName(), err)
		}
		defer f.Close()
		labels := map[string]string{}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for i := 0; sc.Scan(); i++ {
			labels[strconv.Itoa(i)] = strings.TrimRight(sc.Text(), "\r")
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		b, err := json.Marshal(labels)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, labelsFile), b, 0o644)
	}
	return nil
}

// labelsFile is where the classifiers read class names (handler.LabelsFile).
const labelsFile = "index_to_name.json"

// plainManifest is the manifest made up for a model that is not an archive, created when
// its model file (in dir) last changed.
func plainManifest(dir, name, version, serialized, handler string) *Manifest {
	m := &Manifest{Runtime: "onnx", Model: Model{ModelName: name, ModelVersion: version, SerializedFile: serialized, Handler: handler}}
	if st, err := os.Stat(filepath.Join(dir, filepath.FromSlash(serialized))); err == nil {
		m.CreatedOn = st.ModTime().Format(CreatedOnLayout)
	}
	return m
}

// inspectPlain is Inspect for a bare ONNX file or a Triton model folder (the latest version
// its policy serves): the manifest made up for it, with the model's signature, and the
// files the server sees (the version folder's, and index_to_name.json made from a label
// file).
func inspectPlain(src string) (*Info, error) {
	tmp, err := os.MkdirTemp("", "tsarchive-inspect-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	o, err := OpenVersion(context.Background(), src, "", tmp, Limits{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	man := *o.Manifest
	if man.Model.SerializedFile != "" { // else an ensemble, whose steps are other models
		m, err := onnx.ReadFile(o.Path(man.Model.SerializedFile))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", man.Model.SerializedFile, err)
		}
		man.Signature = &Signature{Inputs: m.Inputs, Outputs: m.Outputs}
	}
	info := &Info{Path: src, Format: o.Format, Manifest: &man}
	for _, step := range o.Triton.GetEnsembleScheduling().GetStep() {
		info.Ensemble = append(info.Ensemble, step.GetModelName())
	}
	if st, err := os.Stat(src); err == nil && !st.IsDir() {
		info.Size = st.Size()
	}
	if info.Entries, err = o.Files(); err != nil {
		return nil, err
	}
	return info, nil
}

// Files lists the opened model's files with their sizes, following the links a bare ONNX
// file's or a Triton model's folder holds (a linked folder's files are listed, one level).
func (o *Opened) Files() ([]Entry, error) {
	out := []Entry{}
	err := filepath.WalkDir(o.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		st, err := os.Stat(p) // through the link
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.Dir, p)
		if !st.IsDir() {
			out = append(out, Entry{Path: filepath.ToSlash(rel), Size: st.Size()})
			return nil
		}
		// a linked folder: model.onnx/ or warmup/
		return filepath.WalkDir(p+string(filepath.Separator), func(q string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			inner, _ := filepath.Rel(p, q)
			out = append(out, Entry{Path: filepath.ToSlash(filepath.Join(rel, inner)), Size: fi.Size()})
			return nil
		})
	})
	return out, err
}

// link makes dst a symbolic link to src (absolute), creating dst's folder.
func link(src, dst string) error {
	abs, err := filepath.Abs(src)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.Symlink(abs, dst)
}

// linkData links a model's external data file into dst's folder as a hard link to the file
// itself (links resolved) where the file system allows it, else as link does. ONNX Runtime
// refuses external data that resolves outside the model's folder: data linked beside the
// model from elsewhere (a Hugging Face cache's blobs, the model's link pointing to another
// blob) loads from a hard link, or, across file systems, from memory (engine.Load maps it).
// (A model whose files all lie in one folder is opened there instead: engine.Load.)
func linkData(src, dst string) error {
	if real, err := filepath.EvalSymlinks(src); err == nil {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if os.Link(real, dst) == nil {
			return nil
		}
	}
	return link(src, dst)
}

// hashFiles adds the content of files to h.
func hashFiles(h hash.Hash, files ...string) error {
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
	}
	return nil
}

// OpenVersion is Open for a source that may hold several versions (a Triton model folder):
// version picks one ("" the latest its policy serves); for an archive or a bare ONNX file
// it is not read here (the registration's model_version names the version instead).
func OpenVersion(ctx context.Context, src, version, tmpRoot string, lim Limits) (*Opened, error) {
	switch {
	case IsONNXFile(src):
		return openPlain(tmpRoot, lim, func(dir string) (*Opened, error) { return linkONNXFile(src, dir) })
	case IsTritonModel(src):
		return openPlain(tmpRoot, lim, func(dir string) (*Opened, error) { return linkTritonVersion(src, version, dir) })
	}
	return Open(ctx, src, tmpRoot, lim)
}
