// Package onnx reads what ts needs from an ONNX model file without loading it: whether it
// is an ONNX model at all, and its signature (input and output names, element types and
// shapes). It walks the protobuf encoding over an io.ReaderAt, skipping weights, so a
// 500 MB model costs a few reads. Pure Go: tsarchive uses it with CGO_ENABLED=0.
package onnx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/tsserve/ts/pkg/tensor"
)

// Model is what ts reads from an ONNX file.
type Model struct {
	IRVersion       int64         `json:"ir_version"`
	Opset           int64         `json:"opset,omitempty"`
	ProducerName    string        `json:"producer_name,omitempty"`
	ProducerVersion string        `json:"producer_version,omitempty"`
	Inputs          []tensor.Info `json:"inputs"`
	Outputs         []tensor.Info `json:"outputs"`
	// Unserved are the outputs that are not tensors (a sequence of tensors, an optional) and
	// not sequences of maps either, which ts leaves out: it runs the model for the others.
	Unserved []NonTensor `json:"unserved_outputs,omitempty"`
	// FromMaps are the outputs that are sequences of maps (one map per row, as skl2onnx's
	// ZipMap writes a classifier's probabilities), served as tensors [rows, keys] of the maps'
	// values; they are among Outputs too.
	FromMaps []string `json:"from_maps,omitempty"`
	// ExternalData are the files, relative to the model's, that hold initializers stored
	// outside it (large models; onnx.save(..., save_as_external_data=True)), slash-separated.
	ExternalData []string `json:"external_data,omitempty"`
	// Metadata holds the model's metadata_props (key/value strings).
	Metadata map[string]string `json:"metadata,omitempty"`
	// Domains are the operator set domains the model imports besides ONNX's own (ai.onnx.ml,
	// com.microsoft, or a custom one such as onnxruntime-extensions' ai.onnx.contrib).
	Domains []string `json:"domains,omitempty"`
}

// RuntimeDomains are the operator domains ONNX Runtime implements itself; a model using
// another needs a custom operator library.
var RuntimeDomains = []string{"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "com.microsoft", "com.microsoft.nchwc", "com.ms.internal.nhwc"}

// CustomDomainsNote says that a model uses operators ONNX Runtime does not have ("" when it
// uses none).
func (m *Model) CustomDomainsNote() string {
	var custom []string
	for _, d := range m.Domains {
		if !slices.Contains(RuntimeDomains, d) {
			custom = append(custom, d)
		}
	}
	if len(custom) == 0 {
		return ""
	}
	return fmt.Sprintf("the model uses operators of %s, which ONNX Runtime does not implement (they come from a custom operator library, such as onnxruntime-extensions' for ai.onnx.contrib, which ts does not load): the server will fail to load it", strings.Join(custom, ", "))
}

// NonTensor is a graph output that is not a tensor.
type NonTensor struct {
	Name string `json:"name"`
	// Kind says what it is: "a sequence of maps", "an optional of tensors" ...
	Kind string `json:"kind"`
}

// Note says that the output is left out, and how to serve it instead.
func (n NonTensor) Note() string {
	return fmt.Sprintf("output %q is %s, not a tensor: ts leaves it out and serves the other outputs (export it as a tensor to serve it)", n.Name, n.Kind)
}

// FromMapsNote says how an output that is a sequence of maps is served.
func FromMapsNote(name string) string {
	return fmt.Sprintf("output %q is a sequence of maps (as skl2onnx's ZipMap writes probabilities): ts serves it as a tensor [rows, keys] of the maps' values, its columns in the order of the keys", name)
}

// errNotTensor is a value that is not a tensor; kind says what it is, typ is its TypeProto.
type errNotTensor struct {
	name, kind string
	typ        span
}

func (e *errNotTensor) Error() string {
	return fmt.Sprintf("%q is %s (sequences, maps and optionals are not supported)", e.name, e.kind)
}

// ErrNotONNX says the bytes are not an ONNX model.
var ErrNotONNX = errors.New("not an ONNX model")

// Hint says what to do with a file that is not an ONNX model, judging by its name: a
// PyTorch, safetensors or pickle file is exported to ONNX first ("" for other names).
func Hint(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".pt", ".pth", ".bin", ".safetensors", ".ckpt", ".pkl", ".pickle", ".joblib", ".h5", ".keras", ".pb":
		return "ts serves ONNX models: export it to ONNX first (torch.onnx.export, tf2onnx, skl2onnx) and pack the .onnx file"
	}
	return ""
}

