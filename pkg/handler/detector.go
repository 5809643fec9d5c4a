package handler

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/tsserve/ts/pkg/tensor"
)

// objectDetector is TorchServe's object_detector: an image in, the objects found out, as
// [{"<label>": [x1, y1, x2, y2], "score": s}, ...] in the image's own pixel coordinates,
// highest score first. Output formats (handler setting output_format; the default: detr
// for outputs logits and pred_boxes, boxes for three or more outputs, outputs named like
// boxes and scores, or two outputs [1, boxes, 4] and [1, boxes, classes], end2end for one
// [N, ≤1000, 6], else yolo or yolov8 by the output's shape and the number of classes):
//
//	yolo:   one output [N, boxes, 4+1+C]: centre x, centre y, width, height, objectness,
//	        then C class scores (score = objectness × best class score)
//	yolov8: one output [N, 4+C, boxes]: centre x, centre y, width, height, then C class
//	        scores (no objectness)
//	end2end: one output [N, boxes, 6]: x1, y1, x2, y2, score, class, from a model that ends
//	        with its own non-maximum suppression (Ultralytics' exports with nms=True, YOLOv10);
//	        the default for such an output of at most 1000 boxes (YOLOv5's single-class
//	        [N, boxes, 6] has more candidates than that even at 160 pixels); or one output
//	        [detections, 7]: image index, x1, y1, x2, y2, class, score (YOLOv7's export for
//	        ONNX Runtime with --end2end), or [detections, 6]: class, score, x1, y1, x2, y2
//	        (PaddleDetection's exports with their NMS, beside a count of each image's rows),
//	        the default for such outputs whose detections are dynamic
//	detr:   DETR's set of predictions, as Hugging Face exports DETR, YOLOS, Conditional DETR,
//	        Deformable DETR and RT-DETR: logits [N, queries, classes (+1 "no object")] and
//	        pred_boxes [N, queries, 4] as centre x, centre y, width, height in [0, 1] of the
//	        image; activation softmax (the last class is "no object") or sigmoid
//	boxes:  separate outputs (names set by boxes, labels, scores; default "boxes", "labels",
//	        "scores"): boxes [boxes, 4] as x1, y1, x2, y2, labels [boxes], scores [boxes], as
//	        torchvision's detection models export them; or as TensorFlow's Object Detection
//	        API exports them (detection_boxes [1, boxes, 4] as y1, x1, y2, x2 in [0, 1],
//	        detection_classes and detection_scores [1, boxes], num_detections [1]); or
//	        boxes [1, boxes, 4] with scores [1, boxes, classes] and no labels (raw per-class
//	        scores, an SSD's or a face detector's: the best class but the background)
//	yolov2: one output [1, anchors×(5+C), rows, columns] (or [1, rows, columns, anchors×(5+C)]),
//	        YOLOv2's and Tiny YOLOv2's grid: per cell and anchor x, y, w, h, objectness and
//	        C class scores, decoded with the anchors (setting anchors; Darknet's for 20 or 80
//	        classes by default); the default for one output of rank 4
//	yolov4: YOLOv4's heads, [1, rows, columns, anchors, 5+C] each, as ONNX's model zoo has
//	        it: per cell and anchor x, y, w, h, objectness and C class scores (the last two
//	        already sigmoids), decoded with the anchors (pixels) and xy_scale settings
//	        (the zoo's by default); the default for such outputs
//	selected_indices: boxes [1, boxes, 4] (y1, x1, y2, x2 unless box_format says xyxy),
//	        scores [1, classes, boxes] and the integer indices [selected, 3] (batch, class,
//	        box) of ONNX's NonMaxSuppression, as YOLOv3 and Tiny YOLOv3 of ONNX's model zoo
//	        end; the default for three such outputs (images letterboxed to 416 × 416 when the
//	        input's size is dynamic)
//
// Besides the image, a detector may take the image's size (inputs named as sizeInputs:
// YOLOv3's image_shape, RT-DETR's orig_target_sizes ...): ts feeds the size of the image fed
// to the model, so that boxes come back in its pixels and are mapped to the image's own.
//
// Detections under threshold (default 0.5) are dropped and overlapping boxes of the same
// class removed by non-maximum suppression (nms_iou, default 0.45; for the boxes and end2end
// formats only when nms is true, since such models include it); at most max_detections
// (default 300) are answered, the best first.
type objectDetector struct {
	spec      imageSpec
	format    string // output_format: yolo, yolov8, end2end, detr or boxes
	threshold float64
	nmsIoU    float64
	nms       bool
	maxDets   int // max_detections: the most boxes answered, best first (0: all)
	labels    labels
	boxes     int // output indexes, boxes format
	classes   int
	scores    int
	count     int  // the output holding how many detections are valid (-1: all)
	yxyx      bool // boxes are y1, x1, y2, x2 (box_format yxyx)
	// normalized: boxes are in [0, 1] of the image fed (normalized_boxes); nil: decided per
	// answer, by whether every box found lies within [0, 1]
	normalized *bool
	sigmoid    bool // detr: each logit is a class's own (activation sigmoid), no "no object" class
	// perClass: boxes format with scores [1, boxes, classes] and no labels output; background
	// is the column that is no class (-1: none)
	perClass   bool
	background int
	// selected: the indices output of ONNX's NonMaxSuppression (selected_indices format)
	selected int
	// anchors are YOLOv2's anchor boxes, width and height pairs in grid cells (yolov2), or
	// YOLOv4's in pixels, the heads' in order of stride (yolov4)
	anchors []float64
	// xyScale is YOLOv4's scale of each head's centre offsets, in order of stride (yolov4)
	xyScale []float64
	// inputs are the model's; image is the image's, sizes the others (the image's size)
	inputs []tensor.Info
	image  int
	sizes  []sizeInput
}

