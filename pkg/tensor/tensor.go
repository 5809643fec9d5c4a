package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unsafe"

	"github.com/x448/float16"
)

// Number is the set of Go types that back a numeric tensor directly.
type Number interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// Tensor is a dense tensor: an element type, a shape and the elements in row-major order.
// Numeric and bool elements live in Data as little-endian bytes; strings live in Strings.
type Tensor struct {
	DType   DType
	Shape   []int64
	Data    []byte
	Strings []string
}

// Info describes a model input or output: its name, element type and shape, where a
// negative dimension is dynamic (any size) and DimNames may name it ("batch").
type Info struct {
	Name  string `json:"name"`
	DType DType  `json:"dtype"`
	// Shape is the declared shape, -1 for a dynamic dimension; [] for a scalar, nil when
	// the model does not declare one (any rank: see AnyShape).
	Shape    []int64  `json:"shape"`
	DimNames []string `json:"dim_names,omitempty"`
}

// Names lists the names of inputs or outputs, in order.
func Names(infos []Info) []string {
	names := make([]string, len(infos))
	for i, in := range infos {
		names[i] = in.Name
	}
	return names
}

// AnyShape reports whether the model declares no shape, rank included: any is accepted.
func (i Info) AnyShape() bool { return i.Shape == nil }

// String formats the info as `name: float32[-1,3,224,224]` (`[...]`: any shape).
func (i Info) String() string {
	return fmt.Sprintf("%s: %s%s", i.Name, i.DType, i.ShapeText())
}

// EmptyAllowed tells whether a tensor of this shape holding no element may feed the input:
// when its zero dimensions are dynamic ones after the first (a key/value cache of no past
// tokens, [1,12,0,64]) or ones the input fixes at 0. A tensor without rows, or empty where
// the input fixes a size, may not.
func (i Info) EmptyAllowed(shape []int64) bool {
	fixedZero := func(d int) bool { return d < len(i.Shape) && len(shape) == len(i.Shape) && i.Shape[d] == 0 }
	switch {
	case len(shape) == 0 || (shape[0] == 0 && !fixedZero(0)):
		return false
	case i.AnyShape():
		return true
	case len(shape) != len(i.Shape):
		return false
	}
	for d, n := range shape {
		if n == 0 && i.Shape[d] > 0 {
			return false
		}
	}
	return true
}

// DimName is the name of the input's dimension d ("batch"), or "" when it has none.
func (i Info) DimName(d int) string {
	if d < len(i.DimNames) {
		return i.DimNames[d]
	}
	return ""
}

// SharedDimSize is the size that shapes (by input name, each without its first skip
// dimensions: a batch the caller sets) give a dynamic dimension named name in any of
// inputs, so that inputs sharing a named dimension (input_ids and attention_mask [batch,
// seq]) agree; 0 when none gives one.
func SharedDimSize(inputs []Info, shapes map[string][]int64, skip int, name string) int64 {
	if name == "" {
		return 0
	}
	for _, in := range inputs {
		given, ok := shapes[in.Name]
		if !ok || in.AnyShape() || len(given) != len(in.Shape)-skip {
			continue
		}
		for j, d := range in.Shape[skip:] {
			if d < 0 && in.DimName(skip+j) == name {
				return given[j]
			}
		}
	}
	return 0
}

// ShapeText writes the declared shape: [-1,3,224,224], or [...] for any shape.
func (i Info) ShapeText() string {
	if i.AnyShape() {
		return "[...]"
	}
	return ShapeString(i.Shape)
}