// ReadFile reads the signature of the ONNX model at path. When the file is not one, the error
// says what to do where its name tells (Hint).
func ReadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not an ONNX model", path)
	}
	m, err := Read(f, st.Size())
	if hint := Hint(path); errors.Is(err, ErrNotONNX) && hint != "" {
		return nil, fmt.Errorf("%s: %w; %s", path, err, hint)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Read reads the signature of the ONNX model held in r (size bytes).
func Read(r io.ReaderAt, size int64) (*Model, error) {
	p := &parser{r: &pagedReader{r: r}}
	m := &Model{}
	var graph *span
	var initializers = map[string]bool{}
	err := p.fields(span{0, size}, func(f field) error {
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			m.IRVersion = int64(f.varint)
		case f.num == 2 && f.typ == protowire.BytesType:
			s, err := p.str(f.value)
			m.ProducerName = s
			return err
		case f.num == 3 && f.typ == protowire.BytesType:
			s, err := p.str(f.value)
			m.ProducerVersion = s
			return err
		case f.num == 7 && f.typ == protowire.BytesType:
			g := f.value
			graph = &g
		case f.num == 8 && f.typ == protowire.BytesType:
			// OperatorSetIdProto: domain=1, version=2; the default domain is "" (ai.onnx)
			var domain string
			var version int64
			err := p.fields(f.value, func(o field) error {
				switch {
				case o.num == 1 && o.typ == protowire.BytesType:
					s, err := p.str(o.value)
					domain = s
					return err
				case o.num == 2 && o.typ == protowire.VarintType:
					version = int64(o.varint)
				}
				return nil
			})
			if domain == "" || domain == "ai.onnx" {
				m.Opset = max(m.Opset, version)
			} else if !slices.Contains(m.Domains, domain) {
				m.Domains = append(m.Domains, domain)
			}
			return err
		case f.num == 14 && f.typ == protowire.BytesType:
			var k, v string
			err := p.fields(f.value, func(kv field) error {
				var err error
				if kv.typ == protowire.BytesType && kv.num == 1 {
					k, err = p.str(kv.value)
				} else if kv.typ == protowire.BytesType && kv.num == 2 {
					v, err = p.str(kv.value)
				}
				return err
			})
			if m.Metadata == nil {
				m.Metadata = map[string]string{}
			}
			m.Metadata[k] = v
			return err
		}
		return nil
	})
	if err != nil || m.IRVersion <= 0 || graph == nil {
		if err == nil {
			err = errors.New("no IR version or graph")
		}
		return nil, fmt.Errorf("%w: %v", ErrNotONNX, err)
	}
	var inputs, outputs []tensor.Info
	err = p.fields(*graph, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		switch f.num {
		case 5: // initializer: TensorProto, name = 8
			name, err := p.stringField(f.value, 8)
			initializers[name] = true
			if err == nil {
				err = p.externalData(f.value, m)
			}
			return err
		case 15: // sparse_initializer: SparseTensorProto, values = 1 (TensorProto)
			return p.fields(f.value, func(v field) error {
				if v.num == 1 && v.typ == protowire.BytesType {
					name, err := p.stringField(v.value, 8)
					initializers[name] = true
					if err == nil {
						err = p.externalData(v.value, m)
					}
					return err
				}
				return nil
			})
		case 11, 12:
			info, err := p.valueInfo(f.value)
			var nt *errNotTensor
			if f.num == 12 && errors.As(err, &nt) {
				if dt, ok := p.mapValues(nt.typ); ok {
					outputs = append(outputs, tensor.Info{Name: nt.name, DType: dt, Shape: []int64{-1, -1}})
					m.FromMaps = append(m.FromMaps, nt.name)
				} else {
					m.Unserved = append(m.Unserved, NonTensor{Name: nt.name, Kind: nt.kind})
				}
				return nil
			}
			if err != nil {
				return err
			}
			if f.num == 11 {
				inputs = append(inputs, info)
			} else {
				outputs = append(outputs, info)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: graph: %v", ErrNotONNX, err)
	}
	// Before IR version 4, initializers were listed among the inputs too.
	for _, in := range inputs {
		if !initializers[in.Name] {
			m.Inputs = append(m.Inputs, in)
		}
	}
	m.Outputs = outputs
	if len(outputs) == 0 && len(m.Unserved) > 0 {
		return nil, fmt.Errorf("no output is a tensor (%q is %s): ts serves tensor outputs only", m.Unserved[0].Name, m.Unserved[0].Kind)
	}
	return m, nil
}

// span is a byte range [start, end) of the file.
type span struct{ start, end int64 }

type field struct {
	num    protowire.Number
	typ    protowire.Type
	varint uint64
	value  span // for length-delimited fields
}

type parser struct {
	r   io.ReaderAt
	buf [binaryHeaderMax]byte
}

const binaryHeaderMax = 20 // a tag and a length, each at most 10 bytes

// fields calls fn for each field in s, reading only headers and varints.
func (p *parser) fields(s span, fn func(field) error) error {
	for off := s.start; off < s.end; {
		n := min(int64(len(p.buf)), s.end-off)
		got, err := p.r.ReadAt(p.buf[:n], off)
		if int64(got) < n && err != nil {
			return fmt.Errorf("truncated at byte %d: %w", off, err)
		}
		b := p.buf[:got]
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			return fmt.Errorf("bad field tag at byte %d", off)
		}
		b = b[tagLen:]
		f := field{num: num, typ: typ}
		var valLen int64
		switch typ {
		case protowire.VarintType:
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return fmt.Errorf("bad varint at byte %d", off)
			}
			f.varint, valLen = v, int64(l)
		case protowire.Fixed32Type:
			valLen = 4
		case protowire.Fixed64Type:
			valLen = 8
		case protowire.BytesType:
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return fmt.Errorf("bad length at byte %d", off)
			}
			start := off + int64(tagLen) + int64(l)
			if v > uint64(s.end-start) {
				return fmt.Errorf("field %d at byte %d runs past its message", num, off)
			}
			f.value = span{start, start + int64(v)}
			valLen = int64(l) + int64(v)
		default:
			return fmt.Errorf("unsupported wire type %d at byte %d", typ, off)
		}
		next := off + int64(tagLen) + valLen
		if next > s.end {
			return fmt.Errorf("field %d at byte %d runs past its message", num, off)
		}
		if err := fn(f); err != nil {
			return err
		}
		off = next
	}
	return nil
}

