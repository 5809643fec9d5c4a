package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/x448/float16"
	"google.golang.org/protobuf/encoding/protowire"
)

// FP16Stats says what ConvertWeightsFP16 did.
type FP16Stats struct {
	Converted int   // initializers stored as float16
	Kept      int   // float32 initializers left as they were (small, out of range, or graph inputs)
	Saved     int64 // bytes saved
}

// minFP16Elements: smaller tensors (epsilons, scalars, shapes) are not worth converting.
const minFP16Elements = 16

// ConvertWeightsFP16 copies an ONNX model, storing its float32 weights as float16: each
// converted initializer W becomes W_fp16 (float16) followed by a Cast back to float32 named
// W, so every operator and the model's inputs and outputs keep their float32 types and only
// the weights lose precision. A weight is left as it is when it is small, has a value out of
// float16's range, is stored outside the file, or is also a graph input.
func ConvertWeightsFP16(r io.ReaderAt, size int64, w io.Writer) (FP16Stats, error) {
	var stats FP16Stats
	p := &parser{r: &pagedReader{r: r}}
	var graph *span
	var out []byte
	err := p.fields(span{0, size}, func(f field) error {
		if f.num == 7 && f.typ == protowire.BytesType {
			g := f.value
			graph = &g
			return nil
		}
		raw, err := p.rawField(f)
		out = append(out, raw...)
		return err
	})
	if err != nil || graph == nil {
		return stats, fmt.Errorf("%w: %v", ErrNotONNX, err)
	}
	g, err := convertGraph(p, *graph, &stats)
	if err != nil {
		return stats, err
	}
	out = protowire.AppendBytes(protowire.AppendTag(out, 7, protowire.BytesType), g)
	_, err = w.Write(out)
	return stats, err
}

// rawField returns a field exactly as stored: its tag and value.
func (p *parser) rawField(f field) ([]byte, error) {
	b := protowire.AppendTag(nil, f.num, f.typ)
	switch f.typ {
	case protowire.VarintType:
		return protowire.AppendVarint(b, f.varint), nil
	case protowire.BytesType:
		v := make([]byte, f.value.end-f.value.start)
		if _, err := p.r.ReadAt(v, f.value.start); err != nil && len(v) > 0 {
			return nil, err
		}
		return protowire.AppendBytes(b, v), nil
	}
	return nil, fmt.Errorf("unexpected wire type %d for field %d", f.typ, f.num)
}

func (p *parser) bytes(s span) ([]byte, error) {
	v := make([]byte, s.end-s.start)
	if len(v) == 0 {
		return v, nil
	}
	_, err := p.r.ReadAt(v, s.start)
	return v, err
}

func convertGraph(p *parser, g span, stats *FP16Stats) ([]byte, error) {
	inputs := map[string]bool{}
	err := p.fields(g, func(f field) error {
		if f.num == 11 && f.typ == protowire.BytesType {
			name, err := p.stringField(f.value, 1)
			inputs[name] = true
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var casts, rest []byte
	err = p.fields(g, func(f field) error {
		if f.num == 5 && f.typ == protowire.BytesType {
			half, name, err := p.halfTensor(f.value, inputs)
			if err != nil {
				return err
			}
			if half != nil {
				stats.Converted++
				stats.Saved += (f.value.end - f.value.start) - int64(len(half))
				rest = protowire.AppendBytes(protowire.AppendTag(rest, 5, protowire.BytesType), half)
				casts = protowire.AppendBytes(protowire.AppendTag(casts, 1, protowire.BytesType), castNode(name+"_fp16", name))
				return nil
			}
			if isFloat, _ := p.isFloatTensor(f.value); isFloat {
				stats.Kept++
			}
		}
		raw, err := p.rawField(f)
		rest = append(rest, raw...)
		return err
	})
	if err != nil {
		return nil, err
	}
	// the Casts come first, so every node that reads a weight follows its Cast
	return append(casts, rest...), nil
}

func castNode(in, out string) []byte {
	attr := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "to")
	attr = protowire.AppendVarint(protowire.AppendTag(attr, 3, protowire.VarintType), 1)  // i = FLOAT
	attr = protowire.AppendVarint(protowire.AppendTag(attr, 20, protowire.VarintType), 2) // type = INT
	n := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), in)
	n = protowire.AppendString(protowire.AppendTag(n, 2, protowire.BytesType), out)
	n = protowire.AppendString(protowire.AppendTag(n, 3, protowire.BytesType), "cast_"+in)
	n = protowire.AppendString(protowire.AppendTag(n, 4, protowire.BytesType), "Cast")
	return protowire.AppendBytes(protowire.AppendTag(n, 5, protowire.BytesType), attr)
}

