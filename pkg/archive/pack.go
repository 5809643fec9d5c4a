package archive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"

	"github.com/tsserve/ts/pkg/onnx"
)

// ErrNeedsModel is Pack's error when the model is left out but the handler needs one (a
// built-in handler runs the .onnx model): a usage error.
var ErrNeedsModel = errors.New("--serialized-file is required")

// BuiltinHandlers are the handler names ts serves without custom code.
var BuiltinHandlers = []string{"image_classifier", "image_segmenter", "object_detector", "text_classifier", "tensor"}

// PackOptions are torch-model-archiver's flags.
type PackOptions struct {
	ModelName      string
	Version        string
	SerializedFile string
	// ModelFile is torch-model-archiver's --model-file (a Python file with the model's
	// class): packed and named in the manifest, for a custom handler that imports it.
	ModelFile        string
	Handler          string
	ExtraFiles       []string
	RequirementsFile string
	ConfigFile       string
	ExportPath       string
	Format           Format
	Force            bool
	// FP16 stores the model's float32 weights as float16 (see onnx.ConvertWeightsFP16).
	FP16            bool
	Runtime         string
	Description     string
	ArchiverVersion string
	// SignKey, when set, signs the manifest (see LoadSigningKey).
	SignKey *SigningKey
	// Now stamps createdOn; nil means time.Now.
	Now func() time.Time
}

// Result is what Pack wrote.
type Result struct {
	Path     string
	Manifest *Manifest
	Size     int64 // bytes of content packed (before compression)
	// Notes are what the packer should tell: outputs ts serves converted, or not at all.
	Notes []string
}

// entry is one file to pack: where it goes in the archive and where it comes from.
type entry struct {
	name string // slash-separated path inside the archive
	src  string
	size int64
}

// entryList collects the files to pack.
type entryList []entry

// add adds the file or folder src under name (see collect) and returns name.
func (l *entryList) add(name, src string) (string, error) {
	es, err := collect(name, src)
	*l = append(*l, es...)
	return name, err
}