const maxString = 1 << 16

func (p *parser) str(s span) (string, error) {
	if s.end-s.start > maxString {
		return "", fmt.Errorf("string of %d bytes at byte %d is too long", s.end-s.start, s.start)
	}
	b := make([]byte, s.end-s.start)
	if _, err := p.r.ReadAt(b, s.start); err != nil && !(errors.Is(err, io.EOF) && len(b) == 0) {
		return "", err
	}
	return string(b), nil
}

// externalData adds to m.ExternalData the file a TensorProto's data is in, when it is stored
// outside the model (external_data = 13: StringStringEntryProto key = 1, value = 2, the key
// "location" naming the file).
func (p *parser) externalData(s span, m *Model) error {
	return p.fields(s, func(f field) error {
		if f.num != 13 || f.typ != protowire.BytesType {
			return nil
		}
		key, err := p.stringField(f.value, 1)
		if err != nil || key != "location" {
			return err
		}
		loc, err := p.stringField(f.value, 2)
		if err == nil && !slices.Contains(m.ExternalData, loc) {
			m.ExternalData = append(m.ExternalData, loc)
		}
		return err
	})
}

// stringField returns the first string field num in message s.
func (p *parser) stringField(s span, num protowire.Number) (string, error) {
	var out string
	found := false
	err := p.fields(s, func(f field) error {
		if !found && f.num == num && f.typ == protowire.BytesType {
			found = true
			var err error
			out, err = p.str(f.value)
			return err
		}
		return nil
	})
	return out, err
}

// valueInfo reads a ValueInfoProto: name=1, type=2 (TypeProto: tensor_type=1 { elem_type=1,
// shape=2 { dim=1 { dim_value=1, dim_param=2 } } }).
func (p *parser) valueInfo(s span) (tensor.Info, error) {
	var info tensor.Info
	kind := "of no type"
	var typ span
	err := p.fields(s, func(f field) error {
		var err error
		switch {
		case f.num == 1 && f.typ == protowire.BytesType:
			info.Name, err = p.str(f.value)
		case f.num == 2 && f.typ == protowire.BytesType:
			typ = f.value
			if kind, err = p.typeKind(f.value, false); err == nil && kind == "a tensor" {
				err = p.fields(f.value, func(t field) error {
					if t.num != 1 || t.typ != protowire.BytesType {
						return nil
					}
					return p.tensorType(t.value, &info)
				})
			}
		}
		return err
	})
	switch {
	case err != nil || kind == "a tensor":
	case kind == "of no type" || strings.Contains(kind, "unknown type"):
		// ONNX Runtime may still know it (the engine then asks it)
		err = fmt.Errorf("%q is %s", info.Name, kind)
	default:
		err = &errNotTensor{name: info.Name, kind: kind, typ: typ}
	}
	return info, err
}

