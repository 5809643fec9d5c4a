package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/tsserve/ts/pkg/tensor"
)

// textClassifier is TorchServe's text_classifier: UTF-8 text in (raw, or JSON {"text": ...}),
// {label: probability} over the classes out, highest first. The text is tokenised with the
// archive's tokenizer.json (Hugging Face format) or vocab.txt, truncated and padded to
// max_length so that requests batch together. Model inputs are recognised by name:
// input_ids (or the only input), attention_mask, token_type_ids.
type textClassifier struct {
	tok       textTokenizer
	maxLen    int
	padID     int64
	ids, mask int // input indexes (-1: absent)
	types     int
	positions int
	inputs    []tensor.Info
	noBatch   bool // the inputs are one text's, [sequence], with no batch dimension
	output    int  // the output holding the scores
	oneRow    bool // the output is one text's scores, [classes] (unbatchedScores)
	labels    labels
	softmax   string
	topk      int
}

// textTokenizer turns text into token ids.
type textTokenizer interface {
	Encode(text string) ([]int64, error)
	PadID() int64
	// Token is the vocabulary's token for id, for explanations ("" for none).
	Token(id int64) string
}

// textInputRole is an input's name as the roles are named: lower case, without what
// TensorFlow's exporters add ("serving_default_input_ids:0" is input_ids).
func textInputRole(name string) string {
	name = strings.ToLower(name)
	if i := strings.LastIndexByte(name, ':'); i >= 0 && i < len(name)-1 && strings.Trim(name[i+1:], "0123456789") == "" {
		name = name[:i]
	}
	return strings.TrimPrefix(name, "serving_default_")
}

func newTextClassifier(m *Model) (Handler, error) {
	c := config(m.Config)
	h := &textClassifier{ids: -1, mask: -1, types: -1, positions: -1, inputs: m.Inputs}
	var unknown []string
	for i, in := range m.Inputs {
		switch textInputRole(in.Name) {
		case "input_ids", "input", "ids", "tokens":
			h.ids = i
		case "attention_mask", "mask":
			h.mask = i
		case "token_type_ids", "segment_ids":
			h.types = i
		case "position_ids":
			h.positions = i
		default:
			unknown = append(unknown, in.Name)
		}
	}
	if h.ids < 0 && len(m.Inputs) == 1 {
		h.ids, unknown = 0, nil
	}
	if h.ids < 0 {
		return nil, fmt.Errorf("text_classifier: no input named input_ids among %v", names(m.Inputs))
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("text_classifier feeds input_ids, attention_mask, token_type_ids and position_ids; the model also takes %s", strings.Join(unknown, ", "))
	}
	// one text with no batch dimension, [sequence], as some exports take it
	h.noBatch = len(m.Inputs[h.ids].Shape) == 1
	for _, i := range []int{h.ids, h.mask, h.types, h.positions} {
		if i >= 0 && (len(m.Inputs[i].Shape) != len(m.Inputs[h.ids].Shape) || len(m.Inputs[i].Shape) < 1 || len(m.Inputs[i].Shape) > 2 ||
			(m.Inputs[i].DType != tensor.Int64 && m.Inputs[i].DType != tensor.Int32)) {
			return nil, fmt.Errorf("text_classifier: input %s must be int64 or int32 [batch, sequence] (or [sequence], for every input)", m.Inputs[i])
		}
	}
	def := 128
	if shape := m.Inputs[h.ids].Shape; shape[len(shape)-1] > 0 {
		def = int(shape[len(shape)-1])
	}
	var err error
	if h.maxLen, err = c.int("max_length", def); err != nil {
		return nil, err
	}
	if h.maxLen < 1 {
		return nil, fmt.Errorf("handler setting max_length must be ≥ 1")
	}
	if h.tok, err = loadTokenizer(m.Dir, c, h.maxLen); err != nil {
		return nil, err
	}
	h.padID = h.tok.PadID()
	if h.softmax, err = c.softmaxMode(defaultActivation(m.Dir)); err != nil {
		return nil, err
	}
	if h.topk, err = c.int("topk", 0); err != nil {
		return nil, err
	}
	if h.labels, err = loadLabels(m.Dir, m.Metadata); err != nil {
		return nil, err
	}
	if h.output, err = c.classifierOutput(m.Outputs, h.labels); err != nil {
		return nil, err
	}
	h.oneRow = unbatchedScores(m.Outputs, h.output)
	if err := oneScoreRow(m.Outputs, h.output, "text_classifier", "a score per token (token classification): serve it with the tensor handler or a custom one"); err != nil {
		return nil, err
	}
	return h, nil
}

