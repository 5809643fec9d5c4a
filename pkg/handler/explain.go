package handler

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/explain"
	"github.com/tsserve/ts/pkg/tensor"
)

// Explainer is a built-in handler that can explain its answers: ts hides parts of a
// request's inputs in turn (package explain) and measures how much the target's score drops.
type Explainer interface {
	// Explain plans the explanation of one request from its model inputs (one item) and
	// the model's outputs on them.
	Explain(req *Request, inputs, outputs []*tensor.Tensor) (*Explanation, error)
}

// Explanation is the plan of one request's explanation.
type Explanation struct {
	// Features are the parts of the inputs hidden in turn.
	Features []explain.Feature
	// Score reads the target's score from a run's outputs.
	Score explain.Scorer
	// Base is the target's score on the request's own inputs.
	Base float64
	// Target names what is explained: a class's label, an output's element.
	Target string
	// Hidden lists the inputs the features hide (the tensor handler's: each answered
	// with its attributions).
	Hidden []int
	// Answer writes the response from the features' attributions.
	Answer func(attributions []float64) (*Response, error)
	// Alone runs each perturbed copy by itself, for a Score that reads one image's
	// outputs (a detector's, whose outputs need not have a batch dimension).
	Alone bool
}

// Header is the explanation's response headers: what was explained and its score on the
// request's own input (api.HeaderExplainTarget, api.HeaderExplainScore).
func (e *Explanation) Header() http.Header {
	h := http.Header{}
	h.Set(api.HeaderExplainTarget, e.Target)
	h.Set(api.HeaderExplainScore, strconv.FormatFloat(e.Base, 'g', 6, 64))
	return h
}

// patchesAlong is how many patches an image explanation has along its longer side by
// default: 64 model runs for a square image.
const patchesAlong = 8

// requestParam is an explanation's parameter: the query parameter, else the form field of
// that name (TorchServe's handlers read "target" from the request's fields).
func requestParam(req *Request, name string) string {
	if v := req.Query.Get(name); v != "" {
		return v
	}
	for _, in := range req.Inputs {
		if in.Name == name {
			return strings.TrimSpace(string(in.Data))
		}
	}
	return ""
}

// classTarget picks the class to explain: the one the request asks for (its index or its
// label) or the most probable.
func classTarget(req *Request, probs []float64, l labels) (int, error) {
	asked := requestParam(req, "target")
	if asked == "" {
		return topIndexes(probs, 1)[0], nil
	}
	if i, err := strconv.Atoi(asked); err == nil {
		if i < 0 || i >= len(probs) {
			return 0, badInput("target %d is not a class of this model (0 to %d)", i, len(probs)-1)
		}
		return i, nil
	}
	for i, name := range l {
		if name == asked && i < len(probs) {
			return i, nil
		}
	}
	return 0, badInput("target %q is neither a class index nor a label of this model", asked)
}

// rowOf is row r of a tensor whose dimension 0 counts rows (scoreRows).
func rowOf(t *tensor.Tensor, r int, oneRow bool) ([]float64, error) {
	rows, err := scoreRows(t, oneRow)
	if err != nil {
		return nil, err
	}
	if r >= len(rows) {
		return nil, fmt.Errorf("model output has shape %s, no row %d", tensor.ShapeString(t.Shape), r)
	}
	return rows[r], nil
}

// classifierExplanation explains a classifier's answer: the probability of the target class
// in output (oneRow: one item's scores with no batch dimension, unbatchedScores).
func classifierExplanation(req *Request, outputs []*tensor.Tensor, output int, oneRow bool, mode string, l labels) (*Explanation, error) {
	if len(outputs) <= output {
		return nil, fmt.Errorf("model returned %d outputs", len(outputs))
	}
	if !outputs[output].DType.IsFloat() {
		return nil, badInput("this model answers class indexes, not scores: there is no score to explain")
	}
	row, err := rowOf(outputs[output], 0, oneRow)
	if err != nil {
		return nil, err
	}
	probs := probabilities(row, mode)
	target, err := classTarget(req, probs, l)
	if err != nil {
		return nil, err
	}
	score := func(outputs []*tensor.Tensor, r int) (float64, error) {
		row, err := rowOf(outputs[output], r, oneRow)
		if err != nil {
			return 0, err
		}
		return probabilities(row, mode)[target], nil
	}
	return &Explanation{Score: score, Base: probs[target], Target: l.name(target)}, nil
}

