package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/tensor"
)

// tensorHandler takes raw tensors as JSON and answers each output's name, shape, dtype and
// values. Request bodies:
//
//	{"inputs": {"name": nested array, ...}}
//	{"name": nested array, ...}                               (every key an input's name)
//	{"data" | "instances" | "input": nested array}            (a model with one input)
//	multipart form fields named after the inputs, each one input's JSON (or text)
//	{"inputs": [{"name": ..., "shape": [...], "datatype": "FP32", "data": [...]}]}  (KServe v2)
//	nested array                                              (a model with one input)
//
// A model that takes no inputs runs on an empty body.
//
// A nested array one dimension short of a model input with a dynamic first dimension (or a
// fixed one of 1: a model exported for one item at a time) gets a batch dimension of 1, and
// so do one item's values given flat (or a lone number for a [batch, 1] input): they take
// the item's shape.
type tensorHandler struct {
	inputs      []tensor.Info
	outputs     []tensor.Info
	maxResponse int64 // Model.MaxResponse
	// outputNames are the outputs' names as JSON strings, quoted once here.
	outputNames [][]byte
}

func newTensorHandler(m *Model) (Handler, error) {
	h := &tensorHandler{inputs: m.Inputs, outputs: m.Outputs, maxResponse: m.MaxResponse}
	for _, o := range m.Outputs {
		h.outputNames = append(h.outputNames, appendJSONString(nil, o.Name))
	}
	return h, nil
}

func (h *tensorHandler) Preprocess(_ context.Context, req *Request) ([]*tensor.Tensor, error) {
	if values, ok, err := h.partValues(req); ok {
		if err != nil {
			return nil, err
		}
		return h.fromValues(values)
	}
	in, ok := req.Data()
	if ok && isRaw(req, in) {
		return h.raw(req, in)
	}
	if !ok || len(bytes.TrimSpace(in.Data)) == 0 {
		if len(h.inputs) == 0 {
			return []*tensor.Tensor{}, nil
		}
		return nil, badInput("the request has no tensors: send JSON {\"inputs\": {%s}}", h.example())
	}
	if h.takesText() && isText(in) {
		return h.text(in)
	}
	doc, err := decodeJSON(in.Data)
	if err != nil {
		if kind := http.DetectContentType(in.Data); strings.HasPrefix(kind, "image/") {
			return nil, badInput("the request is an image (%s), but the tensor handler takes tensors (JSON, or raw bytes with a tensor content type): serve the model with an image handler (image_classifier, image_segmenter or object_detector: ts serve --handler, or handler= when registering)", kind)
		}
		return nil, badInput("request body %v: send JSON {\"inputs\": {%s}}", err, h.example())
	}
	values := map[string]any{}
	switch d := doc.(type) {
	case []any, jsonNumbers:
		if len(h.inputs) != 1 {
			return nil, badInput("a bare array only works for models with one input; this model takes %d: send {\"inputs\": {%s}}", len(h.inputs), h.example())
		}
		values[h.inputs[0].Name] = d
	case map[string]any:
		if v, ok := h.wrapped(d); ok {
			values[h.inputs[0].Name] = v
			break
		}
		raw, ok := d["inputs"]
		if !ok || h.index("inputs") >= 0 {
			// the inputs by name at the top level, as {"input_ids": ..., "attention_mask": ...}
			for name := range d {
				if h.index(name) < 0 {
					return nil, badInput("request JSON has %q, which is not an input of the model: send {\"inputs\": {%s}}", name, h.example())
				}
			}
			values = d
			break
		}
		switch x := raw.(type) {
		case map[string]any:
			values = x
		case []any, jsonNumbers:
			list, _ := asList(x)
			for _, item := range list {
				v2, ok := item.(map[string]any)
				if !ok {
					return nil, badInput("\"inputs\" as a list holds objects with name, shape, datatype and data")
				}
				name, _ := v2["name"].(string)
				t, err := h.fromV2(name, v2)
				if err != nil {
					return nil, err
				}
				values[name] = t
			}
		default:
			if len(h.inputs) == 1 {
				values[h.inputs[0].Name] = raw
			} else {
				return nil, badInput("\"inputs\" must be an object of name → array")
			}
		}
	default:
		if len(h.inputs) != 1 {
			return nil, badInput("send {\"inputs\": {%s}}", h.example())
		}
		values[h.inputs[0].Name] = doc
	}
	return h.fromValues(values)
}

