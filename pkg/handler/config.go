package handler

import (
	"fmt"
	"strings"

	"github.com/tsserve/ts/pkg/tensor"
)

// config reads typed values from a handler's model-config.yaml section.
type config map[string]any

func (c config) int(key string, def int) (int, error) {
	v, ok := c[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	}
	return 0, fmt.Errorf("handler setting %s: want an integer, got %v", key, v)
}

func (c config) float(key string, def float64) (float64, error) {
	v, ok := c[key]
	if !ok || v == nil {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, fmt.Errorf("handler setting %s: want a number, got %v", key, v)
}

func (c config) floats(key string, def []float64) ([]float64, error) {
	v, ok := c[key]
	if !ok || v == nil {
		return def, nil
	}
	list, ok := v.([]any)
	if !ok {
		if f, err := c.float(key, 0); err == nil {
			return []float64{f}, nil
		}
		return nil, fmt.Errorf("handler setting %s: want a list of numbers, got %v", key, v)
	}
	out := make([]float64, len(list))
	for i, x := range list {
		f, err := config{key: x}.float(key, 0)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

func (c config) string(key, def string) (string, error) {
	v, ok := c[key]
	if !ok || v == nil {
		return def, nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("handler setting %s: want a string, got %v", key, v)
	}
	return s, nil
}

func (c config) bool(key string, def bool) (bool, error) {
	v, ok := c[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("handler setting %s: want true or false, got %v", key, v)
	}
	return b, nil
}

// softmaxMode reads the softmax setting: auto (when scores are not already probabilities),
// always, never, or sigmoid (each class's own probability, as a multi-label classifier's);
// def is the default.
func (c config) softmaxMode(def string) (string, error) {
	mode, err := c.string("softmax", def)
	if err != nil {
		return "", err
	}
	if mode != "auto" && mode != "always" && mode != "never" && mode != "sigmoid" {
		return "", fmt.Errorf("handler setting softmax: want auto, always, never or sigmoid, got %q", mode)
	}
	return mode, nil
}

// classifierOutput is the output a classifier reads: the output setting when given, else,
// for a model with several outputs, the one holding the class scores (scoresOutput).
func (c config) classifierOutput(outputs []tensor.Info, lb labels) (int, error) {
	if name, err := c.string("output", ""); err != nil || name != "" {
		return c.output(outputs, "")
	}
	return scoresOutput(outputs, len(lb)), nil
}

// scoreNames are words in the names of outputs that hold class scores.
var scoreNames = []string{"logit", "prob", "score", "softmax", "class", "pred", "output"}

// scoresOutput picks, among a model's outputs, the one holding class scores: the floating-
// point output whose last dimension is the number of labels (when the archive has labels),
// else the first floating-point one named like scores (logits, probabilities ...), else the
// first floating-point one, else the first. (A model may also return features, or class
// indices as integers, before its scores.)
func scoresOutput(outputs []tensor.Info, labelCount int) int {
	isFloat := func(o tensor.Info) bool { return o.DType.IsFloat() && (len(o.Shape) > 0 || o.AnyShape()) }
	if labelCount > 0 {
		for i, o := range outputs {
			if isFloat(o) && len(o.Shape) > 0 && o.Shape[len(o.Shape)-1] == int64(labelCount) {
				return i
			}
		}
	}
	for _, word := range scoreNames {
		for i, o := range outputs {
			if isFloat(o) && strings.Contains(strings.ToLower(o.Name), word) {
				return i
			}
		}
	}
	for i, o := range outputs {
		if isFloat(o) {
			return i
		}
	}
	return 0
}

// output reads the output setting: the index of the model output the handler reads. Unset,
// it is the output named def when the model has one, else the first.
func (c config) output(outputs []tensor.Info, def string) (int, error) {
	name, err := c.string("output", "")
	if err != nil {
		return 0, err
	}
	if name == "" {
		return max(indexOf(outputs, def), 0), nil
	}
	if i := indexOf(outputs, name); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("handler setting output: the model has no output %q; its outputs are %s", name, namesOf(outputs))
}

// oneScoreRow checks that a classifier's output holds one row of class scores per item:
// past the batch dimension, at most one dimension may be more than 1 ([N, classes],
// Caffe's [N, classes, 1, 1]); [N, sequence, labels] scores each token and [N, classes, H,
// W] each pixel, which a classifier cannot answer as one set of classes.
func oneScoreRow(outputs []tensor.Info, i int, handler, instead string) error {
	if i < 0 || i >= len(outputs) {
		return nil // no output described: the run tells
	}
	out := outputs[i]
	wide := 0
	for k, d := range out.Shape {
		if k > 0 && d != 1 {
			wide++
		}
	}
	if wide > 1 {
		return fmt.Errorf("%s answers one set of classes per input, but output %s holds several: %s", handler, out, instead)
	}
	return nil
}
