package archive

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
)

// Limits bound what reading an archive may cost, and say whose signature it needs.
type Limits struct {
	// MaxSize caps the total uncompressed bytes.
	MaxSize int64
	// MaxRatio caps uncompressed/compressed size, per zip entry and over a whole tarball.
	MaxRatio int64
	// MaxFiles caps the number of files.
	MaxFiles int
	// Trusted, when set, requires a valid signature by one of its keys (see Keyring.Check).
	Trusted *Keyring
}

// DefaultLimits: 64 GiB, a ratio of 1000 (text compresses ~10×; bombs ~1000× and more),
// 100,000 files.
func DefaultLimits() Limits {
	return Limits{MaxSize: 64 << 30, MaxRatio: 1000, MaxFiles: 100_000}
}

// ratioSlack lets small, highly compressible files (a JSON of zeros) pass the ratio check.
const ratioSlack = 1 << 20

// localPath reports whether an entry's name is a path inside the archive: relative, with
// slashes, no "..", no backslash and no NUL (which no file system takes in a name).
func localPath(name string) bool {
	return name != "" && !strings.ContainsAny(name, "\\\x00") && !strings.HasPrefix(name, "/") && filepath.IsLocal(filepath.FromSlash(name))
}

// member is one file met while reading an archive.
type member struct {
	name   string
	size   int64
	sha256 string
}

// sink receives each file's content while an archive is read; nil discards it.
type sink func(name string) (io.WriteCloser, error)

// reader walks an archive's regular files, enforcing the limits and safety rules, hashing
// each file and passing its bytes to the sink.
type reader struct {
	ctx     context.Context
	lim     Limits
	sink    sink
	total   int64
	members []member
	seen    map[string]bool
}

func newReader(ctx context.Context, lim Limits, s sink) *reader {
	if lim.MaxSize <= 0 {
		lim.MaxSize = DefaultLimits().MaxSize
	}
	if lim.MaxRatio <= 0 {
		lim.MaxRatio = DefaultLimits().MaxRatio
	}
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = DefaultLimits().MaxFiles
	}
	return &reader{ctx: ctx, lim: lim, sink: s, seen: map[string]bool{}}
}

// checkName applies the path rules: relative, no "..", no duplicates.
func (r *reader) checkName(name string) (string, error) {
	clean := path.Clean(name)
	if !localPath(name) || clean != strings.TrimSuffix(name, "/") {
		return "", fmt.Errorf("%w: %q", ErrUnsafePath, name)
	}
	if r.seen[clean] {
		return "", fmt.Errorf("%w: %q", ErrDuplicateEntry, name)
	}
	r.seen[clean] = true
	return clean, nil
}

// file reads one regular file; compressed is its compressed size when known (0 if not).
func (r *reader) file(name string, declared, compressed int64, body io.Reader) error {
	return r.fileChecked(name, declared, compressed, body, nil)
}