// wrappers are the keys other servers' clients wrap one input's value in: {"data": ...}
// (TorchServe's handlers read it), {"instances": [...]} (TensorFlow Serving's and KServe
// v1's rows), {"input": ...}.
var wrappers = []string{"data", "instances", "input"}

// wrapped finds one input's value wrapped in an object of one such key, for a model with one
// input not itself so named.
func (h *tensorHandler) wrapped(d map[string]any) (any, bool) {
	if len(h.inputs) != 1 || len(d) != 1 {
		return nil, false
	}
	for _, key := range wrappers {
		if v, ok := d[key]; ok && h.index(key) < 0 {
			return v, true
		}
	}
	return nil, false
}

// partValues reads a multipart request whose fields are named after the model's inputs
// (curl -F input_ids='[[101, 2023]]' -F attention_mask='[[1, 1]]'): each field one input, as
// JSON, or as text for a string input. ok is false for other requests.
func (h *tensorHandler) partValues(req *Request) (values map[string]any, ok bool, err error) {
	if len(req.Inputs) < 2 {
		return nil, false, nil // one field: Data() reads it whatever its name
	}
	for _, part := range req.Inputs {
		if h.index(part.Name) < 0 {
			return nil, false, nil
		}
	}
	values = make(map[string]any, len(req.Inputs))
	for _, part := range req.Inputs {
		info := h.inputs[h.index(part.Name)]
		if info.DType == tensor.String && isText(part) {
			if !utf8.Valid(part.Data) {
				return nil, true, badInput("field %q: text must be UTF-8", part.Name)
			}
			values[part.Name] = string(part.Data)
			continue
		}
		v, err := decodeJSON(part.Data)
		if err != nil {
			return nil, true, badInput("field %q %v", part.Name, err)
		}
		values[part.Name] = v
	}
	return values, true, nil
}

// errMoreValues is decodeJSON's error for data holding more than one JSON value.
var errMoreValues = errors.New("holds more than one JSON value")

// decodeJSON reads exactly one JSON value, its numbers kept exact (json.Number) and long
// arrays of numbers as jsonNumbers (fastDecode: asList reads any array). The error
// reads after the name of what held it: "is not valid JSON: ...". With errMoreValues it also
// returns the first value, so that a caller may judge it first.
func decodeJSON(data []byte) (any, error) {
	if v, ok := fastDecode(data); ok {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("is not valid JSON: %v", err)
	}
	if dec.More() {
		return v, errMoreValues
	}
	return v, nil
}

// fromValues builds the model's inputs from values by input name.
func (h *tensorHandler) fromValues(values map[string]any) ([]*tensor.Tensor, error) {
	return tensorsByName(h.inputs, values)
}

