package handler

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/tsserve/ts/pkg/tensor"
)

// The YOLO output formats of the object_detector (detector.go): YOLOv5's and YOLOv8's
// candidate rows, end-to-end rows, YOLOv2's grid and YOLOv4's heads.

// vocTinyAnchors and cocoAnchors are YOLOv2's anchor boxes (width, height in grid cells of
// 32 pixels) for Pascal VOC's 20 classes (Tiny YOLOv2's, as ONNX's model zoo has it) and
// COCO's 80 (YOLOv2's), from Darknet's configurations.
var (
	vocTinyAnchors = []float64{1.08, 1.19, 3.42, 4.41, 6.63, 11.38, 9.42, 5.11, 16.62, 10.52}
	cocoAnchors    = []float64{0.57273, 0.677385, 1.87446, 2.06253, 3.33843, 5.47434, 7.88282, 3.52778, 9.77052, 9.16828}
)

// YOLOv4's anchors (pixels, three per head, the heads in order of stride: 8, 16, 32) and the
// scales of its heads' centre offsets, as ONNX's model zoo runs it.
var (
	yoloV4Anchors = []float64{12, 16, 19, 36, 40, 28, 36, 75, 76, 55, 72, 146, 142, 110, 192, 243, 459, 401}
	yoloV4XYScale = []float64{1.2, 1.1, 1.05}
)

// yoloV2Grid reads a YOLOv2 output's shape, [1, anchors×(5+classes), rows, columns] or, as
// Keras exports it, [1, rows, columns, anchors×(5+classes)]: its channels and grid, and
// whether the channels come last.
func yoloV2Grid(shape []int64) (channels, rows, cols int, last bool) {
	if len(shape) != 4 {
		return 0, 0, 0, false
	}
	if shape[3] > shape[1] {
		return int(shape[3]), int(shape[1]), int(shape[2]), true
	}
	return int(shape[1]), int(shape[2]), int(shape[3]), false
}

// yoloV2Classes is the number of classes a YOLOv2 output holds with the given number of
// anchors (0 when its channels do not divide so).
func yoloV2Classes(shape []int64, anchors int) (int, bool) {
	channels, _, _, _ := yoloV2Grid(shape)
	if anchors < 1 || channels <= 0 || channels%anchors != 0 || channels/anchors <= 5 {
		return 0, false
	}
	return channels/anchors - 5, true
}

// yoloV2Anchors reads the anchors setting, by default Darknet's for 20 classes (Tiny YOLOv2,
// Pascal VOC) or 80 (YOLOv2, COCO) with 5 anchors.
func (h *objectDetector) yoloV2Anchors(out tensor.Info, c config) error {
	var def []float64
	if classes, ok := yoloV2Classes(out.Shape, 5); ok && classes == 20 {
		def = vocTinyAnchors
	} else if ok && classes == 80 {
		def = cocoAnchors
	}
	anchors, err := c.floats("anchors", def)
	if err != nil {
		return err
	}
	if len(anchors) == 0 {
		return fmt.Errorf("output_format yolov2: output %s holds no 5 anchors of 20 or 80 classes: set handler.anchors in model-config.yaml (width, height pairs in grid cells)", out)
	}
	if _, ok := yoloV2Classes(out.Shape, len(anchors)/2); !ok || len(anchors)%2 != 0 {
		return fmt.Errorf("output_format yolov2: %d anchors do not divide the channels of output %s into boxes of 5 values and class scores", len(anchors)/2, out)
	}
	h.anchors = anchors
	return nil
}

// yoloV4Heads reports whether outputs are YOLOv4's heads: each [1, rows, columns, anchors,
// 5+classes], the same anchors and classes in all.
func yoloV4Heads(outputs []tensor.Info) bool {
	if len(outputs) == 0 {
		return false
	}
	for _, o := range outputs {
		if len(o.Shape) != 5 || !o.DType.IsFloat() || o.Shape[4] <= 5 || o.Shape[3] != outputs[0].Shape[3] || o.Shape[4] != outputs[0].Shape[4] {
			return false
		}
	}
	return true
}

