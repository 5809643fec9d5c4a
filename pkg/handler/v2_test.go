package handler

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/sharedmem"
	"github.com/tsserve/ts/pkg/tensor"
)

// v2Body is an OIP request: JSON, then binary tensor data; it returns the body and the
// Inference-Header-Content-Length (-1 with no binary data).
func v2Body(doc string, blobs ...[]byte) ([]byte, int) {
	if len(blobs) == 0 {
		return []byte(doc), -1
	}
	b := []byte(doc)
	for _, blob := range blobs {
		b = append(b, blob...)
	}
	return b, len(doc)
}

func float32LE(v ...float32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func bytesElements(s ...string) []byte {
	var b []byte
	for _, x := range s {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(x)))
		b = append(b, x...)
	}
	return b
}

func TestDecodeV2(t *testing.T) {
	inputs := []tensor.Info{
		{Name: "x:0", DType: tensor.Float32, Shape: []int64{-1, 2}},
		{Name: "text", DType: tensor.String, Shape: []int64{-1}},
	}
	outputs := []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 2}}, {Name: "label", DType: tensor.String, Shape: []int64{-1}}}
	both := `{"id":"7","inputs":[{"name":"x:0","shape":[1,2],"datatype":"FP32","data":[[1.5,-2]]},{"name":"text","shape":[1],"datatype":"BYTES","data":["héllo"]}]}`
	binaryDoc := `{"inputs":[{"name":"text","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":10}},` +
		`{"name":"x:0","shape":[2,2],"datatype":"FP32","parameters":{"binary_data_size":16}}],` +
		`"outputs":[{"name":"label"},{"name":"y","parameters":{"binary_data":true}}],"parameters":{"binary_data_output":false}}`
	for _, c := range []struct {
		name   string
		doc    string
		blobs  [][]byte
		err    string
		x      []float32
		text   []string
		output string // the outputs asked for, "name:binary" each
	}{
		{name: "JSON, nested data", doc: both, x: []float32{1.5, -2}, text: []string{"héllo"}},
		{name: "binary tensor data, inputs out of order", doc: binaryDoc, blobs: [][]byte{bytesElements("ab", ""), float32LE(1, 2, 3, 4)},
			x: []float32{1, 2, 3, 4}, text: []string{"ab", ""}, output: "label:- y:true"},
		{name: "no inputs", doc: `{"id":"1"}`, err: `no "inputs"`},
		{name: "not JSON", doc: `inputs`, err: "request is not valid JSON"},
		{name: "not an object", doc: `[1, 2]`, err: `request must be a JSON object {"inputs": [...]}, not an array`},
		{name: "inputs not objects", doc: `{"inputs": [1]}`, err: `"inputs"[0] must be an object, not 1`},
		{name: "inputs not a list", doc: `{"inputs": {"x:0": [1, 2]}}`, err: `"inputs" must be a list of objects, not an object`},
		{name: "id not a string", doc: strings.Replace(both, `"7"`, `7`, 1), err: `"id" must be a string, not 7`},
		{name: "binary data with no header length", doc: both + `{"x"}`, err: "needs the Inference-Header-Content-Length header"},
		{name: "unknown input", doc: `{"inputs":[{"name":"z","shape":[1],"datatype":"FP32","data":[1]}]}`, err: `no input "z"; its inputs are x:0 (float32[-1,2]), text (string[-1])`},
		{name: "missing input", doc: `{"inputs":[{"name":"text","shape":[1],"datatype":"BYTES","data":["a"]}]}`, err: `input "x:0" is missing`},
		{name: "input twice", doc: `{"inputs":[{"name":"text","shape":[1],"data":["a"]},{"name":"text","shape":[1],"data":["a"]}]}`, err: "given twice"},
		{name: "input named by a number", doc: `{"inputs":[{"name":3,"shape":[1],"data":["a"]}]}`, err: `each input needs a "name", a string; got 3`},
		{name: "output with no name", doc: strings.Replace(both, `"inputs"`, `"outputs":[{}],"inputs"`, 1), err: `each requested output needs a "name", a string; got null`},
		{name: "wrong datatype", doc: strings.Replace(both, `"FP32"`, `"INT32"`, 1), err: "must be float32 (FP32), got INT32"},
		{name: "wrong shape", doc: strings.Replace(both, `[1,2]`, `[1,3]`, 1), err: "needs 3 values, got 2"},
		{name: "shape too large", doc: strings.Replace(both, `[1,2]`, `[1000000000,1000000000]`, 1), err: `input "x:0": shape [1000000000,1000000000] is too large`},
		{name: "unknown output", doc: strings.Replace(both, `"inputs"`, `"outputs":[{"name":"z"}],"inputs"`, 1), err: `no output "z"`},
		{name: "binary data short", doc: binaryDoc, blobs: [][]byte{bytesElements("ab", "")}, err: "runs past the end of the body"},
		{name: "binary data left over", doc: binaryDoc, blobs: [][]byte{bytesElements("ab", ""), float32LE(1, 2, 3, 4), {0}}, err: "1 bytes of binary data follow"},
		{name: "binary size negative", doc: strings.Replace(binaryDoc, `"binary_data_size":16`, `"binary_data_size":-1`, 1),
			blobs: [][]byte{bytesElements("ab", ""), float32LE(1, 2, 3, 4)}, err: `input "x:0": binary_data_size must be a number of bytes, got -1`},
		{name: "binary size a string", doc: strings.Replace(binaryDoc, `"binary_data_size":16`, `"binary_data_size":"16"`, 1),
			blobs: [][]byte{bytesElements("ab", ""), float32LE(1, 2, 3, 4)}, err: `binary_data_size must be a number of bytes, got "16"`},
		{name: "binary and JSON data", doc: strings.Replace(binaryDoc, `"shape":[2,2],`, `"shape":[2,2],"data":[1,2,3,4],`, 1),
			blobs: [][]byte{bytesElements("ab", ""), float32LE(1, 2, 3, 4)}, err: `input "x:0" has both "data" and binary_data_size`},
		{name: "binary size wrong for the shape", doc: strings.Replace(binaryDoc, `[2,2]`, `[3,2]`, 1), blobs: [][]byte{bytesElements("ab", ""), float32LE(1, 2, 3, 4)}, err: "needs 24 bytes, got 16"},
		{name: "BYTES element past its data", doc: strings.Replace(binaryDoc, `"binary_data_size":10`, `"binary_data_size":8`, 1),
			blobs: [][]byte{bytesElements("ab", "")[:8], float32LE(1, 2, 3, 4)}, err: "BYTES data ends inside an element's length"},
		{name: "BYTES element longer than its data", doc: binaryDoc, blobs: [][]byte{append(binary.LittleEndian.AppendUint32(nil, 100), "abcdef"...), float32LE(1, 2, 3, 4)},
			err: "a BYTES element of 100 bytes runs past the end of its data"},
		{name: "BYTES count wrong for the shape", doc: strings.Replace(binaryDoc, `"shape":[2]`, `"shape":[3]`, 1),
			blobs: [][]byte{bytesElements("ab", ""), float32LE(1, 2, 3, 4)}, err: "needs 3 elements, got 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, headerLen := v2Body(c.doc, c.blobs...)
			req, err := DecodeV2(body, headerLen, inputs, outputs, nil)
			if failsAs(t, err, c.err) {
				return
			}
			x, _ := tensor.Values[float32](req.Inputs[0])
			if !slices.Equal(x, c.x) || !slices.Equal(req.Inputs[1].Strings, c.text) {
				t.Errorf("inputs %v %q, want %v %q", x, req.Inputs[1].Strings, c.x, c.text)
			}
			var got []string
			for _, o := range req.Outputs {
				b := "-"
				if o.Binary != nil {
					b = strconv.FormatBool(*o.Binary)
				}
				got = append(got, o.Name+":"+b)
			}
			if strings.Join(got, " ") != c.output {
				t.Errorf("outputs %q, want %q", strings.Join(got, " "), c.output)
			}
		})
	}
	// Triton's schedule policy: the request parameter priority
	withPriority := func(p string) string {
		return strings.Replace(both, `"id":"7"`, `"id":"7","parameters":{"priority":`+p+`}`, 1)
	}
	if req, err := DecodeV2([]byte(withPriority("2")), -1, inputs, outputs, nil); err != nil || req.Priority != 2 {
		t.Errorf("priority 2: %v, %v", req, err)
	}
	for _, bad := range []string{"-1", `"high"`, "1.5"} {
		if _, err := DecodeV2([]byte(withPriority(bad)), -1, inputs, outputs, nil); err == nil || !strings.Contains(err.Error(), "parameter priority must be a priority level") {
			t.Errorf("priority %s: %v", bad, err)
		}
	}
	// and timeout, in µs
	withTimeout := func(p string) string {
		return strings.Replace(both, `"id":"7"`, `"id":"7","parameters":{"timeout":`+p+`}`, 1)
	}
	if req, err := DecodeV2([]byte(withTimeout("250000")), -1, inputs, outputs, nil); err != nil || req.Timeout != 250000 {
		t.Errorf("timeout 250000: %v, %v", req, err)
	}
	for _, bad := range []string{"-1", `"1s"`, "0.5", "1e30"} {
		if _, err := DecodeV2([]byte(withTimeout(bad)), -1, inputs, outputs, nil); err == nil || !strings.Contains(err.Error(), "parameter timeout must be a time in microseconds") {
			t.Errorf("timeout %s: %v", bad, err)
		}
	}
	if _, err := DecodeV2([]byte(both), len(both)+1, inputs, outputs, nil); err == nil || !strings.Contains(err.Error(), "longer than the body") {
		t.Errorf("header length past the body: %v", err)
	}
	if _, err := DecodeV2([]byte(both), 0, inputs, outputs, nil); err == nil || !strings.Contains(err.Error(), "models with one input; this one takes 2") {
		t.Errorf("raw binary request to a model of two inputs: %v", err)
	}
}