// tensorsByName builds a model's inputs from values by input name: nested arrays, numbers,
// strings, or tensors already built. Every input must be given, and nothing else.
func tensorsByName(inputs []tensor.Info, values map[string]any) ([]*tensor.Tensor, error) {
	for name := range values {
		if indexOf(inputs, name) < 0 {
			return nil, badInput("model has no input %q; its inputs are %s", name, namesOf(inputs))
		}
	}
	out := make([]*tensor.Tensor, len(inputs))
	for i, info := range inputs {
		v, ok := values[info.Name]
		if !ok {
			return nil, badInput("input %q is missing; the model takes %s", info.Name, namesOf(inputs))
		}
		if t, ok := v.(*tensor.Tensor); ok {
			out[i] = t
			continue
		}
		t, err := fromNested(info, v)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// Raw tensor requests (one-input models): Content-Type application/octet-stream, the
// element type and shape in headers (X-TS-Dtype, X-TS-Shape) or query parameters (dtype,
// shape); X-TS-Input or input may name the input.
const (
	HeaderDtype = "X-TS-Dtype"
	HeaderShape = "X-TS-Shape"
	HeaderInput = "X-TS-Input"
)

// The headers' canonical keys: looking them up as spelt above would canonicalise (and
// allocate) on every request.
var (
	keyDtype = http.CanonicalHeaderKey(HeaderDtype)
	keyShape = http.CanonicalHeaderKey(HeaderShape)
	keyInput = http.CanonicalHeaderKey(HeaderInput)
)

// HeaderValue is h.Get for a key already in canonical form (http.CanonicalHeaderKey): no
// canonicalising, no allocation, for lookups on every request.
func HeaderValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func isRaw(req *Request, in Input) bool {
	return strings.HasPrefix(in.ContentType, "application/octet-stream") || HeaderValue(req.Header, keyShape) != "" || req.Query.Get("shape") != ""
}

// takesText reports whether the model takes one string input, which a plain text body feeds
// (a text pipeline exported from scikit-learn: strings [N] or [N, 1]).
func (h *tensorHandler) takesText() bool {
	return len(h.inputs) == 1 && h.inputs[0].DType == tensor.String
}

// isText reports whether a body is plain text rather than JSON: a text/* content type, or
// anything but JSON's content type whose first character cannot start a JSON array, object
// or string (curl -d sends form-encoded).
func isText(in Input) bool {
	if strings.HasPrefix(in.ContentType, "text/") {
		return true
	}
	if strings.HasPrefix(in.ContentType, "application/json") {
		return false
	}
	trimmed := bytes.TrimSpace(in.Data)
	return len(trimmed) > 0 && !strings.ContainsRune(`[{"`, rune(trimmed[0]))
}

// text makes the body one string, shaped as the input takes a single one: [1], [1, 1], [].
func (h *tensorHandler) text(in Input) ([]*tensor.Tensor, error) {
	info := h.inputs[0]
	if !utf8.Valid(in.Data) {
		return nil, badInput("a text body must be UTF-8")
	}
	shape := []int64{1}
	if !info.AnyShape() {
		shape = make([]int64, len(info.Shape))
		for d, n := range info.Shape {
			if n > 1 {
				return nil, badInput("input %q takes %s strings, not one text: send JSON {\"inputs\": {%s}}", info.Name, tensor.ShapeString(info.Shape), h.example())
			}
			shape[d] = 1
		}
	}
	return []*tensor.Tensor{tensor.NewStrings(shape, []string{string(in.Data)})}, nil
}

// param is a raw tensor parameter from its header (canonical key) or query parameter.
func param(req *Request, key, query string) string {
	if v := HeaderValue(req.Header, key); v != "" {
		return v
	}
	return req.Query.Get(query)
}

// raw reads a little-endian tensor body.
func (h *tensorHandler) raw(req *Request, in Input) ([]*tensor.Tensor, error) {
	if len(h.inputs) != 1 {
		return nil, badInput("a raw tensor body feeds one-input models; this one takes %s: send JSON instead", h.names())
	}
	i := 0
	if name := param(req, keyInput, "input"); name != "" && h.index(name) < 0 {
		return nil, badInput("model has no input %q; its input is %s", name, h.names())
	}
	info := h.inputs[i]
	dt := info.DType
	if s := param(req, keyDtype, "dtype"); s != "" {
		var err error
		if dt, err = tensor.ParseDType(s); err != nil {
			return nil, badInput("dtype (%s or ?dtype=): %v", HeaderDtype, err)
		}
		if dt != info.DType {
			return nil, badInput("input %q must be %s, got %s", info.Name, info.DType, dt)
		}
	}
	spec := param(req, keyShape, "shape")
	if spec == "" {
		if info.AnyShape() {
			return nil, badInput("a raw tensor needs its shape: header %s or query shape=, e.g. 2,3 (the model takes any)", HeaderShape)
		}
		return nil, badInput("a raw tensor needs its shape: header %s or query shape=, e.g. %s", HeaderShape, tensor.ShapeString(info.Shape))
	}
	var shape []int64
	for _, part := range strings.Split(strings.Trim(spec, "[] "), ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || n < 0 {
			return nil, badInput("shape %q: want comma-separated sizes ≥ 0", spec)
		}
		shape = append(shape, n)
	}
	if dt == tensor.String {
		return nil, badInput("string tensors cannot be sent raw; send JSON")
	}
	t, err := tensor.FromBytes(dt, shape, in.Data)
	if err != nil {
		return nil, badInput("input %q: %v", info.Name, err)
	}
	return []*tensor.Tensor{t}, nil
}

func (h *tensorHandler) index(name string) int { return indexOf(h.inputs, name) }

func (h *tensorHandler) names() string { return namesOf(h.inputs) }

func (h *tensorHandler) example() string {
	var parts []string
	for _, in := range h.inputs {
		parts = append(parts, fmt.Sprintf("%q: [...]", in.Name))
	}
	return strings.Join(parts, ", ")
}

// fromV2 reads a KServe v2 input: flat data with a shape and datatype.
func (h *tensorHandler) fromV2(name string, v map[string]any) (*tensor.Tensor, error) {
	i := h.index(name)
	if i < 0 {
		return nil, badInput("model has no input %q; its inputs are %s", name, h.names())
	}
	return tensorFromV2(h.inputs[i], v)
}

// tensorFromV2 reads an Open Inference Protocol (KServe v2) input object, {"name", "shape",
// "datatype", "data"}, as a tensor for the model input info; data may be flat or nested.
func tensorFromV2(info tensor.Info, v map[string]any) (*tensor.Tensor, error) {
	shape, err := v2Shape(info.Name, v)
	if err != nil {
		return nil, err
	}
	if err := v2DType(info, v); err != nil {
		return nil, err
	}
	if !isList(v["data"]) {
		return nil, badInput("input %q: \"data\" must be a list", info.Name)
	}
	var leaves leafList
	flatten(v["data"], &leaves)
	return build(info, shape, &leaves)
}

// v2Shape reads an OIP input's "shape".
func v2Shape(name string, v map[string]any) ([]int64, error) {
	rawShape, ok := asList(v["shape"])
	if !ok {
		return nil, badInput("input %q: \"shape\" must be a list of integers", name)
	}
	shape := make([]int64, len(rawShape))
	for d, x := range rawShape {
		n, err := strconv.ParseInt(fmt.Sprint(x), 10, 64)
		if err != nil || n < 0 {
			return nil, badInput("input %q: \"shape\" must be a list of integers ≥ 0", name)
		}
		shape[d] = n
	}
	return shape, nil
}

// v2DType checks an OIP input's "datatype" (when given) against the model's.
func v2DType(info tensor.Info, v map[string]any) error {
	dt, ok := v["datatype"].(string)
	if !ok {
		return nil
	}
	got, err := tensor.ParseDType(dt)
	if err != nil {
		return badInput("input %q: %v", info.Name, err)
	}
	if got != info.DType {
		return badInput("input %q must be %s (%s), got %s", info.Name, info.DType, info.DType.V2Name(), dt)
	}
	return nil
}

// flatten collects v's leaves in row-major order, however the arrays nest.
func flatten(v any, out *leafList) {
	switch list := v.(type) {
	case []any:
		for _, x := range list {
			flatten(x, out)
		}
	case jsonNumbers:
		out.addNumbers(list)
	default:
		out.add(v)
	}
}

// fromNested reads a nested JSON array (or a scalar) as a tensor for the input info.
func fromNested(info tensor.Info, v any) (*tensor.Tensor, error) {
	var shape []int64
	for x := v; ; {
		n, first, ok := listHead(x)
		if !ok {
			break
		}
		shape = append(shape, int64(n))
		if n == 0 {
			break
		}
		x = first
	}
	var leaves leafList
	if err := collectRect(v, shape, &leaves); err != nil {
		return nil, badInput("input %q: %v", info.Name, err)
	}
	if len(shape) < len(info.Shape) && (info.Shape[0] < 0 || info.Shape[0] == 1) {
		switch item, fixed := itemSize(info); {
		case len(shape) == len(info.Shape)-1:
			shape = append([]int64{1}, shape...)
		case fixed && int64(leaves.len()) == item:
			// one item's values, flat or as a lone number (curl -d 1 for a [batch, 1] input)
			shape = append([]int64{1}, info.Shape[1:]...)
		}
	}
	return build(info, shape, &leaves)
}

// itemSize is the number of elements of one item of an input with a batch dimension, and
// whether that is fixed (no other dynamic dimension).
func itemSize(info tensor.Info) (int64, bool) {
	n := int64(1)
	for _, d := range info.Shape[1:] {
		if d < 0 {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// collectRect checks that v is a rectangular array of the given shape and collects its leaves.
func collectRect(v any, shape []int64, out *leafList) error {
	if len(shape) == 0 {
		if isList(v) {
			return fmt.Errorf("arrays are nested unevenly")
		}
		out.add(v)
		return nil
	}
	notRect := func(shape []int64) error {
		return fmt.Errorf("arrays are not rectangular (want %d elements at each level %s)", shape[0], tensor.ShapeString(shape))
	}
	switch list := v.(type) {
	case jsonNumbers: // numbers alone: the innermost level, or leaves where lists were wanted
		switch {
		case int64(len(list)) != shape[0]:
			return notRect(shape)
		case len(shape) > 1:
			return notRect(shape[1:])
		}
		out.addNumbers(list)
		return nil
	case []any:
		if int64(len(list)) != shape[0] {
			return notRect(shape)
		}
		for _, x := range list {
			if err := collectRect(x, shape[1:], out); err != nil {
				return err
			}
		}
		return nil
	}
	return notRect(shape)
}

// build converts JSON leaves (numbers, booleans, strings) to a tensor of the input's type.
func build(info tensor.Info, shape []int64, leaves *leafList) (*tensor.Tensor, error) {
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, badInput("input %q: %v", info.Name, err)
	}
	if n != int64(leaves.len()) {
		return nil, badInput("input %q: shape %s needs %d values, got %d", info.Name, tensor.ShapeString(shape), n, leaves.len())
	}
	if len(shape) == 0 && len(info.Shape) > 0 { // one value where arrays are wanted: say which
		return nil, badInput("input %q takes %s arrays of shape %s; got %s", info.Name, info.DType, tensor.ShapeString(info.Shape), jsonText(leaves.at(0)))
	}
	if err := checkShape(info, shape, n); err != nil {
		return nil, err
	}
	switch {
	case info.DType == tensor.String:
		s := make([]string, leaves.len())
		for i := range s {
			x := leaves.at(i)
			str, ok := x.(string)
			if !ok {
				return nil, badInput("input %q is a string tensor; value %d is %s", info.Name, i, jsonText(x))
			}
			s[i] = str
		}
		return tensor.NewStrings(shape, s), nil
	case info.DType == tensor.Bool:
		b := make([]bool, leaves.len())
		for i := range b {
			x := leaves.at(i)
			switch v := x.(type) {
			case bool:
				b[i] = v
			case json.Number:
				if v != "0" && v != "1" {
					return nil, badInput("input %q is bool; value %d is %s", info.Name, i, v)
				}
				b[i] = v == "1"
			default:
				return nil, badInput("input %q is bool; value %d is %s", info.Name, i, jsonText(x))
			}
		}
		return tensor.NewBool(shape, b), nil
	case info.DType == tensor.Int64:
		// parsed exactly: 64-bit values above 2^53 do not survive a float64
		v, err := exactInts(info, leaves, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) })
		if err != nil {
			return nil, err
		}
		return tensor.New(shape, v), nil
	case info.DType == tensor.Uint64:
		v, err := exactInts(info, leaves, func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) })
		if err != nil {
			return nil, err
		}
		return tensor.New(shape, v), nil
	}
	f := make([]float64, leaves.len())
	for i := range f {
		num, ok := leaves.number(i)
		if !ok {
			return nil, badInput("input %q is %s; value %d is %s, not a number", info.Name, info.DType, i, jsonText(leaves.at(i)))
		}
		v, err := num.Float64()
		if err != nil && !math.IsInf(v, 0) {
			return nil, badInput("input %q: value %d (%s) is not a number", info.Name, i, num)
		}
		f[i] = v
	}
	t, err := tensor.FromFloat64s(info.DType, shape, f)
	if err != nil {
		return nil, badInput("input %q: %v", info.Name, err)
	}
	return t, nil
}

