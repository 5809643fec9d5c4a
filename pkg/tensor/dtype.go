// Package tensor holds the tensor type that flows between handlers, the batcher and the
// engine: an element type, a shape and the raw little-endian bytes. It is pure Go, so
// tools that never run a model (tsarchive) can use the same types.
package tensor

import (
	"fmt"
	"strings"
)

// DType is a tensor element type. The values follow ONNX's TensorProto.DataType, so
// converting to and from ONNX Runtime is a cast.
type DType int32

// Element types, numbered as ONNX numbers them.
const (
	Invalid  DType = 0
	Float32  DType = 1
	Uint8    DType = 2
	Int8     DType = 3
	Uint16   DType = 4
	Int16    DType = 5
	Int32    DType = 6
	Int64    DType = 7
	String   DType = 8
	Bool     DType = 9
	Float16  DType = 10
	Float64  DType = 11
	Uint32   DType = 12
	Uint64   DType = 13
	BFloat16 DType = 16
)

type dtypeInfo struct {
	name string // our name, as numpy spells it
	v2   string // KServe v2 / Triton datatype
	size int    // bytes per element; 0 for strings
}

var dtypes = map[DType]dtypeInfo{
	Float32:  {"float32", "FP32", 4},
	Float16:  {"float16", "FP16", 2},
	BFloat16: {"bfloat16", "BF16", 2},
	Float64:  {"float64", "FP64", 8},
	Int8:     {"int8", "INT8", 1},
	Int16:    {"int16", "INT16", 2},
	Int32:    {"int32", "INT32", 4},
	Int64:    {"int64", "INT64", 8},
	Uint8:    {"uint8", "UINT8", 1},
	Uint16:   {"uint16", "UINT16", 2},
	Uint32:   {"uint32", "UINT32", 4},
	Uint64:   {"uint64", "UINT64", 8},
	Bool:     {"bool", "BOOL", 1},
	String:   {"string", "BYTES", 0},
}

// aliases maps other common spellings (lower case) to a type.
var aliases = map[string]DType{
	"float": Float32, "fp32": Float32, "f32": Float32, "tensor(float)": Float32,
	"half": Float16, "fp16": Float16, "f16": Float16, "tensor(float16)": Float16,
	"bf16":   BFloat16,
	"double": Float64, "fp64": Float64, "f64": Float64, "tensor(double)": Float64,
	"long": Int64, "tensor(int64)": Int64, "int": Int32, "tensor(int32)": Int32,
	"byte": Uint8, "tensor(uint8)": Uint8, "tensor(int8)": Int8,
	"boolean": Bool, "tensor(bool)": Bool,
	"bytes": String, "str": String, "tensor(string)": String,
}

// String returns the numpy-style name, e.g. "float32".
func (d DType) String() string {
	if info, ok := dtypes[d]; ok {
		return info.name
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// V2Name returns the KServe v2 / Triton name, e.g. "FP32".
func (d DType) V2Name() string {
	if info, ok := dtypes[d]; ok {
		return info.v2
	}
	return d.String()
}

// Size is the number of bytes per element (0 for strings and unknown types).
func (d DType) Size() int { return dtypes[d].size }

// Valid reports whether d is a known element type.
func (d DType) Valid() bool {
	_, ok := dtypes[d]
	return ok
}

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float16 || d == BFloat16 || d == Float64
}

// MarshalText writes the numpy-style name.
func (d DType) MarshalText() ([]byte, error) {
	if !d.Valid() {
		return nil, fmt.Errorf("unknown element type %d", int32(d))
	}
	return []byte(d.String()), nil
}

// UnmarshalText accepts any spelling ParseDType accepts.
func (d *DType) UnmarshalText(b []byte) error {
	v, err := ParseDType(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDType reads an element type name: numpy ("float32"), KServe v2 ("FP32"), ONNX
// ("tensor(float)") and a few common aliases ("float", "half", "long"), case-insensitively.
func ParseDType(s string) (DType, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for d, info := range dtypes {
		if l == info.name || l == strings.ToLower(info.v2) {
			return d, nil
		}
	}
	if d, ok := aliases[l]; ok {
		return d, nil
	}
	return Invalid, fmt.Errorf("unknown element type %q (want one of float32, float16, float64, int64, int32, int8, uint8, bool, ...)", s)
}