// TestDecodeRawV2: a raw request (Inference-Header-Content-Length 0) is the one input, with a
// batch of 1 and its one other dynamic dimension told by the body's size; all outputs come
// back binary.
func TestDecodeRawV2(t *testing.T) {
	f32 := func(n int) []byte { return tensor.New([]int64{int64(n)}, make([]float32, n)).Data }
	for _, c := range []struct {
		name  string
		input tensor.Info
		body  []byte
		shape string
		err   string
	}{
		{"batch of one", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 4}}, f32(4), "[1 4]", ""},
		{"fixed shape", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{2, 3}}, f32(6), "[2 3]", ""},
		{"a dynamic length", tensor.Info{Name: "ids", DType: tensor.Int64, Shape: []int64{-1, -1}}, tensor.New([]int64{5}, make([]int64, 5)).Data, "[1 5]", ""},
		{"a dynamic middle", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, -1, 2}}, f32(6), "[1 3 2]", ""},
		{"too short", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 4}}, f32(3), "", "does not fit input"},
		{"not whole elements", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 4}}, make([]byte, 7), "", "whole number"},
		{"two dynamic dimensions", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, -1, -1}}, f32(4), "", "more than one dynamic"},
		{"strings", tensor.Info{Name: "s", DType: tensor.String, Shape: []int64{-1}}, []byte("abcd"), "", "input of numbers"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := DecodeV2(c.body, 0, []tensor.Info{c.input}, nil, nil)
			if failsAs(t, err, c.err) {
				return
			}
			if got := fmt.Sprint(req.Inputs[0].Shape); got != c.shape || !req.BinaryOutput || req.Inputs[0].DType != c.input.DType {
				t.Errorf("shape %s (binary outputs %v), want %s", got, req.BinaryOutput, c.shape)
			}
		})
	}
}

