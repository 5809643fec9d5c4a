package handler

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/tsserve/ts/pkg/seqbatch"
	"github.com/tsserve/ts/pkg/tensor"
)

// V2Request is an Open Inference Protocol (KServe v2, Triton) inference request, read for
// one model: its inputs in the model's order and the outputs it asks for.
type V2Request struct {
	ID     string
	Inputs []*tensor.Tensor
	// Outputs are the outputs asked for, in the order asked; nil means all of them.
	Outputs []V2Output
	// BinaryOutput is the request parameter binary_data_output: every output in binary
	// unless an output says otherwise.
	BinaryOutput bool
	// Priority is the request parameter priority (Triton's schedule policy extension: 1 the
	// highest level, 2 the next; 0 when not given, the default level).
	Priority int64
	// Timeout is the request parameter timeout, in µs (the same extension): the longest the
	// request may wait in the queue, where the model's queue policy lets a request shorten
	// its own; 0 when not given.
	Timeout int64
	// Sequence is the request's place in a sequence (the parameters sequence_id,
	// sequence_start and sequence_end of Triton's sequence batcher).
	Sequence seqbatch.Flags
}

// sequenceParameters reads a request's sequence parameters: sequence_id a number or a
// string, sequence_start and sequence_end bools.
func sequenceParameters(params map[string]any) (seqbatch.Flags, error) {
	var f seqbatch.Flags
	var err error
	switch id := params["sequence_id"].(type) {
	case nil:
	case json.Number:
		f, err = seqbatch.ParseID(id.String(), true)
	case string:
		f, err = seqbatch.ParseID(id, false)
	default:
		err = fmt.Errorf("parameter sequence_id must be a number or a string, got %s", jsonText(id))
	}
	if err != nil {
		return f, badInput("%v", err)
	}
	for name, dst := range map[string]*bool{"sequence_start": &f.Start, "sequence_end": &f.End} {
		switch b := params[name].(type) {
		case nil:
		case bool:
			*dst = b
		default:
			return f, badInput("parameter %s must be true or false, got %s", name, jsonText(b))
		}
	}
	return f, nil
}

// V2Output is an output a request asks for.
type V2Output struct {
	Name string
	// Binary is the output parameter binary_data; nil when not given.
	Binary *bool
	// Classification is the output parameter classification (Triton's classification
	// extension): answer the top this many classes as "value:index[:label]" strings instead
	// of the tensor; 0 when not asked.
	Classification int
	// Shared is where the output goes in shared memory (its parameters
	// shared_memory_region, _offset and _byte_size); nil: in the answer.
	Shared *V2Shared
}

// V2Shared is a tensor's place in a shared memory region (Triton's shared memory
// extension).
type V2Shared struct {
	Region       string
	Offset, Size int64
}

// SharedMemory reads and writes the shared memory regions clients registered; a request
// naming a region on a server without them (nil) is refused.
type SharedMemory interface {
	// Read copies size bytes at offset of the region.
	Read(region string, offset, size int64) ([]byte, error)
	// Write copies data (at most size bytes) at offset of the region.
	Write(region string, offset, size int64, data []byte) error
	// Check says whether size bytes at offset are within the region.
	Check(region string, offset, size int64) error
}