// Pack writes a model archive. The archive appears whole or not at all: it is written to a
// temporary name in the export folder, synced, and renamed; any failure or cancellation of
// ctx removes the temporary file. An existing archive is replaced only with Force.
func Pack(ctx context.Context, o PackOptions) (*Result, error) {
	if o.Version == "" {
		o.Version = "1.0"
	}
	if o.Format == "" {
		o.Format = Default
	}
	if o.Runtime == "" {
		o.Runtime = "python"
	}
	if o.ExportPath == "" {
		o.ExportPath = "."
	}
	if err := ValidModelName(o.ModelName); err != nil {
		return nil, err
	}
	if err := ValidVersion(o.Version); err != nil {
		return nil, err
	}
	if err := ValidRuntime(o.Runtime); err != nil {
		return nil, err
	}
	if _, err := ParseFormat(string(o.Format)); err != nil {
		return nil, err
	}
	if o.SerializedFile == "" {
		// As torch-model-archiver, the model may be left out: for a custom handler that
		// runs its own (its inference); a built-in handler runs the .onnx model.
		switch {
		case slices.Contains(BuiltinHandlers, o.Handler):
			return nil, fmt.Errorf("%w: the .onnx model the built-in handler %s runs", ErrNeedsModel, o.Handler)
		case o.FP16:
			return nil, errors.New("--fp16 converts the weights of --serialized-file, and none is given")
		}
	}
	sig := &onnx.Model{}
	if o.SerializedFile != "" {
		var err error
		if sig, err = onnx.ReadFile(o.SerializedFile); err != nil {
			return nil, fmt.Errorf("serialized file: %w", err)
		}
	}
	if err := checkExportPath(o.ExportPath); err != nil {
		return nil, err
	}
	modelSrc := o.SerializedFile
	if o.FP16 && len(sig.ExternalData) > 0 {
		return nil, fmt.Errorf("--fp16 converts weights stored in the model file; this model keeps them in %s", strings.Join(sig.ExternalData, ", "))
	}
	if o.FP16 {
		half, err := halfWeights(o.SerializedFile, o.ExportPath)
		if err != nil {
			return nil, err
		}
		defer os.Remove(half)
		modelSrc = half
	}
	out := filepath.Join(o.ExportPath, o.Format.OutputName(o.ModelName))
	if _, err := os.Lstat(out); err == nil && !o.Force {
		return nil, fmt.Errorf("%s already exists; use --force to replace it", out)
	}

	m := &Manifest{
		CreatedOn:       now(o).Format(CreatedOnLayout),
		Description:     o.Description,
		Runtime:         o.Runtime,
		ArchiverVersion: o.ArchiverVersion,
		Model: Model{
			ModelName:    o.ModelName,
			ModelVersion: o.Version,
		},
	}
	var entries entryList
	add := entries.add
	var err error
	if o.SerializedFile != "" {
		m.Signature = &Signature{Inputs: sig.Inputs, Outputs: sig.Outputs}
		if m.Model.SerializedFile, err = add(filepath.Base(o.SerializedFile), modelSrc); err != nil {
			return nil, err
		}
	}
	// the files the model keeps its weights in go beside it, where ONNX Runtime looks
	for _, loc := range sig.ExternalData {
		if !filepath.IsLocal(filepath.FromSlash(loc)) {
			return nil, fmt.Errorf("serialized file: its external data %q is not a path below the model's folder", loc)
		}
		if _, err := add(path.Clean(loc), filepath.Join(filepath.Dir(o.SerializedFile), filepath.FromSlash(loc))); err != nil {
			return nil, fmt.Errorf("serialized file: its external data: %w", err)
		}
	}
	if m.Model.Handler, err = handlerEntry(o.Handler, add); err != nil {
		return nil, err
	}
	if o.ModelFile != "" {
		if m.Model.ModelFile, err = add(filepath.Base(o.ModelFile), o.ModelFile); err != nil {
			return nil, fmt.Errorf("model file: %w", err)
		}
	}
	if o.RequirementsFile != "" {
		if m.Model.RequirementsFile, err = add(filepath.Base(o.RequirementsFile), o.RequirementsFile); err != nil {
			return nil, fmt.Errorf("requirements file: %w", err)
		}
	}
	if o.ConfigFile != "" {
		if m.Model.ConfigFile, err = add(filepath.Base(o.ConfigFile), o.ConfigFile); err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
	}
	if err := addExtraFiles(o.ExtraFiles, add); err != nil {
		return nil, err
	}
	if entries, err = uniqueEntries(entries, ManifestPath); err != nil {
		return nil, err
	}

	res := &Result{Path: out, Manifest: m}
	for _, name := range sig.FromMaps {
		res.Notes = append(res.Notes, onnx.FromMapsNote(name))
	}
	for _, n := range sig.Unserved {
		res.Notes = append(res.Notes, n.Note())
	}
	if note := sig.CustomDomainsNote(); note != "" {
		res.Notes = append(res.Notes, note)
	}
	for _, e := range entries {
		res.Size += e.size
	}
	if o.Format == Folder {
		return res, writeFolder(ctx, out, entries, m, o.SignKey)
	}
	return res, writeFile(ctx, out, o.Format, o.ModelName, entries, m, o.SignKey)
}

// addExtraFiles adds --extra-files through add: a folder's contents go to the archive's
// root, keeping their paths relative to the folder (as torch-model-archiver does), a file
// goes there by its name.
func addExtraFiles(list []string, add func(name, src string) (string, error)) error {
	extra, err := expandExtraFiles(list)
	if err != nil {
		return err
	}
	for _, x := range extra {
		st, err := os.Stat(x)
		if err != nil {
			return fmt.Errorf("extra file: %w", err)
		}
		if st.IsDir() {
			_, err = add("", x)
		} else {
			_, err = add(filepath.Base(x), x)
		}
		if err != nil {
			return fmt.Errorf("extra file: %w", err)
		}
	}
	return nil
}

// uniqueEntries drops a file given twice (it is stored once) and refuses two files stored
// under one name, or one stored as the manifest.
func uniqueEntries(entries []entry, manifest string) ([]entry, error) {
	seen := map[string]string{}
	unique := entries[:0]
	for _, e := range entries {
		if e.name == manifest {
			return nil, fmt.Errorf("%s would overwrite the archive's manifest", e.src)
		}
		prev, dup := seen[e.name]
		if dup && !sameFile(prev, e.src) {
			return nil, fmt.Errorf("%s and %s would both be stored as %q in the archive", prev, e.src, e.name)
		}
		if !dup {
			seen[e.name] = e.src
			unique = append(unique, e)
		}
	}
	return unique, nil
}