// NamedShape writes the declared shape with its dynamic dimensions named: [batch,1,8,8]
// (? for a dynamic dimension with no name, [...] for any shape).
func (i Info) NamedShape() string {
	if i.AnyShape() {
		return "[...]"
	}
	parts := make([]string, len(i.Shape))
	for d, n := range i.Shape {
		switch {
		case i.DimName(d) != "":
			parts[d] = i.DimName(d)
		case n < 0:
			parts[d] = "?"
		default:
			parts[d] = strconv.FormatInt(n, 10)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// dtypeOf maps a Go element type to its DType.
func dtypeOf[T Number]() DType {
	var zero T
	switch any(zero).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int8:
		return Int8
	case int16:
		return Int16
	case int32:
		return Int32
	case int64:
		return Int64
	case uint8:
		return Uint8
	case uint16:
		return Uint16
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	}
	return Invalid
}

// New wraps values as a tensor of the matching element type without copying them.
func New[T Number](shape []int64, values []T) *Tensor {
	var data []byte
	if len(values) > 0 {
		data = unsafe.Slice((*byte)(unsafe.Pointer(&values[0])), len(values)*int(unsafe.Sizeof(values[0])))
	}
	return &Tensor{DType: dtypeOf[T](), Shape: append([]int64(nil), shape...), Data: data}
}

// NewBool builds a bool tensor.
func NewBool(shape []int64, values []bool) *Tensor {
	data := make([]byte, len(values))
	for i, v := range values {
		if v {
			data[i] = 1
		}
	}
	return &Tensor{DType: Bool, Shape: append([]int64(nil), shape...), Data: data}
}

// NewStrings builds a string tensor.
func NewStrings(shape []int64, values []string) *Tensor {
	return &Tensor{DType: String, Shape: append([]int64(nil), shape...), Strings: values}
}

// FromBytes builds a tensor over raw little-endian bytes, checking that their length
// matches the shape.
func FromBytes(dt DType, shape []int64, data []byte) (*Tensor, error) {
	if !dt.Valid() || dt == String {
		return nil, fmt.Errorf("cannot build a %s tensor from raw bytes", dt)
	}
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if want := n * int64(dt.Size()); int64(len(data)) != want {
		return nil, fmt.Errorf("%s%s needs %d bytes, got %d", dt, ShapeString(shape), want, len(data))
	}
	return &Tensor{DType: dt, Shape: append([]int64(nil), shape...), Data: data}, nil
}

// FromBinary builds a tensor from the binary tensor data layout (the Open Inference
// Protocol's, Triton's): raw little-endian elements, as FromBytes takes them, or for strings
// each element's length in 4 little-endian bytes and then its bytes.
func FromBinary(dt DType, shape []int64, data []byte) (*Tensor, error) {
	if dt != String {
		return FromBytes(dt, shape, data)
	}
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	var s []string
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, fmt.Errorf("BYTES data ends inside an element's length")
		}
		size := binary.LittleEndian.Uint32(data)
		if uint64(size) > uint64(len(data)-4) {
			return nil, fmt.Errorf("a BYTES element of %d bytes runs past the end of its data", size)
		}
		s = append(s, string(data[4:4+size]))
		data = data[4+size:]
	}
	if int64(len(s)) != n {
		return nil, fmt.Errorf("shape %s needs %d elements, got %d", ShapeString(shape), n, len(s))
	}
	return NewStrings(shape, s), nil
}

// NumElements is the product of the dimensions; every dimension must be ≥ 0.
func NumElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %s has a negative dimension", ShapeString(shape))
		}
		if d != 0 && n > math.MaxInt32*int64(64)/d {
			return 0, fmt.Errorf("shape %s is too large", ShapeString(shape))
		}
		n *= d
	}
	return n, nil
}

// Len is the number of elements.
func (t *Tensor) Len() int64 {
	n, _ := NumElements(t.Shape)
	return n
}

// ShapeString formats a shape as `[1,3,224,224]`, with -1 for dynamic dimensions.
func ShapeString(shape []int64) string {
	b := []byte{'['}
	for i, d := range shape {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%d", d)
	}
	return string(append(b, ']'))
}

// Values returns the elements as []T without copying when T matches the element type.
func Values[T Number](t *Tensor) ([]T, error) {
	if want := dtypeOf[T](); t.DType != want {
		return nil, fmt.Errorf("tensor is %s, not %s", t.DType, want)
	}
	var zero T
	size := int(unsafe.Sizeof(zero))
	n := len(t.Data) / size
	if n == 0 {
		return []T{}, nil
	}
	if uintptr(unsafe.Pointer(&t.Data[0]))%uintptr(size) != 0 {
		out := make([]T, n) // misaligned view: copy
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), n*size), t.Data)
		return out, nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&t.Data[0])), n), nil
}

// Float64s converts every element to float64 (bools to 0/1); strings are an error.
func (t *Tensor) Float64s() ([]float64, error) {
	out := make([]float64, t.Len())
	switch t.DType {
	case Float32:
		widen[float32](t, out)
	case Float64:
		widen[float64](t, out)
	case Float16:
		for i, x := range t.halfBits() {
			out[i] = float64(float16.Frombits(x).Float32())
		}
	case BFloat16:
		for i, x := range t.halfBits() {
			out[i] = float64(math.Float32frombits(uint32(x) << 16))
		}
	case Int8:
		widen[int8](t, out)
	case Int16:
		widen[int16](t, out)
	case Int32:
		widen[int32](t, out)
	case Int64:
		widen[int64](t, out)
	case Uint8:
		widen[uint8](t, out)
	case Bool:
		for i, b := range t.Data {
			out[i] = float64(b)
		}
	case Uint16:
		widen[uint16](t, out)
	case Uint32:
		widen[uint32](t, out)
	case Uint64:
		widen[uint64](t, out)
	default:
		return nil, fmt.Errorf("cannot read %s elements as numbers", t.DType)
	}
	return out, nil
}