func names(infos []tensor.Info) []string {
	out := make([]string, len(infos))
	for i, x := range infos {
		out[i] = x.Name
	}
	return out
}

// loadTokenizer finds tokenizer.json, else vocab.txt, in the archive (or the files named
// by the tokenizer and vocab settings).
func loadTokenizer(dir string, c config, maxLen int) (textTokenizer, error) {
	tj, err := c.string("tokenizer", "tokenizer.json")
	if err != nil {
		return nil, err
	}
	if p := filepath.Join(dir, tj); fileExists(p) {
		return newHFTokenizer(p, maxLen)
	}
	vf, err := c.string("vocab", "vocab.txt")
	if err != nil {
		return nil, err
	}
	if p := filepath.Join(dir, vf); fileExists(p) {
		lower, err := c.bool("lowercase", true)
		if err != nil {
			return nil, err
		}
		return newVocabTokenizer(p, lower, maxLen)
	}
	return nil, fmt.Errorf("text_classifier needs a tokenizer.json (Hugging Face) or a vocab.txt among the archive's extra files")
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// text reads the request's text: a JSON object {"text": ...} (or "data", "input", "inputs"),
// a JSON string, or the raw body as UTF-8.
func requestText(req *Request) (string, error) {
	in, ok := req.Data()
	if !ok {
		return "", badInput("the request has no text")
	}
	data := bytes.TrimSpace(in.Data)
	var list []string
	if len(data) > 0 && data[0] == '[' && json.Unmarshal(data, &list) == nil { // a JSON array of strings
		switch len(list) {
		case 0:
			return "", badInput("the request's JSON array holds no text")
		case 1:
			data = []byte(list[0])
		default:
			return "", badInput("send one text per request, not %d in a JSON array: concurrent requests are batched together", len(list))
		}
	} else if len(data) > 0 && (data[0] == '{' || data[0] == '"') {
		var s string
		if err := json.Unmarshal(data, &s); err == nil {
			data = []byte(s)
		} else {
			var obj map[string]any
			if err := json.Unmarshal(data, &obj); err != nil {
				return "", badInput("request body looks like JSON but is not valid: %v", err)
			}
			found := false
			for _, k := range []string{"text", "data", "input", "inputs"} {
				if v, ok := obj[k].(string); ok {
					data, found = []byte(v), true
					break
				}
			}
			if !found {
				return "", badInput(`request JSON has no "text": send {"text": "..."} or the raw text`)
			}
		}
	}
	if !utf8.Valid(data) {
		return "", badInput("request text is not valid UTF-8")
	}
	text := strings.TrimSpace(string(data))
	if text == "" {
		return "", badInput("the request's text is empty")
	}
	return text, nil
}

func (h *textClassifier) Preprocess(_ context.Context, req *Request) ([]*tensor.Tensor, error) {
	text, err := requestText(req)
	if err != nil {
		return nil, err
	}
	ids, err := h.tok.Encode(text)
	if err != nil {
		return nil, badInput("cannot tokenise the text: %v", err)
	}
	if len(ids) > h.maxLen {
		ids = ids[:h.maxLen]
	}
	n := int64(h.maxLen)
	padded := make([]int64, n)
	mask := make([]int64, n)
	for i := range padded {
		padded[i] = h.padID
		if i < len(ids) {
			padded[i], mask[i] = ids[i], 1
		}
	}
	out := make([]*tensor.Tensor, len(h.inputs))
	for i, info := range h.inputs {
		var v []int64
		switch i {
		case h.ids:
			v = padded
		case h.mask:
			v = mask
		case h.types:
			v = make([]int64, n)
		case h.positions:
			v = make([]int64, n)
			for k := range v {
				v[k] = int64(k)
			}
		}
		shape := []int64{1, n}
		if h.noBatch {
			shape = shape[1:]
		}
		t := tensor.New(shape, v)
		if info.DType == tensor.Int32 {
			if t, err = t.Convert(tensor.Int32); err != nil {
				return nil, err
			}
		}
		out[i] = t
	}
	return out, nil
}

func (h *textClassifier) Postprocess(_ context.Context, _ *Request, outputs []*tensor.Tensor) (*Response, error) {
	if len(outputs) <= h.output {
		return nil, fmt.Errorf("model returned %d outputs", len(outputs))
	}
	o := outputs[h.output]
	v, err := o.Float64s()
	if err != nil {
		return nil, err
	}
	return jsonResponse(classScores(v, o.DType, h.softmax, h.topk, h.labels))
}