// checkShape checks a request's shape (of n elements) against the input's declared one. An
// input may be empty in a later dimension (a key/value cache of no past tokens, [1,12,0,64]),
// not in its first (no rows).
func checkShape(info tensor.Info, shape []int64, n int64) error {
	if n == 0 && !info.EmptyAllowed(shape) {
		return badInput("input %q is empty", info.Name)
	}
	if len(shape) != len(info.Shape) && !info.AnyShape() {
		return badInput("input %q must have shape %s, got %s", info.Name, tensor.ShapeString(info.Shape), tensor.ShapeString(shape))
	}
	for d, want := range info.Shape {
		if want >= 0 && shape[d] != want {
			return badInput("input %q must have shape %s, got %s", info.Name, tensor.ShapeString(info.Shape), tensor.ShapeString(shape))
		}
	}
	return nil
}

// jsonText shows a decoded JSON value in a message as JSON writes it: null, "NaN", true.
func jsonText(x any) string {
	switch x.(type) {
	case map[string]any:
		return "an object"
	case []any, jsonNumbers:
		return "an array"
	}
	b, _ := json.Marshal(x)
	return string(b)
}

// exactInts parses JSON numbers as 64-bit integers with parse, without a float64 between.
func exactInts[T int64 | uint64](info tensor.Info, leaves *leafList, parse func(string) (T, error)) ([]T, error) {
	v := make([]T, leaves.len())
	for i := range v {
		num, ok := leaves.number(i)
		if !ok {
			return nil, badInput("input %q is %s; value %d is %s", info.Name, info.DType, i, jsonText(leaves.at(i)))
		}
		n, err := parse(string(num))
		if err != nil {
			return nil, badInput("input %q is %s; value %d (%s) is not one", info.Name, info.DType, i, num)
		}
		v[i] = n
	}
	return v, nil
}