// Explain attributes the target class's probability (the top class unless the request's
// "target" names one) to square patches of the image: TorchServe's answer, a nested list
// shaped like the model's input for one image, each element holding its patch's
// attribution.
func (h *imageClassifier) Explain(req *Request, inputs, outputs []*tensor.Tensor) (*Explanation, error) {
	e, err := classifierExplanation(req, outputs, h.output, h.oneRow, h.softmax, h.labels)
	if err != nil {
		return nil, err
	}
	if e.Features, e.Answer, err = h.spec.patchPlan(req, inputs, 0); err != nil {
		return nil, err
	}
	return e, nil
}

// patchPlan hides square patches of a request's image input (inputs[input]) in turn (every channel of their
// pixels; "patch" in the request sets their side, default the longer side ÷ 8), and answers
// TorchServe's shape for image explanations: a nested list shaped like the model's input for
// one image, each element holding its patch's attribution.
func (spec imageSpec) patchPlan(req *Request, inputs []*tensor.Tensor, input int) ([]explain.Feature, func([]float64) (*Response, error), error) {
	img := inputs[input]
	item := img.Shape
	if !spec.noBatch && len(item) > 0 {
		item = item[1:]
	}
	var channels, height, width int
	channelsLast := spec.nhwc
	switch {
	case spec.flat: // one row of C×H×W values, or H×W×C in Keras's order (layout NHWC)
		channels, height, width = spec.channels, spec.height, spec.width
	case spec.noChannel && len(item) == 2: // grey, [H,W]
		channels, height, width = 1, int(item[0]), int(item[1])
	case len(item) == 3 && channelsLast:
		height, width, channels = int(item[0]), int(item[1]), int(item[2])
	case len(item) == 3:
		channels, height, width = int(item[0]), int(item[1]), int(item[2])
	default:
		return nil, nil, fmt.Errorf("image input of shape %s", tensor.ShapeString(img.Shape))
	}
	if n, _ := tensor.NumElements(item); int64(channels*height*width) != n || n != img.Len() {
		return nil, nil, fmt.Errorf("image input of shape %s is not %d×%d×%d", tensor.ShapeString(img.Shape), channels, height, width)
	}
	side := (max(height, width) + patchesAlong - 1) / patchesAlong
	if asked := requestParam(req, "patch"); asked != "" {
		var err error
		if side, err = strconv.Atoi(asked); err != nil || side < 1 {
			return nil, nil, badInput("patch must be a whole number of pixels ≥ 1, got %q", asked)
		}
	}
	patches := explain.Patches(channels, height, width, side, channelsLast)
	if len(patches) > explain.MaxFeatures {
		return nil, nil, badInput("a patch of %d pixels makes %d patches on this %d×%d image, each a model run: at most %d; ask for a larger patch", side, len(patches), width, height, explain.MaxFeatures)
	}
	features := make([]explain.Feature, len(patches))
	for i, p := range patches {
		features[i] = explain.Feature{{Input: input, Index: p}}
	}
	answer := func(attributions []float64) (*Response, error) {
		values := explain.Spread(int(img.Len()), features, input, attributions)
		t, err := tensor.FromFloat64s(tensor.Float32, item, values)
		if err != nil {
			return nil, err
		}
		b, err := appendNested(nil, t, t.Shape)
		if err != nil {
			return nil, err
		}
		return &Response{Body: append(b, '\n'), ContentType: "application/json"}, nil
	}
	return features, answer, nil
}