// sizeInputs are the names detectors take the image's size by beside the image (ONNX's
// model zoo YOLOv3's image_shape, RT-DETR's orig_target_sizes, PaddleDetection's im_shape
// and scale_factor), with the order of their two values: height then width (hw), width then
// height (wh), or a scale (1, 1).
var sizeInputs = map[string]string{
	"image_shape": "hw", "im_shape": "hw", "image_size": "hw", "img_size": "hw", "input_shape": "hw", "target_sizes": "hw",
	"orig_target_sizes": "wh", "orig_size": "wh", "orig_sizes": "wh", "scale_factor": "scale",
}

// sizeInput is a detector's input that takes the image's size.
type sizeInput struct {
	index int
	order string // hw, wh or scale
	info  tensor.Info
}

// detectorInputs finds a detector's image input and its size inputs: every input but the
// image must be one of sizeInputs, of two values ([2] or [N, 2]).
func detectorInputs(inputs []tensor.Info) (image int, sizes []sizeInput, err error) {
	image = -1
	for i, in := range inputs {
		order, ok := sizeInputs[strings.ToLower(baseName(in.Name))]
		n := len(in.Shape)
		switch {
		case ok && (n == 1 || n == 2) && in.Shape[n-1] == 2 && in.DType != tensor.String && in.DType != tensor.Bool:
			sizes = append(sizes, sizeInput{index: i, order: order, info: in})
		case image < 0:
			image = i
		default:
			return -1, nil, fmt.Errorf("object_detector needs a model with one image input, this one has %d inputs (%s); besides the image it feeds only inputs for the image's size, named %s",
				len(inputs), strings.Join(names(inputs), ", "), strings.Join(slices.Sorted(maps.Keys(sizeInputs)), ", "))
		}
	}
	if image < 0 {
		return -1, nil, fmt.Errorf("object_detector needs a model with an image input; this one has %s", strings.Join(names(inputs), ", "))
	}
	return image, sizes, nil
}

// detectionOutputs are the output names each role of the boxes format is known by: first
// torchvision's, then TensorFlow's Object Detection API's, then others found in exports.
var detectionOutputs = map[string][]string{
	"boxes":  {"boxes", "detection_boxes", "bboxes", "detection_bboxes"},
	"labels": {"labels", "detection_classes", "classes", "detection_labels"},
	"scores": {"scores", "detection_scores", "confidences"},
	"count":  {"num_detections", "detection_count"},
}

// baseName is an output's name without TensorFlow's ":0" suffix.
func baseName(name string) string {
	if i := strings.LastIndexByte(name, ':'); i > 0 && i < len(name)-1 && strings.Trim(name[i+1:], "0123456789") == "" {
		return name[:i]
	}
	return name
}

// outputNamed finds the output a role of the boxes format is known by (-1: none).
func outputNamed(outputs []tensor.Info, names []string) int {
	for _, want := range names {
		for i, o := range outputs {
			if o.Name == want || baseName(o.Name) == want {
				return i
			}
		}
	}
	return -1
}

