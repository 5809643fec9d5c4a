package handler

import (
	"github.com/tsserve/ts/pkg/tensor"
)

// Triton's generate extension (POST /v2/models/{model}/generate and generate_stream) takes a
// JSON object whose fields name the model's inputs ("text_input": "...") beside its
// "parameters", and answers the outputs as fields ("text_output": "..."), for a model
// served with the tensor handler; the server passes other models' requests to their
// custom handler.

// DecodeGenerate reads a generate request: a JSON object of fields.
func DecodeGenerate(body []byte) (map[string]any, error) {
	v, err := decodeJSON(body)
	if err != nil {
		return nil, badInput("the generate request %v", err)
	}
	fields, ok := v.(map[string]any)
	if !ok {
		return nil, badInput("the generate request must be a JSON object of the model's inputs by name (and its parameters), such as {\"text_input\": \"...\"}")
	}
	return fields, nil
}

// GenerateInputs builds a model's inputs from a generate request's fields: each input from
// the field of its name (a string, number, bool or nested array, as the tensor handler
// reads JSON, a batch of one added where the input has a batch dimension). Fields that name
// no input are the request's parameters, and are left out; a missing input is a 400.
func GenerateInputs(inputs []tensor.Info, fields map[string]any) ([]*tensor.Tensor, error) {
	values := make(map[string]any, len(inputs))
	for _, in := range inputs {
		if v, ok := fields[in.Name]; ok {
			values[in.Name] = v
		}
	}
	return tensorsByName(inputs, values)
}

// AppendGenerateOutputs appends the outputs as fields of a JSON object (after others:
// each begins with a comma), named as infos names them: an output of one element as that
// element ("text_output": "..."), any other as the list of its elements.
func AppendGenerateOutputs(b []byte, infos []tensor.Info, outputs []*tensor.Tensor) ([]byte, error) {
	for i, t := range outputs {
		b = append(b, ',')
		b = appendJSONString(b, infos[i].Name)
		b = append(b, ':')
		var err error
		if t.Len() == 1 {
			b, err = appendNested(b, t, nil)
		} else {
			b, err = appendData(b, t)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}