// Explain attributes the target class's probability to the text's tokens, each hidden in
// turn (replaced by padding and masked out): TorchServe's answer {"words", "importances"},
// the importances scaled to a unit norm as TorchServe's, with the target's label.
func (h *textClassifier) Explain(req *Request, inputs, outputs []*tensor.Tensor) (*Explanation, error) {
	e, err := classifierExplanation(req, outputs, h.output, h.oneRow, h.softmax, h.labels)
	if err != nil {
		return nil, err
	}
	ids, err := inputs[h.ids].Float64s()
	if err != nil {
		return nil, err
	}
	n := len(ids)
	if h.mask >= 0 { // the text's tokens are those the mask keeps
		mask, err := inputs[h.mask].Float64s()
		if err != nil {
			return nil, err
		}
		for n = 0; n < len(mask) && mask[n] != 0; n++ {
		}
	} else {
		for n > 0 && int64(ids[n-1]) == h.padID {
			n--
		}
	}
	words := make([]string, n)
	e.Features = make([]explain.Feature, n)
	for k := range n {
		words[k] = h.tok.Token(int64(ids[k]))
		f := explain.Feature{{Input: h.ids, Index: []int{k}, Value: float64(h.padID)}}
		if h.mask >= 0 {
			f = append(f, explain.Edit{Input: h.mask, Index: []int{k}, Value: 0})
		}
		e.Features[k] = f
	}
	e.Answer = func(attributions []float64) (*Response, error) {
		return jsonResponse(textExplanation{Words: words, Importances: unitNorm(attributions), Target: e.Target, Probability: e.Base})
	}
	return e, nil
}

// textExplanation is a text classifier's explanation.
type textExplanation struct {
	Words       []string  `json:"words"`
	Importances []float64 `json:"importances"`
	Target      string    `json:"target"`
	Probability float64   `json:"probability"`
}

// unitNorm scales v to a Euclidean norm of 1 (all zeros stay so).
func unitNorm(v []float64) []float64 {
	sum := 0.0
	for _, x := range v {
		sum += x * x
	}
	out := make([]float64, len(v))
	if sum == 0 {
		return out
	}
	norm := math.Sqrt(sum)
	for i, x := range v {
		out[i] = x / norm
	}
	return out
}

// tensorFeatures is the most features a tensor model's explanation has: inputs with more
// elements are hidden in runs of neighbouring elements.
const tensorFeatures = 256

// Explain attributes one element of an output (the request's "output", else the first
// floating-point output; its "target" element, else its largest) to the elements of the
// floating-point inputs (or the integer ones, for a model with none), each set in turn to
// the baseline (the request's "baseline", else 0). It answers the target and, per input,
// the attributions shaped like the input.
func (h *tensorHandler) Explain(req *Request, inputs, outputs []*tensor.Tensor) (*Explanation, error) {
	out, err := h.explainedOutput(req, outputs)
	if err != nil {
		return nil, err
	}
	values, err := outputs[out].Float64s()
	if err != nil {
		return nil, badInput("output %q: %v", h.outputs[out].Name, err)
	}
	if len(values) == 0 {
		return nil, badInput("output %q is empty: there is no score to explain", h.outputs[out].Name)
	}
	target := topIndexes(values, 1)[0]
	if asked := requestParam(req, "target"); asked != "" {
		if target, err = strconv.Atoi(asked); err != nil || target < 0 || target >= len(values) {
			return nil, badInput("target must be an element of output %q, 0 to %d (flat index), got %q", h.outputs[out].Name, len(values)-1, asked)
		}
	}
	baseline := 0.0
	if asked := requestParam(req, "baseline"); asked != "" {
		if baseline, err = strconv.ParseFloat(asked, 64); err != nil || !finite(baseline) {
			return nil, badInput("baseline must be a number, got %q", asked)
		}
	}
	explained := h.explainedInputs(inputs)
	if len(explained) == 0 {
		return nil, badInput("the model's inputs hold no numbers to hide: there is nothing to attribute")
	}
	total := 0
	for _, i := range explained {
		total += int(inputs[i].Len())
	}
	group := (total + tensorFeatures - 1) / tensorFeatures
	var features []explain.Feature
	for _, i := range explained {
		n := int(inputs[i].Len())
		for start := 0; start < n; start += group {
			idx := make([]int, 0, group)
			for k := start; k < min(start+group, n); k++ {
				idx = append(idx, k)
			}
			features = append(features, explain.Feature{{Input: i, Index: idx, Value: baseline}})
		}
	}
	item := len(values)
	score := func(outputs []*tensor.Tensor, r int) (float64, error) {
		v, err := outputs[out].Float64s()
		if err != nil {
			return 0, err
		}
		if (r+1)*item > len(v) {
			return 0, fmt.Errorf("output %q has %d values, no row %d", h.outputs[out].Name, len(v), r)
		}
		return v[r*item+target], nil
	}
	e := &Explanation{Features: features, Score: score, Base: values[target], Target: fmt.Sprintf("%s[%d]", h.outputs[out].Name, target), Hidden: explained}
	e.Answer = func(attributions []float64) (*Response, error) {
		res := tensorExplanation{Target: explainedElement{Output: h.outputs[out].Name, Index: target, Value: e.Base}, Baseline: baseline}
		for _, i := range explained {
			res.Attributions = append(res.Attributions, attributionTensor{
				Name:  h.inputs[i].Name,
				Shape: inputs[i].Shape,
				Data:  explain.Spread(int(inputs[i].Len()), features, i, attributions),
			})
		}
		return jsonResponse(res)
	}
	return e, nil
}

