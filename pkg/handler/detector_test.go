package handler

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/tensor"
)

// TestObjectDetectorFormats decodes each output format from hand-made outputs: thresholds,
// non-maximum suppression, labels, and boxes scaled back to the image's own pixels.
func TestObjectDetectorFormats(t *testing.T) {
	dir := t.TempDir()
	// a label with a control character must still come out as valid JSON
	os.WriteFile(filepath.Join(dir, LabelsFile), []byte(`{"0": "cat\u0007", "1": "dog"}`), 0o644)
	const cat = "cat\a"
	input := tensor.Info{Name: "images", DType: tensor.Float32, Shape: []int64{1, 3, 64, 64}}
	f32 := func(shape ...int64) tensor.Info { return tensor.Info{DType: tensor.Float32, Shape: shape} }

	// three candidates: a dog, a weaker dog overlapping it (suppressed), a cat under the
	// threshold; boxes as centre x, centre y, width, height in the 64x64 input
	yoloRows := [][]float32{
		{20, 20, 10, 10, 0.9, 0.1, 0.9}, // dog 0.81
		{21, 21, 10, 10, 0.8, 0.2, 0.8}, // dog 0.64, overlaps the first
		{50, 50, 8, 8, 0.5, 0.6, 0.4},   // cat 0.30 < 0.5
	}
	var yolo, yolov8 []float32
	for _, r := range yoloRows {
		yolo = append(yolo, r...)
	}
	for _, col := range []int{0, 1, 2, 3, 5, 6} { // yolov8: [4+C, boxes], no objectness
		for _, r := range yoloRows {
			v := r[col]
			if col >= 5 {
				v *= r[4]
			}
			yolov8 = append(yolov8, v)
		}
	}
	wantDog := [4]float64{30, 30, 50, 50} // (15..25) × 2
	nan32, inf32 := float32(math.NaN()), float32(math.Inf(1))

	cases := []struct {
		name    string
		outputs []tensor.Info
		cfg     config
		tensors []*tensor.Tensor
		want    []string
	}{
		{"yolo", []tensor.Info{f32(1, 3, 7)}, nil,
			[]*tensor.Tensor{tensor.New([]int64{1, 3, 7}, yolo)}, []string{"dog"}},
		{"yolo, low threshold, no NMS", []tensor.Info{f32(1, 3, 7)}, config{"threshold": 0.2, "nms": false},
			[]*tensor.Tensor{tensor.New([]int64{1, 3, 7}, yolo)}, []string{"dog", "dog", cat}},
		// rows a broken model answers with NaN or infinity are no detections (they were
		// answered as NaN, which is not JSON)
		{"yolo, NaN and infinite rows dropped", []tensor.Info{f32(1, 8, 7)}, nil,
			[]*tensor.Tensor{tensor.New([]int64{1, 8, 7}, append(slices.Clone(yolo),
				nan32, 20, 10, 10, 0.9, 0.1, 0.9, // NaN centre
				40, 40, inf32, 10, 0.9, 0.1, 0.9, // infinite width
				40, 40, 10, 10, nan32, 0.9, 0.1, // NaN objectness
				40, 40, 10, 10, inf32, 0.9, 0.1, // infinite score
				40, 40, 10, 10, 3e38, 10, 0.1, // a score past float32's range, as answered
			))}, []string{"dog"}},
		{"yolov8", []tensor.Info{f32(1, 6, 3)}, config{"output_format": "yolov8"},
			[]*tensor.Tensor{tensor.New([]int64{1, 6, 3}, yolov8)}, []string{"dog"}},
		// a -seg model's rows: 4 box values, 2 class scores (the labels name 2 classes), then
		// 3 mask coefficients, which must not be taken for classes
		{"yolov8-seg, mask coefficients after the classes", []tensor.Info{f32(1, 9, 2)}, config{"output_format": "yolov8"},
			[]*tensor.Tensor{tensor.New([]int64{1, 9, 2}, []float32{20, 50, 20, 50, 10, 8, 10, 8, 0.1, 0.2, 0.9, 0.3, 5, 9, -3, 9, 7, 9})},
			[]string{"dog"}},
		{"boxes (torchvision)", []tensor.Info{{Name: "boxes", DType: tensor.Float32, Shape: []int64{-1, 4}},
			{Name: "labels", DType: tensor.Int64, Shape: []int64{-1}}, {Name: "scores", DType: tensor.Float32, Shape: []int64{-1}}}, nil,
			[]*tensor.Tensor{tensor.New([]int64{2, 4}, []float32{15, 15, 25, 25, 40, 40, 60, 60}),
				tensor.New([]int64{2}, []int64{1, 0}), tensor.New([]int64{2}, []float32{0.3, 0.95})},
			[]string{cat}},
		{"boxes with other names", []tensor.Info{{Name: "det:boxes", DType: tensor.Float32, Shape: []int64{-1, 4}},
			{Name: "det:scores", DType: tensor.Float32, Shape: []int64{-1}}, {Name: "det:classes", DType: tensor.Int64, Shape: []int64{-1}}},
			config{"boxes": "det:boxes", "scores": "det:scores", "labels": "det:classes", "threshold": 0.2},
			[]*tensor.Tensor{tensor.New([]int64{2, 4}, []float32{15, 15, 25, 25, 40, 40, 60, 60}),
				tensor.New([]int64{2}, []float32{0.3, 0.95}), tensor.New([]int64{2}, []int64{1, 0})},
			[]string{cat, "dog"}},
		// NMS inside the model: rows of x1, y1, x2, y2, score, class in the 64x64 input
		{"end2end (YOLOv10, Ultralytics' nms=True)", []tensor.Info{f32(1, 300, 6)}, nil,
			[]*tensor.Tensor{tensor.New([]int64{1, 3, 6}, []float32{40, 40, 60, 60, 0.3, 0, 15, 15, 25, 25, 0.95, 1, 0, 0, 0, 0, 0, 0})},
			[]string{"dog"}},
		{"end2end, set, low threshold", []tensor.Info{f32(1, -1, 6)}, config{"output_format": "end2end", "threshold": 0.2},
			[]*tensor.Tensor{tensor.New([]int64{1, 3, 6}, []float32{40, 40, 60, 60, 0.3, 0, 15, 15, 25, 25, 0.95, 1, 0, 0, 0, 0, 0, 0})},
			[]string{"dog", cat}},
		// YOLOv7's export for ONNX Runtime (--end2end): rows of batch index, x1, y1, x2, y2,
		// class, score; a row of another image (batch index 1) is not this one's
		{"end2end, YOLOv7's [detections, 7]", []tensor.Info{f32(-1, 7)}, nil,
			[]*tensor.Tensor{tensor.New([]int64{3, 7}, []float32{0, 40, 40, 60, 60, 0, 0.3, 0, 15, 15, 25, 25, 1, 0.95, 1, 15, 15, 25, 25, 0, 0.99})},
			[]string{"dog"}},
		// PaddleDetection's export with its NMS: rows of class, score, x1, y1, x2, y2 for all
		// images, and each image's count (the third row is the second image's)
		{"end2end, PaddleDetection's [detections, 6] and count", []tensor.Info{{Name: "multiclass_nms3_0.tmp_0", DType: tensor.Float32, Shape: []int64{-1, 6}},
			{Name: "multiclass_nms3_0.tmp_2", DType: tensor.Int32, Shape: []int64{-1}}}, nil,
			[]*tensor.Tensor{tensor.New([]int64{3, 6}, []float32{1, 0.95, 15, 15, 25, 25, 0, 0.3, 40, 40, 60, 60, 0, 0.99, 15, 15, 25, 25}),
				tensor.New([]int64{2}, []int32{2, 1})},
			[]string{"dog"}},
		{"end2end, PaddleDetection's rows, low threshold, a padding row", []tensor.Info{f32(-1, 6)}, config{"threshold": 0.2},
			[]*tensor.Tensor{tensor.New([]int64{3, 6}, []float32{1, 0.95, 15, 15, 25, 25, 0, 0.3, 40, 40, 60, 60, -1, 0.9, 0, 0, 0, 0})},
			[]string{"dog", cat}},
		{"boxes, outputs named by number (an export without output names)", []tensor.Info{{Name: "2096", DType: tensor.Float32, Shape: []int64{-1, 4}},
			{Name: "2065", DType: tensor.Float32, Shape: []int64{-1}}, {Name: "2066", DType: tensor.Int64, Shape: []int64{-1}}},
			config{"threshold": 0.2},
			[]*tensor.Tensor{tensor.New([]int64{2, 4}, []float32{15, 15, 25, 25, 40, 40, 60, 60}),
				tensor.New([]int64{2}, []float32{0.3, 0.95}), tensor.New([]int64{2}, []int64{1, 0})},
			[]string{cat, "dog"}},
		// Keypoint R-CNN exported without output names: keypoints [N, 17, 3] and their
		// scores [N, 17] beside; the scores are the float output of the labels' rows, [N]
		{"boxes, Keypoint R-CNN's unnamed outputs", []tensor.Info{{Name: "2676", DType: tensor.Float32, Shape: []int64{-1, 4}, DimNames: []string{"Concat2676_dim_0", ""}},
			{Name: "2256", DType: tensor.Int64, Shape: []int64{-1}, DimNames: []string{"Gather2256_dim_0"}},
			{Name: "2255", DType: tensor.Float32, Shape: []int64{-1}, DimNames: []string{"Gather2256_dim_0"}},
			{Name: "2685", DType: tensor.Float32, Shape: []int64{-1, 17, 3}}, {Name: "end_scores.7", DType: tensor.Float32, Shape: []int64{-1, 17}, DimNames: []string{"Loop_dim_0", ""}}},
			config{"threshold": 0.2},
			[]*tensor.Tensor{tensor.New([]int64{2, 4}, []float32{15, 15, 25, 25, 40, 40, 60, 60}), tensor.New([]int64{2}, []int64{1, 0}),
				tensor.New([]int64{2}, []float32{0.3, 0.95}), tensor.New([]int64{2, 17, 3}, make([]float32, 2*17*3)), tensor.New([]int64{2, 17}, make([]float32, 2*17))},
			[]string{cat, "dog"}},
		// the same with no dimension names: the scores are the one of rank 1
		{"boxes, unnamed outputs and dimensions, per-keypoint scores beside", []tensor.Info{{Name: "1", DType: tensor.Float32, Shape: []int64{-1, 4}},
			{Name: "2", DType: tensor.Int64, Shape: []int64{-1}}, {Name: "3", DType: tensor.Float32, Shape: []int64{-1, 17}}, {Name: "4", DType: tensor.Float32, Shape: []int64{-1}}},
			config{"threshold": 0.2},
			[]*tensor.Tensor{tensor.New([]int64{2, 4}, []float32{15, 15, 25, 25, 40, 40, 60, 60}), tensor.New([]int64{2}, []int64{1, 0}),
				tensor.New([]int64{2, 17}, make([]float32, 2*17)), tensor.New([]int64{2}, []float32{0.3, 0.95})},
			[]string{cat, "dog"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: c.outputs, Dir: dir, Config: c.cfg})
			if err != nil {
				t.Fatal(err)
			}
			req := &Request{State: imageSize{w: 128, h: 128, fedW: 64, fedH: 64}}
			res, err := h.Postprocess(context.Background(), req, c.tensors)
			if err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			if err := json.Unmarshal(res.Body, &got); err != nil {
				t.Fatalf("%v: %s", err, res.Body)
			}
			if len(got) != len(c.want) {
				t.Fatalf("%d detections, want %v: %s", len(got), c.want, res.Body)
			}
			last := math.Inf(1)
			for i, d := range got {
				box, ok := d[c.want[i]].([]any)
				if !ok || len(box) != 4 {
					t.Fatalf("detection %d is not a %s: %s", i, c.want[i], res.Body)
				}
				score := d["score"].(float64)
				if score > last {
					t.Errorf("not sorted by score: %s", res.Body)
				}
				last = score
				if c.want[i] == "dog" && i == 0 && !strings.HasPrefix(c.name, "boxes") {
					for k := range wantDog {
						if math.Abs(box[k].(float64)-wantDog[k]) > 0.01 {
							t.Errorf("dog box %v, want %v (scaled to the 128x128 image)", box, wantDog)
						}
					}
				}
			}
		})
	}

	for name, m := range map[string]*Model{
		"unknown format":       {Inputs: []tensor.Info{input}, Outputs: []tensor.Info{f32(1, 3, 7)}, Config: config{"output_format": "ssd"}},
		"yolo on a 2-D output": {Inputs: []tensor.Info{input}, Outputs: []tensor.Info{f32(1, 7)}},
		"boxes without a scores output": {Inputs: []tensor.Info{input}, Config: config{"output_format": "boxes"},
			Outputs: []tensor.Info{{Name: "boxes", Shape: []int64{-1, 4}}, {Name: "labels", Shape: []int64{-1}}, {Name: "other", Shape: []int64{-1}}}},
		"two inputs":             {Inputs: []tensor.Info{input, input}, Outputs: []tensor.Info{f32(1, 3, 7)}},
		"end2end with rows of 7": {Inputs: []tensor.Info{input}, Outputs: []tensor.Info{f32(1, 300, 7)}, Config: config{"output_format": "end2end"}},
		// rows with no class scores: every request failed with a 500
		"yolo rows of 5 values":   {Inputs: []tensor.Info{input}, Outputs: []tensor.Info{f32(-1, 1, 5)}},
		"yolov8 rows of 4 values": {Inputs: []tensor.Info{input}, Outputs: []tensor.Info{f32(1, 4, -1)}, Config: config{"output_format": "yolov8"}},
		"end2end with rows of 8":  {Inputs: []tensor.Info{input}, Outputs: []tensor.Info{f32(-1, 8)}, Config: config{"output_format": "end2end"}},
		"unnamed outputs, two that could be scores": {Inputs: []tensor.Info{input}, Outputs: []tensor.Info{
			{Name: "1", DType: tensor.Float32, Shape: []int64{-1, 4}}, {Name: "2", DType: tensor.Float32, Shape: []int64{-1}},
			{Name: "3", DType: tensor.Float32, Shape: []int64{-1}}}},
		"unnamed outputs, a name set that is not there": {Inputs: []tensor.Info{input}, Config: config{"scores": "conf"}, Outputs: []tensor.Info{
			{Name: "1", DType: tensor.Float32, Shape: []int64{-1, 4}}, {Name: "2", DType: tensor.Float32, Shape: []int64{-1}},
			{Name: "3", DType: tensor.Int64, Shape: []int64{-1}}}},
	} {
		m.Dir = dir
		if _, err := newObjectDetector(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestTensorFlowDetector: outputs as TensorFlow's Object Detection API exports them (and
// tf2onnx keeps them: names with ":0", a batch dimension, float classes) are found by name;
// their boxes, y1, x1, y2, x2 in [0, 1] of the image, come out as x1, y1, x2, y2 in the
// image's pixels; only num_detections of them count. box_format and normalized_boxes
// override what is inferred.
func TestTensorFlowDetector(t *testing.T) {
	input := tensor.Info{Name: "image_tensor:0", DType: tensor.Uint8, Shape: []int64{-1, -1, -1, 3}}
	outputs := []tensor.Info{
		{Name: "detection_boxes:0", DType: tensor.Float32, Shape: []int64{-1, 3, 4}},
		{Name: "detection_classes:0", DType: tensor.Float32, Shape: []int64{-1, 3}},
		{Name: "detection_scores:0", DType: tensor.Float32, Shape: []int64{-1, 3}},
		{Name: "num_detections:0", DType: tensor.Float32, Shape: []int64{-1}},
	}
	tensors := []*tensor.Tensor{
		tensor.New([]int64{1, 3, 4}, []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 1, 1, 0, 0, 1, 1}),
		tensor.New([]int64{1, 3}, []float32{18, 1, 1}),
		tensor.New([]int64{1, 3}, []float32{0.9, 0.6, 0.99}),
		tensor.New([]int64{1}, []float32{2}), // the third row does not count
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, LabelsFile), []byte(`{"1": "person", "18": "dog"}`), 0o644)
	cases := []struct {
		name string
		cfg  config
		want string
	}{
		{"inferred", nil, `[{"dog":[40,20,80,60],"score":0.9},{"person":[100,100,200,200],"score":0.6}]`},
		{"set as x1, y1, x2, y2 in pixels", config{"box_format": "xyxy", "normalized_boxes": false},
			`[{"dog":[0.1,0.2,0.3,0.4],"score":0.9},{"person":[0.5,0.5,1,1],"score":0.6}]`},
	}
	for _, c := range cases {
		h, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: outputs, Dir: dir, Config: c.cfg})
		if err != nil {
			t.Fatal(err)
		}
		// a 200x200 image, fed at its own size
		res, err := h.Postprocess(context.Background(), &Request{State: imageSize{w: 200, h: 200, fedW: 200, fedH: 200}}, tensors)
		if err != nil {
			t.Fatal(err)
		}
		var got any
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatalf("%s: %v: %s", c.name, err, res.Body)
		}
		if b, _ := json.Marshal(got); string(b) != c.want {
			t.Errorf("%s: %s\nwant %s", c.name, b, c.want)
		}
	}
	if _, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: outputs, Dir: dir, Config: config{"box_format": "cxcywh"}}); err == nil ||
		!strings.Contains(err.Error(), `box_format: want xyxy or yxyx, got "cxcywh"`) {
		t.Errorf("box_format cxcywh: %v", err)
	}
}