// DecodeV2 reads an OIP inference request for a model with these inputs and outputs. body
// is the whole request body; headerLen is its Inference-Header-Content-Length (-1 when
// absent): the JSON header's length, followed by the inputs sent as binary tensor data
// (those with the parameter binary_data_size) in the order listed. Inputs and outputs may
// name regions of shm (nil: the server has none) instead.
func DecodeV2(body []byte, headerLen int, inputs, outputs []tensor.Info, shm SharedMemory) (*V2Request, error) {
	header, blobs := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen > len(body) {
			return nil, badInput("Inference-Header-Content-Length %d is longer than the body (%d bytes)", headerLen, len(body))
		}
		if headerLen == 0 {
			return decodeRawV2(body, inputs)
		}
		header, blobs = body[:headerLen], body[headerLen:]
	}
	doc, err := decodeObject(header, `{"inputs": [...]}`, " (binary tensor data needs the Inference-Header-Content-Length header)")
	if err != nil {
		return nil, err
	}
	docInputs, err := objects(doc, "inputs")
	if err != nil {
		return nil, err
	}
	if docInputs == nil {
		return nil, badInput(`request has no "inputs": send {"inputs": [{"name", "shape", "datatype", "data"}]}`)
	}
	docOutputs, err := objects(doc, "outputs")
	if err != nil {
		return nil, err
	}
	req := &V2Request{Inputs: make([]*tensor.Tensor, len(inputs))}
	switch id := doc["id"].(type) {
	case nil:
	case string:
		req.ID = id
	default:
		return nil, badInput(`"id" must be a string, not %s`, jsonText(id))
	}
	if params, _ := doc["parameters"].(map[string]any); params != nil {
		req.BinaryOutput, _ = params["binary_data_output"].(bool)
		for _, c := range []struct {
			name, want string
			dst        *int64
		}{
			{"priority", "a priority level ≥ 0 (1 the highest, 0 the default)", &req.Priority},
			{"timeout", "a time in microseconds ≥ 0 (0: the model's)", &req.Timeout},
		} {
			p, ok := params[c.name]
			if !ok {
				continue
			}
			num, isNumber := p.(json.Number)
			n, err := num.Int64()
			if !isNumber || err != nil || n < 0 {
				return nil, badInput("parameter %s must be %s, got %s", c.name, c.want, jsonText(p))
			}
			*c.dst = n
		}
		if req.Sequence, err = sequenceParameters(params); err != nil {
			return nil, err
		}
	}
	for _, in := range docInputs {
		name, ok := in["name"].(string)
		if !ok {
			return nil, badInput(`each input needs a "name", a string; got %s`, jsonText(in["name"]))
		}
		i := indexOf(inputs, name)
		if i < 0 {
			return nil, badInput("model has no input %q; its inputs are %s", name, namesOf(inputs))
		}
		if req.Inputs[i] != nil {
			return nil, badInput("input %q is given twice", name)
		}
		var t *tensor.Tensor
		shared, err := sharedPlace("input", name, in, shm)
		if err != nil {
			return nil, err
		}
		size, binary, err := binarySize(name, in)
		if err != nil {
			return nil, err
		}
		if _, hasData := in["data"]; hasData && binary {
			return nil, badInput("input %q has both \"data\" and binary_data_size: send its data one way", name)
		}
		switch {
		case shared != nil:
			if _, hasData := in["data"]; hasData || binary {
				return nil, badInput("input %q: its data is in shared memory region %q; send it there or in the request, not both", name, shared.Region)
			}
			var data []byte
			if data, err = shm.Read(shared.Region, shared.Offset, shared.Size); err != nil {
				return nil, badInput("input %q: %v", name, err)
			}
			t, err = tensorFromBinary(inputs[i], in, data)
		case binary:
			if size > int64(len(blobs)) {
				return nil, badInput("input %q: binary_data_size %d runs past the end of the body", name, size)
			}
			t, err = tensorFromBinary(inputs[i], in, blobs[:size])
			blobs = blobs[size:]
		default:
			t, err = tensorFromV2(inputs[i], in)
		}
		if err != nil {
			return nil, err
		}
		req.Inputs[i] = t
	}
	if len(blobs) > 0 {
		return nil, badInput("%d bytes of binary data follow the inputs that binary_data_size accounts for", len(blobs))
	}
	for i, t := range req.Inputs {
		if t == nil {
			return nil, badInput("input %q is missing; the model takes %s", inputs[i].Name, namesOf(inputs))
		}
	}
	for _, o := range docOutputs {
		name, ok := o["name"].(string)
		if !ok {
			return nil, badInput(`each requested output needs a "name", a string; got %s`, jsonText(o["name"]))
		}
		if indexOf(outputs, name) < 0 {
			return nil, badInput("model has no output %q; its outputs are %s", name, namesOf(outputs))
		}
		out := V2Output{Name: name}
		params, _ := o["parameters"].(map[string]any)
		if b, ok := params["binary_data"].(bool); ok {
			out.Binary = &b
		}
		if out.Shared, err = sharedPlace("output", name, o, shm); err != nil {
			return nil, err
		}
		if out.Shared != nil {
			if err := shm.Check(out.Shared.Region, out.Shared.Offset, out.Shared.Size); err != nil {
				return nil, badInput("output %q: %v", name, err)
			}
		}
		if c, ok := params["classification"]; ok {
			num, isNumber := c.(json.Number)
			n, err := num.Int64()
			if !isNumber || err != nil || n < 1 {
				return nil, badInput("output %q: parameter classification must be a count of classes ≥ 1, got %v", name, c)
			}
			if dt := outputs[indexOf(outputs, name)].DType; dt == tensor.String || dt == tensor.Bool {
				return nil, badInput("output %q is %s: classification needs a numeric output", name, dt)
			}
			out.Classification = int(n)
		}
		req.Outputs = append(req.Outputs, out)
	}
	return req, nil
}