// fileChecked is file with a check run on the running total of bytes written, to stop a
// decompression bomb while it expands rather than after.
func (r *reader) fileChecked(name string, declared, compressed int64, body io.Reader, check func(total int64) error) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	name, err := r.checkName(name)
	if err != nil {
		return err
	}
	if len(r.members) >= r.lim.MaxFiles {
		return fmt.Errorf("%w (more than %d)", ErrTooManyFiles, r.lim.MaxFiles)
	}
	if declared > r.lim.MaxSize-r.total {
		return fmt.Errorf("%w of %d bytes at %q", ErrTooLarge, r.lim.MaxSize, name)
	}
	limit := r.lim.MaxSize - r.total
	if compressed > 0 {
		limit = min(limit, compressed*r.lim.MaxRatio+ratioSlack)
	}
	var dst io.Writer = io.Discard
	var closer io.Closer
	if r.sink != nil {
		w, err := r.sink(name)
		if err != nil {
			return err
		}
		dst, closer = w, w
	}
	h := sha256.New()
	out := io.MultiWriter(dst, h)
	if check != nil {
		out = &checkedWriter{w: out, base: r.total, check: check}
	}
	n, err := io.Copy(out, io.LimitReader(body, limit+1))
	if closer != nil {
		if cerr := closer.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		var limitErr *limitError
		if errors.As(err, &limitErr) {
			return fmt.Errorf("%w: %q", limitErr.err, name)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, gzip.ErrChecksum) {
			return fmt.Errorf("%w: %q: %v", ErrCorrupt, name, err)
		}
		return fmt.Errorf("read %q: %w", name, err)
	}
	if n > limit {
		if compressed > 0 && n > compressed*r.lim.MaxRatio+ratioSlack {
			return fmt.Errorf("%w of %d: %q", ErrCompressionRatio, r.lim.MaxRatio, name)
		}
		return fmt.Errorf("%w of %d bytes at %q", ErrTooLarge, r.lim.MaxSize, name)
	}
	if declared >= 0 && n != declared {
		return fmt.Errorf("%w: %q holds %d bytes, its header says %d", ErrCorrupt, name, n, declared)
	}
	r.total += n
	r.members = append(r.members, member{name: name, size: n, sha256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

func (r *reader) readZip(src string) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return fmt.Errorf("%w: %q is a symlink; archives may not hold links", ErrUnsafePath, f.Name)
		case f.FileInfo().IsDir():
			if !localPath(strings.TrimSuffix(f.Name, "/")) {
				return fmt.Errorf("%w: %q", ErrUnsafePath, f.Name)
			}
			continue
		case !mode.IsRegular():
			return fmt.Errorf("%w: %q is not a regular file", ErrUnsafePath, f.Name)
		}
		if f.UncompressedSize64 > 1<<62 {
			return fmt.Errorf("%w of %d bytes at %q", ErrTooLarge, r.lim.MaxSize, f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%w: %q: %v", ErrCorrupt, f.Name, err)
		}
		compressed := int64(f.CompressedSize64)
		if f.Method == zip.Store {
			compressed = 0 // stored: no ratio to check
		} else if compressed == 0 {
			compressed = 1
		}
		err = r.file(f.Name, int64(f.UncompressedSize64), compressed, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// limitError is a limit hit while copying.
type limitError struct{ err error }

func (e *limitError) Error() string { return e.err.Error() }

// checkedWriter runs a check on the archive's running total before each write.
type checkedWriter struct {
	w     io.Writer
	base  int64
	n     int64
	check func(total int64) error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if err := c.check(c.base + c.n + int64(len(p))); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// countingReader counts the compressed bytes a tarball has consumed.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// decompressor undoes a tarball's compression: gzip for Tgz, zstd (bounded memory) for Tzst.
func decompressor(r io.Reader, format Format) (io.Reader, func(), error) {
	if format == Tgz {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return gz, func() { gz.Close() }, nil
	}
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return zr, zr.Close, nil
}

// walkTar opens a tarball, decompresses it and calls visit for each entry with the entry's
// contents; counted, when set, adds up the compressed bytes read. A damaged stream is
// ErrCorrupt.
func walkTar(src string, format Format, counted *int64, visit func(*tar.Header, io.Reader) error) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	var in io.Reader = f
	if counted != nil {
		in = countingReader{r: f, n: counted}
	}
	dec, closeDec, err := decompressor(in, format)
	if err != nil {
		return err
	}
	defer closeDec()
	tr := tar.NewReader(dec)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if err := visit(hdr, tr); err != nil {
			return err
		}
	}
}

func (r *reader) readTar(src string, format Format) error {
	var compressed int64 // bytes read from the file so far
	ratio := func(total int64) error {
		if total > compressed*r.lim.MaxRatio+ratioSlack {
			return &limitError{fmt.Errorf("%w of %d", ErrCompressionRatio, r.lim.MaxRatio)}
		}
		return nil
	}
	return walkTar(src, format, &compressed, func(hdr *tar.Header, body io.Reader) error {
		switch hdr.Typeflag {
		case tar.TypeDir:
			if !localPath(strings.TrimSuffix(hdr.Name, "/")) {
				return fmt.Errorf("%w: %q", ErrUnsafePath, hdr.Name)
			}
			return nil
		case tar.TypeReg:
		case tar.TypeSymlink, tar.TypeLink:
			return fmt.Errorf("%w: %q is a link; archives may not hold links", ErrUnsafePath, hdr.Name)
		case tar.TypeXGlobalHeader:
			return nil
		default:
			return fmt.Errorf("%w: %q is not a regular file", ErrUnsafePath, hdr.Name)
		}
		return r.fileChecked(hdr.Name, hdr.Size, 0, body, ratio)
	})
}

// readFolder walks a no-archive folder; links must stay inside it.
func (r *reader) readFolder(root string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := filepath.ToSlash(rel)
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				return fmt.Errorf("%w: %q is a broken link", ErrUnsafePath, name)
			}
			if inside, _ := filepath.Rel(realRoot, target); !filepath.IsLocal(inside) {
				return fmt.Errorf("%w: %q links outside the model folder", ErrUnsafePath, name)
			}
			if st, err := os.Stat(target); err == nil && st.IsDir() {
				return fmt.Errorf("%w: %q links to a folder", ErrUnsafePath, name)
			}
		} else if d.IsDir() || !d.Type().IsRegular() {
			if !d.IsDir() {
				return fmt.Errorf("%w: %q is not a regular file", ErrUnsafePath, name)
			}
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		return r.file(name, st.Size(), 0, f)
	})
}