func (p *parser) isFloatTensor(t span) (bool, error) {
	float := false
	err := p.fields(t, func(f field) error {
		if f.num == 2 && f.typ == protowire.VarintType && f.varint == 1 {
			float = true
		}
		return nil
	})
	return float, err
}

// halfTensor rewrites a float32 TensorProto (dims=1, data_type=2, float_data=4, name=8,
// raw_data=9, data_location=14) as float16 raw data named name_fp16; nil when it should
// stay as it is.
func (p *parser) halfTensor(t span, graphInputs map[string]bool) ([]byte, string, error) {
	var dims []uint64
	var dtype uint64
	var name string
	var raw []byte
	var floats []float32
	external := false
	err := p.fields(t, func(f field) error {
		var err error
		switch {
		case f.num == 1 && f.typ == protowire.VarintType:
			dims = append(dims, f.varint)
		case f.num == 1 && f.typ == protowire.BytesType: // packed dims
			b, err := p.bytes(f.value)
			if err != nil {
				return err
			}
			for len(b) > 0 {
				v, n := protowire.ConsumeVarint(b)
				if n < 0 {
					return fmt.Errorf("bad dims")
				}
				dims, b = append(dims, v), b[n:]
			}
		case f.num == 2 && f.typ == protowire.VarintType:
			dtype = f.varint
		case f.num == 8 && f.typ == protowire.BytesType:
			name, err = p.str(f.value)
		case f.num == 9 && f.typ == protowire.BytesType:
			raw, err = p.bytes(f.value)
		case f.num == 4 && f.typ == protowire.BytesType: // packed float_data
			b, err := p.bytes(f.value)
			if err != nil {
				return err
			}
			for i := 0; i+4 <= len(b); i += 4 {
				floats = append(floats, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
			}
		case f.num == 4 && f.typ == protowire.Fixed32Type:
			return fmt.Errorf("unpacked float_data is not supported")
		case f.num == 14 && f.typ == protowire.VarintType && f.varint == 1:
			external = true
		}
		return err
	})
	if err != nil || dtype != 1 || external || graphInputs[name] || name == "" {
		return nil, "", err
	}
	if raw != nil {
		floats = make([]float32, len(raw)/4)
		for i := range floats {
			floats[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	n := uint64(1)
	for _, d := range dims {
		n *= d
	}
	if uint64(len(floats)) != n || n < minFP16Elements {
		return nil, "", nil
	}
	half := make([]byte, 2*n)
	for i, v := range floats {
		if math.Abs(float64(v)) > 65504 || math.IsNaN(float64(v)) {
			return nil, "", nil // out of float16's range: keep float32
		}
		binary.LittleEndian.PutUint16(half[2*i:], float16.Fromfloat32(v).Bits())
	}
	var b []byte
	for _, d := range dims {
		b = protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), d)
	}
	b = protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), 10) // FLOAT16
	b = protowire.AppendString(protowire.AppendTag(b, 8, protowire.BytesType), name+"_fp16")
	b = protowire.AppendBytes(protowire.AppendTag(b, 9, protowire.BytesType), half)
	return b, name, nil
}