// expandExtraFiles reads --extra-files: each entry a file, a folder, or a wildcard pattern
// (*.json, labels/*) that matches at least one of them (torch-model-archiver globs its
// entries too, but first requires each to exist as written).
func expandExtraFiles(list []string) ([]string, error) {
	var out []string
	for _, x := range list {
		if x = strings.TrimSpace(x); x == "" {
			continue
		}
		if _, err := os.Stat(x); err == nil || !strings.ContainsAny(x, "*?[") {
			out = append(out, x) // a path (a missing one is reported by the caller)
			continue
		}
		matches, err := filepath.Glob(x)
		if err != nil {
			return nil, fmt.Errorf("extra file: pattern %q: %w", x, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("extra file: pattern %q matches no file", x)
		}
		out = append(out, matches...)
	}
	return out, nil
}

// sameFile reports whether two paths name the same file (an external data file given again
// with --extra-files, spelled differently).
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(sa, sb)
}

// halfWeights writes a float16-weights copy of a model next to the archive being made.
func halfWeights(model, dir string) (string, error) {
	in, err := os.Open(model)
	if err != nil {
		return "", err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return "", err
	}
	out, err := os.CreateTemp(dir, ".fp16-*.onnx")
	if err != nil {
		return "", err
	}
	_, err = onnx.ConvertWeightsFP16(in, st.Size(), out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", fmt.Errorf("--fp16: %w", err)
	}
	return out.Name(), nil
}

func now(o PackOptions) time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func checkExportPath(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create export path: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("export path: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("export path %s is not a folder", dir)
	}
	return nil
}

// handlerEntry resolves --handler: a built-in name, or a file or folder holding a custom
// handler (optionally "file.py:function"), which is packed too.
func handlerEntry(h string, add func(name, src string) (string, error)) (string, error) {
	if h == "" {
		return "", fmt.Errorf("--handler is required: one of %s, or a custom handler file or folder", strings.Join(BuiltinHandlers, ", "))
	}
	if slices.Contains(BuiltinHandlers, h) {
		return h, nil
	}
	file, fn := h, ""
	if _, err := os.Stat(file); err != nil {
		if i := strings.LastIndex(h, ":"); i > 0 {
			file, fn = h[:i], h[i:]
		}
	}
	if _, err := os.Stat(file); err != nil {
		return "", fmt.Errorf("unknown handler %q: not a built-in (%s) and no such file or folder", h, strings.Join(BuiltinHandlers, ", "))
	}
	name, err := add(filepath.Base(file), file)
	if err != nil {
		return "", fmt.Errorf("handler: %w", err)
	}
	return name + fn, nil
}

// collect lists the regular files at src (a file, or a folder walked recursively) with
// their names under prefix. Hidden entries, __pycache__ and __MACOSX are skipped inside
// folders, as torch-model-archiver does.
func collect(prefix, src string) ([]entry, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", src)
		}
		f, err := os.Open(src) // fail now, not half-way through writing, if it is unreadable
		if err != nil {
			return nil, err
		}
		f.Close()
		return []entry{{name: prefix, src: src, size: st.Size()}}, nil
	}
	var out []entry
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := d.Name()
		if p != src && (strings.HasPrefix(base, ".") || base == "__pycache__" || base == "__MACOSX") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		es, err := collect(path.Join(prefix, filepath.ToSlash(rel)), p)
		out = append(out, es...)
		return err
	})
	return out, err
}

// stored reports whether the default format stores a file rather than deflating it:
// weights barely compress, and already-compressed files not at all.
func stored(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".onnx", ".data", ".bin", ".pt", ".pth", ".safetensors", ".npy", ".npz", ".ort",
		".png", ".jpg", ".jpeg", ".webp", ".gz", ".tgz", ".zip", ".zst", ".xz", ".bz2", ".mar":
		return true
	}
	return false
}

// writeFile writes a single-file archive through a temporary file and a rename.
func writeFile(ctx context.Context, out string, format Format, model string, entries []entry, m manifestFile, key *SigningKey) error {
	// CreateTemp makes the file private (0600); an archive is read by servers that may run as
	// another user, so it gets a plain file's mode, as torch-model-archiver's has.
	return replaceFile(ctx, out, 0o644, func(w io.Writer) error {
		if format == Tgz || format == Tzst {
			return writeTar(ctx, w, format, model, entries, m, key)
		}
		return writeZip(ctx, w, format, entries, m, key)
	})
}

// replaceFile writes the file out through write into a temporary file beside it, which it
// then gives mode, syncs and renames to out: out appears whole or not at all.
func replaceFile(ctx context.Context, out string, mode os.FileMode, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", out, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = write(tmp); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("set the mode of %s: %w", out, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", out, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", out, err)
	}
	if err = ctx.Err(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("move %s into place: %w", out, err)
	}
	syncDir(filepath.Dir(out))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// manifestFile is the manifest a packer writes beside the files: a model's (MAR-INF) or a
