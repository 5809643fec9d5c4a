package oippb

import (
	"strings"

	"github.com/tsserve/ts/pkg/tensor"
)

// DType is the element type a config.pbtxt data type names (TYPE_STRING the strings of
// BYTES); tensor.Invalid for TYPE_INVALID and types ts has not.
func (t DataType) DType() tensor.DType {
	name := strings.TrimPrefix(t.String(), "TYPE_")
	if name == "STRING" {
		return tensor.String
	}
	d, err := tensor.ParseDType(name)
	if err != nil {
		return tensor.Invalid
	}
	return d
}

// DataTypeOf is the config.pbtxt data type of an element type (TYPE_INVALID for one Triton
// has not).
func DataTypeOf(d tensor.DType) DataType {
	if d == tensor.String {
		return DataType_TYPE_STRING
	}
	return DataType(DataType_value["TYPE_"+d.V2Name()])
}