// yoloV4Settings reads the anchors and xy_scale settings of YOLOv4's heads: by default the
// zoo's YOLOv4 for three heads of three anchors of 80 classes.
func (h *objectDetector) yoloV4Settings(outputs []tensor.Info, c config) error {
	if !yoloV4Heads(outputs) {
		return fmt.Errorf("output_format yolov4 needs outputs [1, rows, columns, anchors, 5+classes]; the model has %s", strings.Join(names(outputs), ", "))
	}
	anchors := int(outputs[0].Shape[3])
	var defAnchors, defScale []float64
	if len(outputs) == 3 && anchors == 3 && outputs[0].Shape[4] == 85 {
		defAnchors, defScale = yoloV4Anchors, yoloV4XYScale
	}
	var err error
	if h.anchors, err = c.floats("anchors", defAnchors); err != nil {
		return err
	}
	if want := 2 * anchors * len(outputs); len(h.anchors) != want {
		return fmt.Errorf("output_format yolov4: %d heads of %d anchors need %d anchor values (width, height in pixels, the heads in order of stride): set handler.anchors in model-config.yaml", len(outputs), anchors, want)
	}
	if defScale == nil {
		defScale = slices.Repeat([]float64{1}, len(outputs))
	}
	if h.xyScale, err = c.floats("xy_scale", defScale); err != nil {
		return err
	}
	if len(h.xyScale) != len(outputs) {
		return fmt.Errorf("handler setting xy_scale: want one value per head (%d), got %d", len(outputs), len(h.xyScale))
	}
	return nil
}

// decodeYOLOv4 reads YOLOv4's heads, as the zoo's YOLOv4 post-processes them: per cell and
// anchor the centre ((sigmoid × xy_scale − (xy_scale − 1)/2 + cell) × stride), the size (the
// anchor's times an exponential), and the objectness and class scores as the model gives them
// (sigmoids already); the heads' strides are the image fed's size over their grids, and the
// anchors go to the heads in order of stride.
func (h *objectDetector) decodeYOLOv4(outputs []*tensor.Tensor, fedW, fedH int) ([]detection, error) {
	order := make([]int, len(outputs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return outputs[order[a]].Shape[2] > outputs[order[b]].Shape[2] }) // finest grid: smallest stride
	var dets []detection
	for rank, i := range order {
		out := outputs[i]
		if len(out.Shape) != 5 || out.Shape[0] != 1 || fedW < 1 || fedH < 1 {
			return nil, fmt.Errorf("detection output has shape %s, want [1, rows, columns, anchors, 5+classes]", tensor.ShapeString(out.Shape))
		}
		v, err := out.Float64s()
		if err != nil {
			return nil, err
		}
		rows, cols, anchors, per := int(out.Shape[1]), int(out.Shape[2]), int(out.Shape[3]), int(out.Shape[4])
		if 2*anchors*(rank+1) > len(h.anchors) {
			return nil, fmt.Errorf("detection output %d has %d anchors, more than the anchors setting holds", i, anchors)
		}
		strideX, strideY := float64(fedW)/float64(cols), float64(fedH)/float64(rows)
		scale := h.xyScale[rank]
		for y := range rows {
			for x := range cols {
				for a := range anchors {
					p := v[((y*cols+x)*anchors+a)*per:][:per]
					if p[4] < h.threshold {
						continue
					}
					best := 5
					for k := 6; k < per; k++ {
						if p[k] > p[best] {
							best = k
						}
					}
					score := p[4] * p[best]
					if score < h.threshold {
						continue
					}
					cx := (sigmoid(p[0])*scale - (scale-1)/2 + float64(x)) * strideX
					cy := (sigmoid(p[1])*scale - (scale-1)/2 + float64(y)) * strideY
					anchor := h.anchors[2*(rank*anchors+a):]
					w, hh := math.Exp(p[2])*anchor[0], math.Exp(p[3])*anchor[1]
					dets = append(dets, detection{box: [4]float64{cx - w/2, cy - hh/2, cx + w/2, cy + hh/2}, class: best - 5, score: score})
				}
			}
		}
	}
	return dets, nil
}

// yoloLayout tells YOLOv8's output [1, 4+classes, boxes] from YOLOv5's [1, boxes,
// 4+1+classes]: by the number of classes the labels name (0: unknown) where it fits one
// exactly, else by which dimension is the boxes': the dynamic one, or else the larger (a
// model has far more candidate boxes than values per box: 8400 against 84). A middle
// dimension under 5 cannot hold a box and a class score: it counts boxes.
func yoloLayout(shape []int64, classes int) string {
	if len(shape) != 3 || shape[1] < 5 {
		return "yolo"
	}
	switch n := int64(classes); {
	case n > 0 && shape[1] == 4+n && shape[2] != 5+n:
		return "yolov8"
	case n > 0 && shape[2] == 5+n && shape[1] != 4+n:
		return "yolo"
	}
	values, boxes := shape[1], shape[2]
	if boxes < 0 || values < boxes {
		return "yolov8"
	}
	return "yolo"
}