// sharedPlace reads where a tensor's data is in shared memory: its parameters
// shared_memory_region, shared_memory_byte_size and shared_memory_offset (default 0); nil
// when it names no region.
func sharedPlace(kind, name string, v map[string]any, shm SharedMemory) (*V2Shared, error) {
	params, _ := v["parameters"].(map[string]any)
	r, ok := params["shared_memory_region"]
	if !ok {
		return nil, nil
	}
	region, isString := r.(string)
	if !isString || region == "" {
		return nil, badInput("%s %q: parameter shared_memory_region must be a region's name, got %s", kind, name, jsonText(r))
	}
	if shm == nil {
		return nil, badInput("%s %q names shared memory region %q, but this server takes no shared memory (start it with --shared-memory)", kind, name, region)
	}
	place := &V2Shared{Region: region}
	for _, p := range []struct {
		key      string
		dst      *int64
		required bool
	}{{"shared_memory_byte_size", &place.Size, true}, {"shared_memory_offset", &place.Offset, false}} {
		raw, ok := params[p.key]
		if !ok && !p.required {
			continue
		}
		num, isNumber := raw.(json.Number)
		n, err := num.Int64()
		if !isNumber || err != nil || n < 0 {
			return nil, badInput("%s %q: parameter %s must be a number of bytes ≥ 0, got %s", kind, name, p.key, jsonText(raw))
		}
		*p.dst = n
	}
	return place, nil
}

// decodeRawV2 reads the binary tensor data extension's raw request (Inference-Header-Content-
// Length 0): the body is the one input of a model with one input, its shape the model's with
// a batch of 1 for a dynamic first dimension and at most one other dynamic dimension, which
// the body's size tells; every output comes back as binary data.
func decodeRawV2(body []byte, inputs []tensor.Info) (*V2Request, error) {
	if len(inputs) != 1 {
		return nil, badInput("a raw request (Inference-Header-Content-Length 0) is for models with one input; this one takes %d: send the JSON header first", len(inputs))
	}
	in := inputs[0]
	if in.DType == tensor.String || in.AnyShape() {
		return nil, badInput("a raw request (Inference-Header-Content-Length 0) needs an input of numbers with a declared shape; %s: send the JSON header first", in)
	}
	size := in.DType.Size()
	if len(body)%size != 0 {
		return nil, badInput("a raw request of %d bytes is not a whole number of %s elements", len(body), in.DType)
	}
	shape := append([]int64(nil), in.Shape...)
	if len(shape) > 0 && shape[0] < 0 {
		shape[0] = 1 // a batch of one
	}
	known, variable := int64(1), -1
	for d, n := range shape {
		switch {
		case n >= 0:
			known *= n
		case variable >= 0:
			return nil, badInput("a raw request (Inference-Header-Content-Length 0) cannot tell the shape of input %s: it has more than one dynamic dimension besides the batch; send the JSON header first", in)
		default:
			variable = d
		}
	}
	count := int64(len(body) / size)
	switch {
	case variable >= 0 && known > 0 && count%known == 0:
		shape[variable] = count / known
	case variable < 0 && count == known:
	default:
		return nil, badInput("a raw request of %d %s elements does not fit input %s", count, in.DType, in)
	}
	t, err := tensor.FromBytes(in.DType, shape, body)
	if err != nil {
		return nil, badInput("raw request: %v", err)
	}
	return &V2Request{Inputs: []*tensor.Tensor{t}, BinaryOutput: true}, nil
}