// Postprocess answers {"outputs": [{"name", "shape", "dtype", "data"}]} with flat data.
// NaN and ±Inf become null; float32 and narrower values print at their own precision (0.1,
// not 0.10000000149011612). The JSON is appended by hand: this runs for every request.
func (h *tensorHandler) Postprocess(_ context.Context, _ *Request, outputs []*tensor.Tensor) (*Response, error) {
	if err := CheckAnswerSize(outputs, h.maxResponse); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 64+16*len(outputs))
	b = append(b, `{"outputs":[`...)
	for i, t := range outputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = append(b, h.outputNames[i]...)
		b = append(b, `,"shape":`...)
		b = appendShape(b, t.Shape)
		b = append(b, `,"dtype":"`...)
		b = append(b, t.DType.String()...)
		b = append(b, `","data":`...)
		b = growForData(b, t)
		var err error
		if b, err = appendData(b, t); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	b = append(b, "]}\n"...)
	return &Response{Body: b, ContentType: "application/json"}, nil
}

// CheckAnswerSize refuses, before an answer is written, outputs too large for limit bytes
// (max_response_size; 0: no limit) whatever the answer's encoding (answerSizeAtLeast): a
// model may answer far more than a client should get (a size an input asked for).
func CheckAnswerSize(outputs []*tensor.Tensor, limit int64) error {
	if n := answerSizeAtLeast(outputs); limit > 0 && n > limit {
		return ResponseTooLarge(n, limit, true)
	}
	return nil
}