func TestEncodeV2(t *testing.T) {
	infos := []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 2}}, {Name: "label", DType: tensor.String, Shape: []int64{-1}}}
	outputs := []*tensor.Tensor{tensor.New([]int64{1, 2}, []float32{0.25, float32(math.NaN())}), tensor.NewStrings([]int64{1}, []string{"cat"})}
	yes, no := true, false

	body, headerLen, err := EncodeV2("m", "1.0", &V2Request{ID: "r"}, infos, outputs, nil, nil)
	if err != nil || headerLen != -1 {
		t.Fatal(err, headerLen)
	}
	want := `{"model_name":"m","model_version":"1.0","id":"r","outputs":[` +
		`{"name":"y","datatype":"FP32","shape":[1,2],"data":[0.25,null]},{"name":"label","datatype":"BYTES","shape":[1],"data":["cat"]}]}` + "\n"
	if string(body) != want || !json.Valid(body) {
		t.Errorf("JSON response\n%s\nwant\n%s", body, want)
	}

	// binary for every output but the one that says otherwise, in the order asked
	req := &V2Request{BinaryOutput: true, Outputs: []V2Output{{Name: "label"}, {Name: "y", Binary: &no}}}
	body, headerLen, err = EncodeV2("m", "1.0", req, infos, outputs, nil, nil)
	if err != nil || headerLen < 0 {
		t.Fatal(err, headerLen)
	}
	var doc struct {
		Outputs []struct {
			Name       string
			Parameters struct {
				BinaryDataSize int `json:"binary_data_size"`
			}
			Data []any
		}
	}
	if err := json.Unmarshal(body[:headerLen], &doc); err != nil {
		t.Fatalf("%v: %s", err, body[:headerLen])
	}
	if len(doc.Outputs) != 2 || doc.Outputs[0].Name != "label" || doc.Outputs[0].Parameters.BinaryDataSize != 7 ||
		doc.Outputs[1].Name != "y" || len(doc.Outputs[1].Data) != 2 {
		t.Errorf("header %s", body[:headerLen])
	}
	if string(body[headerLen:]) != string(bytesElements("cat")) {
		t.Errorf("binary data %q", body[headerLen:])
	}

	req = &V2Request{Outputs: []V2Output{{Name: "y", Binary: &yes}}}
	body, headerLen, _ = EncodeV2("m", "1.0", req, infos, outputs, nil, nil)
	if got := body[headerLen:]; string(got) != string(outputs[0].Data) {
		t.Errorf("binary FP32 %v, want %v", got, outputs[0].Data)
	}
}