// workflow's (WAR-INF).
type manifestFile interface {
	location() string // its path inside the archive
	created() time.Time
	setFiles([]File)
	encode() ([]byte, error)
}

func (m *Manifest) location() string        { return ManifestPath }
func (m *Manifest) created() time.Time      { return m.Created() }
func (m *Manifest) setFiles(files []File)   { m.Files = files }
func (m *Manifest) encode() ([]byte, error) { return manifestJSON(m) }

// packEntries copies each entry through create(e) and records its size and hash.
func packEntries(ctx context.Context, entries []entry, m manifestFile, create func(e entry) (io.Writer, error)) error {
	files := make([]File, 0, len(entries))
	defer func() { m.setFiles(files) }()
	for _, e := range entries {
		w, err := create(e)
		if err != nil {
			return fmt.Errorf("add %s: %w", e.name, err)
		}
		src, err := os.Open(e.src)
		if err != nil {
			return err
		}
		n, sum, err := copyHash(ctx, w, src)
		src.Close()
		if err != nil {
			return fmt.Errorf("add %s: %w", e.name, err)
		}
		if n != e.size {
			return fmt.Errorf("add %s: %s changed size while being packed", e.name, e.src)
		}
		files = append(files, File{Path: e.name, Size: n, SHA256: sum})
	}
	return nil
}

// closingFile is a file a packer writes after the others, once their hashes are known.
type closingFile struct {
	name string
	data []byte
}

// closingFiles are the manifest and, when key is set, its signatures.
func closingFiles(m manifestFile, key *SigningKey) ([]closingFile, error) {
	b, err := m.encode()
	if err != nil {
		return nil, err
	}
	out := []closingFile{{m.location(), b}}
	if key != nil {
		_, sigs, err := key.signatures(b, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, closingFile{m.location() + SignatureSuffix, sigs})
	}
	return out, nil
}

func manifestJSON(m any) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func writeZip(ctx context.Context, w io.Writer, format Format, entries []entry, m manifestFile, key *SigningKey) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.DefaultCompression)
	})
	modified := m.created()
	err := packEntries(ctx, entries, m, func(e entry) (io.Writer, error) {
		method := zip.Deflate
		if format == ZipStore || stored(e.name) {
			method = zip.Store
		}
		return zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method, Modified: modified})
	})
	if err != nil {
		return err
	}
	closing, err := closingFiles(m, key)
	if err != nil {
		return err
	}
	for _, f := range closing {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: modified})
		if err != nil {
			return err
		}
		if _, err := w.Write(f.data); err != nil {
			return err
		}
	}
	return zw.Close()
}

// writeTar writes TorchServe's tarball layout: every file under "<model>/".
func writeTar(ctx context.Context, w io.Writer, format Format, model string, entries []entry, m manifestFile, key *SigningKey) error {
	comp, err := compressor(w, format)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(comp)
	modified := m.created()
	header := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: model + "/" + name, Mode: 0o644, Size: size, ModTime: modified, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	}
	err = packEntries(ctx, entries, m, func(e entry) (io.Writer, error) {
		return tw, tw.WriteHeader(header(e.name, e.size))
	})
	if err != nil {
		return err
	}
	closing, err := closingFiles(m, key)
	if err != nil {
		return err
	}
	for _, f := range closing {
		if err := tw.WriteHeader(header(f.name, int64(len(f.data)))); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return comp.Close()
}

// compressor compresses a tarball: gzip for Tgz, zstd for Tzst.
func compressor(w io.Writer, format Format) (io.WriteCloser, error) {
	if format == Tgz {
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	}
	return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
}

// writeFolder writes the no-archive layout: a folder named after the model, built under a
// temporary name and renamed into place.
func writeFolder(ctx context.Context, out string, entries []entry, m manifestFile, key *SigningKey) (err error) {
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create folder: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	err = packEntries(ctx, entries, m, func(e entry) (io.Writer, error) {
		dst := filepath.Join(tmp, filepath.FromSlash(e.name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
		return f, nil
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	closing, err := closingFiles(m, key)
	if err != nil {
		return err
	}
	for _, f := range closing {
		p := filepath.Join(tmp, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Replace an existing folder (only reached with --force): move it aside first.
	var old string
	if _, err := os.Lstat(out); err == nil {
		old = tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("move old %s aside: %w", out, err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return fmt.Errorf("move folder into place: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	syncDir(filepath.Dir(out))
	return nil
}
