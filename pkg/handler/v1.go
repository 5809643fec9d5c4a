package handler

import (
	"fmt"

	"github.com/tsserve/ts/pkg/tensor"
)

// V1Request is a KServe v1 predict request (TensorFlow Serving's REST format): instances in
// the row format, or inputs in the columnar format.
type V1Request struct {
	// Instances are the row format's instances, one item each, as JSON decodes them.
	Instances []any
	// Inputs is the columnar format's "inputs", when Columnar.
	Inputs   any
	Columnar bool
}

// DecodeV1 reads a KServe v1 predict request: {"instances": [...]} or {"inputs": ...}.
func DecodeV1(body []byte) (*V1Request, error) {
	doc, err := decodeObject(body, `{"instances": [...]} or {"inputs": ...}`, "")
	if err != nil {
		return nil, err
	}
	instances, hasInstances := doc["instances"]
	inputs, hasInputs := doc["inputs"]
	switch {
	case hasInstances && hasInputs:
		return nil, badInput(`request has both "instances" and "inputs": send one`)
	case hasInputs:
		return &V1Request{Inputs: inputs, Columnar: true}, nil
	case !hasInstances:
		return nil, badInput(`request has no "instances": send {"instances": [...]}, one item each`)
	}
	list, ok := asList(instances)
	if !ok || len(list) == 0 {
		return nil, badInput(`"instances" must be a list of one or more items, not %s`, jsonText(instances))
	}
	return &V1Request{Instances: list}, nil
}

// V1Tensors reads a v1 value as the model's inputs: for a model with one input the value
// itself, for several an object of input name → value. An instance is one item: inputs with
// a batch dimension get one of 1, as the tensor handler gives one. The columnar format's
// values are whole batches (or one item, which gets the batch dimension as well).
func V1Tensors(value any, inputs []tensor.Info) ([]*tensor.Tensor, error) {
	values := map[string]any{}
	switch obj, isObj := value.(map[string]any); {
	case isObj && (len(inputs) > 1 || isInputNamed(obj, inputs)):
		values = obj
	case isObj:
		return nil, badInput("an object's keys name the model's inputs: %s", namesOf(inputs))
	case len(inputs) == 1:
		values[inputs[0].Name] = value
	default:
		return nil, badInput("this model takes %d inputs: send an object of input name → value (%s)", len(inputs), namesOf(inputs))
	}
	return tensorsByName(inputs, values)
}

// isInputNamed reports whether an object's keys are all input names (an instance given as
// {"features": [...]} for a one-input model), rather than the value itself.
func isInputNamed(obj map[string]any, inputs []tensor.Info) bool {
	for k := range obj {
		if indexOf(inputs, k) < 0 {
			return false
		}
	}
	return len(obj) > 0
}

// AppendV1Value appends outputs as a v1 value: for a model with one output that output
// nested by its shape, for several an object of output name → value. item drops the batch
// dimension of 1 that an instance's outputs carry.
func AppendV1Value(b []byte, outputs []*tensor.Tensor, infos []tensor.Info, item bool) ([]byte, error) {
	one := func(b []byte, t *tensor.Tensor) ([]byte, error) {
		shape := t.Shape
		if item && len(shape) > 0 && shape[0] == 1 {
			shape = shape[1:]
		}
		return appendNested(b, t, shape)
	}
	if len(outputs) == 1 {
		return one(b, outputs[0])
	}
	b = append(b, '{')
	for i, t := range outputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, infos[i].Name)
		b = append(b, ':')
		var err error
		if b, err = one(b, t); err != nil {
			return nil, fmt.Errorf("output %q: %w", infos[i].Name, err)
		}
	}
	return append(b, '}'), nil
}