// TestV2Classification: Triton's classification extension, asked per output, answers each
// row's top classes as "value:index[:label]" strings (BYTES), highest first.
func TestV2Classification(t *testing.T) {
	infos := []tensor.Info{{Name: "logits", DType: tensor.Float32, Shape: []int64{-1, 4}}, {Name: "votes", DType: tensor.Int64, Shape: []int64{-1}},
		{Name: "name", DType: tensor.String, Shape: []int64{-1}}, {Name: "empty", DType: tensor.Float32, Shape: []int64{-1, 5}}}
	outputs := []*tensor.Tensor{tensor.New([]int64{2, 4}, []float32{0.1, 2.5, -1, 0.75, 3, 0, 0, 1}), tensor.New([]int64{3}, []int64{5, 10, 4}),
		tensor.NewStrings([]int64{1}, []string{"x"}), tensor.New([]int64{0, 5}, []float32{})}
	cases := []struct {
		name, request string
		labels        map[int]string
		want          string // the outputs' JSON, or the decoding error
	}{
		{"top 2 with labels", `{"inputs": [], "outputs": [{"name": "logits", "parameters": {"classification": 2}}]}`, map[int]string{1: "cat", 0: "dog"},
			`[{"name":"logits","datatype":"BYTES","shape":[2,2],"data":["2.500000:1:cat","0.750000:3","3.000000:0:dog","1.000000:3"]}]`},
		{"a 1-D integer output, more classes than it has", `{"inputs": [], "outputs": [{"name": "votes", "parameters": {"classification": 5}}]}`, nil,
			`[{"name":"votes","datatype":"BYTES","shape":[3],"data":["10:1","5:0","4:2"]}]`},
		{"no rows", `{"inputs": [], "outputs": [{"name": "empty", "parameters": {"classification": 3}}]}`, nil,
			`[{"name":"empty","datatype":"BYTES","shape":[0,0],"data":[]}]`},
		{"zero classes", `{"inputs": [], "outputs": [{"name": "logits", "parameters": {"classification": 0}}]}`, nil, "parameter classification must be a count of classes ≥ 1"},
		{"not a number", `{"inputs": [], "outputs": [{"name": "logits", "parameters": {"classification": "2"}}]}`, nil, "parameter classification must be a count of classes ≥ 1"},
		{"a string output", `{"inputs": [], "outputs": [{"name": "name", "parameters": {"classification": 1}}]}`, nil, "classification needs a numeric output"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := DecodeV2([]byte(c.request), -1, nil, infos, nil)
			if strings.HasPrefix(c.want, "[") {
				if err != nil {
					t.Fatal(err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want %q", err, c.want)
				}
				return
			}
			body, _, err := EncodeV2("m", "1", req, infos, outputs, c.labels, nil)
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ Outputs json.RawMessage }
			if err := json.Unmarshal(body, &doc); err != nil || string(doc.Outputs) != c.want {
				t.Errorf("outputs %s (%v)\nwant    %s", doc.Outputs, err, c.want)
			}
		})
	}
}