func newObjectDetector(m *Model) (Handler, error) {
	c := config(m.Config)
	// TorchServe's detector only scales pixels to [0, 1]; and a detector sees the whole
	// image: resize straight to the model's input, no crop
	defaults := config{"mean": []any{0.0}, "std": []any{1.0}, "resize": 0}
	h := &objectDetector{boxes: -1, classes: -1, scores: -1, count: -1, selected: -1, inputs: m.Inputs}
	var err error
	if h.image, h.sizes, err = detectorInputs(m.Inputs); err != nil {
		return nil, err
	}
	if h.labels, err = loadLabels(m.Dir, m.Metadata); err != nil {
		return nil, err
	}
	def := yoloLayout(m.Outputs[0].Shape, h.labels.maxIndex()+1)
	if shape := m.Outputs[0].Shape; len(shape) == 3 && shape[2] == 6 && shape[1] > 0 && shape[1] <= maxEnd2EndBoxes || isDetectionRows(m.Outputs) {
		def = "end2end"
	}
	if len(m.Outputs) >= 3 || (outputNamed(m.Outputs, detectionOutputs["boxes"]) >= 0 && outputNamed(m.Outputs, detectionOutputs["scores"]) >= 0) {
		def = "boxes"
	}
	if b, _ := boxesAndClassScores(m.Outputs); b >= 0 {
		def = "boxes"
	}
	if outputNamed(m.Outputs, []string{"logits"}) >= 0 && outputNamed(m.Outputs, []string{"pred_boxes"}) >= 0 {
		def = "detr"
	}
	if _, _, sel := selectedIndices(m.Outputs); sel >= 0 {
		def = "selected_indices"
	}
	if len(m.Outputs) == 1 && len(m.Outputs[0].Shape) == 4 {
		def = "yolov2"
	}
	if yoloV4Heads(m.Outputs) {
		def = "yolov4"
	}
	if h.format, err = c.string("output_format", def); err != nil {
		return nil, err
	}
	side := yoloSide
	switch h.format {
	case "yolo", "yolov8", "end2end":
		if ultralytics(m.Metadata) {
			defaults["letterbox"] = true // as Ultralytics trains and runs its models
		}
	case "boxes":
		side = ownSize
	case "detr":
		// DETR's image processors normalize with ImageNet's statistics and keep the
		// image's proportions (preprocessor_config.json says otherwise where they differ)
		side, defaults = ownSize, config{"resize": 0}
	case "selected_indices":
		// YOLOv3 of ONNX's model zoo: letterboxed into 416 × 416 (keras-yolo3's letterbox_image)
		side, defaults["letterbox"] = zooYOLOSide, true
	case "yolov4":
		// YOLOv4 of ONNX's model zoo: letterboxed into 416 × 416
		side, defaults["letterbox"] = zooYOLOSide, true
	case "yolov2":
		side = zooYOLOSide
		classes, _ := yoloV2Classes(m.Outputs[0].Shape, 5)
		if _, _, _, last := yoloV2Grid(m.Outputs[0].Shape); classes == 20 && !last {
			// Tiny YOLOv2 of ONNX's model zoo (Pascal VOC's 20 classes, channels first, from
			// Core ML) scales pixels itself: it takes them as 0-255
			defaults["scale"] = 1.0
		}
	}
	imageOnly := *m
	imageOnly.Inputs = []tensor.Info{m.Inputs[h.image]}
	if h.spec, err = modelImageSpec("object_detector", &imageOnly, c, defaults, side); err != nil {
		return nil, err
	}
	if h.threshold, err = c.float("threshold", 0.5); err != nil {
		return nil, err
	}
	if h.nmsIoU, err = c.float("nms_iou", 0.45); err != nil {
		return nil, err
	}
	// as Ultralytics' max_det: it also bounds non-maximum suppression's work, which grows
	// with the boxes kept (a YOLO output has 8400 candidates or more)
	if h.maxDets, err = c.int("max_detections", 300); err != nil {
		return nil, err
	}
	if h.maxDets < 0 {
		return nil, fmt.Errorf("handler setting max_detections must be ≥ 0 (0: no limit), got %d", h.maxDets)
	}
	switch h.format {
	case "detr":
		if err := h.detrOutputs(m.Outputs, c); err != nil {
			return nil, err
		}
	case "yolo", "yolov8":
		if len(m.Outputs[0].Shape) != 3 {
			return nil, fmt.Errorf("output_format %s needs an output [N, boxes, values]; %s", h.format, m.Outputs[0])
		}
		if _, _, _, err := yoloRows(h.format, m.Outputs[0].Shape); err != nil {
			return nil, fmt.Errorf("output_format %s: output %s has %w", h.format, m.Outputs[0], err)
		}
	case "end2end":
		if _, ok := end2endLayout(m.Outputs[0].Shape); !ok {
			return nil, fmt.Errorf("output_format end2end needs an output [N, boxes, 6] (x1, y1, x2, y2, score, class), [detections, 7] (image index, x1, y1, x2, y2, class, score) or [detections, 6] (class, score, x1, y1, x2, y2); %s", m.Outputs[0])
		}
	case "boxes":
		byShape := map[string]int{}
		byShape["boxes"], byShape["labels"], byShape["scores"] = boxRoles(m.Outputs)
		scores := outputNamed(m.Outputs, detectionOutputs["scores"])
		if b, sc := boxesAndClassScores(m.Outputs); b >= 0 {
			byShape["boxes"], byShape["scores"] = b, sc
			if scores < 0 {
				scores = sc
			}
		}
		// scores [1, boxes, classes] and no labels output: a score per class for each box (an
		// SSD's or a face detector's raw output, YOLO-NAS's); the decoder takes the best
		_, labelsSet := c["labels"]
		h.perClass = scores >= 0 && len(m.Outputs[scores].Shape) == 3 && !labelsSet && outputNamed(m.Outputs, detectionOutputs["labels"]) < 0
		for _, x := range []struct {
			key string
			dst *int
		}{{"boxes", &h.boxes}, {"labels", &h.classes}, {"scores", &h.scores}, {"count", &h.count}} {
			if x.key == "labels" && h.perClass {
				continue
			}
			name, err := c.string(x.key, "")
			if err != nil {
				return nil, err
			}
			switch {
			case name != "":
				*x.dst = outputNamed(m.Outputs, []string{name})
			case x.key == "count":
				*x.dst = outputNamed(m.Outputs, detectionOutputs[x.key]) // optional
				continue
			default:
				if *x.dst = outputNamed(m.Outputs, detectionOutputs[x.key]); *x.dst < 0 {
					*x.dst = byShape[x.key] // names that say nothing: an export without output names
				}
				name = x.key
			}
			if *x.dst < 0 {
				return nil, fmt.Errorf("output_format boxes: the model has no output %q (set handler.%s in model-config.yaml)", name, x.key)
			}
		}
		// TensorFlow's Object Detection API gives y1, x1, y2, x2, in [0, 1]
		if h.yxyx, err = c.yxyx(baseName(m.Outputs[h.boxes].Name) == "detection_boxes"); err != nil {
			return nil, err
		}
		if h.perClass {
			if h.background, err = c.int("background", h.backgroundColumn(m.Outputs[h.scores])); err != nil {
				return nil, err
			}
		}
		if _, set := c["normalized_boxes"]; set {
			n, err := c.bool("normalized_boxes", false)
			if err != nil {
				return nil, err
			}
			h.normalized = &n
		}
	case "yolov2":
		if err := h.yoloV2Anchors(m.Outputs[0], c); err != nil {
			return nil, err
		}
	case "yolov4":
		if err := h.yoloV4Settings(m.Outputs, c); err != nil {
			return nil, err
		}
	case "selected_indices":
		if h.boxes, h.scores, h.selected = selectedIndices(m.Outputs); h.selected < 0 {
			return nil, fmt.Errorf("output_format selected_indices needs boxes [1, boxes, 4], scores [1, classes, boxes] and the selected indices [selected, 3] of ONNX's NonMaxSuppression; the model has %s", strings.Join(names(m.Outputs), ", "))
		}
		// ONNX's NonMaxSuppression takes corners as y1, x1, y2, x2 unless told otherwise
		if h.yxyx, err = c.yxyx(true); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("handler setting output_format: want yolo, yolov8, yolov2, yolov4, end2end, detr, boxes or selected_indices, got %q", h.format)
	}
	// raw candidates (YOLO's, per-class scores') overlap: NMS by default; models with
	// their own NMS (boxes with labels, end2end, detr) need none
	if h.nms, err = c.bool("nms", h.format == "yolo" || h.format == "yolov8" || h.format == "yolov2" || h.format == "yolov4" || h.perClass); err != nil {
		return nil, err
	}
	return h, nil
}

