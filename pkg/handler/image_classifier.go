package handler

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/tsserve/ts/pkg/tensor"
)

// imageClassifier is TorchServe's image_classifier: an image in, the top-k classes with
// their probabilities out, highest first.
type imageClassifier struct {
	spec    imageSpec
	output  int  // the output holding the scores
	oneRow  bool // the output is one image's scores, [classes] (unbatchedScores)
	labels  labels
	topk    int
	softmax string // "auto" (when the outputs are not already probabilities), "always", "never"
}

func newImageClassifier(m *Model) (Handler, error) {
	c := config(m.Config)
	spec, err := modelImageSpec("image_classifier", m, c, nil, classifierSide)
	if err != nil {
		return nil, err
	}
	h := &imageClassifier{spec: spec}
	if h.labels, err = loadLabels(m.Dir, m.Metadata); err != nil {
		return nil, err
	}
	if h.output, err = c.classifierOutput(m.Outputs, h.labels); err != nil {
		return nil, err
	}
	h.oneRow = unbatchedScores(m.Outputs, h.output)
	if err := oneScoreRow(m.Outputs, h.output, "image_classifier", "a score per pixel is image_segmenter's, boxes object_detector's"); err != nil {
		return nil, err
	}
	if h.topk, err = c.int("topk", 5); err != nil {
		return nil, err
	}
	if h.topk < 1 {
		return nil, fmt.Errorf("handler setting topk must be at least 1, got %d", h.topk)
	}
	if h.softmax, err = c.softmaxMode(defaultActivation(m.Dir)); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *imageClassifier) Preprocess(_ context.Context, req *Request) ([]*tensor.Tensor, error) {
	return h.spec.inputs(req)
}

func (h *imageClassifier) Postprocess(_ context.Context, _ *Request, outputs []*tensor.Tensor) (*Response, error) {
	if len(outputs) <= h.output {
		return nil, fmt.Errorf("model returned %d outputs", len(outputs))
	}
	out := outputs[h.output]
	rows, err := scoreRows(out, h.oneRow)
	if err != nil {
		return nil, err
	}
	results := make([]scores, len(rows))
	for r, row := range rows {
		results[r] = classScores(row, out.DType, h.softmax, h.topk, h.labels)
	}
	if len(results) == 1 {
		return jsonResponse(results[0])
	}
	return jsonResponse(results)
}

// scoreRows cuts a classifier's output into its rows of scores: dimension 0 counts the rows
// (the whole tensor is one row when it has no dimensions, or when oneRow says that its one
// dimension is the classes of one item, unbatchedScores).
func scoreRows(t *tensor.Tensor, oneRow bool) ([][]float64, error) {
	v, err := t.Float64s()
	if err != nil {
		return nil, fmt.Errorf("read model output: %w", err)
	}
	n := 1
	if len(t.Shape) > 0 && !(oneRow && len(t.Shape) == 1) {
		n = int(t.Shape[0])
	}
	if n < 1 || len(v)%n != 0 {
		return nil, fmt.Errorf("model output has shape %s", tensor.ShapeString(t.Shape))
	}
	width := len(v) / n
	rows := make([][]float64, n)
	for r := range rows {
		rows[r] = v[r*width : (r+1)*width]
	}
	return rows, nil
}

// unbatchedScores tells whether a classifier's output i (of outputs) is one item's scores
// with no batch dimension, [classes] (fixed, more than one): a model that squeezed its batch
// dimension. A dynamic [N] is a score per item.
func unbatchedScores(outputs []tensor.Info, i int) bool {
	return i >= 0 && i < len(outputs) && len(outputs[i].Shape) == 1 && outputs[i].Shape[0] > 1
}

// classScores is one row of a classifier's output as its top k classes: scores made
// probabilities under the softmax setting, or, from one integer (a model that ends with its
// argmax; of a wider integer output, such as TopK's indexes, the first), the class it names,
// with probability 1. 8-bit integers are a quantized model's scores: under auto, a row of
// them all non-negative (a uint8 softmax's, as quantized TensorFlow Lite classifiers answer)
// is made a distribution by its sum.
func classScores(row []float64, dt tensor.DType, mode string, k int, l labels) scores {
	quantized := dt == tensor.Uint8 || dt == tensor.Int8
	switch {
	case !dt.IsFloat() && len(row) > 0 && (len(row) == 1 || !quantized):
		return scores{{Label: l.name(int(row[0])), Score: 1}}
	case quantized && mode == "auto":
		if sum := nonNegativeSum(row); sum > 0 {
			probs := make([]float64, len(row))
			for i, v := range row {
				probs[i] = v / sum
			}
			return topScores(probs, k, l)
		}
	}
	return topScores(probabilities(row, mode), k, l)
}

// nonNegativeSum is the sum of row, or -1 when a value is negative.
func nonNegativeSum(row []float64) float64 {
	sum := 0.0
	for _, v := range row {
		if v < 0 {
			return -1
		}
		sum += v
	}
	return sum
}

// probabilities applies the softmax setting to one row of scores: always, never, (auto)
// when the row is not already a distribution, or a sigmoid per class (sigmoid). A row of one score is a binary classifier's:
// the probability of class 1 (after a sigmoid, under the same setting: auto when the score
// is outside [0, 1]), answered as classes 0 and 1.
func probabilities(row []float64, mode string) []float64 {
	if len(row) == 1 {
		p := row[0]
		if mode == "always" || mode == "sigmoid" || (mode == "auto" && (p < 0 || p > 1)) {
			p = sigmoid(p)
		}
		return []float64{1 - p, p}
	}
	if mode == "sigmoid" { // multi-label: each class on its own
		out := make([]float64, len(row))
		for i, v := range row {
			out[i] = sigmoid(v)
		}
		return out
	}
	if mode == "always" || (mode == "auto" && !isDistribution(row)) {
		return softmax(row)
	}
	return row
}

// topScores is the k best of probs (all when k ≤ 0), best first, with their labels.
func topScores(probs []float64, k int, l labels) scores {
	idx := topIndexes(probs, k)
	out := make(scores, len(idx))
	for i, c := range idx {
		out[i] = scored{Label: l.name(c), Score: float64(float32(probs[c]))}
	}
	return out
}

// topIndexes is the indexes of the k largest values (all when k ≤ 0 or k is more), largest
// first, ties in index order.
func topIndexes(values []float64, k int) []int {
	idx := make([]int, len(values))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(values[b], values[a]) })
	if k <= 0 || k > len(idx) {
		k = len(idx)
	}
	return idx[:k]
}

// isDistribution reports whether row already holds probabilities.
func isDistribution(row []float64) bool {
	sum := 0.0
	for _, v := range row {
		if v < 0 || v > 1 || math.IsNaN(v) {
			return false
		}
		sum += v
	}
	return math.Abs(sum-1) < 1e-3
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// softmax turns logits into probabilities. A NaN logit has no probability (NaN, answered as
// null); infinite largest logits take all of it, shared equally (the limit: +∞ beats every
// finite logit, and logits all −∞ are equal).
func softmax(row []float64) []float64 {
	maxv := math.Inf(-1)
	for _, v := range row {
		if v > maxv { // never true for NaN
			maxv = v
		}
	}
	out := make([]float64, len(row))
	sum := 0.0
	for i, v := range row {
		switch {
		case math.IsNaN(v):
			out[i] = v
			continue
		case math.IsInf(maxv, 0):
			if v == maxv {
				out[i] = 1
			}
		default:
			out[i] = math.Exp(v - maxv)
		}
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