// answerSizeAtLeast is the fewest bytes outputs take in any answer that holds all their
// values: as JSON (two bytes a number, "0,"; three a string, "\"\",") or as raw bytes (an
// element's size, four for a string's length).
func answerSizeAtLeast(outputs []*tensor.Tensor) int64 {
	var n int64
	for _, t := range outputs {
		per := int64(3)
		if t.DType != tensor.String {
			per = int64(min(2, max(1, t.DType.Size())))
		}
		elements, err := tensor.NumElements(t.Shape)
		if err != nil {
			continue
		}
		n += elements * per
	}
	return n
}

// ResponseTooLarge is the error for an answer of n bytes (at least n, atLeast: refused
// before it was written) over max_response_size, limit: a 500, as TorchServe's, saying how to
// get one.
func ResponseTooLarge(n, limit int64, atLeast bool) error {
	size := fmt.Sprintf("%d bytes", n)
	if atLeast {
		size = "at least " + size
	}
	return apierror.New(http.StatusInternalServerError, apierror.TypeInternal,
		"response of %s exceeds max_response_size (%d bytes): raise max_response_size, or ask for less "+
			"(a segmentation mask as a PNG with Accept: image/png, a smaller image)", size, limit)
}

// appendJSONString appends s as a JSON string. (strconv's quoting is Go's, not JSON's: it
// writes \x01 or \a, which JSON parsers refuse.) Invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// appendData appends a tensor's elements as a flat JSON array.
// growForData makes room in b for about what t's numbers take as JSON, so that b grows once
// rather than copying itself over as appendData fills it.
func growForData(b []byte, t *tensor.Tensor) []byte {
	return slices.Grow(b, int(min(12*t.Len(), 1<<26)))
}