// detrOutputs finds DETR's logits and pred_boxes (the settings scores and boxes name them)
// and reads the activation setting: by default sigmoid when the logits hold exactly the
// classes the labels name (RT-DETR, Deformable DETR), else softmax with a last "no object"
// class (DETR, YOLOS).
func (h *objectDetector) detrOutputs(outputs []tensor.Info, c config) error {
	for _, x := range []struct {
		key, def string
		dst      *int
	}{{"scores", "logits", &h.scores}, {"boxes", "pred_boxes", &h.boxes}} {
		name, err := c.string(x.key, x.def)
		if err != nil {
			return err
		}
		if *x.dst = outputNamed(outputs, []string{name}); *x.dst < 0 {
			return fmt.Errorf("output_format detr: the model has no output %q (set handler.%s in model-config.yaml)", name, x.key)
		}
	}
	logits, boxes := outputs[h.scores], outputs[h.boxes]
	if len(logits.Shape) != 3 || len(boxes.Shape) != 3 || (boxes.Shape[2] >= 0 && boxes.Shape[2] != 4) {
		return fmt.Errorf("output_format detr needs logits [N, queries, classes] and boxes [N, queries, 4]; %s, %s", logits, boxes)
	}
	def := "softmax"
	if classes := logits.Shape[2]; classes > 0 && len(h.labels) > 0 && int(classes) == h.labels.maxIndex()+1 {
		def = "sigmoid"
	}
	activation, err := c.string("activation", def)
	if err != nil {
		return err
	}
	if activation != "softmax" && activation != "sigmoid" {
		return fmt.Errorf("handler setting activation: want softmax or sigmoid, got %q", activation)
	}
	h.sigmoid = activation == "sigmoid"
	return nil
}