// mapValues reports the element type of the values of a TypeProto that is a sequence of
// maps to numeric tensors (sequence_type = 4 { elem_type = 1 { map_type = 5 { value_type = 2
// { tensor_type = 1 { elem_type = 1 } } } } }).
func (p *parser) mapValues(typ span) (tensor.DType, bool) {
	s, ok := typ, true
	for _, num := range []protowire.Number{4, 1, 5, 2, 1} {
		if s, ok = p.message(s, num); !ok {
			return 0, false
		}
	}
	var dt tensor.DType
	p.fields(s, func(f field) error {
		if f.num == 1 && f.typ == protowire.VarintType {
			dt = tensor.DType(int32(f.varint))
		}
		return nil
	})
	return dt, dt.Valid() && dt != tensor.String
}

// message returns the first embedded message field num of message s.
func (p *parser) message(s span, num protowire.Number) (span, bool) {
	var out span
	found := false
	p.fields(s, func(f field) error {
		if !found && f.num == num && f.typ == protowire.BytesType {
			out, found = f.value, true
		}
		return nil
	})
	return out, found
}

// typeNouns name TypeProto's value fields, singular and plural: tensor_type = 1,
// sequence_type = 4, map_type = 5, sparse_tensor_type = 8, optional_type = 9.
var typeNouns = map[protowire.Number][2]string{1: {"a tensor", "tensors"}, 4: {"a sequence", "sequences"}, 5: {"a map", "maps"},
	8: {"a sparse tensor", "sparse tensors"}, 9: {"an optional", "optionals"}}

// typeKind says what a TypeProto describes: "a tensor", "a sequence of maps", "an optional
// of tensors" ... (plural for what a sequence or optional holds).
func (p *parser) typeKind(s span, plural bool) (string, error) {
	kind := "an unknown type"
	if plural {
		kind = "values of an unknown type"
	}
	err := p.fields(s, func(f field) error {
		if f.typ != protowire.BytesType {
			return nil
		}
		noun := typeNouns[f.num]
		if noun[0] == "" {
			return nil
		}
		kind = noun[0]
		if plural {
			kind = noun[1]
		}
		if f.num == 4 || f.num == 9 { // sequence_type, optional_type: elem_type = 1
			return p.fields(f.value, func(e field) error {
				if e.num != 1 || e.typ != protowire.BytesType {
					return nil
				}
				elem, err := p.typeKind(e.value, true)
				kind += " of " + elem
				return err
			})
		}
		return nil
	})
	return kind, err
}

func (p *parser) tensorType(s span, info *tensor.Info) error {
	return p.fields(s, func(f field) error {
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			info.DType = tensor.DType(int32(f.varint))
		case f.num == 2 && f.typ == protowire.BytesType:
			info.Shape = []int64{}
			err := p.fields(f.value, func(d field) error {
				if d.num != 1 || d.typ != protowire.BytesType {
					return nil
				}
				dim, name := int64(-1), ""
				err := p.fields(d.value, func(x field) error {
					var err error
					switch {
					case x.num == 1 && x.typ == protowire.VarintType:
						dim = int64(x.varint)
					case x.num == 2 && x.typ == protowire.BytesType:
						name, err = p.str(x.value)
					}
					return err
				})
				info.Shape = append(info.Shape, dim)
				info.DimNames = append(info.DimNames, name)
				return err
			})
			if !slices.ContainsFunc(info.DimNames, func(n string) bool { return n != "" }) {
				info.DimNames = nil
			}
			return err
		}
		return nil
	})
}

// pagedReader serves the parser's many small reads from one cached page of the file.
type pagedReader struct {
	r     io.ReaderAt
	page  []byte
	start int64
}

const pageSize = 64 << 10

func (p *pagedReader) ReadAt(b []byte, off int64) (int, error) {
	if len(b) > pageSize/4 {
		return p.r.ReadAt(b, off)
	}
	if p.page == nil || off < p.start || off+int64(len(b)) > p.start+int64(len(p.page)) {
		if p.page == nil {
			p.page = make([]byte, pageSize)
		}
		n, err := p.r.ReadAt(p.page[:cap(p.page)], off)
		p.page, p.start = p.page[:n], off
		if n == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(b, p.page[off-p.start:])
	if n < len(b) {
		return n, io.ErrUnexpectedEOF
	}
	return n, nil
}