// TestDETRDetector: outputs as Hugging Face exports DETR-style models (logits and
// pred_boxes) are read as DETR's set of predictions: softmax with a last "no object" class
// (which never wins) when the logits have one column more than the labels, else sigmoid per
// class; boxes, centre x, centre y, width, height in [0, 1], come out as x1, y1, x2, y2 in
// the image's pixels.
func TestDETRDetector(t *testing.T) {
	input := tensor.Info{Name: "pixel_values", DType: tensor.Float32, Shape: []int64{-1, 3, -1, -1}}
	boxes := tensor.New([]int64{1, 3, 4}, []float32{0.5, 0.5, 0.2, 0.4, 0.5, 0.5, 1, 1, 0.25, 0.25, 0.5, 0.5})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"id2label": {"0": "cat", "1": "dog", "2": "bird"}}`), 0o644)
	cases := []struct {
		name    string
		classes int64
		cfg     config
		logits  []float32
		want    []string // each detection's start, best first
	}{
		{"softmax, with no object", 4, nil, []float32{0, 5, 0, 0, 0, 0, 0, 9, 3, 0, 0, 0},
			[]string{`{"dog":[80,30,120,70],"score":0.98`, `{"cat":[0,0,100,50],"score":0.87`}},
		{"sigmoid, each class its own", 3, nil, []float32{-5, 2, -5, -5, -5, -5, 1, -5, -5},
			[]string{`{"dog":[80,30,120,70],"score":0.880797`, `{"cat":[0,0,100,50],"score":0.731058`}},
		{"activation set: the fourth column is a class", 4, config{"activation": "sigmoid", "threshold": 0.99}, []float32{0, 5, 0, 0, 0, 0, 0, 9, 3, 0, 0, 0},
			[]string{`{"3":[0,0,200,100],"score":0.9998`, `{"dog":[80,30,120,70],"score":0.9933`}},
	}
	for _, c := range cases {
		outputs := []tensor.Info{{Name: "logits", DType: tensor.Float32, Shape: []int64{-1, 3, c.classes}},
			{Name: "pred_boxes", DType: tensor.Float32, Shape: []int64{-1, 3, 4}}}
		h, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: outputs, Dir: dir, Config: c.cfg})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		res, err := h.Postprocess(context.Background(), &Request{State: imageSize{w: 200, h: 100, fedW: 200, fedH: 100}},
			[]*tensor.Tensor{tensor.New([]int64{1, 3, c.classes}, c.logits), boxes})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var got []any
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatalf("%s: %v: %s", c.name, err, res.Body)
		}
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			b, _ := json.Marshal(got[i])
			ok = strings.HasPrefix(string(b), c.want[i])
		}
		if !ok {
			t.Errorf("%s: %s\nwant detections starting %v", c.name, res.Body, c.want)
		}
	}
	outputs := []tensor.Info{{Name: "logits", DType: tensor.Float32, Shape: []int64{-1, 3, 4}}, {Name: "pred_boxes", DType: tensor.Float32, Shape: []int64{-1, 3, 4}}}
	if _, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: outputs, Dir: dir, Config: config{"activation": "relu"}}); err == nil ||
		!strings.Contains(err.Error(), `activation: want softmax or sigmoid, got "relu"`) {
		t.Errorf("activation relu: %v", err)
	}
	outputs[1].Shape = []int64{-1, 3, 5}
	if _, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: outputs, Dir: dir}); err == nil {
		t.Error("pred_boxes of 5 values accepted")
	}
}

// TestImageOwnSize: for models whose height and width are both dynamic, torchvision-style
// detectors and the segmenter feed each image at its own size, as TorchServe's do (boxes then
// need no scaling) within 2048 pixels (520 for the segmenter; the max_size setting), YOLO
// detectors resize to YOLO's 640 and the classifier to 224; the size setting overrides
// either way.
func TestImageOwnSize(t *testing.T) {
	img := pngBytes(t, solid(50, 40, color.White))
	big := pngBytes(t, solid(3000, 1500, color.White)) // over maxOwnSide: scaled to 2048x1024
	boxes := []tensor.Info{{Name: "boxes", DType: tensor.Float32, Shape: []int64{-1, 4}},
		{Name: "labels", DType: tensor.Int64, Shape: []int64{-1}}, {Name: "scores", DType: tensor.Float32, Shape: []int64{-1}}}
	seg := []tensor.Info{{Name: "out", DType: tensor.Float32, Shape: []int64{-1, 2, -1, -1}}}
	logits := []tensor.Info{{Name: "logits", DType: tensor.Float32, Shape: []int64{-1, 2}}}
	image := func(shape ...int64) []tensor.Info {
		return []tensor.Info{{Name: "images", DType: tensor.Float32, Shape: shape}}
	}
	cases := []struct {
		name    string
		factory Factory
		model   Model
		want    []int64 // the input tensor's shape; nil when the model must be refused
		box     []any   // the detector's answer for a box at 10,10–20,20 of the model's input
		big     bool    // send the 3000x1500 image
	}{
		{"detector, [3,H,W]", newObjectDetector, Model{Inputs: image(3, -1, -1), Outputs: boxes}, []int64{3, 40, 50}, []any{10.0, 10.0, 20.0, 20.0}, false},
		{"detector, [3,H,W], a large image", newObjectDetector, Model{Inputs: image(3, -1, -1), Outputs: boxes}, []int64{3, 1024, 2048},
			[]any{14.65, 14.65, 29.3, 29.3}, true},
		{"detector, size 100", newObjectDetector, Model{Inputs: image(3, -1, -1), Outputs: boxes, Config: config{"size": 100}}, []int64{3, 100, 100}, []any{5.0, 4.0, 10.0, 8.0}, false},
		{"YOLO detector, [1,3,H,W]: YOLO's 640", newObjectDetector, Model{Inputs: image(1, 3, -1, -1),
			Outputs: []tensor.Info{{Name: "output0", DType: tensor.Float32, Shape: []int64{1, 7, -1}}}, Config: config{"output_format": "yolov8"}}, []int64{1, 3, 640, 640}, nil, false},
		{"segmenter, [N,3,H,W]", newImageSegmenter, Model{Inputs: image(-1, 3, -1, -1), Outputs: seg}, []int64{1, 3, 40, 50}, nil, false},
		{"segmenter, a large image: within 520 pixels", newImageSegmenter, Model{Inputs: image(-1, 3, -1, -1), Outputs: seg}, []int64{1, 3, 260, 520}, nil, true},
		{"segmenter, max_size 1000", newImageSegmenter, Model{Inputs: image(-1, 3, -1, -1), Outputs: seg, Config: config{"max_size": 1000}}, []int64{1, 3, 500, 1000}, nil, true},
		{"detector, max_size 0", newObjectDetector, Model{Inputs: image(3, -1, -1), Outputs: boxes, Config: config{"max_size": 0}}, nil, nil, false},
		{"classifier, [N,3,H,W]", newImageClassifier, Model{Inputs: image(-1, 3, -1, -1), Outputs: logits}, []int64{1, 3, 224, 224}, nil, false},
		{"classifier, size 0", newImageClassifier, Model{Inputs: image(-1, 3, -1, -1), Outputs: logits, Config: config{"size": 0}}, []int64{1, 3, 40, 50}, nil, false},
		{"size 0 for a fixed size", newImageClassifier, Model{Inputs: image(1, 3, 32, 32), Outputs: logits, Config: config{"size": 0}}, nil, nil, false},
		{"negative size", newObjectDetector, Model{Inputs: image(3, -1, -1), Outputs: boxes, Config: config{"size": -1}}, nil, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.model.Dir = t.TempDir()
			h, err := c.factory(&c.model)
			if c.want == nil {
				if err == nil || !strings.Contains(err.Error(), "handler setting size") && !strings.Contains(err.Error(), "handler setting max_size") {
					t.Fatalf("error %v, want one about the size or max_size setting", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body := img
			if c.big {
				body = big
			}
			req := &Request{Inputs: []Input{{Name: "body", Data: body}}}
			in, err := h.Preprocess(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(in[0].Shape, c.want) {
				t.Errorf("input shape %v, want %v", in[0].Shape, c.want)
			}
			if c.box == nil {
				return
			}
			res, err := h.Postprocess(context.Background(), req, []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{10, 10, 20, 20}),
				tensor.New([]int64{1}, []int64{0}), tensor.New([]int64{1}, []float32{0.9})})
			if err != nil {
				t.Fatal(err)
			}
			var got []map[string]any
			if err := json.Unmarshal(res.Body, &got); err != nil || len(got) != 1 || !slices.Equal(got[0]["0"].([]any), c.box) {
				t.Errorf("answer %s, want the box at %v", res.Body, c.box)
			}
		})
	}
}

// TestOutputSetting: the classifiers read the output the output setting names (the first by
// default), and a name the model lacks stops it from loading.
func TestOutputSetting(t *testing.T) {
	image := []tensor.Info{{Name: "images", DType: tensor.Float32, Shape: []int64{-1, 3, 8, 8}}}
	text := []tensor.Info{{Name: "input_ids", DType: tensor.Int64, Shape: []int64{-1, -1}}}
	outs := []tensor.Info{{Name: "features", DType: tensor.Float32, Shape: []int64{-1, 3}}, {Name: "logits", DType: tensor.Float32, Shape: []int64{-1, 3}}}
	tensors := []*tensor.Tensor{tensor.New([]int64{1, 3}, []float32{9, 0, 0}), tensor.New([]int64{1, 3}, []float32{0, 0, 9})}
	for _, c := range []struct {
		name    string
		factory Factory
		inputs  []tensor.Info
		cfg     config
		best    string // the top class answered; "" when the model must be refused
	}{
		{"image, first output", newImageClassifier, image, nil, "sports"},                       // class 0 in samples/text's labels
		{"image, output logits", newImageClassifier, image, config{"output": "logits"}, "food"}, // class 2
		{"text, output logits", newTextClassifier, text, config{"output": "logits"}, "food"},
		{"image, no such output", newImageClassifier, image, config{"output": "probs"}, ""},
		{"segmenter, no such output", newImageSegmenter, image, config{"output": "probs"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := c.factory(&Model{Inputs: c.inputs, Outputs: outs, Dir: testenv.Path("samples/text"), Config: c.cfg})
			if c.best == "" {
				if err == nil || !strings.Contains(err.Error(), `the model has no output "probs"; its outputs are features`) {
					t.Fatalf("error %v, want one naming the missing output", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := h.Postprocess(context.Background(), &Request{}, tensors)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]float64
			json.Unmarshal(res.Body, &got)
			best := ""
			for k, v := range got {
				if best == "" || v > got[best] {
					best = k
				}
			}
			if best != c.best {
				t.Errorf("top class %q in %s, want %s", best, res.Body, c.best)
			}
		})
	}
}

// TestYOLOLayout: with no output_format set, the layout of a YOLO output is read from its
// shape (YOLOv5 and YOLOv8 exports, fixed or with dynamic boxes), and from the number of
// classes the labels name where it fits one layout exactly.
func TestYOLOLayout(t *testing.T) {
	for _, c := range []struct {
		shape   []int64
		classes int
		want    string
	}{
		{[]int64{1, 25200, 85}, 0, "yolo"},    // YOLOv5, 640x640, 80 classes
		{[]int64{1, -1, 85}, 0, "yolo"},       // YOLOv5, dynamic
		{[]int64{1, 84, 8400}, 0, "yolov8"},   // YOLOv8
		{[]int64{1, 84, -1}, 0, "yolov8"},     // YOLOv8, dynamic
		{[]int64{1, 3, 7}, 0, "yolo"},         // 3 boxes of 7 values: 3 cannot hold a box
		{[]int64{1, -1, -1}, 0, "yolo"},       // nothing to tell by: the default
		{[]int64{1, 25200, 6}, 0, "yolo"},     // one class
		{[]int64{1, 6, 3}, 2, "yolov8"},       // 3 boxes of 4 values and 2 class scores
		{[]int64{1, 10, 12}, 7, "yolo"},       // 10 boxes of 4 values, objectness, 7 classes
		{[]int64{1, 116, 8400}, 80, "yolov8"}, // YOLOv8-seg: classes and mask coefficients
	} {
		if got := yoloLayout(c.shape, c.classes); got != c.want {
			t.Errorf("%v, %d classes: %s, want %s", c.shape, c.classes, got, c.want)
		}
	}
}

// TestSegmenterOutputs: the segmenter reads scores [1, classes, H, W], scores [1, H, W,
// classes] for a model taking NHWC images, one-channel masks (class 1's probability), and
// class maps [1, H, W] (argmax inside the model, probability 1), each pixel in TorchServe's
// [H][W][class, probability] answer.
func TestSegmenterOutputs(t *testing.T) {
	nchw := tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{1, 3, 2, 2}}
	nhwc := tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{1, 2, 2, 3}}
	out := func(dt tensor.DType, shape ...int64) []tensor.Info {
		return []tensor.Info{{Name: "out", DType: dt, Shape: shape}}
	}
	// two classes over a 2x2 image: class 1 wins at pixels 1 and 3
	first := tensor.New([]int64{1, 2, 2, 2}, []float32{0.9, 0.2, 0.8, 0.4, 0.1, 0.8, 0.2, 0.6})
	last := tensor.New([]int64{1, 2, 2, 2}, []float32{0.9, 0.1, 0.2, 0.8, 0.8, 0.2, 0.4, 0.6})
	cases := []struct {
		name   string
		input  tensor.Info
		output []tensor.Info
		result *tensor.Tensor
		want   string    // the answer, or the error
		fed    imageSize // the size of the image fed (Preprocess's); zero: unknown
	}{
		{"classes first", nchw, out(tensor.Float32, 1, 2, 2, 2), first, `[[[0,0.9],[1,0.8]],[[0,0.8],[1,0.6]]]`, imageSize{}},
		{"classes last, NHWC images", nhwc, out(tensor.Float32, 1, 2, 2, 2), last, `[[[0,0.9],[1,0.8]],[[0,0.8],[1,0.6]]]`, imageSize{}},
		{"one image's scores, no batch", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{3, 2, 2}}, out(tensor.Float32, 2, 2, 2),
			tensor.New([]int64{2, 2, 2}, []float32{0.9, 0.2, 0.8, 0.4, 0.1, 0.8, 0.2, 0.6}), `[[[0,0.9],[1,0.8]],[[0,0.8],[1,0.6]]]`, imageSize{}},
		// NaN scores: a pixel whose every score is NaN is class 0 with no probability (null),
		// and a NaN score never wins over a number
		{"NaN scores", nchw, out(tensor.Float32, 1, 2, 2, 2),
			tensor.New([]int64{1, 2, 2, 2}, []float32{float32(math.NaN()), 0.2, 0.8, 0.4, float32(math.NaN()), float32(math.NaN()), 0.2, 0.6}),
			`[[[0,null],[0,0.2]],[[0,0.8],[1,0.6]]]`, imageSize{}},
		{"a class map", nchw, out(tensor.Int64, 1, 2, 2), tensor.New([]int64{1, 2, 2}, []int64{0, 1, 2, 1}), `[[[0,1],[1,1]],[[2,1],[1,1]]]`, imageSize{}},
		// one channel: a binary mask, each pixel the probability of class 1
		{"a binary mask", nchw, out(tensor.Float32, 1, 1, 2, 2), tensor.New([]int64{1, 1, 2, 2}, []float32{0.25, 0.75, 0.5, 1}), `[[[0,0.75],[1,0.75]],[[0,0.5],[1,1]]]`, imageSize{}},
		// floats [N, H, W]: a score per pixel with its channel squeezed out (a matte), read as
		// the binary mask above; or class indexes cast to floats (whole numbers, some above 1)
		{"a float score map", nchw, out(tensor.Float32, 1, 2, 2), tensor.New([]int64{1, 2, 2}, []float32{0.25, 0.75, 0.5, 1}), `[[[0,0.75],[1,0.75]],[[0,0.5],[1,1]]]`, imageSize{}},
		{"a float class map", nchw, out(tensor.Float32, 1, 2, 2), tensor.New([]int64{1, 2, 2}, []float32{0, 2, 1, 1}), `[[[0,1],[2,1]],[[1,1],[1,1]]]`, imageSize{}},
		{"a class map past 255", nchw, out(tensor.Int64, 1, 2, 2), tensor.New([]int64{1, 2, 2}, []int64{0, 300, 2, 1}), "want class indexes 0-255", imageSize{}},
		{"a float output of rank 2", nchw, out(tensor.Float32, 1, 4), nil, "image_segmenter reads an output [H, W] as one image's class map, of integers", imageSize{}},
		{"an output of rank 5", nchw, out(tensor.Float32, 1, 1, 2, 2, 2), nil, "image_segmenter needs an output [N, classes, H, W]", imageSize{}},
		// a class map with no batch dimension, [H, W] (a model that squeezed it)
		{"a class map [H, W]", nchw, out(tensor.Int64, 2, 2), tensor.New([]int64{2, 2}, []int64{0, 1, 2, 1}), `[[[0,1],[1,1]],[[2,1],[1,1]]]`, imageSize{}},
		// the layout whose spatial dimensions have the aspect of the image fed (2 x 3) wins
		// over the input's: an NCHW model answering NHWC scores (its classes were read as
		// rows: a 500 past 256 "classes", or a wrong answer); an NHWC model's float score map
		// [N, H, W] stays classes first
		{"classes last from an NCHW model", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 3, -1, -1}}, out(tensor.Float32, -1, -1, -1, 2),
			tensor.New([]int64{1, 2, 3, 2}, []float32{0.9, 0.1, 0.2, 0.8, 0.7, 0.3, 0.4, 0.6, 0.6, 0.4, 0.1, 0.9}),
			`[[[0,0.9],[1,0.8],[0,0.7]],[[1,0.6],[0,0.6],[1,0.9]]]`, imageSize{w: 3, h: 2, fedW: 3, fedH: 2}},
		{"a float score map from an NHWC model", tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{1, 2, 3, 3}}, out(tensor.Float32, 1, 2, 3),
			tensor.New([]int64{1, 2, 3}, []float32{0.25, 0.75, 0.5, 1, 0.1, 0.9}),
			`[[[0,0.75],[1,0.75],[0,0.5]],[[1,1],[0,0.9],[1,0.9]]]`, imageSize{w: 3, h: 2, fedW: 3, fedH: 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, err := newImageSegmenter(&Model{Inputs: []tensor.Info{c.input}, Outputs: c.output, Dir: t.TempDir(), Config: config{"softmax": "never"}})
			if c.result == nil {
				failsAs(t, err, c.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := h.Postprocess(context.Background(), &Request{Header: http.Header{}, State: c.fed}, []*tensor.Tensor{c.result})
			if !strings.HasPrefix(c.want, "[") {
				failsAs(t, err, c.want)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got any
			if err := json.Unmarshal(res.Body, &got); err != nil {
				t.Fatalf("%v: %s", err, res.Body)
			}
			compact, _ := json.Marshal(got)
			if string(compact) != c.want {
				t.Errorf("answer %s, want %s", compact, c.want)
			}
		})
	}
}

// TestDetectorRemembersSizes: Preprocess keeps the image's own size and the size the model
// was fed, which boxes are scaled back by: a fixed input, one at the image's own size (cut
// to 2048 pixels), a flattened one (whose tensor has no height or width to read), and a
// letterboxed one (where in the input the image lies), set or for an Ultralytics export.
func TestDetectorRemembersSizes(t *testing.T) {
	f32 := func(shape ...int64) tensor.Info { return tensor.Info{Name: "x", DType: tensor.Float32, Shape: shape} }
	boxes := []tensor.Info{{Name: "boxes", DType: tensor.Float32, Shape: []int64{-1, 4}},
		{Name: "labels", DType: tensor.Int64, Shape: []int64{-1}}, {Name: "scores", DType: tensor.Float32, Shape: []int64{-1}}}
	yolo := []tensor.Info{f32(1, 84, 8400)}
	ultralytics := map[string]string{"author": "Ultralytics", "task": "detect"}
	for _, c := range []struct {
		name       string
		input      tensor.Info
		outputs    []tensor.Info
		cfg        config
		metadata   map[string]string
		imgW       int
		imgH       int
		fedW, fedH int
		content    image.Rectangle
	}{
		{"fixed 64x64", f32(1, 3, 64, 64), boxes, nil, nil, 100, 50, 64, 64, image.Rectangle{}},
		{"own size", f32(3, -1, -1), boxes, nil, nil, 4096, 1024, 2048, 512, image.Rectangle{}},
		{"flattened 16x16", f32(3 * 16 * 16), boxes, nil, nil, 40, 30, 16, 16, image.Rectangle{}},
		{"letterboxed", f32(1, 3, 64, 64), boxes, config{"letterbox": true}, nil, 100, 50, 64, 64, image.Rect(0, 16, 64, 48)},
		{"letterboxed: an Ultralytics export", f32(1, 3, 64, 64), yolo, nil, ultralytics, 50, 100, 64, 64, image.Rect(16, 0, 48, 64)},
		{"an Ultralytics export, letterbox off", f32(1, 3, 64, 64), yolo, config{"letterbox": false}, ultralytics, 50, 100, 64, 64, image.Rectangle{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := newObjectDetector(&Model{Inputs: []tensor.Info{c.input}, Outputs: c.outputs, Dir: t.TempDir(), Config: c.cfg, Metadata: c.metadata})
			if err != nil {
				t.Fatal(err)
			}
			req := &Request{Inputs: []Input{{Name: "body", Data: pngBytes(t, solid(c.imgW, c.imgH, color.White))}}}
			if _, err := h.Preprocess(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			if got, want := req.State, (imageSize{w: c.imgW, h: c.imgH, fedW: c.fedW, fedH: c.fedH, content: c.content}); got != want {
				t.Errorf("sizes %+v, want %+v", got, want)
			}
		})
	}
}

// TestLetterbox: a letterboxed image keeps its aspect, centred on Ultralytics' grey, and the
// boxes found in it map back to the image's own pixels.
func TestLetterbox(t *testing.T) {
	prepared, content := letterbox(solid(100, 50, color.White), 64, 64)
	if b := prepared.Bounds(); b.Dx() != 64 || b.Dy() != 64 || content != image.Rect(0, 16, 64, 48) {
		t.Fatalf("letterboxed to %v, content %v", b, content)
	}
	for _, p := range []struct {
		x, y int
		want uint8
	}{{0, 0, 114}, {63, 15, 114}, {32, 32, 255}, {0, 48, 114}} {
		if r, _, _, _ := prepared.At(p.x, p.y).RGBA(); uint8(r>>8) != p.want {
			t.Errorf("pixel (%d, %d) = %d, want %d", p.x, p.y, r>>8, p.want)
		}
	}
	h, err := newObjectDetector(&Model{Inputs: []tensor.Info{{Name: "images", DType: tensor.Float32, Shape: []int64{1, 3, 64, 64}}},
		Outputs: []tensor.Info{{Name: "output0", DType: tensor.Float32, Shape: []int64{1, 1, 7}}}, Dir: t.TempDir(), Config: config{"letterbox": true}})
	if err != nil {
		t.Fatal(err)
	}
	// one box centred in the input, 32 x 16: in the letterboxed 100 x 50 image, x 16-48 and
	// y 24-40 of the input are x 25-75 and y 12.5-37.5 of the image
	res, err := h.Postprocess(context.Background(), &Request{State: imageSize{w: 100, h: 50, fedW: 64, fedH: 64, content: content}},
		[]*tensor.Tensor{tensor.New([]int64{1, 1, 7}, []float32{32, 32, 32, 16, 0.9, 0.1, 0.9})})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(string(res.Body)), ""); got != `[{"1":[25,12.5,75,37.5],"score":0.80999994}]` {
		t.Errorf("detections %s", got)
	}
}

// TestPerClassScores: a detector whose outputs are boxes [1, boxes, 4] and a score per class
// for each box, scores [1, boxes, classes], with no labels (an SSD's or a face detector's raw
// output, such as Ultra-Light-Fast-Generic-Face-Detector's): each box's best class other
// than the background column, overlapping boxes suppressed, fractions of the image mapped to
// its pixels.
func TestPerClassScores(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, LabelsFile), []byte(`{"1": "face"}`), 0o644)
	input := tensor.Info{Name: "input", DType: tensor.Float32, Shape: []int64{1, 3, 240, 320}}
	outputs := []tensor.Info{{Name: "scores", DType: tensor.Float32, Shape: []int64{1, -1, 2}}, {Name: "boxes", DType: tensor.Float32, Shape: []int64{1, -1, 4}}}
	scores := tensor.New([]int64{1, 3, 2}, []float32{0.1, 0.9, 0.2, 0.8, 0.95, 0.05})
	boxes := tensor.New([]int64{1, 3, 4}, []float32{0.1, 0.1, 0.5, 0.5, 0.12, 0.1, 0.5, 0.52, 0.6, 0.6, 0.9, 0.9})
	for _, c := range []struct {
		name string
		cfg  config
		want string
	}{
		{"defaults", nil, `[{"face":[20,10,100,50],"score":0.9}]`},
		{"no NMS, no background column", config{"nms": false, "background": -1}, `[{"0":[120,60,180,90],"score":0.95},{"face":[20,10,100,50],"score":0.9},{"face":[24,10,100,52],"score":0.8}]`},
		// a YOLO model's split outputs: class 0 is a class (person), not a background
		{"labels naming class 0", config{"threshold": 0.85}, `[{"person":[120,60,180,90],"score":0.95},{"face":[20,10,100,50],"score":0.9}]`},
	} {
		if c.name == "labels naming class 0" {
			os.WriteFile(filepath.Join(dir, LabelsFile), []byte(`{"0": "person", "1": "face"}`), 0o644)
		}
		h, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: outputs, Dir: dir, Config: c.cfg})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		res, err := h.Postprocess(context.Background(), &Request{State: imageSize{w: 200, h: 100, fedW: 320, fedH: 240}}, []*tensor.Tensor{scores, boxes})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := strings.Join(strings.Fields(string(res.Body)), ""); got != c.want {
			t.Errorf("%s: %s\nwant %s", c.name, got, c.want)
		}
	}
}

// TestUnnamedBoxesAndScores: two outputs with names that say nothing, boxes [1, boxes, 4]
// in the input's pixels and a score per class [1, boxes, classes] (YOLO-NAS's export), read
// as the boxes format with per-class scores: no background, NMS.
func TestUnnamedBoxesAndScores(t *testing.T) {
	input := tensor.Info{Name: "input", DType: tensor.Float32, Shape: []int64{1, 3, 64, 64}}
	outputs := []tensor.Info{{Name: "911", DType: tensor.Float32, Shape: []int64{1, 2, 3}}, {Name: "903", DType: tensor.Float32, Shape: []int64{1, 2, 4}}}
	h, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: outputs, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Postprocess(context.Background(), &Request{State: imageSize{w: 128, h: 128, fedW: 64, fedH: 64}},
		[]*tensor.Tensor{tensor.New([]int64{1, 2, 3}, []float32{0.8, 0.1, 0.1, 0.1, 0.1, 0.2}), tensor.New([]int64{1, 2, 4}, []float32{8, 8, 24, 24, 0, 0, 4, 4})})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(string(res.Body)), ""); got != `[{"0":[16,16,48,48],"score":0.8}]` {
		t.Errorf("detections %s", got)
	}
	for _, bad := range [][]tensor.Info{
		{outputs[0], outputs[1], outputs[1]},                           // three outputs
		{{DType: tensor.Float32, Shape: []int64{1, 5, 3}}, outputs[1]}, // 5 boxes against 2
		{{DType: tensor.Float32, Shape: []int64{1, 2, 4}}, outputs[1]}, // both could be boxes
	} {
		if b, s := boxesAndClassScores(bad); b >= 0 || s >= 0 {
			t.Errorf("%v: boxes %d, scores %d", bad, b, s)
		}
	}
}

// TestBackgroundColumn: which column of per-class scores is taken for the background.
func TestBackgroundColumn(t *testing.T) {
	scores := func(classes int64) tensor.Info { return tensor.Info{Shape: []int64{1, -1, classes}} }
	for _, c := range []struct {
		labels  labels
		classes int64
		want    int
	}{
		{nil, 2, 0},   // background, face
		{nil, 80, -1}, // a YOLO model's classes
		{labels{1: "face"}, 2, 0},
		{labels{0: "__background__", 1: "person"}, 91, 0},
		{labels{0: "person", 1: "bicycle"}, 80, -1},
	} {
		h := &objectDetector{labels: c.labels}
		if got := h.backgroundColumn(scores(c.classes)); got != c.want {
			t.Errorf("labels %v, %d columns: background %d, want %d", c.labels, c.classes, got, c.want)
		}
	}
}

// TestSegmenterMaskSize: with mask_size image, the mask (here 2x2, from a 4x4 input) is
// resampled to the image's own size (8x4), each pixel taking the class under it; the
// default answers the model's own size; an unknown value is refused.
func TestSegmenterMaskSize(t *testing.T) {
	input := tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{1, 3, 4, 4}}
	output := tensor.Info{Name: "out", DType: tensor.Float32, Shape: []int64{1, 2, 2, 2}}
	scores := tensor.New([]int64{1, 2, 2, 2}, []float32{1, 0, 0, 1, 0, 1, 1, 0}) // classes [[0 1] [1 0]]
	for _, c := range []struct {
		cfg  config
		want string
	}{
		{nil, "[[0 1] [1 0]]"},
		{config{"mask_size": "image"}, "[[0 0 0 0 1 1 1 1] [0 0 0 0 1 1 1 1] [1 1 1 1 0 0 0 0] [1 1 1 1 0 0 0 0]]"},
	} {
		h, err := newImageSegmenter(&Model{Inputs: []tensor.Info{input}, Outputs: []tensor.Info{output}, Dir: t.TempDir(), Config: c.cfg})
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Postprocess(context.Background(), &Request{State: imageSize{w: 8, h: 4, fedW: 4, fedH: 4}}, []*tensor.Tensor{scores})
		if err != nil {
			t.Fatal(err)
		}
		var mask [][][2]float64
		if err := json.Unmarshal(res.Body, &mask); err != nil {
			t.Fatal(err)
		}
		classes := make([][]int, len(mask))
		for y, row := range mask {
			for _, p := range row {
				classes[y] = append(classes[y], int(p[0]))
			}
		}
		if got := fmt.Sprint(classes); got != c.want {
			t.Errorf("mask_size %v: %s, want %s", c.cfg["mask_size"], got, c.want)
		}
	}
	if _, err := newImageSegmenter(&Model{Inputs: []tensor.Info{input}, Outputs: []tensor.Info{output}, Dir: t.TempDir(), Config: config{"mask_size": "big"}}); err == nil ||
		!strings.Contains(err.Error(), `mask_size: want model or image, got "big"`) {
		t.Errorf("mask_size big: %v", err)
	}
}

// TestYOLOv2Grid: YOLOv2's grid decodes the same whether its channels come first (Core ML's
// and ONNX's model zoo's [1, 125, rows, columns]) or last (Keras's [1, rows, columns, 125]);
// a grid of classes that are neither 20 nor 80 needs its anchors set.
func TestYOLOv2Grid(t *testing.T) {
	const rows, cols, channels = 2, 2, 125
	first := make([]float32, channels*rows*cols)
	last := make([]float32, channels*rows*cols)
	set := func(k, y, x int, v float32) {
		first[(k*rows+y)*cols+x] = v
		last[(y*cols+x)*channels+k] = v
	}
	for a := range 5 {
		for y := range rows {
			for x := range cols {
				set(a*25+4, y, x, -30)
			}
		}
	}
	set(4, 0, 1, 30)
	set(5+14, 0, 1, 30)
	set(2*25+4, 1, 0, 30) // anchor 2 in row 1, column 0: classes all alike, so 1/20 × 1
	for _, c := range []struct {
		name  string
		shape []int64
		data  []float32
	}{{"channels first", []int64{1, channels, rows, cols}, first}, {"channels last", []int64{1, rows, cols, channels}, last}} {
		t.Run(c.name, func(t *testing.T) {
			h := &objectDetector{threshold: 0.5}
			if err := h.yoloV2Anchors(tensor.Info{Name: "grid", DType: tensor.Float32, Shape: c.shape}, nil); err != nil {
				t.Fatal(err)
			}
			dets, err := h.decodeYOLOv2(tensor.New(c.shape, c.data), 64, 64)
			if err != nil {
				t.Fatal(err)
			}
			want := [4]float64{48 - 1.08*16, 16 - 1.19*16, 48 + 1.08*16, 16 + 1.19*16}
			if len(dets) != 1 || dets[0].class != 14 || math.Abs(dets[0].score-1) > 1e-6 {
				t.Fatalf("detections %+v, want one of class 14", dets)
			}
			for i := range want {
				if math.Abs(dets[0].box[i]-want[i]) > 1e-9 {
					t.Errorf("box %v, want %v", dets[0].box, want)
				}
			}
		})
	}
	h := &objectDetector{}
	if err := h.yoloV2Anchors(tensor.Info{Name: "grid", Shape: []int64{1, 40, 13, 13}}, nil); err == nil || !strings.Contains(err.Error(), "set handler.anchors") {
		t.Errorf("a grid of 3 classes: %v", err)
	}
	if err := h.yoloV2Anchors(tensor.Info{Name: "grid", Shape: []int64{1, 40, 13, 13}}, config{"anchors": []any{1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 5.0, 5.0}}); err != nil || len(h.anchors) != 10 {
		t.Errorf("anchors set: %v %v", err, h.anchors)
	}
	if err := h.yoloV2Anchors(tensor.Info{Name: "grid", Shape: []int64{1, 40, 13, 13}}, config{"anchors": []any{1.0, 1.0, 2.0}}); err == nil {
		t.Error("an odd number of anchor values taken")
	}
}

// max_detections: at most 300 boxes are answered by default (Ultralytics' max_det), the
// best ones, with or without NMS; 0 answers all; a negative value is refused.
func TestMaxDetections(t *testing.T) {
	const n = 2000 // apart from each other, so NMS keeps every one
	input := tensor.Info{Name: "images", DType: tensor.Float32, Shape: []int64{1, 3, 640, 640}}
	rows := make([]float32, 6*n) // yolov8: [1, 4+2 classes, boxes]
	for i := range n {
		rows[i], rows[n+i], rows[2*n+i], rows[3*n+i] = float32(i%40)*16+8, float32(i/40)*12+6, 4, 4
		rows[4*n+i] = 0.5 + 0.49*float32(i)/n // class 0, rising scores: the last is the best
	}
	out := []*tensor.Tensor{tensor.New([]int64{1, 6, n}, rows)}
	for _, c := range []struct {
		cfg  config
		want int
	}{
		{config{}, 300},
		{config{"nms": false}, 300},
		{config{"max_detections": 5}, 5},
		{config{"max_detections": 0}, n},
	} {
		c.cfg["output_format"] = "yolov8"
		h, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: []tensor.Info{{DType: tensor.Float32, Shape: []int64{1, 6, -1}}}, Dir: t.TempDir(), Config: c.cfg})
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Postprocess(context.Background(), &Request{State: imageSize{w: 640, h: 640, fedW: 640, fedH: 640}}, out)
		if err != nil {
			t.Fatal(err)
		}
		var got []map[string]any
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != c.want || got[0]["score"].(float64) < 0.989 {
			t.Errorf("%v: %d detections, the first %v; want %d, the best first", c.cfg, len(got), got[0], c.want)
		}
	}
	if _, err := newObjectDetector(&Model{Inputs: []tensor.Info{input}, Outputs: []tensor.Info{{DType: tensor.Float32, Shape: []int64{1, 6, -1}}},
		Dir: t.TempDir(), Config: config{"output_format": "yolov8", "max_detections": -1}}); err == nil {
		t.Error("max_detections -1 accepted")
	}
}
