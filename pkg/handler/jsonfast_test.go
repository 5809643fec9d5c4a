package handler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

// stdDecode is decodeJSON's encoding/json path alone: what fastDecode must agree with.
func stdDecode(data []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		return nil, false
	}
	return v, true
}

// plain is a decoded tree with jsonNumbers as the []any encoding/json makes.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = plain(e)
		}
		return m
	case []any:
		list := make([]any, len(x))
		for i, e := range x {
			list[i] = plain(e)
		}
		return list
	case jsonNumbers:
		list, _ := asList(x)
		return list
	}
	return v
}

// TestFastDecode: fastDecode reads what it takes as encoding/json does (arrays of numbers as
// jsonNumbers) and leaves the rest to it: escapes, invalid UTF-8, numbers JSON does not
// write, more than one value, invalid documents.
func TestFastDecode(t *testing.T) {
	long := "[" + strings.TrimSuffix(strings.Repeat("1.5e-3,-0,", 8), ",") + "]"
	for _, c := range []struct {
		doc     string
		ok      bool
		numbers int // arrays read as jsonNumbers
	}{
		{`{"inputs": {"x": [[1, 2.5, -3e2, 0.0]]}}`, true, 1},
		{`{"inputs": [{"name": "x", "shape": [1, 16], "datatype": "FP32", "data": ` + long + `}], "id": "r1"}`, true, 2}, // shape and data
		{`[` + long + `, ` + long + `]`, true, 2},
		{`[7]`, true, 1},
		{`[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, "x"]`, true, 0}, // not numbers alone: []any
		{`[[], [1]]`, true, 1}, // an empty array: []any{}, as encoding/json's
		{` {"a": true, "b": false, "c": null, "d": "", "e": [], "f": {}, "a": 2} `, true, 0}, // the last "a" wins
		{`123456789012345678901234567890`, true, 0},
		{`"plain text"`, true, 0},
		{`{"text": "caf\u00e9"}`, false, 0},
		{`{"text": "café, 日本語"}`, true, 0},
		{"{\"text\": \"caf\xe9\"}", false, 0}, // not UTF-8: encoding/json replaces the byte
		{`{"text": "a\"b"}`, false, 0},
		{`[01]`, false, 0},
		{`[1.]`, false, 0},
		{`[.5]`, false, 0},
		{`[-]`, false, 0},
		{`[+1]`, false, 0},
		{`[1e]`, false, 0},
		{`[1,]`, false, 0},
		{`{"a" 1}`, false, 0},
		{`{"a": 1,}`, false, 0},
		{`[1] [2]`, false, 0},
		{`[tru]`, false, 0},
		{`[NaN]`, false, 0},
		{``, false, 0},
		{strings.Repeat("[", 2000) + strings.Repeat("]", 2000), false, 0},
	} {
		got, ok := fastDecode([]byte(c.doc))
		if ok != c.ok {
			t.Errorf("%.60s: read %v, want %v", c.doc, ok, c.ok)
			continue
		}
		if !ok {
			continue
		}
		want, _ := stdDecode([]byte(c.doc))
		if !reflect.DeepEqual(plain(got), want) {
			t.Errorf("%.60s: %#v, encoding/json reads %#v", c.doc, got, want)
		}
		if n := strings.Count(fmt.Sprintf("%#v", got), "handler.jsonNumbers{"); n != c.numbers {
			t.Errorf("%.60s: %d arrays read as jsonNumbers, want %d", c.doc, n, c.numbers)
		}
	}
}