// widen copies t's elements, stored as T, into out.
func widen[T Number](t *Tensor, out []float64) {
	v, _ := Values[T](&Tensor{DType: dtypeOf[T](), Data: t.Data})
	for i, x := range v {
		out[i] = float64(x)
	}
}

// halfBits views the elements of a 16-bit float tensor as their bit patterns.
func (t *Tensor) halfBits() []uint16 {
	v, _ := Values[uint16](&Tensor{DType: Uint16, Data: t.Data})
	return v
}

// Float32s converts every element to float32.
func (t *Tensor) Float32s() ([]float32, error) {
	if t.DType == Float32 {
		v, err := Values[float32](t)
		return append([]float32(nil), v...), err
	}
	if t.DType == Float16 {
		v := t.halfBits()
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float16.Frombits(x).Float32()
		}
		return out, nil
	}
	f, err := t.Float64s()
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(f))
	for i, x := range f {
		out[i] = float32(x)
	}
	return out, nil
}

// FromFloat64s builds a tensor of element type dt from float64 values, converting each
// (rounding to the nearest float16, truncating toward zero for integers). It fails when an
// integer value is not whole or does not fit.
func FromFloat64s(dt DType, shape []int64, values []float64) (*Tensor, error) {
	n, err := NumElements(shape)
	if err != nil {
		return nil, err
	}
	if n != int64(len(values)) {
		return nil, fmt.Errorf("shape %s holds %d values, got %d", ShapeString(shape), n, len(values))
	}
	switch dt {
	case Float32:
		out := make([]float32, n)
		for i, v := range values {
			out[i] = float32(v)
		}
		return New(shape, out), nil
	case Float64:
		return New(shape, append([]float64(nil), values...)), nil
	case Float16:
		out := make([]uint16, n)
		for i, v := range values {
			out[i] = float16.Fromfloat32(float32(v)).Bits()
		}
		t := New(shape, out)
		t.DType = Float16
		return t, nil
	case BFloat16:
		out := make([]uint16, n)
		for i, v := range values {
			out[i] = bfloat16FromFloat32(float32(v))
		}
		t := New(shape, out)
		t.DType = BFloat16
		return t, nil
	case Bool:
		out := make([]bool, n)
		for i, v := range values {
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("value %v at index %d is not a bool (0 or 1)", v, i)
			}
			out[i] = v == 1
		}
		return NewBool(shape, out), nil
	case Int8:
		return intsFrom[int8](shape, values, math.MinInt8, math.MaxInt8+1)
	case Int16:
		return intsFrom[int16](shape, values, math.MinInt16, math.MaxInt16+1)
	case Int32:
		return intsFrom[int32](shape, values, math.MinInt32, math.MaxInt32+1)
	case Int64:
		return intsFrom[int64](shape, values, -(1 << 63), 1<<63)
	case Uint8:
		return intsFrom[uint8](shape, values, 0, math.MaxUint8+1)
	case Uint16:
		return intsFrom[uint16](shape, values, 0, math.MaxUint16+1)
	case Uint32:
		return intsFrom[uint32](shape, values, 0, math.MaxUint32+1)
	case Uint64:
		return intsFrom[uint64](shape, values, 0, 1<<64)
	}
	return nil, fmt.Errorf("cannot build a %s tensor from numbers", dt)
}

// intsFrom converts integral values in [lo, end) (end exclusive: 2^63 and 2^64 are exact in a
// float64, their predecessors are not).
func intsFrom[T Number](shape []int64, values []float64, lo, end float64) (*Tensor, error) {
	out := make([]T, len(values))
	for i, v := range values {
		if v != math.Trunc(v) || v < lo || v >= end {
			return nil, fmt.Errorf("value %s at index %d does not fit %s", strconv.FormatFloat(v, 'f', -1, 64), i, dtypeOf[T]())
		}
		out[i] = T(v)
	}
	return New(shape, out), nil
}

func bfloat16FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f { // NaN stays NaN
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16) // round to nearest even
}

// Convert returns t as element type dt (t itself when it already is).
func (t *Tensor) Convert(dt DType) (*Tensor, error) {
	if t.DType == dt {
		return t, nil
	}
	f, err := t.Float64s()
	if err != nil {
		return nil, err
	}
	return FromFloat64s(dt, t.Shape, f)
}
