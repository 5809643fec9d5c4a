package server

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"image"
	"image/png"
	"io"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// sampleServer packs a sample with its handler, labels and model-config.yaml (when it has
// one) and registers it with one worker.
func sampleServer(t *testing.T, ts *testServer, name, sample, handler string, extra ...string) {
	t.Helper()
	o := archive.PackOptions{ModelName: name, SerializedFile: testenv.Path("samples", sample, "model.onnx"), Handler: handler,
		ExportPath: t.TempDir()}
	for _, e := range append([]string{"index_to_name.json"}, extra...) {
		o.ExtraFiles = append(o.ExtraFiles, testenv.Path("samples", sample, e))
	}
	if p := testenv.Path("samples", sample, "model-config.yaml"); fileExists(p) {
		o.ConfigFile = p
	}
	ts.registerArchive(t, o, "initial_workers=1")
}

// registerArchive packs an archive into the server's model store and registers it
// synchronously with the query parameters params ("initial_workers=1&..."), wanting the
// workers they ask for.
func (ts *testServer) registerArchive(t *testing.T, o archive.PackOptions, params string) {
	t.Helper()
	ts.storeArchive(t, o)
	want := "registered with"
	if q, err := url.ParseQuery(params); err == nil && q.Get("initial_workers") != "" {
		want = "registered with " + q.Get("initial_workers") + " initial workers"
	}
	exchange{"register " + o.ModelName, "POST", "/models?url=" + o.ModelName + ".mar&synchronous=true&" + params, "", nil, 200, "", want}.run(t, ts.management.URL)
}

