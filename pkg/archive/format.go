package archive

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tsserve/ts/pkg/onnx"
)

// Format is an archive format, named as torch-model-archiver's --archive-format.
type Format string

// Formats. Default is a .mar zip whose weights are stored and small files deflated; Tzst
// is ts's own zstd tarball.
const (
	Default  Format = "default"
	ZipStore Format = "zip-store"
	Tgz      Format = "tgz"
	Tzst     Format = "tzst"
	Folder   Format = "no-archive"
)

// Formats lists every format, in the order help text shows them.
var Formats = []Format{Default, ZipStore, Tgz, Tzst, Folder}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown archive format %q (want %s)", s, strings.Join(names, ", "))
}

// OutputName is the file (or folder) name the format gives a model.
func (f Format) OutputName(model string) string {
	switch f {
	case Tgz:
		return model + ".tar.gz"
	case Tzst:
		return model + ".tar.zst"
	case Folder:
		return model
	}
	return model + ".mar"
}

// Detect tells an archive's format from its first bytes (or that it is a folder).
func Detect(path string) (Format, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return Folder, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	head := make([]byte, 4)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return Default, nil // zip; stored or deflated entries read the same
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return Tgz, nil
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Tzst, nil
	}
	if hint := onnx.Hint(path); hint != "" {
		return "", fmt.Errorf("%s: %w nor an ONNX model: %s", path, ErrUnknownFormat, hint)
	}
	if len(head) > 0 && head[0] == 0x08 { // an ONNX model's first field, ir_version
		if _, err := onnx.ReadFile(path); err == nil {
			return "", fmt.Errorf("%s: %w but an ONNX model: name it %s.onnx to serve it as it is", path, ErrUnknownFormat, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)))
		}
	}
	return "", fmt.Errorf("%s: %w (not a zip .mar, .tar.gz, .tar.zst or folder)", path, ErrUnknownFormat)
}
