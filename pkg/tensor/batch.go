package tensor

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Concat joins tensors along dimension 0. They must share the element type and every other
// dimension.
func Concat(ts []*Tensor) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("nothing to concatenate")
	}
	if len(ts) == 1 {
		return ts[0], nil
	}
	first := ts[0]
	if len(first.Shape) == 0 {
		return nil, fmt.Errorf("cannot concatenate scalars")
	}
	rows := int64(0)
	size := 0
	for _, t := range ts {
		if t.DType != first.DType || len(t.Shape) != len(first.Shape) || !slices.Equal(t.Shape[1:], first.Shape[1:]) {
			return nil, fmt.Errorf("cannot concatenate %s%s with %s%s", first.DType, ShapeString(first.Shape), t.DType, ShapeString(t.Shape))
		}
		rows += t.Shape[0]
		size += len(t.Data)
	}
	shape := append([]int64{rows}, first.Shape[1:]...)
	if first.DType == String {
		var s []string
		for _, t := range ts {
			s = append(s, t.Strings...)
		}
		return NewStrings(shape, s), nil
	}
	data := make([]byte, 0, size)
	for _, t := range ts {
		data = append(data, t.Data...)
	}
	return &Tensor{DType: first.DType, Shape: shape, Data: data}, nil
}

// SplitRows cuts t along dimension 0 into parts of the given row counts (which must add up
// to the first dimension). The parts share t's memory.
func (t *Tensor) SplitRows(rows []int64) ([]*Tensor, error) {
	if len(t.Shape) == 0 {
		return nil, fmt.Errorf("cannot split a scalar")
	}
	var total int64
	for _, r := range rows {
		total += r
	}
	if total != t.Shape[0] {
		return nil, fmt.Errorf("cannot split %d rows into %v", t.Shape[0], rows)
	}
	rowElems := int64(1)
	for _, d := range t.Shape[1:] {
		rowElems *= d
	}
	out := make([]*Tensor, len(rows))
	var at int64
	for i, r := range rows {
		shape := append([]int64{r}, t.Shape[1:]...)
		if t.DType == String {
			out[i] = NewStrings(shape, t.Strings[at*rowElems:(at+r)*rowElems])
		} else {
			size := rowElems * int64(t.DType.Size())
			out[i] = &Tensor{DType: t.DType, Shape: shape, Data: t.Data[at*size : (at+r)*size : (at+r)*size]}
		}
		at += r
	}
	return out, nil
}

// StackKey describes what must match for tensors to be concatenated: element types and
// every dimension but the first.
func StackKey(ts []*Tensor) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.DType.String())
		if len(t.Shape) > 0 {
			b.WriteString(ShapeString(t.Shape[1:]))
		} else {
			b.WriteString("scalar")
		}
		b.WriteByte('|')
	}
	return b.String()
}

// Equal reports whether a and b hold the same element type, shape and elements, byte for
// byte.
func Equal(a, b *Tensor) bool {
	return a.DType == b.DType && slices.Equal(a.Shape, b.Shape) && bytes.Equal(a.Data, b.Data) && slices.Equal(a.Strings, b.Strings)
}

// Differ says how b differs from a, or "" when they have the same element type and shape
// and each element of b is within atol + rtol × the larger magnitude of a's (strings must
// be equal; NaN matches NaN).
func Differ(a, b *Tensor, atol, rtol float64) string {
	if a.DType != b.DType || !slices.Equal(a.Shape, b.Shape) {
		return fmt.Sprintf("%s%s against %s%s", a.DType, ShapeString(a.Shape), b.DType, ShapeString(b.Shape))
	}
	if a.DType == String {
		for i := range a.Strings {
			if a.Strings[i] != b.Strings[i] {
				return fmt.Sprintf("element %d: %q against %q", i, a.Strings[i], b.Strings[i])
			}
		}
		return ""
	}
	x, err := a.Float64s()
	if err != nil {
		return err.Error()
	}
	y, err := b.Float64s()
	if err != nil {
		return err.Error()
	}
	for i := range x {
		if math.IsNaN(x[i]) && math.IsNaN(y[i]) || x[i] == y[i] {
			continue
		}
		if !(math.Abs(x[i]-y[i]) <= atol+rtol*max(math.Abs(x[i]), math.Abs(y[i]))) {
			return fmt.Sprintf("element %d: %g against %g", i, x[i], y[i])
		}
	}
	return ""
}