func appendData(b []byte, t *tensor.Tensor) ([]byte, error) {
	flat := [1]int64{t.Len()}
	return appendNested(b, t, flat[:])
}

// appendNested appends a tensor's elements as JSON arrays nested by shape (a lone value for
// a scalar shape), each element at the precision of its type.
func appendNested(b []byte, t *tensor.Tensor, shape []int64) ([]byte, error) {
	switch t.DType {
	case tensor.String:
		return appendList(b, t.Strings, shape, appendJSONString), nil
	case tensor.Bool:
		return appendList(b, t.Data, shape, func(b []byte, x byte) []byte { return strconv.AppendBool(b, x != 0) }), nil
	case tensor.Int64:
		v, _ := tensor.Values[int64](t)
		return appendList(b, v, shape, func(b []byte, x int64) []byte { return strconv.AppendInt(b, x, 10) }), nil
	case tensor.Uint64:
		v, _ := tensor.Values[uint64](t)
		return appendList(b, v, shape, func(b []byte, x uint64) []byte { return strconv.AppendUint(b, x, 10) }), nil
	case tensor.Float32: // the common case, without converting the whole tensor first
		v, err := tensor.Values[float32](t)
		if err != nil {
			return nil, err
		}
		return appendList(b, v, shape, func(b []byte, x float32) []byte { return appendFloat(b, float64(x), 32) }), nil
	}
	f, err := t.Float64s()
	if err != nil {
		return nil, err
	}
	switch {
	case !t.DType.IsFloat(): // the narrower integers, exact in a float64
		return appendList(b, f, shape, func(b []byte, x float64) []byte { return strconv.AppendInt(b, int64(x), 10) }), nil
	case t.DType == tensor.Float64:
		return appendList(b, f, shape, func(b []byte, x float64) []byte { return appendFloat(b, x, 64) }), nil
	}
	return appendList(b, f, shape, func(b []byte, x float64) []byte { return appendFloat(b, x, 32) }), nil
}

// appendShape appends a shape as a JSON array of integers.
func appendShape(b []byte, shape []int64) []byte {
	flat := [1]int64{int64(len(shape))}
	return appendList(b, shape, flat[:], func(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) })
}

// appendList appends v as JSON arrays nested by shape (flat for one dimension, the lone
// value for none), each element written by each.
func appendList[T any](b []byte, v []T, shape []int64, each func([]byte, T) []byte) []byte {
	if len(shape) == 0 {
		if len(v) == 0 {
			return append(b, "null"...)
		}
		return each(b, v[0])
	}
	b = append(b, '[')
	if len(shape) == 1 {
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = each(b, x)
		}
		return append(b, ']')
	}
	if n := int(shape[0]); n > 0 {
		stride := len(v) / n
		for i := range n {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendList(b, v[i*stride:(i+1)*stride], shape[1:], each)
		}
	}
	return append(b, ']')
}

// appendFloat appends x as JSON at the precision of its type (bits): NaN and ±Inf, which
// JSON cannot hold, become null.
func appendFloat(b []byte, x float64, bits int) []byte {
	if bits == 32 {
		x = float64(float32(x)) // as printed: beyond float32's range is infinite
	}
	if !finite(x) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, x, 'g', -1, bits)
}
