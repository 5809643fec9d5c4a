package tensor

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseDType(t *testing.T) {
	cases := map[string]DType{
		"float32": Float32, "FP32": Float32, "float": Float32, "tensor(float)": Float32,
		"float16": Float16, "FP16": Float16, "half": Float16,
		"bfloat16": BFloat16, "BF16": BFloat16,
		"float64": Float64, "double": Float64, "INT64": Int64, "int32": Int32, "int8": Int8,
		"uint8": Uint8, "UINT8": Uint8, "bool": Bool, "BOOL": Bool, "BYTES": String, " int16 ": Int16,
	}
	for in, want := range cases {
		got, err := ParseDType(in)
		if err != nil || got != want {
			t.Errorf("ParseDType(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "float128", "int4", "complex64"} {
		if _, err := ParseDType(bad); err == nil {
			t.Errorf("ParseDType(%q) succeeded", bad)
		}
	}
	if Float32.String() != "float32" || Float16.V2Name() != "FP16" || Int64.Size() != 8 || String.Size() != 0 {
		t.Error("names or sizes are wrong")
	}
}

func TestRoundTrip(t *testing.T) {
	values := []float64{0, 1, -2, 3.5, 127, -128}
	for _, dt := range []DType{Float32, Float16, BFloat16, Float64, Int8, Int16, Int32, Int64} {
		x, err := FromFloat64s(dt, []int64{2, 3}, values)
		if err != nil {
			if dt.IsFloat() {
				t.Fatalf("%s: %v", dt, err)
			}
			// integers cannot hold 3.5
			if !strings.Contains(err.Error(), "3.5") {
				t.Errorf("%s: error %v does not name the bad value", dt, err)
			}
			continue
		}
		if int64(len(x.Data)) != 6*int64(dt.Size()) {
			t.Errorf("%s: %d bytes", dt, len(x.Data))
		}
		got, err := x.Float64s()
		if err != nil || !slices.Equal(got, values) {
			t.Errorf("%s: round trip gave %v, %v", dt, got, err)
		}
	}
	u, err := FromFloat64s(Uint8, []int64{3}, []float64{0, 255, 7})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := Values[uint8](u); !slices.Equal(v, []uint8{0, 255, 7}) {
		t.Errorf("uint8 values %v", v)
	}
	for _, c := range []struct {
		dt DType
		v  float64
	}{{Uint8, 256}, {Uint8, -1}, {Int8, 128}, {Int32, 1 << 40}, {Bool, 2}} {
		if _, err := FromFloat64s(c.dt, []int64{1}, []float64{c.v}); err == nil {
			t.Errorf("%v fit in %s", c.v, c.dt)
		}
	}
	if _, err := FromFloat64s(Float32, []int64{2, 2}, []float64{1, 2, 3}); err == nil {
		t.Error("3 values filled a [2,2] tensor")
	}
}

func TestFloat16Precision(t *testing.T) {
	x, _ := FromFloat64s(Float16, []int64{4}, []float64{0.1, 65504, 1e-8, math.Inf(1)})
	got, _ := x.Float32s()
	want := []float32{0.099975586, 65504, 0, float32(math.Inf(1))}
	if !slices.Equal(got, want) {
		t.Errorf("float16 values %v, want %v", got, want)
	}
	b, _ := FromFloat64s(BFloat16, []int64{2}, []float64{1.0 / 3, -2})
	bv, _ := b.Float64s()
	if math.Abs(bv[0]-1.0/3) > 1e-2 || bv[1] != -2 {
		t.Errorf("bfloat16 values %v", bv)
	}
}

func TestNewAndValues(t *testing.T) {
	x := New([]int64{2}, []int64{1 << 62, -5})
	if x.DType != Int64 || len(x.Data) != 16 {
		t.Fatalf("%v %d", x.DType, len(x.Data))
	}
	v, err := Values[int64](x)
	if err != nil || v[0] != 1<<62 || v[1] != -5 {
		t.Errorf("%v %v", v, err)
	}
	if _, err := Values[float32](x); err == nil {
		t.Error("read int64 as float32")
	}
	// a misaligned view is copied, not read unaligned
	raw := make([]byte, 9)
	y := &Tensor{DType: Float32, Shape: []int64{2}, Data: raw[1:9]}
	if v, err := Values[float32](y); err != nil || len(v) != 2 {
		t.Errorf("misaligned: %v %v", v, err)
	}
	if _, err := FromBytes(Float32, []int64{3}, make([]byte, 8)); err == nil {
		t.Error("8 bytes made a float32[3]")
	}
	if _, err := NumElements([]int64{2, -1}); err == nil {
		t.Error("negative dimension accepted")
	}
	if ShapeString([]int64{-1, 3}) != "[-1,3]" || ShapeString(nil) != "[]" {
		t.Error("ShapeString")
	}
	b := NewBool([]int64{3}, []bool{true, false, true})
	if f, _ := b.Float64s(); !slices.Equal(f, []float64{1, 0, 1}) {
		t.Errorf("bool values %v", f)
	}
	if _, err := NewStrings([]int64{1}, []string{"a"}).Float64s(); err == nil {
		t.Error("strings read as numbers")
	}
	c, err := New([]int64{2}, []float32{1.5, 2}).Convert(Float64)
	if err != nil || c.DType != Float64 {
		t.Errorf("convert: %v %v", c, err)
	}
}

func TestConcatSplit(t *testing.T) {
	a := New([]int64{1, 2}, []float32{1, 2})
	b := New([]int64{2, 2}, []float32{3, 4, 5, 6})
	c, err := Concat([]*Tensor{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := Values[float32](c); !slices.Equal(c.Shape, []int64{3, 2}) || !slices.Equal(v, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("concat %v %v", c.Shape, v)
	}
	parts, err := c.SplitRows([]int64{2, 1})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := Values[float32](parts[1]); !slices.Equal(parts[1].Shape, []int64{1, 2}) || !slices.Equal(v, []float32{5, 6}) {
		t.Errorf("split %v %v", parts[1].Shape, v)
	}
	if _, err := c.SplitRows([]int64{1, 1}); err == nil {
		t.Error("split 3 rows into 2")
	}
	if _, err := Concat([]*Tensor{a, New([]int64{1, 3}, []float32{1, 2, 3})}); err == nil {
		t.Error("concatenated [1,2] with [1,3]")
	}
	if StackKey([]*Tensor{a}) != StackKey([]*Tensor{b}) || StackKey([]*Tensor{a}) == StackKey([]*Tensor{New([]int64{1, 2}, []float64{1, 2})}) {
		t.Error("stack keys")
	}
	s, _ := Concat([]*Tensor{NewStrings([]int64{1}, []string{"a"}), NewStrings([]int64{2}, []string{"b", "c"})})
	if p, _ := s.SplitRows([]int64{1, 2}); !slices.Equal(p[1].Strings, []string{"b", "c"}) {
		t.Errorf("strings %v", p[1].Strings)
	}
}

func TestDiffer(t *testing.T) {
	f := func(v ...float32) *Tensor { return New([]int64{int64(len(v))}, v) }
	nan := float32(math.NaN())
	cases := []struct {
		name string
		a, b *Tensor
		want string
	}{
		{"equal", f(1, 2, 3), f(1, 2, 3), ""},
		{"within the relative tolerance", f(1000, 2), f(1000.5, 2), ""},
		{"within the absolute tolerance", f(0, 0.0001), f(0.0005, 0), ""},
		{"beyond", f(0.5, 1), f(0.25, 1), "element 0: 0.5 against 0.25"},
		{"NaN matches NaN", f(nan, 1), f(nan, 1), ""},
		{"NaN against a number", f(nan), f(1), "element 0: NaN against 1"},
		{"shape", f(1, 2), New([]int64{1, 2}, []float32{1, 2}), "float32[2] against float32[1,2]"},
		{"type", f(1), New([]int64{1}, []int64{1}), "float32[1] against int64[1]"},
		{"integers", New([]int64{2}, []int64{7, 8}), New([]int64{2}, []int64{7, 9}), "element 1: 8 against 9"},
		{"strings", NewStrings([]int64{2}, []string{"a", "b"}), NewStrings([]int64{2}, []string{"a", "c"}), `element 1: "b" against "c"`},
	}
	for _, c := range cases {
		if got := Differ(c.a, c.b, 1e-3, 1e-2); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestIntegerRanges: values are converted only when whole and within the type's range, up
// to its very end (2^63 and 2^64 are exact in a float64; before, they passed the check and
// overflowed).
func TestIntegerRanges(t *testing.T) {
	cases := []struct {
		dt    DType
		value float64
		ok    bool
	}{
		{Int64, 1 << 62, true}, {Int64, 1 << 63, false}, {Int64, -(1 << 63), true},
		{Uint64, 1 << 63, true}, {Uint64, 1 << 64, false}, {Uint64, -1, false},
		{Int32, math.MaxInt32, true}, {Int32, math.MaxInt32 + 1, false}, {Uint8, 255, true}, {Uint8, 256, false},
		{Int8, -128, true}, {Int8, -129, false}, {Int16, 2.5, false},
	}
	for _, c := range cases {
		got, err := FromFloat64s(c.dt, []int64{1}, []float64{c.value})
		if (err == nil) != c.ok {
			t.Errorf("%s from %v: error %v, want ok %v", c.dt, c.value, err, c.ok)
			continue
		}
		if c.ok {
			if f, _ := got.Float64s(); f[0] != c.value {
				t.Errorf("%s from %v: got %v", c.dt, c.value, f[0])
			}
		}
	}
}

func TestEqual(t *testing.T) {
	a := New([]int64{1, 2}, []float32{1, 2})
	for _, c := range []struct {
		b    *Tensor
		want bool
	}{
		{New([]int64{1, 2}, []float32{1, 2}), true},
		{New([]int64{2, 1}, []float32{1, 2}), false},
		{New([]int64{1, 2}, []float32{1, 3}), false},
		{New([]int64{1, 2}, []int32{1, 2}), false},
	} {
		if got := Equal(a, c.b); got != c.want {
			t.Errorf("Equal(%v, %v %v) = %v", a.Shape, c.b.DType, c.b.Shape, got)
		}
	}
	if !Equal(NewStrings([]int64{2}, []string{"a", "b"}), NewStrings([]int64{2}, []string{"a", "b"})) ||
		Equal(NewStrings([]int64{2}, []string{"a", "b"}), NewStrings([]int64{2}, []string{"a", "c"})) {
		t.Error("Equal on strings")
	}
}

// FromBinary reads the binary tensor data layout: raw numbers, or strings each after its
// 4-byte length; a length or element count that does not fit the shape is an error.
func TestFromBinary(t *testing.T) {
	str := func(parts ...string) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, byte(len(p)), 0, 0, 0)
			b = append(b, p...)
		}
		return b
	}
	if got, err := FromBinary(String, []int64{2}, str("ab", "")); err != nil || len(got.Strings) != 2 || got.Strings[0] != "ab" || got.Strings[1] != "" {
		t.Errorf("strings: %v %v", got, err)
	}
	if got, err := FromBinary(Int32, []int64{2}, []byte{1, 0, 0, 0, 2, 0, 0, 0}); err != nil {
		t.Errorf("int32: %v", err)
	} else if v, _ := Values[int32](got); v[0] != 1 || v[1] != 2 {
		t.Errorf("int32: %v", v)
	}
	for what, c := range map[string]struct {
		dt    DType
		shape []int64
		data  []byte
		want  string
	}{
		"short numbers":   {Float32, []int64{2}, make([]byte, 7), "float32[2] needs 8 bytes, got 7"},
		"a cut length":    {String, []int64{1}, []byte{1, 0}, "ends inside an element's length"},
		"a long element":  {String, []int64{1}, []byte{9, 0, 0, 0, 'a'}, "a BYTES element of 9 bytes runs past the end"},
		"too few strings": {String, []int64{3}, str("a", "b"), "shape [3] needs 3 elements, got 2"},
	} {
		if _, err := FromBinary(c.dt, c.shape, c.data); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", what, err, c.want)
		}
	}
}

// TestEmptyAllowed: an input may be empty in a dynamic dimension after the first, or in one
// the model fixes at 0.
func TestEmptyAllowed(t *testing.T) {
	cache := Info{Name: "past", DType: Float32, Shape: []int64{-1, 2, -1, 3}}
	for _, c := range []struct {
		info  Info
		shape []int64
		want  bool
	}{
		{cache, []int64{1, 2, 0, 3}, true},
		{cache, []int64{0, 2, 1, 3}, false}, // no rows
		{cache, []int64{1, 0, 1, 3}, false}, // the model fixes 2
		{cache, []int64{1, 0}, false},       // another rank
		{Info{Name: "any"}, []int64{4, 0}, true},
		{Info{Name: "any"}, []int64{0}, false},
		{Info{Name: "scalar", Shape: []int64{}}, []int64{}, false},
		{Info{Name: "zero", Shape: []int64{-1, 0}}, []int64{2, 0}, true},  // the model fixes 0
		{Info{Name: "zero", Shape: []int64{-1, 0}}, []int64{0, 0}, false}, // no rows
		{Info{Name: "rows0", Shape: []int64{0, 3}}, []int64{0, 3}, true},  // the model fixes 0 rows
		{Info{Name: "rows0", Shape: []int64{0, 3}}, []int64{0}, false},    // another rank
		{Info{Name: "rows0", Shape: []int64{0, -1}}, []int64{0, 0}, true}, // empty in both
	} {
		if got := c.info.EmptyAllowed(c.shape); got != c.want {
			t.Errorf("%s with %v: %v, want %v", c.info, c.shape, got, c.want)
		}
	}
	// requests empty in a later dimension stack and split again
	a, b := &Tensor{DType: Float32, Shape: []int64{1, 2, 0, 3}}, &Tensor{DType: Float32, Shape: []int64{2, 2, 0, 3}}
	joined, err := Concat([]*Tensor{a, b})
	if err != nil || !slices.Equal(joined.Shape, []int64{3, 2, 0, 3}) || len(joined.Data) != 0 {
		t.Fatalf("Concat: %v, %v", joined, err)
	}
	parts, err := joined.SplitRows([]int64{1, 2})
	if err != nil || !slices.Equal(parts[0].Shape, a.Shape) || !slices.Equal(parts[1].Shape, b.Shape) {
		t.Errorf("SplitRows: %v, %v", parts, err)
	}
}

// TestSharedDimSize: the size given shapes give a named dynamic dimension, for the other
// inputs that share its name.
func TestSharedDimSize(t *testing.T) {
	ids := Info{Name: "ids", Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}
	mask := Info{Name: "mask", Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}
	inputs := []Info{ids, mask}
	for _, c := range []struct {
		shapes map[string][]int64
		skip   int
		name   string
		want   int64
	}{
		{map[string][]int64{"ids": {2, 7}}, 0, "seq", 7},
		{map[string][]int64{"ids": {2, 7}}, 0, "batch", 2},
		{map[string][]int64{"ids": {7}}, 1, "seq", 7},       // without the batch dimension
		{map[string][]int64{"ids": {2, 7, 1}}, 0, "seq", 0}, // another rank: not read
		{map[string][]int64{"ids": {2, 7}}, 0, "", 0},
		{nil, 0, "seq", 0},
	} {
		if got := SharedDimSize(inputs, c.shapes, c.skip, c.name); got != c.want {
			t.Errorf("%v skip %d, %q: %d, want %d", c.shapes, c.skip, c.name, got, c.want)
		}
	}
	if mask.DimName(1) != "seq" || mask.DimName(5) != "" {
		t.Errorf("DimName: %q %q", mask.DimName(1), mask.DimName(5))
	}
}