// yoloRows reads a YOLO output's shape [1, boxes, values] ([1, values, boxes] for format
// yolov8) as the format lays it out: its boxes, a row's values, and where a row's class
// scores start (after cx, cy, w, h and, but for yolov8, the objectness). A row that holds no
// class scores is an error; a size still unknown (-1) is not.
func yoloRows(format string, shape []int64) (boxes, values, first int, err error) {
	boxes, values, first = int(shape[1]), int(shape[2]), 5
	if format == "yolov8" {
		boxes, values, first = values, boxes, 4
	}
	if values >= 0 && values <= first {
		err = fmt.Errorf("rows of %d values, want 4 box values, %sand class scores", values, map[bool]string{true: "objectness ", false: ""}[first == 5])
	}
	return boxes, values, first, err
}

func (h *objectDetector) decodeYOLO(out *tensor.Tensor) ([]detection, error) {
	if len(out.Shape) != 3 || out.Shape[0] != 1 {
		return nil, fmt.Errorf("detection output has shape %s, want [1, boxes, values]", tensor.ShapeString(out.Shape))
	}
	v, err := out.Float64s()
	if err != nil {
		return nil, err
	}
	n, k, first, err := yoloRows(h.format, out.Shape)
	if err != nil {
		return nil, fmt.Errorf("detection output: %w", err)
	}
	at := func(i, j int) float64 { return v[i*k+j] }
	if h.format == "yolov8" { // [4+C, boxes]
		at = func(i, j int) float64 { return v[j*n+i] }
	}
	last := k // past the class scores
	if classes := h.labels.maxIndex() + 1; classes > 0 && first+classes < k {
		// the labels name fewer classes than the row has values: the rest are not class
		// scores (the mask coefficients of a -seg model, the keypoints of a -pose one)
		last = first + classes
	}
	var dets []detection
	for i := 0; i < n; i++ {
		best := first
		for j := first + 1; j < last; j++ {
			if at(i, j) > at(i, best) {
				best = j
			}
		}
		score := at(i, best)
		if first == 5 {
			score *= at(i, 4)
		}
		if score < h.threshold {
			continue
		}
		cx, cy, w, hh := at(i, 0), at(i, 1), at(i, 2), at(i, 3)
		dets = append(dets, detection{box: [4]float64{cx - w/2, cy - hh/2, cx + w/2, cy + hh/2}, class: best - first, score: score})
	}
	return dets, nil
}

// maxEnd2EndBoxes is the most boxes an end2end output is taken to hold by default.
const maxEnd2EndBoxes = 1000

// end2endRows are the layouts of an end2end output's rows: where a row's box (four values,
// x1, y1, x2, y2), score and class are, and for rows of several images where the image's
// index is (-1: one image's rows).
type end2endRows struct{ width, box, score, class, image int }

var (
	// ultralyticsRows: [1, boxes, 6] of x1, y1, x2, y2, score, class (Ultralytics' exports
	// with nms=True, YOLOv10)
	ultralyticsRows = end2endRows{width: 6, box: 0, score: 4, class: 5, image: -1}
	// yoloV7Rows: [detections, 7] of image index, x1, y1, x2, y2, class, score (YOLOv7's
	// export for ONNX Runtime, export.py --end2end)
	yoloV7Rows = end2endRows{width: 7, box: 1, score: 6, class: 5, image: 0}
	// paddleRows: [detections, 6] of class, score, x1, y1, x2, y2 (PaddleDetection's exports
	// with their NMS, beside a count of each image's rows)
	paddleRows = end2endRows{width: 6, box: 2, score: 1, class: 0, image: -1}
)

// end2endLayout is the layout of an end2end output of this shape, false when it is none.
func end2endLayout(shape []int64) (end2endRows, bool) {
	switch {
	case len(shape) == 3 && (shape[2] == 6 || shape[2] < 0):
		return ultralyticsRows, true
	case len(shape) == 2 && shape[1] == 7:
		return yoloV7Rows, true
	case len(shape) == 2 && shape[1] == 6:
		return paddleRows, true
	}
	return end2endRows{}, false
}