// yxyx reads the box_format setting (xyxy or yxyx; yxyx by default when def is true): whether
// boxes are y1, x1, y2, x2.
func (c config) yxyx(def bool) (bool, error) {
	format, err := c.string("box_format", map[bool]string{true: "yxyx", false: "xyxy"}[def])
	if err != nil {
		return false, err
	}
	if format != "xyxy" && format != "yxyx" {
		return false, fmt.Errorf("handler setting box_format: want xyxy or yxyx, got %q", format)
	}
	return format == "yxyx", nil
}

// zooYOLOSide is the side images are fed at to a selected_indices, yolov2 or yolov4 detector
// with a dynamic input: 416, as ONNX's model zoo runs its YOLOv2, YOLOv3 and YOLOv4.
const zooYOLOSide = 416

// selectedIndices finds the outputs of a model that ends with ONNX's NonMaxSuppression and
// answers its selected indices (YOLOv3 and Tiny YOLOv3 of ONNX's model zoo): boxes [1, boxes,
// 4], scores [1, classes, boxes] and an integer output [selected, 3] (or [1, selected, 3])
// of batch, class and box indexes; -1s when the outputs are not that.
func selectedIndices(outputs []tensor.Info) (boxes, scores, selected int) {
	boxes, scores, selected = -1, -1, -1
	if len(outputs) != 3 {
		return -1, -1, -1
	}
	for i, o := range outputs {
		n := len(o.Shape)
		switch {
		case (o.DType == tensor.Int32 || o.DType == tensor.Int64) && (n == 2 || n == 3) && o.Shape[n-1] == 3:
			selected = i
		case o.DType.IsFloat() && n == 3 && o.Shape[2] == 4:
			boxes = i
		case o.DType.IsFloat() && n == 3:
			scores = i
		}
	}
	if boxes < 0 || scores < 0 || selected < 0 {
		return -1, -1, -1
	}
	return boxes, scores, selected
}

// boxRoles finds the boxes, labels and scores outputs of a torchvision-style detector by
// their types and shapes, for a model whose output names say nothing (exported without
// output names: "2096", "2065" ...): boxes is the one floating-point output whose last
// dimension is 4, labels the one integer output of rank 1 or 2, scores the one other
// floating-point output of rank 1 or 2; of several such (Keypoint R-CNN's keypoint scores
// [N, 17] beside its scores [N]), the one whose first dimension is the labels' (the same
// named dimension), else the one of rank 1. Each is -1 where that is not unambiguous.
func boxRoles(outputs []tensor.Info) (boxes, labels, scores int) {
	boxes, labels, scores = -1, -1, -1
	only := func(match func(tensor.Info) bool, prefer ...func(tensor.Info) bool) int {
		var found []int
		for i, o := range outputs {
			if match(o) {
				found = append(found, i)
			}
		}
		for _, p := range prefer {
			if len(found) <= 1 {
				break
			}
			if narrowed := slices.DeleteFunc(slices.Clone(found), func(i int) bool { return !p(outputs[i]) }); len(narrowed) > 0 {
				found = narrowed
			}
		}
		if len(found) != 1 {
			return -1
		}
		return found[0]
	}
	isBoxes := func(o tensor.Info) bool {
		n := len(o.Shape)
		return o.DType.IsFloat() && (n == 2 || n == 3) && o.Shape[n-1] == 4
	}
	perBox := func(o tensor.Info) bool { return len(o.Shape) == 1 || len(o.Shape) == 2 }
	boxes = only(isBoxes)
	labels = only(func(o tensor.Info) bool {
		return perBox(o) && (o.DType == tensor.Int64 || o.DType == tensor.Int32)
	})
	firstDim := func(o tensor.Info) string {
		if len(o.DimNames) == 0 {
			return ""
		}
		return o.DimNames[0]
	}
	sameRowsAsLabels := func(o tensor.Info) bool {
		return labels >= 0 && firstDim(o) != "" && firstDim(o) == firstDim(outputs[labels])
	}
	scores = only(func(o tensor.Info) bool { return perBox(o) && o.DType.IsFloat() && !isBoxes(o) },
		sameRowsAsLabels, func(o tensor.Info) bool { return len(o.Shape) == 1 })
	return boxes, labels, scores
}