// FuzzDecodeV2: no request, however malformed, panics the decoder (nor its raw and handler
// forms); a request it accepts holds every input, each of the model's type.
func FuzzDecodeV2(f *testing.F) {
	inputs := []tensor.Info{
		{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 2}},
		{Name: "s", DType: tensor.String, Shape: []int64{-1}},
		{Name: "k", DType: tensor.Int64, Shape: []int64{}},
	}
	outputs := []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 2}}}
	doc := `{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}},` +
		`{"name":"s","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":5}},{"name":"k","shape":[],"data":[3]}],` +
		`"outputs":[{"name":"y","parameters":{"binary_data":true}}]}`
	body, headerLen := v2Body(doc, float32LE(1, 2), bytesElements("a"))
	f.Add(body, headerLen)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[1,2],"data":[[1,2]]},{"name":"s","shape":[1],"data":["a"]},{"name":"k","shape":[],"data":[1]}]}`), -1)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[4294967296,4294967296],"data":[]}]}`), -1)
	f.Add([]byte(`[]`), -1)
	f.Add([]byte(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"shared_memory_region":"r","shared_memory_byte_size":8,"shared_memory_offset":4}},`+
		`{"name":"s","shape":[1],"data":["a"]},{"name":"k","shape":[],"data":[1]}],"outputs":[{"name":"y","parameters":{"shared_memory_region":"r","shared_memory_byte_size":8}}]}`), -1)
	raw := []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, -1, 2}}}
	// a registered shared memory region "r" of 32 bytes, for requests that name one
	dir := f.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "obj"), make([]byte, 32), 0o600); err != nil {
		f.Fatal(err)
	}
	shm := sharedmem.New(dir)
	if err := shm.Register("r", "/obj", 0, 32); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(shm.Close)
	f.Fuzz(func(t *testing.T, body []byte, headerLen int) {
		// a raw request to a model of one input: the body is that input, whole
		if req, err := DecodeV2(body, 0, raw, outputs, nil); err == nil && int(req.Inputs[0].Len())*4 != len(body) {
			t.Fatalf("raw request of %d bytes read as %v", len(body), req.Inputs[0].Shape)
		}
		// a request for the handler: each body an element of its BYTES inputs
		if hreq, ok := DecodeV2Handler(body, raw); ok && len(hreq.Bodies) == 0 {
			t.Fatal("a handler's request with no bodies")
		}
		req, err := DecodeV2(body, headerLen, inputs, outputs, shm)
		if err != nil {
			return
		}
		for i, in := range req.Inputs {
			if in == nil || in.DType != inputs[i].DType {
				t.Fatalf("input %d: %+v", i, in)
			}
		}
	})
}