// isDetectionRows reports whether a model's outputs are rows of detections with no batch
// dimension, the default for end2end: one output [detections, 7] (YOLOv7's), or
// [detections, 6] (PaddleDetection's) alone or beside an integer count [images].
func isDetectionRows(outputs []tensor.Info) bool {
	shape := outputs[0].Shape
	if len(shape) != 2 || shape[0] >= 0 || (shape[1] != 6 && shape[1] != 7) {
		return false
	}
	return len(outputs) == 1 || len(outputs) == 2 && shape[1] == 6 && isCount(outputs[1])
}

// isCount reports whether an output is a count of detections per image: integers [images].
func isCount(o tensor.Info) bool {
	return len(o.Shape) == 1 && (o.DType == tensor.Int32 || o.DType == tensor.Int64)
}

// decodeEnd2End reads the detections of a model that ends with its own non-maximum
// suppression, in the input's pixels, as end2endLayout lays its rows out: of rows of several
// images, the first image's (by their image index, or the first count's rows).
func (h *objectDetector) decodeEnd2End(outputs []*tensor.Tensor) ([]detection, error) {
	out := outputs[0]
	layout, ok := end2endLayout(out.Shape)
	if !ok || len(out.Shape) == 3 && (out.Shape[0] != 1 || out.Shape[2] != 6) {
		return nil, fmt.Errorf("detection output has shape %s, want [1, boxes, 6], [detections, 7] or [detections, 6]", tensor.ShapeString(out.Shape))
	}
	v, err := out.Float64s()
	if err != nil {
		return nil, err
	}
	if len(outputs) == 2 && layout == paddleRows { // the count of each image's rows
		counts, err := outputs[1].Float64s()
		if err != nil {
			return nil, err
		}
		if len(counts) > 0 && counts[0] >= 0 && int(counts[0])*layout.width < len(v) {
			v = v[:int(counts[0])*layout.width]
		}
	}
	var dets []detection
	for i := 0; i+layout.width <= len(v); i += layout.width {
		row := v[i : i+layout.width]
		if layout.image >= 0 && row[layout.image] != 0 || row[layout.score] < h.threshold || row[layout.class] < 0 {
			continue // another image's, under the threshold, or padding (class -1)
		}
		dets = append(dets, detection{box: [4]float64(row[layout.box : layout.box+4]), class: int(row[layout.class]), score: row[layout.score]})
	}
	return dets, nil
}

// decodeYOLOv2 reads YOLOv2's grid: for each cell and anchor, the box's centre (a sigmoid
// within the cell), its size (the anchor's, scaled by an exponential), the objectness (a
// sigmoid) and the classes (a softmax), as Darknet's region layer decodes them, in the
// pixels of the image fed (fedW × fedH).
func (h *objectDetector) decodeYOLOv2(out *tensor.Tensor, fedW, fedH int) ([]detection, error) {
	channels, rows, cols, last := yoloV2Grid(out.Shape)
	anchors := len(h.anchors) / 2
	if out.Shape[0] != 1 || channels != anchors*(channels/anchors) || rows < 1 || cols < 1 || fedW < 1 || fedH < 1 {
		return nil, fmt.Errorf("detection output has shape %s, want [1, %d×(5+classes), rows, columns]", tensor.ShapeString(out.Shape), anchors)
	}
	v, err := out.Float64s()
	if err != nil {
		return nil, err
	}
	per := channels / anchors
	at := func(k, y, x int) float64 { return v[(k*rows+y)*cols+x] }
	if last {
		at = func(k, y, x int) float64 { return v[(y*cols+x)*channels+k] }
	}
	cellW, cellH := float64(fedW)/float64(cols), float64(fedH)/float64(rows)
	classes := make([]float64, per-5)
	var dets []detection
	for a := range anchors {
		for y := range rows {
			for x := range cols {
				k := a * per
				objectness := sigmoid(at(k+4, y, x))
				if objectness < h.threshold {
					continue // the score is at most the objectness
				}
				for c := range classes {
					classes[c] = at(k+5+c, y, x)
				}
				probs := softmax(classes)
				best := topIndexes(probs, 1)[0]
				score := objectness * probs[best]
				if score < h.threshold {
					continue
				}
				cx, cy := (float64(x)+sigmoid(at(k, y, x)))*cellW, (float64(y)+sigmoid(at(k+1, y, x)))*cellH
				w, hh := math.Exp(at(k+2, y, x))*h.anchors[2*a]*cellW, math.Exp(at(k+3, y, x))*h.anchors[2*a+1]*cellH
				dets = append(dets, detection{box: [4]float64{cx - w/2, cy - hh/2, cx + w/2, cy + hh/2}, class: best, score: score})
			}
		}
	}
	return dets, nil
}