// boxesAndClassScores finds, in a model with two outputs whatever their names, boxes
// [1, boxes, 4] and a score per class for each box [1, boxes, classes] (YOLO-NAS's and other
// exports without NMS); -1, -1 when the outputs are not that.
func boxesAndClassScores(outputs []tensor.Info) (boxes, scores int) {
	if len(outputs) != 2 {
		return -1, -1
	}
	fits := func(b, s tensor.Info) bool {
		if !b.DType.IsFloat() || !s.DType.IsFloat() || len(b.Shape) != 3 || len(s.Shape) != 3 || b.Shape[2] != 4 || s.Shape[2] == 4 {
			return false
		}
		return b.Shape[1] < 0 || s.Shape[1] < 0 || b.Shape[1] == s.Shape[1]
	}
	switch {
	case fits(outputs[0], outputs[1]):
		return 0, 1
	case fits(outputs[1], outputs[0]):
		return 1, 0
	}
	return -1, -1
}

func mergeConfig(a, b config) config {
	out := config{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func (h *objectDetector) Preprocess(_ context.Context, req *Request) ([]*tensor.Tensor, error) {
	t, size, err := h.spec.requestTensor(req)
	if err != nil {
		return nil, err
	}
	req.State = size
	if len(h.sizes) == 0 {
		return []*tensor.Tensor{t}, nil
	}
	// the size inputs get the size of the image fed, so that boxes come back in its pixels
	// (mapped to the image's own as any detector's)
	inputs := make([]*tensor.Tensor, len(h.inputs))
	inputs[h.image] = t
	for _, in := range h.sizes {
		values := []float64{float64(size.fedH), float64(size.fedW)}
		switch in.order {
		case "wh":
			values[0], values[1] = values[1], values[0]
		case "scale":
			values = []float64{1, 1}
		}
		shape := []int64{2}
		if len(in.info.Shape) == 2 {
			shape = []int64{1, 2}
		}
		if inputs[in.index], err = tensor.FromFloat64s(in.info.DType, shape, values); err != nil {
			return nil, fmt.Errorf("input %s: %w", in.info.Name, err)
		}
	}
	return inputs, nil
}

type detection struct {
	box   [4]float64 // x1, y1, x2, y2
	class int
	score float64
}

// roundCents rounds a box coordinate to two decimals; one too large to have any is left as
// it is (v*100 would overflow to an infinity, which JSON cannot hold).
func roundCents(v float64) float64 {
	if math.Abs(v) >= 1<<52 {
		return v
	}
	return math.Round(v*100) / 100
}

func (h *objectDetector) Postprocess(_ context.Context, req *Request, outputs []*tensor.Tensor) (*Response, error) {
	dets, err := h.detect(req, outputs)
	if err != nil {
		return nil, err
	}
	// boxes in the pixels of the image fed (or fractions of it), mapped back to the image's
	toImage := func(x, y float64) (float64, float64) { return x, y }
	if size, ok := req.State.(imageSize); ok && size.fedW > 0 && size.fedH > 0 {
		fx, fy := 1.0, 1.0
		if h.format == "detr" || (h.format == "boxes" && h.normalizedBoxes(dets)) {
			fx, fy = float64(size.fedW), float64(size.fedH) // [0, 1] of the image fed
		}
		toImage = func(x, y float64) (float64, float64) { return size.toImage(x*fx, y*fy) }
	}
	var b bytes.Buffer
	b.WriteByte('[')
	written := 0
	for _, d := range dets {
		x1, y1 := toImage(d.box[0], d.box[1])
		x2, y2 := toImage(d.box[2], d.box[3])
		if !finite(x1) || !finite(y1) || !finite(x2) || !finite(y2) {
			continue // a box too large to map onto the image (a broken model's)
		}
		if written > 0 {
			b.WriteByte(',')
		}
		written++
		b.WriteString("\n  {")
		b.Write(appendJSONString(nil, h.labels.name(d.class)))
		b.WriteString(": [")
		for k, v := range [4]float64{x1, y1, x2, y2} {
			if k > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.FormatFloat(roundCents(v), 'f', -1, 64))
		}
		b.WriteString("], \"score\": ")
		b.WriteString(formatFloat32(float32(d.score)))
		b.WriteByte('}')
	}
	if written > 0 {
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return &Response{Body: b.Bytes(), ContentType: "application/json"}, nil
}

// detect reads one image's detections from the model's outputs, best first, after
// non-maximum suppression when the format wants it.
func (h *objectDetector) detect(req *Request, outputs []*tensor.Tensor) ([]detection, error) {
	var dets []detection
	var err error
	switch h.format {
	case "detr":
		dets, err = h.decodeDETR(outputs[h.scores], outputs[h.boxes])
	case "yolo", "yolov8":
		dets, err = h.decodeYOLO(outputs[0])
	case "end2end":
		dets, err = h.decodeEnd2End(outputs)
	case "selected_indices":
		dets, err = h.decodeSelected(outputs[h.boxes], outputs[h.scores], outputs[h.selected])
	case "yolov2":
		size, _ := req.State.(imageSize)
		dets, err = h.decodeYOLOv2(outputs[0], size.fedW, size.fedH)
	case "yolov4":
		size, _ := req.State.(imageSize)
		dets, err = h.decodeYOLOv4(outputs, size.fedW, size.fedH)
	default:
		dets, err = h.decodeBoxes(outputs)
	}
	if err != nil {
		return nil, err
	}
	// a score or box a model answered as NaN or infinity (JSON cannot hold it, nor can it be
	// drawn or ranked) is no detection; scores are answered as float32s
	dets = slices.DeleteFunc(dets, func(d detection) bool {
		return !finite(float64(float32(d.score))) || !finite(d.box[0]) || !finite(d.box[1]) || !finite(d.box[2]) || !finite(d.box[3])
	})
	sort.SliceStable(dets, func(a, b int) bool { return dets[a].score > dets[b].score }) // best first, once
	if h.nms {
		dets = nms(dets, h.nmsIoU, h.maxDets)
	}
	if h.maxDets > 0 && len(dets) > h.maxDets {
		dets = dets[:h.maxDets]
	}
	return dets, nil
}

// decodeSelected reads the detections ONNX's NonMaxSuppression selected: each row of
// selected names a batch, a class and a box; its score is that class's score for that box.
func (h *objectDetector) decodeSelected(boxesOut, scoresOut, selectedOut *tensor.Tensor) ([]detection, error) {
	if len(boxesOut.Shape) != 3 || boxesOut.Shape[0] != 1 || boxesOut.Shape[2] != 4 || len(scoresOut.Shape) != 3 || scoresOut.Shape[2] != boxesOut.Shape[1] {
		return nil, fmt.Errorf("detection outputs have shapes %s and %s, want [1, boxes, 4] and [1, classes, boxes]",
			tensor.ShapeString(boxesOut.Shape), tensor.ShapeString(scoresOut.Shape))
	}
	boxes, err := boxesOut.Float64s()
	if err != nil {
		return nil, err
	}
	scores, err := scoresOut.Float64s()
	if err != nil {
		return nil, err
	}
	selected, err := selectedOut.Float64s()
	if err != nil {
		return nil, err
	}
	n, classes := int(boxesOut.Shape[1]), int(scoresOut.Shape[1])
	var dets []detection
	for r := 0; r+3 <= len(selected); r += 3 {
		batch, class, box := int(selected[r]), int(selected[r+1]), int(selected[r+2])
		if batch != 0 || class < 0 || class >= classes || box < 0 || box >= n {
			continue // padding (-1s), or another image's
		}
		score := scores[class*n+box]
		if score < h.threshold {
			continue
		}
		b := [4]float64(boxes[4*box : 4*box+4])
		if h.yxyx {
			b = [4]float64{b[1], b[0], b[3], b[2]}
		}
		dets = append(dets, detection{box: b, class: class, score: score})
	}
	return dets, nil
}

func (h *objectDetector) decodeBoxes(outputs []*tensor.Tensor) ([]detection, error) {
	boxes, err := outputs[h.boxes].Float64s()
	if err != nil {
		return nil, err
	}
	scores, err := outputs[h.scores].Float64s()
	if err != nil {
		return nil, err
	}
	var classes []float64
	if h.perClass {
		classes, scores, err = h.bestClasses(scores, outputs[h.scores].Shape, len(boxes)/4)
	} else {
		classes, err = outputs[h.classes].Float64s()
	}
	if err != nil {
		return nil, err
	}
	n := len(scores)
	if len(classes) != n || len(boxes) != 4*n {
		return nil, fmt.Errorf("detection outputs disagree: %d boxes values, %d labels, %d scores", len(boxes), len(classes), n)
	}
	if h.count >= 0 {
		count, err := outputs[h.count].Float64s()
		if err != nil {
			return nil, err
		}
		if len(count) > 0 && count[0] >= 0 && count[0] < float64(n) {
			n = int(count[0])
		}
	}
	var dets []detection
	for i := 0; i < n; i++ {
		if scores[i] < h.threshold {
			continue
		}
		box := [4]float64(boxes[4*i : 4*i+4])
		if h.yxyx {
			box = [4]float64{box[1], box[0], box[3], box[2]}
		}
		dets = append(dets, detection{box: box, class: int(classes[i]), score: scores[i]})
	}
	return dets, nil
}

// backgroundColumn guesses which column of per-class scores is the background (-1: none):
// column 0 when the labels leave class 0 unnamed or call it background (SSD's convention,
// TensorFlow's 1-based class ids), or, with no labels, for two columns (a face detector's
// "background, face"); a YOLO model's classes start at 0 and have no background.
func (h *objectDetector) backgroundColumn(scores tensor.Info) int {
	if len(h.labels) == 0 {
		if len(scores.Shape) == 3 && scores.Shape[2] == 2 {
			return 0
		}
		return -1
	}
	switch name, ok := h.labels[0]; {
	case !ok:
		return 0
	case slices.Contains([]string{"background", "__background__", "bg", "__bg__"}, strings.ToLower(name)):
		return 0
	}
	return -1
}

// bestClasses reads scores [1, boxes, classes] as each box's best class (the background
// column left out) and its score.
func (h *objectDetector) bestClasses(scores []float64, shape []int64, boxes int) (classes, best []float64, err error) {
	if len(shape) != 3 || shape[1] != int64(boxes) || shape[2] < 1 {
		return nil, nil, fmt.Errorf("detection scores have shape %s for %d boxes, want [1, %d, classes]", tensor.ShapeString(shape), boxes, boxes)
	}
	k := int(shape[2])
	classes, best = make([]float64, boxes), make([]float64, boxes)
	for i := range boxes {
		row := scores[i*k : (i+1)*k]
		top := -1
		for j, v := range row {
			if (j != h.background || k == 1) && (top < 0 || v > row[top]) {
				top = j
			}
		}
		classes[i], best[i] = float64(top), row[top]
	}
	return classes, best, nil
}

// decodeDETR reads DETR's predictions: per query, the best class (softmax over the classes
// and a last "no object" one, which never wins; or each class's own sigmoid) and its box,
// centre x, centre y, width, height in [0, 1] of the image, as x1, y1, x2, y2.
func (h *objectDetector) decodeDETR(logitsOut, boxesOut *tensor.Tensor) ([]detection, error) {
	if len(logitsOut.Shape) != 3 || logitsOut.Shape[0] != 1 || len(boxesOut.Shape) != 3 || boxesOut.Shape[2] != 4 || boxesOut.Shape[1] != logitsOut.Shape[1] {
		return nil, fmt.Errorf("detection outputs have shapes %s and %s, want [1, queries, classes] and [1, queries, 4]",
			tensor.ShapeString(logitsOut.Shape), tensor.ShapeString(boxesOut.Shape))
	}
	logits, err := logitsOut.Float64s()
	if err != nil {
		return nil, err
	}
	boxes, err := boxesOut.Float64s()
	if err != nil {
		return nil, err
	}
	queries, k := int(logitsOut.Shape[1]), int(logitsOut.Shape[2])
	classes := k
	if !h.sigmoid {
		classes = k - 1 // the last is "no object"
	}
	var dets []detection
	for q := 0; q < queries && classes > 0; q++ {
		row := logits[q*k : (q+1)*k]
		best := 0
		for j := 1; j < classes; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		score := sigmoid(row[best])
		if !h.sigmoid {
			score = softmax(row)[best] // over the classes and "no object"
		}
		if score < h.threshold {
			continue
		}
		cx, cy, w, hh := boxes[4*q], boxes[4*q+1], boxes[4*q+2], boxes[4*q+3]
		dets = append(dets, detection{box: [4]float64{cx - w/2, cy - hh/2, cx + w/2, cy + hh/2}, class: best, score: score})
	}
	return dets, nil
}

// normalizedBoxes reports whether boxes are in [0, 1] of the image (normalized_boxes; unset,
// whether every box found lies within [0, 1], as no box in pixels does).
func (h *objectDetector) normalizedBoxes(dets []detection) bool {
	if h.normalized != nil {
		return *h.normalized
	}
	for _, d := range dets {
		for _, v := range d.box {
			if v < 0 || v > 1 {
				return false
			}
		}
	}
	return len(dets) > 0
}

// nms keeps, per class, the highest-scoring box of every group overlapping more than
// maxIoU; dets come sorted by score, best first, and stay so. It stops once it keeps limit
// boxes (0: no limit).
func nms(dets []detection, maxIoU float64, limit int) []detection {
	var kept []detection
	for _, d := range dets {
		if limit > 0 && len(kept) == limit {
			break
		}
		keep := true
		for _, k := range kept {
			if k.class == d.class && iou(k.box, d.box) > maxIoU {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, d)
		}
	}
	return kept
}

func iou(a, b [4]float64) float64 {
	ix := math.Max(0, math.Min(a[2], b[2])-math.Max(a[0], b[0]))
	iy := math.Max(0, math.Min(a[3], b[3])-math.Max(a[1], b[1]))
	inter := ix * iy
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}