// read walks the archive at src in whatever format it is.
func (r *reader) read(src string) (Format, error) {
	format, err := Detect(src)
	if err != nil {
		return "", err
	}
	switch format {
	case Default:
		err = r.readZip(src)
	case Tgz, Tzst:
		err = r.readTar(src, format)
	case Folder:
		err = r.readFolder(src)
	}
	return format, err
}

// root finds the manifest: at the top, or inside a single top-level folder (TorchServe's
// tarball layout). It returns the folder prefix ("" or "name/").
func (r *reader) root() (string, error) {
	prefix, ok := r.rootOf(ManifestPath)
	if !ok {
		return "", ErrNoManifest
	}
	return prefix, nil
}

// rootOf finds the folder prefix of the manifest at path manifest, as root does.
func (r *reader) rootOf(manifest string) (string, bool) {
	if r.seen[manifest] {
		return "", true
	}
	var prefix string
	for _, m := range r.members {
		top, _, ok := strings.Cut(m.name, "/")
		if !ok {
			return "", false
		}
		if prefix == "" {
			prefix = top + "/"
		} else if prefix != top+"/" {
			return "", false
		}
	}
	if prefix == "" || !r.seen[prefix+manifest] {
		return "", false
	}
	return prefix, true
}

// below returns the files read under prefix, by their paths below it, the manifest and its
// signatures left out.
func (r *reader) below(prefix, manifest string) map[string]member {
	got := map[string]member{}
	for _, x := range r.members {
		name := strings.TrimPrefix(x.name, prefix)
		if name != manifest && name != manifest+SignatureSuffix {
			got[name] = x
		}
	}
	return got
}

// checkFiles checks the files read (got) against those a manifest lists, when it lists any:
// each there, with its size and sha256, and nothing else.
func checkFiles(files []File, got map[string]member) error {
	if len(files) == 0 {
		return nil
	}
	listed := map[string]bool{}
	for _, f := range files {
		listed[f.Path] = true
		x, ok := got[f.Path]
		switch {
		case !ok:
			return fmt.Errorf("%w: %s", ErrMissingFile, f.Path)
		case x.size != f.Size || x.sha256 != f.SHA256:
			return fmt.Errorf("%w: %s (sha256 %s, manifest says %s)", ErrDigestMismatch, f.Path, short(x.sha256), short(f.SHA256))
		}
	}
	names := make([]string, 0, len(got))
	for name := range got {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !listed[name] {
			return fmt.Errorf("%w: %s", ErrExtraFile, name)
		}
	}
	return nil
}

// check finds the manifest among what was read and checks every file against it.
func (r *reader) check(manifestBytes func(name string) ([]byte, error)) (*Manifest, string, error) {
	prefix, err := r.root()
	if err != nil {
		return nil, "", err
	}
	b, err := manifestBytes(prefix + ManifestPath)
	if err != nil {
		return nil, "", err
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, "", err
	}
	got := r.below(prefix, ManifestPath)
	if err := checkFiles(m.Files, got); err != nil {
		return nil, "", err
	}
	if m.Signed, err = r.signing(prefix+ManifestPath, b, len(m.Files) > 0, manifestBytes); err != nil {
		return nil, "", err
	}
	// a manifest may name no model, as torch-model-archiver's may: for a custom handler that
	// runs its own (the server checks that it does)
	if sf := m.Model.SerializedFile; sf != "" {
		if _, ok := got[sf]; !ok {
			return nil, "", fmt.Errorf("%w: %s", ErrMissingModel, sf)
		}
	}
	return m, prefix, nil
}