// decodeObject reads a request that must be one JSON object (numbers kept as written); shape
// shows what it should look like and moreHint explains more than one JSON value, in messages.
func decodeObject(body []byte, shape, moreHint string) (map[string]any, error) {
	v, err := decodeJSON(body)
	if err != nil && !errors.Is(err, errMoreValues) {
		return nil, badInput("request %v", err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, badInput("request must be a JSON object %s, not %s", shape, jsonText(v))
	}
	if err != nil {
		return nil, badInput("request %v%s", err, moreHint)
	}
	return doc, nil
}

// objects reads a request field that must be a list of objects (nil when absent).
func objects(doc map[string]any, key string) ([]map[string]any, error) {
	raw, ok := doc[key]
	if !ok || raw == nil {
		return nil, nil
	}
	list, ok := asList(raw)
	if !ok {
		return nil, badInput("%q must be a list of objects, not %s", key, jsonText(raw))
	}
	out := make([]map[string]any, len(list))
	for i, x := range list {
		if out[i], ok = x.(map[string]any); !ok {
			return nil, badInput("%q[%d] must be an object, not %s", key, i, jsonText(x))
		}
	}
	return out, nil
}

// binarySize reads an input's binary_data_size parameter (binary: it has one), which must be
// a number of bytes.
func binarySize(name string, in map[string]any) (size int64, binary bool, err error) {
	params, _ := in["parameters"].(map[string]any)
	v, binary := params["binary_data_size"]
	if !binary {
		return 0, false, nil
	}
	n, _ := v.(json.Number)
	if size, err = n.Int64(); err != nil || size < 0 {
		return 0, true, badInput("input %q: binary_data_size must be a number of bytes, got %s", name, jsonText(v))
	}
	return size, true, nil
}

// tensorFromBinary reads an input sent as binary tensor data: little-endian elements in
// row-major order, BOOL one byte each, BYTES each a 4-byte little-endian length and its bytes.
func tensorFromBinary(info tensor.Info, in map[string]any, data []byte) (*tensor.Tensor, error) {
	shape, err := v2Shape(info.Name, in)
	if err != nil {
		return nil, err
	}
	if err := v2DType(info, in); err != nil {
		return nil, err
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, badInput("input %q: %v", info.Name, err)
	}
	if err := checkShape(info, shape, n); err != nil {
		return nil, err
	}
	t, err := tensor.FromBinary(info.DType, shape, data)
	if err != nil {
		return nil, badInput("input %q: %v", info.Name, err)
	}
	return t, nil
}

// V2Answered is the outputs whose values an answer to req holds: those it asks for (all when
// it names none), but those answered as classes or written to shared memory.
func V2Answered(req *V2Request, infos []tensor.Info, outputs []*tensor.Tensor) []*tensor.Tensor {
	var answered []*tensor.Tensor
	for _, o := range req.wanted(infos) {
		if i := indexOf(infos, o.Name); i >= 0 && o.Classification == 0 && o.Shared == nil {
			answered = append(answered, outputs[i])
		}
	}
	return answered
}

// wanted is the outputs an answer to r has, as it asks for them: all of the model's, in its
// order, when it names none.
func (r *V2Request) wanted(infos []tensor.Info) []V2Output {
	if r.Outputs != nil {
		return r.Outputs
	}
	want := make([]V2Output, len(infos))
	for i, info := range infos {
		want[i] = V2Output{Name: info.Name}
	}
	return want
}

// EncodeV2 writes the OIP response for a request: model, version and id, and each output
// asked for (all of them, in the model's order, when none was named) with its name, datatype
// and shape, and its data as a flat JSON array or, when asked, as binary tensor data after
// the JSON; an output asked for as a classification is its top classes (labels names them,
// when the model has labels). headerLen is the JSON's length when binary data follows (the
// response's Inference-Header-Content-Length), else -1. An output asked for in shared
// memory is written to its region in shm, and answered with its place but no data.
func EncodeV2(model, version string, req *V2Request, infos []tensor.Info, outputs []*tensor.Tensor, labels map[int]string, shm SharedMemory) (body []byte, headerLen int, err error) {
	want := req.wanted(infos)
	b := append([]byte(nil), `{"model_name":`...)
	b = appendJSONString(b, model)
	b = append(b, `,"model_version":`...)
	b = appendJSONString(b, version)
	if req.ID != "" {
		b = append(b, `,"id":`...)
		b = appendJSONString(b, req.ID)
	}
	b = append(b, `,"outputs":[`...)
	var blobs [][]byte
	for k, o := range want {
		t := outputs[indexOf(infos, o.Name)]
		if o.Classification > 0 {
			if t, err = classify(t, o.Classification, labels); err != nil {
				return nil, 0, fmt.Errorf("output %q: %w", o.Name, err)
			}
		}
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, o.Name)
		b = append(b, `,"datatype":"`...)
		b = append(b, t.DType.V2Name()...)
		b = append(b, `","shape":`...)
		b = appendShape(b, t.Shape)
		if o.Shared != nil {
			blob := t.Binary()
			if shm == nil {
				return nil, 0, badInput("output %q: the server takes no shared memory", o.Name)
			}
			if err := shm.Write(o.Shared.Region, o.Shared.Offset, o.Shared.Size, blob); err != nil {
				return nil, 0, badInput("output %q: %v", o.Name, err)
			}
			b = append(b, `,"parameters":{"shared_memory_region":`...)
			b = appendJSONString(b, o.Shared.Region)
			if o.Shared.Offset > 0 {
				b = append(b, `,"shared_memory_offset":`...)
				b = strconv.AppendInt(b, o.Shared.Offset, 10)
			}
			b = append(b, `,"shared_memory_byte_size":`...)
			b = strconv.AppendInt(b, int64(len(blob)), 10)
			b = append(b, "}}"...)
			continue
		}
		binaryOut := req.BinaryOutput
		if o.Binary != nil {
			binaryOut = *o.Binary
		}
		if binaryOut {
			blob := t.Binary()
			blobs = append(blobs, blob)
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(len(blob)), 10)
			b = append(b, "}}"...)
			continue
		}
		b = append(b, `,"data":`...)
		b = growForData(b, t)
		if b, err = appendData(b, t); err != nil {
			return nil, 0, fmt.Errorf("output %q: %w", o.Name, err)
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	if blobs == nil {
		return append(b, '\n'), -1, nil
	}
	headerLen = len(b)
	for _, blob := range blobs {
		b = append(b, blob...)
	}
	return b, headerLen, nil
}

// classify is Triton's classification of an output: for each row (the first dimension of
// an output of rank 2 or more; the whole output otherwise), its count highest values as
// "value:index" strings, or "value:index:label" where labels name the class, highest first.
func classify(t *tensor.Tensor, count int, labels map[int]string) (*tensor.Tensor, error) {
	values, err := t.Float64s()
	if err != nil {
		return nil, err
	}
	rows := int64(1)
	if len(t.Shape) >= 2 {
		rows = t.Shape[0]
	}
	if rows == 0 { // no rows (an empty detection list): no classes either
		return tensor.NewStrings([]int64{0, 0}, nil), nil
	}
	if int64(len(values))%rows != 0 {
		return nil, fmt.Errorf("cannot classify a tensor of shape %s", tensor.ShapeString(t.Shape))
	}
	classes := len(values) / int(rows)
	k := min(count, classes)
	out := make([]string, 0, int(rows)*k)
	for r := range int(rows) {
		row := values[r*classes : (r+1)*classes]
		for _, i := range topIndexes(row, k) {
			var s []byte
			if t.DType.IsFloat() {
				s = strconv.AppendFloat(s, row[i], 'f', 6, 64)
			} else {
				s = strconv.AppendFloat(s, row[i], 'f', -1, 64)
			}
			s = append(s, ':')
			s = strconv.AppendInt(s, int64(i), 10)
			if name, ok := labels[i]; ok {
				s = append(append(s, ':'), name...)
			}
			out = append(out, string(s))
		}
	}
	shape := []int64{int64(k)}
	if len(t.Shape) >= 2 {
		shape = []int64{rows, int64(k)}
	}
	return tensor.NewStrings(shape, out), nil
}

// binaryData is a tensor as OIP binary tensor data.
// indexOf is the index of the named input or output, or -1.
func indexOf(infos []tensor.Info, name string) int {
	for i, info := range infos {
		if info.Name == name {
			return i
		}
	}
	return -1
}

// namesOf lists inputs or outputs for a message: "features (float32[-1,4]), ...".
func namesOf(infos []tensor.Info) string {
	parts := make([]string, len(infos))
	for i, info := range infos {
		parts[i] = fmt.Sprintf("%s (%s%s)", info.Name, info.DType, info.ShapeText())
	}
	return strings.Join(parts, ", ")
}