// modelConfig writes yaml as a model-config.yaml of its own, for an archive's ConfigFile.
func modelConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model-config.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// storeArchive packs an archive into the server's model store as MODELNAME.mar.
func (ts *testServer) storeArchive(t *testing.T, o archive.PackOptions) {
	t.Helper()
	o.ExportPath = t.TempDir()
	res, err := archive.Pack(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(res.Path, filepath.Join(ts.store, o.ModelName+".mar")); err != nil {
		t.Fatal(err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func post(t *testing.T, url string, body []byte, header ...string) (int, []byte, string) {
	t.Helper()
	status, b, h, err := send("POST", url, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return status, b, h.Get("Content-Type")
}

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		os.WriteFile(path, got, 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) && !(json.Valid(want) && sameJSON(got, want)) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

// sameJSON reports whether two JSON documents hold the same tokens in the same order (keys
// and all), numbers within a relative 1e-5 of each other: ONNX Runtime picks its kernels by
// the CPU (AVX2, AVX-512), so a model's float32 outputs may differ in their last bits from
// one machine to another.
func sameJSON(a, b []byte) bool {
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	for {
		ta, errA := da.Token()
		tb, errB := db.Token()
		if errA != nil || errB != nil {
			return errA == io.EOF && errB == io.EOF
		}
		na, okA := ta.(json.Number)
		nb, okB := tb.(json.Number)
		if !okA || !okB {
			if ta != tb {
				return false
			}
			continue
		}
		fa, errA := na.Float64()
		fb, errB := nb.Float64()
		if errA != nil || errB != nil || math.Abs(fa-fb) > 1e-5*max(math.Abs(fa), math.Abs(fb)) {
			return false
		}
	}
}

// TestThirdPartyDetectors: object detectors as other tools export them serve with the
// built-in object_detector and no settings, their boxes in the pixels of the image sent:
// TensorFlow's Object Detection API through tf2onnx (tfdetector.onnx: a uint8 NHWC image of
// any size, outputs detection_boxes:0 ... with boxes y1, x1, y2, x2 in [0, 1], only
// num_detections of them), Hugging Face's DETR (detr.onnx: logits and pred_boxes, labels in
// config.json's id2label, the "no object" query left out), and Ultralytics' YOLOv8
// (yolov8.onnx: class names, task and size in the ONNX metadata; the layout read from the
// classes, the image letterboxed into the input), YOLOv3 as ONNX's model zoo has it
// (yolov3.onnx: the image's size as a second input, the indices ONNX's NonMaxSuppression
// selected as an output), RT-DETR's exports (sizedetector.onnx: the size as
// orig_target_sizes, width first), Tiny YOLOv2 and YOLOv4 as ONNX's model zoo has them
// (yolov2.onnx: a grid of anchors' boxes; yolov4.onnx: three heads of them).
func TestThirdPartyDetectors(t *testing.T) {
	ts := emptyServer(t, nil)
	for _, c := range []struct {
		name, model       string
		labelFile, labels string // an extra file for the archive, when not ""
		width, height     int
		want              string
	}{
		{"tensorflow", "tfdetector", "index_to_name.json", `{"1": "person", "18": "dog"}`, 300, 100,
			`[{"dog":[60,10,120,30],"score":0.9},{"person":[150,50,300,100],"score":0.6}]`},
		{"detr", "detr", "config.json", `{"id2label": {"0": "cat", "1": "dog", "2": "bird"}}`, 300, 100,
			`[{"dog":[120,30,180,70],"score":0.98018664},{"cat":[0,0,150,50],"score":0.8700485}]`},
		{"ultralytics", "yolov8", "", "", 128, 64, // letterboxed to 64x32, 16 pixels of grey above and below
			`[{"dog":[32,16,96,48],"score":0.9},{"cat":[92,60,108,76],"score":0.7}]`},
		// letterboxed to 416x208 in 416x416 (104 pixels of grey above and below), image_shape
		// [416, 416]: the boxes come back in those pixels, y1, x1, y2, x2; class 5 is under
		// the threshold
		{"onnx-model-zoo-yolov3", "yolov3", "", "", 832, 416,
			`[{"3":[208,0,624,416],"score":0.9},{"7":[416,208,499.2,291.2],"score":0.8}]`},
		// stretched to 64x64: a cell of 32 pixels is 64 wide in the image; anchor 0 is 1.08 x
		// 1.19 cells
		{"tiny-yolov2", "yolov2", "", "", 128, 64,
			`[{"14":[61.44,-3.04,130.56,35.04],"score":1}]`},
		// letterboxed to 64x32 in 64x64 (16 pixels of grey above and below); anchor 2 of the
		// finest head is 40 x 28 pixels of the image fed
		{"yolov4", "yolov4", "", "", 128, 64,
			`[{"2":[32,-4,112,52],"score":1}]`},
		// fed at its own size, orig_target_sizes [128, 64] (width, height)
		{"rt-detr-orig-target-sizes", "sizedetector", "index_to_name.json", `{"1": "dog"}`, 128, 64,
			`[{"dog":[32,16,96,48],"score":0.95}]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := archive.PackOptions{ModelName: c.name, SerializedFile: testenv.Path("pkg/engine/testdata/" + c.model + ".onnx"), Handler: "object_detector"}
			if c.labelFile != "" {
				file := filepath.Join(t.TempDir(), c.labelFile)
				os.WriteFile(file, []byte(c.labels), 0o644)
				opts.ExtraFiles = []string{file}
			}
			ts.registerArchive(t, opts, "initial_workers=1")
			var img bytes.Buffer
			png.Encode(&img, image.NewRGBA(image.Rect(0, 0, c.width, c.height)))
			code, body, _ := post(t, ts.inference.URL+"/predictions/"+c.name, img.Bytes())
			var got any
			if err := json.Unmarshal(body, &got); code != 200 || err != nil {
				t.Fatalf("%d %v %s", code, err, body)
			}
			if b, _ := json.Marshal(got); string(b) != c.want {
				t.Errorf("detections %s\nwant %s", b, c.want)
			}
		})
	}
}

// TestUltralyticsNames: a model that keeps its class names in its ONNX metadata, as
// Ultralytics' exports do (named.onnx: "names" = "{0: 'cat', 1: 'dog'}"), answers with those
// names when its archive has no index_to_name.json, through the handler and through the
// Open Inference Protocol's classification.
func TestUltralyticsNames(t *testing.T) {
	ts := emptyServer(t, nil)
	ts.registerArchive(t, archive.PackOptions{ModelName: "named", SerializedFile: testenv.Path("pkg/engine/testdata/named.onnx"), Handler: "image_classifier"}, "initial_workers=1")
	red := image.NewRGBA(image.Rect(0, 0, 40, 40))
	for i := 0; i < len(red.Pix); i += 4 {
		red.Pix[i], red.Pix[i+3] = 255, 255
	}
	var img bytes.Buffer
	png.Encode(&img, red)
	code, body, _ := post(t, ts.inference.URL+"/predictions/named", img.Bytes())
	var got map[string]float64
	if err := json.Unmarshal(body, &got); code != 200 || err != nil || len(got) != 2 || got["cat"] <= got["dog"] {
		t.Errorf("a red image: %d %v %s, want cat before dog", code, err, body)
	}
	code, body, _ = post(t, ts.inference.URL+"/v2/models/named/infer",
		[]byte(`{"inputs":[{"name":"images","shape":[1,3,32,32],"datatype":"FP32","data":[`+strings.TrimSuffix(strings.Repeat("0,", 3*32*32), ",")+`]}],
		"outputs":[{"name":"output0","parameters":{"classification":1}}]}`), "Content-Type", "application/json")
	if code != 200 || !strings.Contains(string(body), ":0:cat") {
		t.Errorf("classification: %d %s", code, body)
	}
}

// TestBuiltinHandlersOnSamples: each built-in handler with its sample model and real inputs
// gives the expected labels, boxes or masks; bad inputs get a 400.
func TestBuiltinHandlersOnSamples(t *testing.T) {
	ts := emptyServer(t, nil)
	sampleServer(t, ts, "digits", "digits", "image_classifier")
	sampleServer(t, ts, "topics", "text", "text_classifier", "tokenizer.json")
	sampleServer(t, ts, "shapes", "segmenter", "image_segmenter")
	sampleServer(t, ts, "finder", "detector", "object_detector")
	inf := ts.inference.URL

	t.Run("image_classifier", func(t *testing.T) {
		img, _ := os.ReadFile(testenv.Path("samples/digits/8.jpg"))
		code, body, _ := post(t, inf+"/predictions/digits", img)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		golden(t, "digits_8.json", body)
	})
	t.Run("text_classifier", func(t *testing.T) {
		for _, topic := range []string{"sports", "weather", "food"} {
			text, _ := os.ReadFile(testenv.Path("samples/text", topic+".txt"))
			code, body, _ := post(t, inf+"/predictions/topics", text)
			if code != 200 || topLabel(t, body) != topic {
				t.Errorf("%s: %d %s", topic, code, body)
			}
			if topic == "weather" {
				golden(t, "topics_weather.json", body)
			}
		}
		code, body, _ := post(t, inf+"/predictions/topics", []byte(`{"text": "the striker scored in the final match"}`), "Content-Type", "application/json")
		if code != 200 || topLabel(t, body) != "sports" {
			t.Errorf("JSON text: %d %s", code, body)
		}
	})
	t.Run("image_segmenter", func(t *testing.T) {
		img, _ := os.ReadFile(testenv.Path("samples/segmenter/shapes_1.png"))
		code, body, ctype := post(t, inf+"/predictions/shapes", img, "Accept", "image/png")
		if code != 200 || ctype != "image/png" {
			t.Fatalf("%d %s %s", code, ctype, body)
		}
		got, err := png.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(testenv.Path("samples/segmenter/shapes_1_mask.png"))
		want, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		gp, wp := got.(*image.Paletted), want.(*image.Paletted)
		same := 0
		for i := range gp.Pix {
			if gp.Pix[i] == wp.Pix[i] {
				same++
			}
		}
		if acc := float64(same) / float64(len(wp.Pix)); acc < 0.95 {
			t.Errorf("mask agrees with the truth on %.1f %% of pixels", 100*acc)
		}
		golden(t, "shapes_1_mask.png", body)
		code, body, _ = post(t, inf+"/predictions/shapes", img)
		var grid [][][2]float64
		if err := json.Unmarshal(body, &grid); code != 200 || err != nil || len(grid) != 64 || len(grid[0]) != 64 {
			t.Errorf("JSON mask: %d %v", code, err)
		}
	})
	t.Run("object_detector", func(t *testing.T) {
		for _, k := range []string{"1", "2"} {
			img, _ := os.ReadFile(testenv.Path("samples/detector/shapes_" + k + ".png"))
			code, body, _ := post(t, inf+"/predictions/finder", img)
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			var truth []map[string][4]float64
			b, _ := os.ReadFile(testenv.Path("samples/detector/shapes_" + k + ".json"))
			json.Unmarshal(b, &truth)
			var got []map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			for _, want := range truth {
				found := false
				for label, box := range want {
					for _, d := range got {
						if coords, ok := d[label].([]any); ok && len(coords) == 4 {
							var g [4]float64
							for i := range g {
								g[i] = coords[i].(float64)
							}
							found = found || boxIoU(g, box) >= 0.5
						}
					}
				}
				if !found {
					t.Errorf("image %s: %v not found in %s", k, want, body)
				}
			}
			if len(got) != len(truth) {
				t.Errorf("image %s: %d detections for %d shapes: %s", k, len(got), len(truth), body)
			}
			if k == "1" {
				golden(t, "finder_1.json", body)
			}
		}
	})
	t.Run("bad inputs", func(t *testing.T) {
		jpeg, _ := os.ReadFile(testenv.Path("samples/digits/3.jpg"))
		for _, x := range []exchange{
			{"not an image", "POST", "/predictions/finder", "", []byte("hello"), 400, "BadRequestException", "not a supported image"},
			{"truncated jpeg", "POST", "/predictions/shapes", "", jpeg[:len(jpeg)/2], 400, "BadRequestException", ""},
			{"huge image", "POST", "/predictions/digits", "", testenv.HugePNG(), 400, "BadRequestException", "pixels"},
			{"empty text", "POST", "/predictions/topics", "", []byte("  \n"), 400, "BadRequestException", "empty"},
			{"wrong JSON", "POST", "/predictions/topics", "application/json", []byte(`{"text": 3}`), 400, "BadRequestException", "request JSON has no"},
		} {
			t.Run(x.name, func(t *testing.T) { x.run(t, inf) })
		}
	})
}

func topLabel(t *testing.T, body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.Token()
	tok, err := dec.Token()
	if err != nil {
		t.Fatalf("not a JSON object: %s", body)
	}
	return tok.(string)
}

func boxIoU(a, b [4]float64) float64 {
	ix := math.Max(0, math.Min(a[2], b[2])-math.Max(a[0], b[0]))
	iy := math.Max(0, math.Min(a[3], b[3])-math.Max(a[1], b[1]))
	inter := ix * iy
	return inter / ((a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter)
}