// TensorExplainer explains requests of tensors to a model with these inputs and outputs as
// the tensor handler does (the Open Inference Protocol's explain, which bypasses the
// archive's handler).
func TensorExplainer(inputs, outputs []tensor.Info) Explainer {
	return &tensorHandler{inputs: inputs, outputs: outputs}
}

// explainedOutput is the output a tensor model's explanation reads: the one the request
// names, else the first floating-point one, else the first.
func (h *tensorHandler) explainedOutput(req *Request, outputs []*tensor.Tensor) (int, error) {
	if name := requestParam(req, "output"); name != "" {
		for i, o := range h.outputs {
			if o.Name == name && i < len(outputs) {
				return i, nil
			}
		}
		return 0, badInput("output %q is not an output of the model (%s)", name, strings.Join(names(h.outputs), ", "))
	}
	if len(outputs) == 0 {
		return 0, badInput("the model has no outputs to explain")
	}
	for i, t := range outputs {
		if t.DType.IsFloat() {
			return i, nil
		}
	}
	return 0, nil
}

// explainedInputs are the inputs a tensor model's explanation hides: the floating-point
// ones, else the integer ones.
func (h *tensorHandler) explainedInputs(inputs []*tensor.Tensor) []int {
	var floats, ints []int
	for i, t := range inputs {
		switch {
		case t.DType.IsFloat():
			floats = append(floats, i)
		case t.DType != tensor.String && t.DType != tensor.Bool:
			ints = append(ints, i)
		}
	}
	if len(floats) > 0 {
		return floats
	}
	return ints
}

// tensorExplanation is a tensor model's explanation.
type tensorExplanation struct {
	Target       explainedElement    `json:"target"`
	Baseline     float64             `json:"baseline"`
	Attributions []attributionTensor `json:"attributions"`
}

// explainedElement is the output element a tensor model's explanation attributes.
type explainedElement struct {
	Output string  `json:"output"`
	Index  int     `json:"index"`
	Value  float64 `json:"value"`
}

// attributionTensor is one input's attributions, shaped like the input.
type attributionTensor struct {
	Name  string    `json:"name"`
	Shape []int64   `json:"shape"`
	Data  []float64 `json:"data"`
}

// ExplainHeader marks a request to a custom handler as an explanation, as TorchServe does
// (its handlers read the request header "explain").
const ExplainHeader = "explain"

// DescribeHeader marks a request to a custom handler for its description ("True"), as
// TorchServe marks the one it sends for GET /models/{name}?customized=true.
const DescribeHeader = "describe"

