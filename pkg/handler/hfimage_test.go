package handler

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

// TestHFImageProcessor: a Hugging Face preprocessor_config.json in the archive sets the
// image preprocessing (as the model's processors in transformers do it) under the handler's
// own settings, and its size yields to a model's fixed height and width; an Ultralytics
// export (its ONNX metadata says so) is not normalised, and its classifier resizes to the
// crop's size.
func TestHFImageProcessor(t *testing.T) {
	dynamic := tensor.Info{Name: "pixel_values", DType: tensor.Float32, Shape: []int64{-1, 3, -1, -1}}
	fixed := tensor.Info{Name: "pixel_values", DType: tensor.Float32, Shape: []int64{-1, 3, 224, 224}}
	type want struct {
		size, resize int
		mean, std    []float64
		scale        float64
		bgr          bool
	}
	cases := []struct {
		name, file string
		input      tensor.Info
		cfg        config
		want       want
	}{
		{"ViT: straight to a square, mean and std 0.5", `{"do_normalize": true, "do_rescale": true, "do_resize": true,
			"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 2, "rescale_factor": 0.00392156862745098,
			"size": {"height": 224, "width": 224}}`, dynamic, nil,
			want{224, 0, []float64{0.5, 0.5, 0.5}, []float64{0.5, 0.5, 0.5}, 255, false}},
		{"ConvNeXT: shortest edge over crop_pct, then the crop", `{"crop_pct": 0.875, "do_normalize": true, "do_rescale": true,
			"do_resize": true, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225], "rescale_factor": 0.00392156862745098,
			"size": {"shortest_edge": 224}}`, dynamic, nil,
			want{224, 256, imagenetMean, imagenetStd, 255, false}},
		{"DeiT: resize to 256, centre crop 224", `{"do_center_crop": true, "crop_size": {"height": 224, "width": 224},
			"size": {"height": 256, "width": 256}, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]}`, dynamic, nil,
			want{224, 256, imagenetMean, imagenetStd, 255, false}},
		{"MobileViT: no normalization, BGR, older int sizes", `{"do_center_crop": true, "crop_size": 256, "size": 288,
			"do_flip_channel_order": true, "do_normalize": false}`, dynamic, nil,
			want{256, 288, []float64{0}, []float64{1}, 255, true}},
		{"model-config.yaml wins", `{"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "size": {"height": 384, "width": 384}}`,
			dynamic, config{"mean": []any{0.1}, "size": 300},
			want{300, 0, []float64{0.1}, []float64{0.5, 0.5, 0.5}, 255, false}},
		{"the model's fixed size wins over the file's", `{"size": {"height": 384, "width": 384}, "do_rescale": false}`,
			fixed, nil, want{224, 0, imagenetMean, imagenetStd, 1, false}},
		{"no file: torchvision's defaults", "", fixed, nil, want{224, 256, imagenetMean, imagenetStd, 255, false}},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if c.file != "" {
			os.WriteFile(filepath.Join(dir, HFImageProcessorFile), []byte(c.file), 0o644)
		}
		s, err := modelImageSpec("image_classifier", &Model{Inputs: []tensor.Info{c.input}, Dir: dir, Config: c.cfg}, c.cfg, nil, classifierSide)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := want{s.height, s.resize, s.mean, s.std, s.scale, s.bgr}
		if got.size != c.want.size || s.width != c.want.size || got.resize != c.want.resize || !slices.Equal(got.mean, c.want.mean) ||
			!slices.Equal(got.std, c.want.std) || got.scale != c.want.scale || got.bgr != c.want.bgr {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	// DETR's processor: images at their own size (the detector's default), within longest_edge
	detr := t.TempDir()
	os.WriteFile(filepath.Join(detr, HFImageProcessorFile), []byte(`{"do_resize": true, "size": {"shortest_edge": 800, "longest_edge": 1333}}`), 0o644)
	if s, err := modelImageSpec("object_detector", &Model{Inputs: []tensor.Info{dynamic}, Dir: detr}, nil, nil, ownSize); err != nil || s.height != 0 || s.maxSide != 1333 {
		t.Errorf("DETR: size %d, max_size %d, %v; want 0 (own size) and 1333", s.height, s.maxSide, err)
	}
	// Ultralytics' models take pixels in [0, 1], not normalised
	yolo := &Model{Inputs: []tensor.Info{fixed}, Dir: t.TempDir(), Metadata: map[string]string{"author": "Ultralytics", "task": "classify", "imgsz": "[224, 224]"}}
	if s, err := modelImageSpec("image_classifier", yolo, nil, nil, classifierSide); err != nil || !slices.Equal(s.mean, []float64{0}) || !slices.Equal(s.std, []float64{1}) || s.resize != 224 {
		t.Errorf("Ultralytics: mean %v, std %v, resize %d, %v", s.mean, s.std, s.resize, err)
	}
	// a dynamic-size export is fed at the size it was exported for; a fixed one at its own
	detect := map[string]string{"author": "Ultralytics", "task": "detect", "imgsz": "[320, 320]"}
	for _, c := range []struct {
		input tensor.Info
		want  int
	}{{dynamic, 320}, {fixed, 224}} {
		s, err := modelImageSpec("object_detector", &Model{Inputs: []tensor.Info{c.input}, Dir: t.TempDir(), Metadata: detect}, nil, nil, yoloSide)
		if err != nil || s.height != c.want || s.width != c.want {
			t.Errorf("Ultralytics detector, input %v: %dx%d, %v; want %d", c.input.Shape, s.width, s.height, err, c.want)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, HFImageProcessorFile), []byte(`{"size": "big"}`), 0o644)
	if _, err := modelImageSpec("image_classifier", &Model{Inputs: []tensor.Info{dynamic}, Dir: dir}, nil, nil, classifierSide); err == nil {
		t.Error("a preprocessor_config.json that cannot be read was accepted")
	}
}
