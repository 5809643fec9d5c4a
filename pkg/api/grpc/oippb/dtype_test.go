package oippb

import (
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

// TestDType: every element type ts has is a config.pbtxt data type and back (strings as
// TYPE_STRING); TYPE_INVALID is none.
func TestDType(t *testing.T) {
	for _, d := range []tensor.DType{tensor.Float32, tensor.Float16, tensor.BFloat16, tensor.Float64, tensor.Int8, tensor.Int16, tensor.Int32,
		tensor.Int64, tensor.Uint8, tensor.Uint16, tensor.Uint32, tensor.Uint64, tensor.Bool, tensor.String} {
		if got := DataTypeOf(d); got == DataType_TYPE_INVALID || got.DType() != d {
			t.Errorf("%s: %s, back %s", d, got, got.DType())
		}
	}
	if DataTypeOf(tensor.String) != DataType_TYPE_STRING || DataType_TYPE_FP32.DType() != tensor.Float32 || DataType_TYPE_INVALID.DType() != tensor.Invalid {
		t.Error("TYPE_STRING, TYPE_FP32 or TYPE_INVALID")
	}
}
