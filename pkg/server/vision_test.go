package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// visionPython is a Python interpreter with numpy and Pillow, which the kit's TorchServe
// vision handlers need. CI must have one (.ci/run installs python3-numpy and python3-pil,
// and sets TS_NO_PIL when it cannot); elsewhere the test is skipped with a note.
func visionPython(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"python3", "/usr/bin/python3"} {
		if p, err := exec.LookPath(name); err == nil && exec.Command(p, "-c", "import numpy, PIL").Run() == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" && os.Getenv("TS_NO_PIL") == "" && os.Getenv("TS_NO_NUMPY") == "" {
		t.Fatal("no python3 with numpy and Pillow; CI needs one to test the Python kit's vision handlers")
	}
	t.Skip("no python3 with numpy and Pillow (apt-get install python3-numpy python3-pil): the kit's vision handlers are not exercised")
	return ""
}

// solidPNG is a width×height PNG of one colour.
func solidPNG(t *testing.T, c color.Color, width, height int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, width, height))
	for y := range height {
		for x := range width {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestTorchServeVisionHandlers: handler files written for TorchServe that subclass its
// ImageClassifier, ObjectDetector and ImageSegmenter serve an ONNX model with the kit's
// versions of them:
// ImageNet's preprocessing of an image file, the classifier's softmax and top classes named
// by index_to_name.json (the same numbers as ts's own image_classifier on a one-colour image,
// where resampling cannot differ), the detector's boxes over its threshold named by label,
// the segmenter's class and probability for each pixel of its own image size.
func TestTorchServeVisionHandlers(t *testing.T) {
	python := visionPython(t)
	ts := emptyServer(t, nil)
	labels := filepath.Join(t.TempDir(), "index_to_name.json")
	os.WriteFile(labels, []byte(`{"0": "red", "1": "green", "2": "blue", "3": "gray"}`), 0o644)
	config := modelConfig(t, "handler:\n  python: "+python+"\n")
	classifier := testenv.Path("pkg/handler/testdata/vision_classifier.onnx")
	ts.registerArchive(t, archive.PackOptions{ModelName: "toptwo", SerializedFile: classifier,
		Handler: testenv.Path("pkg/handler/testdata/torchserve_classifier.py"), ExtraFiles: []string{labels}, ConfigFile: config}, "initial_workers=1")
	ts.registerArchive(t, archive.PackOptions{ModelName: "builtin", SerializedFile: classifier, Handler: "image_classifier", ExtraFiles: []string{labels}}, "initial_workers=1")
	detectorLabels := filepath.Join(t.TempDir(), "index_to_name.json")
	os.WriteFile(detectorLabels, []byte(`{"1": "apple", "3": "sky"}`), 0o644)
	ts.registerArchive(t, archive.PackOptions{ModelName: "detector", SerializedFile: testenv.Path("pkg/handler/testdata/vision_detector.onnx"),
		Handler: testenv.Path("pkg/handler/testdata/torchserve_detector.py"), ExtraFiles: []string{detectorLabels}, ConfigFile: config}, "initial_workers=1")
	ts.registerArchive(t, archive.PackOptions{ModelName: "segments", SerializedFile: testenv.Path("pkg/handler/testdata/vision_segmenter.onnx"),
		Handler: testenv.Path("pkg/handler/testdata/torchserve_segmenter.py"), ConfigFile: config}, "initial_workers=1")

	classes := func(model string, img []byte) map[string]float64 {
		t.Helper()
		status, b, _, err := send("POST", ts.inference.URL+"/predictions/"+model, img, "Content-Type", "image/png")
		var answer map[string]float64
		if err != nil || status != 200 || json.Unmarshal(b, &answer) != nil {
			t.Fatalf("%s: %d %v %s", model, status, err, b)
		}
		return answer
	}
	for name, c := range map[string]color.Color{"red": color.RGBA{255, 0, 0, 255}, "blue": color.RGBA{0, 0, 255, 255}} {
		img := solidPNG(t, c, 300, 200) // resized to 256 on its shorter side, cut to 224
		top, builtin := classes("toptwo", img), classes("builtin", img)
		if len(top) != 2 {
			t.Errorf("%s: %v, want the top two classes", name, top)
		}
		best, p := "", 0.0
		for label, q := range top {
			if q > p {
				best, p = label, q
			}
			if math.Abs(q-builtin[label]) > 1e-5 {
				t.Errorf("%s: %s %v from TorchServe's classifier, %v from ts's", name, label, q, builtin[label])
			}
		}
		if best != name {
			t.Errorf("%s image: %v", name, top)
		}
	}

	detections := func(img []byte) []map[string]any {
		t.Helper()
		status, b, _, err := send("POST", ts.inference.URL+"/predictions/detector", img, "Content-Type", "image/png")
		var answer []map[string]any
		if err != nil || status != 200 || json.Unmarshal(b, &answer) != nil {
			t.Fatalf("detector: %d %v %s", status, err, b)
		}
		return answer
	}
	red := detections(solidPNG(t, color.RGBA{255, 0, 0, 255}, 30, 20))
	if len(red) != 1 || red[0]["score"] != 1.0 || fmt.Sprint(red[0]["apple"]) != "[0 0 10 10]" {
		t.Errorf("a red image: %v, want the apple alone (score 1) with its box", red)
	}
	purple := detections(solidPNG(t, color.RGBA{128, 0, 255, 255}, 30, 20)) // red 0.5, under the threshold of 0.6
	if len(purple) != 1 || purple[0]["score"] != 1.0 || fmt.Sprint(purple[0]["sky"]) != "[5 5 20 20]" {
		t.Errorf("a purple image: %v, want the sky alone", purple)
	}

	for name, want := range map[string]float64{"red": 1, "blue": 0} {
		c := map[string]color.Color{"red": color.RGBA{255, 0, 0, 255}, "blue": color.RGBA{0, 0, 255, 255}}[name]
		status, b, _, err := send("POST", ts.inference.URL+"/predictions/segments", solidPNG(t, c, 20, 20), "Content-Type", "image/png")
		var pixels [][][2]float64
		if err != nil || status != 200 || json.Unmarshal(b, &pixels) != nil || len(pixels) != 8 || len(pixels[0]) != 8 {
			t.Fatalf("segments, %s: %d %v %.300s", name, status, err, b)
		}
		for _, row := range pixels {
			for _, px := range row {
				if px[0] != want || px[1] < 0.5 || px[1] > 1 {
					t.Fatalf("segments, %s: pixel %v, want class %v with its probability", name, px, want)
				}
			}
		}
	}
}