// signing reads the signatures kept beside the manifest at manifestPath, if any, and checks
// them against the trusted keys when the limits name some.
func (r *reader) signing(manifestPath string, manifest []byte, hashed bool, read func(name string) ([]byte, error)) (*Signing, error) {
	var b []byte
	if r.seen[manifestPath+SignatureSuffix] {
		var err error
		if b, err = read(manifestPath + SignatureSuffix); err != nil {
			return nil, err
		}
	}
	s, err := parseSigning(b, manifest, hashed)
	if err != nil {
		return nil, err
	}
	s.path = manifestPath
	if r.lim.Trusted != nil {
		if err := r.lim.Trusted.Check(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// Verify re-reads every file of an archive (any format) and checks it against the
// manifest, returning the manifest. The error names the first file that differs, is
// missing or is extra.
func Verify(ctx context.Context, src string, lim Limits) (m *Manifest, err error) {
	err = verify(ctx, src, lim, ManifestPath, ErrNoManifest, func(r *reader, read func(name string) ([]byte, error)) (err error) {
		m, _, err = r.check(read)
		return err
	})
	return m, err
}

// verify reads every file of an archive, keeping in memory only the manifests at
// manifestPath and their signatures (at the top or in a folder: check picks the one at the
// root), then runs check on what was read; read gives a kept file, or missing when there is
// none.
func verify(ctx context.Context, src string, lim Limits, manifestPath string, missing error, check func(r *reader, read func(name string) ([]byte, error)) error) error {
	manifests := map[string]*[]byte{}
	r := newReader(ctx, lim, func(name string) (io.WriteCloser, error) {
		base := strings.TrimSuffix(name, SignatureSuffix)
		if base == manifestPath || strings.HasSuffix(base, "/"+manifestPath) {
			buf := new([]byte)
			manifests[name] = buf
			return &bufferCloser{buf: buf}, nil
		}
		return nopCloser{io.Discard}, nil
	})
	if _, err := r.read(src); err != nil {
		return err
	}
	return check(r, func(name string) ([]byte, error) {
		if b := manifests[name]; b != nil {
			return *b, nil
		}
		return nil, missing
	})
}

type bufferCloser struct{ buf *[]byte }

func (b *bufferCloser) Write(p []byte) (int, error) {
	if len(*b.buf)+len(p) > 16<<20 {
		return 0, errors.New("a manifest or its signatures are larger than 16 MiB")
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}
func (b *bufferCloser) Close() error { return nil }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Extract unpacks an archive (any format) into dest, which must not exist yet, checking
// every file against the manifest. On any failure nothing is left at dest.
func Extract(ctx context.Context, src, dest string, lim Limits) (m *Manifest, err error) {
	err = extract(ctx, src, dest, lim, func(r *reader, read func(name string) ([]byte, error)) (prefix string, err error) {
		m, prefix, err = r.check(read)
		return prefix, err
	})
	return m, err
}

// extract unpacks an archive into dest as Extract describes; check finds the manifest among
// the files read (read reads one of them) and checks them against it, returning the
// manifest's folder prefix.
func extract(ctx context.Context, src, dest string, lim Limits, check func(r *reader, read func(name string) ([]byte, error)) (string, error)) (err error) {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s already exists", dest)
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	stage, err := os.MkdirTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(stage)
		}
	}()
	r := newReader(ctx, lim, func(name string) (io.WriteCloser, error) {
		p := filepath.Join(stage, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		return os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	})
	if _, err = r.read(src); err != nil {
		return err
	}
	prefix, err := check(r, func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(stage, filepath.FromSlash(name)))
	})
	if err != nil {
		return err
	}
	root := filepath.Join(stage, filepath.FromSlash(prefix))
	if err = os.Rename(root, dest); err != nil {
		return err
	}
	if prefix != "" {
		os.RemoveAll(stage)
	}
	return nil
}

// Opened is an archive whose files are on disk, ready to load.
type Opened struct {
	Manifest *Manifest
	// Dir holds the files: the folder itself for a no-archive model, otherwise a
	// temporary extraction removed by Close.
	Dir    string
	Format Format
	// Digest is the sha256 (hex) of the archive file, of the manifest for a folder, of the
	// model for a bare ONNX file, and of config.pbtxt and the model for a Triton model.
	Digest string
	// Triton is a Triton model's config.pbtxt (nil for others).
	Triton *oippb.ModelConfig
	temp   bool
}

// Open checks an archive and makes its files available in a folder. A folder is used in
// place; other formats are extracted under tmpRoot ("" = the system's temporary folder).
func Open(ctx context.Context, src, tmpRoot string, lim Limits) (*Opened, error) {
	format, err := Detect(src)
	if err != nil {
		return nil, err
	}
	if format == Folder {
		m, err := Verify(ctx, src, lim)
		if err != nil {
			return nil, err
		}
		b, _ := os.ReadFile(filepath.Join(src, filepath.FromSlash(ManifestPath)))
		sum := sha256.Sum256(b)
		return &Opened{Manifest: m, Dir: src, Format: Folder, Digest: hex.EncodeToString(sum[:])}, nil
	}
	dir, err := tempModelDir(tmpRoot)
	if err != nil {
		return nil, err
	}
	os.Remove(dir) // Extract wants to create it
	m, err := Extract(ctx, src, dir, lim)
	if err != nil {
		return nil, err
	}
	digest, err := fileSHA256(src)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Opened{Manifest: m, Dir: dir, Format: format, Digest: digest, temp: true}, nil
}

// tempModelDir makes a new folder for a model's files under tmpRoot ("" = the system's
// temporary folder).
func tempModelDir(tmpRoot string) (string, error) {
	if tmpRoot == "" {
		tmpRoot = os.TempDir()
	}
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(tmpRoot, "model-*")
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Path is the on-disk path of a file of the archive (name is slash-separated).
func (o *Opened) Path(name string) string {
	return filepath.Join(o.Dir, filepath.FromSlash(name))
}

// Close removes a temporary extraction.
func (o *Opened) Close() error {
	if o.temp {
		return os.RemoveAll(o.Dir)
	}
	return nil
}