// Explain attributes the share of the image's pixels the model gives the target class (by
// default the class with the most pixels but class 0, the background of torchvision's and
// most segmentation models; "target" names another) to square patches of the image, as the
// image classifier's: the answer is shaped like the model's input for one image, each element
// holding its patch's attribution, the drop of the target's share when it is hidden.
func (h *imageSegmenter) Explain(req *Request, inputs, outputs []*tensor.Tensor) (*Explanation, error) {
	if len(outputs) <= h.output {
		return nil, fmt.Errorf("model returned %d outputs", len(outputs))
	}
	size, _ := req.State.(imageSize)
	segmentRow := func(outputs []*tensor.Tensor, r int) (*segmentation, error) {
		out, err := h.outputRow(outputs[h.output], r)
		if err != nil {
			return nil, err
		}
		return h.segment(out, size)
	}
	s, err := segmentRow(outputs, 0)
	if err != nil {
		return nil, err
	}
	classes := len(h.labels)
	if out := outputs[h.output]; !h.classMap && len(out.Shape) == 4 {
		classes, _, _, _ = h.scoreLayout(out.Shape, size)
	}
	pixels := make([]float64, 256)
	for _, c := range s.classes {
		pixels[c]++
		classes = max(classes, int(c)+1)
	}
	pixels = pixels[:classes]
	target := 0
	if requestParam(req, "target") != "" {
		if target, err = classTarget(req, pixels, h.labels); err != nil {
			return nil, err
		}
	} else if len(pixels) > 1 && slices.Max(pixels[1:]) > 0 {
		target = 1 + slices.Index(pixels[1:], slices.Max(pixels[1:]))
	}
	share := func(s *segmentation) float64 {
		n := 0
		for _, c := range s.classes {
			if int(c) == target {
				n++
			}
		}
		return float64(n) / float64(max(len(s.classes), 1))
	}
	e := &Explanation{Base: share(s), Target: h.labels.name(target)}
	e.Score = func(outputs []*tensor.Tensor, r int) (float64, error) {
		s, err := segmentRow(outputs, r)
		if err != nil {
			return 0, err
		}
		return share(s), nil
	}
	if e.Features, e.Answer, err = h.spec.patchPlan(req, inputs, 0); err != nil {
		return nil, err
	}
	return e, nil
}

// outputRow is row r of a segmentation output whose dimension 0 counts images, as a batch of
// one (the output itself for a model that takes one image with no batch dimension).
func (h *imageSegmenter) outputRow(out *tensor.Tensor, r int) (*tensor.Tensor, error) {
	if h.noBatch {
		return out, nil
	}
	if len(out.Shape) == 0 || out.Shape[0] <= int64(r) || len(out.Data)%int(out.Shape[0]) != 0 {
		return nil, fmt.Errorf("segmentation output of shape %s has no row %d", tensor.ShapeString(out.Shape), r)
	}
	size := len(out.Data) / int(out.Shape[0])
	return &tensor.Tensor{DType: out.DType, Shape: append([]int64{1}, out.Shape[1:]...), Data: out.Data[r*size : (r+1)*size]}, nil
}

// Explain attributes the score of the detector's best detection (of the class "target"
// names, else of any) to square patches of the image, as the image classifier's: when a
// patch is hidden, the detection's score is the best of the same class's boxes that overlap
// it (IoU ≥ 0.5), 0 when none is found any more. Each hidden copy runs alone: a detector's
// outputs need not have a batch dimension.
func (h *objectDetector) Explain(req *Request, inputs, outputs []*tensor.Tensor) (*Explanation, error) {
	dets, err := h.detect(req, outputs)
	if err != nil {
		return nil, err
	}
	class := -1
	if asked := requestParam(req, "target"); asked != "" {
		n := len(h.labels)
		for _, d := range dets {
			n = max(n, d.class+1)
		}
		if class, err = classTarget(req, make([]float64, n), h.labels); err != nil {
			return nil, err
		}
	}
	i := slices.IndexFunc(dets, func(d detection) bool { return class < 0 || d.class == class })
	if i < 0 {
		return nil, badInput("nothing detected above the threshold (%g)%s: nothing to explain", h.threshold, map[bool]string{true: " of the target class"}[class >= 0])
	}
	target := dets[i]
	e := &Explanation{Base: target.score, Target: h.labels.name(target.class), Alone: true}
	e.Score = func(outputs []*tensor.Tensor, _ int) (float64, error) {
		dets, err := h.detect(req, outputs)
		if err != nil {
			return 0, err
		}
		best := 0.0
		for _, d := range dets {
			if d.class == target.class && iou(d.box, target.box) >= 0.5 {
				best = max(best, d.score)
			}
		}
		return best, nil
	}
	if e.Features, e.Answer, err = h.spec.patchPlan(req, inputs, h.image); err != nil {
		return nil, err
	}
	return e, nil
}