// FuzzFastDecode: whatever fastDecode reads, encoding/json reads the same.
func FuzzFastDecode(f *testing.F) {
	for _, s := range []string{`{"inputs": {"x": [[1, 2]]}}`, `[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]`, `{"a": [true, null, "s", -0.5e+7]}`, `[[1],[2,3]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := fastDecode(data)
		if !ok {
			return
		}
		want, stdOK := stdDecode(data)
		if !stdOK || !reflect.DeepEqual(plain(got), want) {
			t.Fatalf("%q: fastDecode %#v, encoding/json %#v (%v)", data, got, want, stdOK)
		}
	})
}

// randomArray writes a nested JSON array of the given shape, its leaves drawn by leaf, and
// when ragged, sometimes one row short or a level's arrays replaced by leaves.
func randomArray(r *rand.Rand, shape []int, leaf func() string, ragged bool) string {
	if len(shape) == 0 {
		return leaf()
	}
	n := shape[0]
	if ragged && r.IntN(3) == 0 && n > 1 {
		n--
	}
	flat := ragged && len(shape) > 1 && r.IntN(4) == 0 // leaves where arrays are wanted
	parts := make([]string, n)
	for i := range parts {
		if flat {
			parts[i] = leaf()
		} else {
			parts[i] = randomArray(r, shape[1:], leaf, ragged)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// TestTensorsFromFastJSON: an input built from fastDecode's tree (jsonNumbers) is the one built
// from encoding/json's, or fails with the same message, for random arrays: rectangular or
// ragged, of every element type, for inputs of every type and of fixed or dynamic shapes,
// through the tensor handler's nested arrays and the Open Inference Protocol's data.
func TestTensorsFromFastJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	leaves := []func() string{
		func() string { return strconv.FormatFloat(r.NormFloat64()*100, 'g', -1, 64) },
		func() string { return strconv.Itoa(r.IntN(2)) },
		func() string { return strconv.FormatInt(r.Int64N(1<<62)-1<<61, 10) },
		func() string { return "1e400" },
		func() string { return `"s"` },
		func() string { return "true" },
		func() string { return "null" },
	}
	sixteen := strings.TrimSuffix(strings.Repeat("1,", 16), ",")
	uneven := []string{
		"[[" + strings.TrimSuffix(strings.Repeat("[1],", 16), ",") + "], [" + sixteen + "]]",
		"[[" + strings.TrimSuffix(strings.Repeat("[1],", 16), ",") + "], [" + sixteen + ",1]]",
		"[[" + sixteen + "], [" + sixteen + "]]",
	}
	dtypes := []tensor.DType{tensor.Float32, tensor.Float64, tensor.Float16, tensor.Int64, tensor.Uint64, tensor.Int32, tensor.Uint8, tensor.Bool, tensor.String}
	for i := range 3000 {
		shape := make([]int, 1+r.IntN(3))
		for d := range shape {
			shape[d] = 1 + r.IntN(20)
		}
		pick := leaves[r.IntN(len(leaves))]
		leaf := pick
		if r.IntN(4) == 0 { // now and then one leaf of another kind
			odd := leaves[r.IntN(len(leaves))]
			leaf = func() string {
				if r.IntN(50) == 0 {
					return odd()
				}
				return pick()
			}
		}
		doc := randomArray(r, shape, leaf, r.IntN(4) == 0)
		info := tensor.Info{Name: "x", DType: dtypes[r.IntN(len(dtypes))], Shape: make([]int64, len(shape)+r.IntN(2))}
		for d := range info.Shape {
			info.Shape[d] = -1
			if d < len(shape) && r.IntN(2) == 0 {
				info.Shape[d] = int64(shape[d])
			}
		}
		if i < len(uneven) { // first, arrays of numbers where arrays of arrays are wanted
			doc, shape = uneven[i], []int{2, 16, 1}
			info = tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, -1, -1}}
		}
		fast, fastOK := fastDecode([]byte(doc))
		std, stdOK := stdDecode([]byte(doc))
		if !stdOK {
			continue // 1e400 in a long run: encoding/json reads it, as json.Number, like fastDecode
		}
		if !fastOK {
			t.Fatalf("case %d: fastDecode declined %.80s", i, doc)
		}
		same := func(how string, a, b *tensor.Tensor, errA, errB error) {
			t.Helper()
			if fmt.Sprint(errA) != fmt.Sprint(errB) {
				t.Fatalf("case %d (%s, %s %v): errors %v and %v\n%.200s", i, how, info.DType, info.Shape, errA, errB, doc)
			}
			if errA == nil && (!reflect.DeepEqual(a.Shape, b.Shape) || a.DType != b.DType || !bytes.Equal(a.Data, b.Data) ||
				!reflect.DeepEqual(a.Strings, b.Strings)) {
				t.Fatalf("case %d (%s): tensors differ: %v %v\n%.200s", i, how, a, b, doc)
			}
		}
		a, errA := fromNested(info, fast)
		b, errB := fromNested(info, std)
		same("nested", a, b, errA, errB)
		v2Shape := make([]any, len(shape))
		for d, n := range shape {
			v2Shape[d] = json.Number(strconv.Itoa(n))
		}
		a, errA = tensorFromV2(info, map[string]any{"shape": v2Shape, "data": fast})
		b, errB = tensorFromV2(info, map[string]any{"shape": v2Shape, "data": std})
		same("v2", a, b, errA, errB)
	}
}

// BenchmarkDecodeV2JSON: an image tensor [1, 3, 224, 224] sent as JSON numbers to the Open
// Inference Protocol.
func BenchmarkDecodeV2JSON(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	sb.WriteString(`{"inputs": [{"name": "x", "shape": [1, 3, 224, 224], "datatype": "FP32", "data": [`)
	for i := range 3 * 224 * 224 {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.FormatFloat(r.Float64(), 'f', 6, 64))
	}
	sb.WriteString(`]}]}`)
	body := []byte(sb.String())
	ins := []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 3, 224, 224}}}
	outs := []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 1}}}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := DecodeV2(body, -1, ins, outs, nil); err != nil {
			b.Fatal(err)
		}
	}
}
