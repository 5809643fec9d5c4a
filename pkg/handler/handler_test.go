package handler

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/tensor"
)

var digitsInput = tensor.Info{Name: "input", DType: tensor.Float32, Shape: []int64{-1, 1, 8, 8}}

func TestImageSpecDefaults(t *testing.T) {
	cases := []struct {
		shape              []int64
		dtype              tensor.DType
		nhwc               bool
		channels, h, w, rs int
		mean0, scale       float64
	}{
		{[]int64{-1, 3, 224, 224}, tensor.Float32, false, 3, 224, 224, 256, 0.485, 255},
		{[]int64{1, 224, 224, 3}, tensor.Float32, true, 3, 224, 224, 256, 0.485, 255},
		{[]int64{-1, 1, 8, 8}, tensor.Float32, false, 1, 8, 8, 0, 0, 255},
		{[]int64{1, 3, -1, -1}, tensor.Float16, false, 3, 224, 224, 256, 0.485, 255},
		{[]int64{1, 3, 32, 48}, tensor.Float32, false, 3, 32, 48, 0, 0.485, 255},
		{[]int64{1, 300, 300, 3}, tensor.Uint8, true, 3, 300, 300, 0, 0, 1},
		// one image, no batch dimension (torchvision's detection models take [3,H,W])
		{[]int64{3, -1, -1}, tensor.Float32, false, 3, 224, 224, 256, 0.485, 255},
		{[]int64{480, 640, 3}, tensor.Uint8, true, 3, 480, 640, 0, 0, 1},
		// flattened: MNIST's classic [N,784], CIFAR's [N,3072] as PyTorch flattens [3,32,32]
		{[]int64{-1, 784}, tensor.Float32, false, 1, 28, 28, 0, 0, 255},
		{[]int64{-1, 3072}, tensor.Float32, false, 3, 32, 32, 0, 0.485, 255},
		{[]int64{784}, tensor.Float32, false, 1, 28, 28, 0, 0, 255},
		// grey images with no channel dimension, [N,H,W] (Keras's MNIST models)
		{[]int64{-1, 28, 28}, tensor.Float32, false, 1, 28, 28, 0, 0, 255},
		// four channels: RGBA
		{[]int64{-1, 4, 16, 16}, tensor.Float32, false, 4, 16, 16, 0, 0.485, 255},
		{[]int64{1, 16, 16, 4}, tensor.Uint8, true, 4, 16, 16, 0, 0, 1},
	}
	for _, c := range cases {
		s, err := newImageSpec(tensor.Info{Name: "x", DType: c.dtype, Shape: c.shape}, nil, nil, classifierSide)
		if err != nil {
			t.Fatalf("%v: %v", c.shape, err)
		}
		if s.nhwc != c.nhwc || s.channels != c.channels || s.height != c.h || s.width != c.w || s.resize != c.rs || s.mean[0] != c.mean0 || s.scale != c.scale {
			t.Errorf("%v %s: got %+v", c.shape, c.dtype, s)
		}
		// the tensor fed to the model has the input's rank: [1,...] or, with no batch, [...]
		prepared, _ := s.prepare(solid(50, 40, color.White))
		x, err := s.tensor(prepared)
		if err != nil {
			t.Fatalf("%v: %v", c.shape, err)
		}
		want := []int64{1, int64(c.channels), int64(c.h), int64(c.w)}
		if c.nhwc {
			want = []int64{1, int64(c.h), int64(c.w), int64(c.channels)}
		}
		switch len(c.shape) {
		case 3:
			want = want[1:]
		case 2:
			want = []int64{1, int64(c.channels * c.h * c.w)}
		case 1:
			want = []int64{int64(c.channels * c.h * c.w)}
		}
		if !slices.Equal(x.Shape, want) || x.DType != c.dtype {
			t.Errorf("%v: tensor %s%v, want %s%v", c.shape, x.DType, x.Shape, c.dtype, want)
		}
	}
	// a flattened RGB image in Keras's order: the values of each pixel together
	s, err := newImageSpec(tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 3 * 16 * 16}}, config{"layout": "NHWC", "mean": []any{0.0}, "std": []any{1.0}}, nil, classifierSide)
	if err != nil {
		t.Fatal(err)
	}
	red := color.NRGBA{R: 255, A: 255}
	prepared, _ := s.prepare(solid(16, 16, red))
	x, err := s.tensor(prepared)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tensor.Values[float32](x); !s.nhwc || s.channels != 3 || s.height != 16 || !slices.Equal(x.Shape, []int64{1, 768}) || !slices.Equal(v[:6], []float32{1, 0, 0, 1, 0, 0}) {
		t.Errorf("flattened NHWC: spec %+v, tensor %v %v", s, x.Shape, v[:6])
	}
	// RGBA: the image's alpha (not premultiplied) is the fourth channel, as it is
	s, err = newImageSpec(tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 4, 2, 2}}, nil, nil, classifierSide)
	if err != nil {
		t.Fatal(err)
	}
	prepared, _ = s.prepare(solid(2, 2, color.NRGBA{R: 255, A: 51}))
	if x, err = s.tensor(prepared); err != nil {
		t.Fatal(err)
	}
	if v, _ := tensor.Values[float32](x); len(v) != 16 || math.Abs(float64(v[0])-(1-0.485)/0.229) > 1e-5 || v[12] != 0.2 {
		t.Errorf("RGBA: tensor %v %v, want red normalised as ImageNet's, then alpha 0.2", x.Shape, v)
	}
	for _, bad := range []struct {
		shape []int64
		cfg   config
	}{
		{[]int64{1, 4}, nil},  // a table's features (iris), not an image
		{[]int64{1, 50}, nil}, // not square
		{[]int64{1, -1}, nil}, // unknown length
		{[]int64{1, 49}, nil}, // 7×7: under 8×8
		{[]int64{1, 3, 8, 8, 1}, nil},
		{[]int64{1, 3, 8, 8}, config{"layout": "HWC"}},
		{[]int64{1, 3, 8, 8}, config{"std": []any{0.0}}},
		{[]int64{1, 3, 8, 8}, config{"mean": []any{1.0, 2.0}}},
		{[]int64{1, 3, 8, 8}, config{"channels": 4}}, // the model takes 3
		{[]int64{1, 3, 8, 8}, config{"channels": 1}},
		{[]int64{-1, 28, 28}, config{"channels": 3}},
		{[]int64{1, 2, 8, 8}, nil}, // two channels: no image has them
		{[]int64{1, 5, 8, 8}, config{"channels": 5}},
		{[]int64{1, 3, 8, 8}, config{"resize": "big"}},
	} {
		if _, err := newImageSpec(tensor.Info{Name: "x", DType: tensor.Float32, Shape: bad.shape}, bad.cfg, nil, classifierSide); err == nil {
			t.Errorf("%v %v accepted", bad.shape, bad.cfg)
		}
	}
}

func pngBytes(t *testing.T, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func solid(w, h int, c color.Color) image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	return img
}

func TestPreprocessNormalises(t *testing.T) {
	red := pngBytes(t, solid(400, 300, color.NRGBA{255, 0, 0, 255}))
	for _, nhwc := range []bool{false, true} {
		shape := []int64{-1, 3, 224, 224}
		if nhwc {
			shape = []int64{-1, 224, 224, 3}
		}
		h, err := newImageClassifier(&Model{Inputs: []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: shape}}, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		in, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: red}}})
		if err != nil {
			t.Fatal(err)
		}
		x := in[0]
		if want := []int64{1, 3, 224, 224}; !nhwc && !slices.Equal(x.Shape, want) {
			t.Fatalf("shape %v", x.Shape)
		}
		v, _ := tensor.Values[float32](x)
		want := []float64{(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0 - 0.406) / 0.225}
		for ch := 0; ch < 3; ch++ {
			idx := ch*224*224 + 100*224 + 100
			if nhwc {
				idx = (100*224+100)*3 + ch
			}
			if math.Abs(float64(v[idx])-want[ch]) > 1e-5 {
				t.Errorf("nhwc=%v channel %d = %v, want %v", nhwc, ch, v[idx], want[ch])
			}
		}
	}
}

// TestNonFiniteScores: a model may answer NaN or infinite scores (a broken export, a
// division by zero); the classifier answers them as null (JSON has no such numbers) where
// they were a 500, ranks NaN last, and takes infinite logits as the softmax's limit.
func TestNonFiniteScores(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	softmaxCases := []struct {
		name   string
		logits []float64
		want   []float64 // NaN: no probability
	}{
		{"finite", []float64{0, 0}, []float64{0.5, 0.5}},
		{"one +inf takes all", []float64{inf, 3, -inf}, []float64{1, 0, 0}},
		{"two +inf share", []float64{inf, 3, inf}, []float64{0.5, 0, 0.5}},
		{"all -inf are equal", []float64{-inf, -inf}, []float64{0.5, 0.5}},
		{"NaN has none, the rest sum to 1", []float64{nan, 0, 0}, []float64{nan, 0.5, 0.5}},
		{"all NaN", []float64{nan, nan}, []float64{nan, nan}},
	}
	for _, c := range softmaxCases {
		got := softmax(c.logits)
		for i := range got {
			if math.IsNaN(c.want[i]) != math.IsNaN(got[i]) || !math.IsNaN(got[i]) && math.Abs(got[i]-c.want[i]) > 1e-9 {
				t.Errorf("%s: softmax(%v) = %v, want %v", c.name, c.logits, got, c.want)
				break
			}
		}
	}

	h, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Dir: t.TempDir(), Config: config{"softmax": "never"},
		Outputs: []tensor.Info{{Name: "scores", DType: tensor.Float32, Shape: []int64{-1, 4}}}})
	if err != nil {
		t.Fatal(err)
	}
	out := tensor.New([]int64{1, 4}, []float32{float32(nan), 0.25, float32(inf), 0.75})
	res, err := h.Postprocess(context.Background(), &Request{}, []*tensor.Tensor{out})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, res.Body)
	}
	var keys []string // in the answer's order: {"key": number or null, ...}
	dec := json.NewDecoder(bytes.NewReader(res.Body))
	dec.Token()
	for dec.More() {
		key, _ := dec.Token()
		dec.Token()
		k, _ := key.(string)
		keys = append(keys, k)
	}
	if want := []string{"2", "3", "1", "0"}; !slices.Equal(keys, want) || got["2"] != nil || got["0"] != nil || got["3"] != 0.75 {
		t.Errorf("answer %s, want classes %v, infinity and NaN as null, NaN last", res.Body, want)
	}
}

func TestPreprocessDigitsSample(t *testing.T) {
	h, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Dir: testenv.Path("samples/digits")})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(testenv.Path("samples/digits/3.png"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(data)
	for name, body := range map[string][]byte{"png": data, "base64": []byte(b64),
		"a JSON string (TorchServe)": []byte(`"` + b64 + `"`), `JSON {"data"}`: []byte(`{"data": "` + b64 + `"}`), `JSON {"b64"}`: []byte(` {"b64": "` + b64 + `"}`),
		"a JSON array of one image": []byte(`["` + b64 + `"]`), `a JSON array of one {"b64"}`: []byte(`[{"b64": "` + b64 + `"}]`)} {
		in, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "data", Data: body}}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(in[0].Shape, []int64{1, 1, 8, 8}) {
			t.Fatalf("%s: shape %v", name, in[0].Shape)
		}
		v, _ := tensor.Values[float32](in[0])
		if slices.Min(v) < 0 || slices.Max(v) > 1 || slices.Max(v) < 0.5 {
			t.Errorf("%s: values span [%v, %v], want pixel values in [0, 1]", name, slices.Min(v), slices.Max(v))
		}
	}
}

func TestPreprocessBadInput(t *testing.T) {
	h, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(testenv.Path("samples/digits/3.jpg"))
	cases := map[string][]byte{
		"empty":          nil,
		"text":           []byte("hello, this is not an image at all"),
		"truncated jpeg": good[:len(good)/2],
		"huge":           testenv.HugePNG(),
		"json":           []byte(`{"inputs": [1, 2, 3]}`),
		"json, not b64":  []byte(`{"data": "not base64 at all, sorry"}`),
		"two images":     []byte(`["` + base64.StdEncoding.EncodeToString(good) + `", "` + base64.StdEncoding.EncodeToString(good) + `"]`),
	}
	for name, body := range cases {
		_, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: body}}})
		var ae *apierror.Error
		if !errors.As(err, &ae) || ae.Code != 400 {
			t.Errorf("%s: error %v, want a 400", name, err)
		}
		if name == "two images" && (err == nil || !strings.Contains(err.Error(), "send one image per request, not 2")) {
			t.Errorf("two images: %v, want a message saying to send one", err)
		}
	}
	if _, err := h.Preprocess(context.Background(), &Request{}); err == nil {
		t.Error("a request without inputs was accepted")
	}
}

// TestMultiLabelDefault: a Hugging Face classifier trained for several labels at once
// (config.json's problem_type multi_label_classification) gets a sigmoid per class by
// default, as transformers' pipelines apply; others auto; the setting wins.
func TestMultiLabelDefault(t *testing.T) {
	for _, c := range []struct {
		hfConfig string
		cfg      config
		want     string
	}{
		{`{"problem_type": "multi_label_classification", "id2label": {"0": "toxic", "1": "insult"}}`, nil, "sigmoid"},
		{`{"problem_type": "single_label_classification"}`, nil, "auto"},
		{"", nil, "auto"},
		{`{"problem_type": "multi_label_classification"}`, config{"softmax": "always"}, "always"},
	} {
		dir := t.TempDir()
		if c.hfConfig != "" {
			os.WriteFile(filepath.Join(dir, HFConfigFile), []byte(c.hfConfig), 0o644)
		}
		h, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Dir: dir, Config: c.cfg})
		if err != nil {
			t.Fatal(err)
		}
		if got := h.(*imageClassifier).softmax; got != c.want {
			t.Errorf("config.json %s, settings %v: %s, want %s", c.hfConfig, c.cfg, got, c.want)
		}
	}
}

func TestClassifierPostprocess(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name   string
		labels string
		cfg    config
		output []float32
		want   []string
		probs  []float64
	}{
		{"logits", `{"0": "cat", "1": "dog", "2": "fox"}`, nil, []float32{1, 3, 2}, []string{"dog", "fox", "cat"}, nil},
		{"probabilities kept", `{"0": ["n1", "cat"], "1": ["n2", "dog"], "2": ["n3", "fox"]}`, nil, []float32{0.2, 0.5, 0.3}, []string{"dog", "fox", "cat"}, []float64{0.5, 0.3, 0.2}},
		{"no labels, topk 2", "", config{"topk": 2}, []float32{0.1, 0.2, 0.7}, []string{"2", "1"}, nil},
		{"object_type_names", `{"object_type_names": ["a", "b"]}`, config{"softmax": "never"}, []float32{5, 7}, []string{"b", "a"}, []float64{7, 5}},
		// a binary classifier's one score: class 1's logit, or its probability
		{"one logit", `{"0": "cat", "1": "dog"}`, nil, []float32{2}, []string{"dog", "cat"}, []float64{0.8807970779778823, 0.11920292202211769}},
		{"one probability", "", nil, []float32{0.25}, []string{"0", "1"}, []float64{0.75, 0.25}},
		{"one logit in [0, 1], softmax always", "", config{"softmax": "always"}, []float32{0.25}, []string{"1", "0"}, []float64{0.5621765008857981, 0.43782349911420193}},
		// a multi-label classifier's logits: each class's own probability
		{"sigmoid", "", config{"softmax": "sigmoid"}, []float32{2, -1, 0}, []string{"0", "2", "1"}, []float64{0.8807970779778823, 0.5, 0.2689414213699951}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, LabelsFile))
			if c.labels != "" {
				os.WriteFile(filepath.Join(dir, LabelsFile), []byte(c.labels), 0o644)
			}
			h, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Dir: dir, Config: c.cfg})
			if err != nil {
				t.Fatal(err)
			}
			res, err := h.Postprocess(context.Background(), nil, []*tensor.Tensor{tensor.New([]int64{1, int64(len(c.output))}, c.output)})
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(res.Body))
			dec.Token()
			var keys []string
			var values []float64
			sum := 0.0
			for dec.More() {
				k, _ := dec.Token()
				var v float64
				dec.Decode(&v)
				keys = append(keys, k.(string))
				values = append(values, v)
				sum += v
			}
			if !slices.Equal(keys, c.want) {
				t.Errorf("order %v, want %v\n%s", keys, c.want, res.Body)
			}
			if c.probs != nil {
				for i := range c.probs {
					if math.Abs(values[i]-c.probs[i]) > 1e-6 {
						t.Errorf("values %v, want %v", values, c.probs)
					}
				}
			} else if len(keys) == len(c.output) && math.Abs(sum-1) > 1e-5 {
				t.Errorf("probabilities sum to %v", sum)
			}
			if res.ContentType != "application/json" || !strings.HasSuffix(string(res.Body), "\n") {
				t.Errorf("content type %q", res.ContentType)
			}
		})
	}
	// a model that ends with its argmax: an integer class index per image, probability 1
	os.WriteFile(filepath.Join(dir, LabelsFile), []byte(`{"0": "cat", "1": "dog", "2": "fox"}`), 0o644)
	h, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Dir: dir,
		Outputs: []tensor.Info{{Name: "label", DType: tensor.Int64, Shape: []int64{-1}}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.Postprocess(context.Background(), nil, []*tensor.Tensor{tensor.New([]int64{2}, []int64{2, 0})})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(string(res.Body)), ""); got != `[{"fox":1},{"cat":1}]` {
		t.Errorf("class indexes: %s", res.Body)
	}
	// integer outputs of several values: a quantized model's 8-bit scores (uint8 made a
	// distribution by their sum; int8 with negative values taken as logits), or a wider
	// integer's class indexes (TopK's, best first: the first is the class)
	for _, c := range []struct {
		name string
		out  *tensor.Tensor
		want string
	}{
		{"uint8 scores", tensor.New([]int64{1, 3}, []uint8{64, 128, 64}), `{"dog":0.5,"cat":0.25,"fox":0.25}`},
		{"int8 logits", tensor.New([]int64{1, 3}, []int8{-100, 100, -100}), `{"dog":1,"cat":0,"fox":0}`},
		{"int64 top-k indexes", tensor.New([]int64{1, 3}, []int64{2, 0, 1}), `{"fox":1}`},
		{"uint8 class index", tensor.New([]int64{1}, []uint8{1}), `{"dog":1}`},
	} {
		h, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Dir: dir,
			Outputs: []tensor.Info{{Name: "scores", DType: c.out.DType, Shape: c.out.Shape}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Postprocess(context.Background(), nil, []*tensor.Tensor{c.out})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := strings.Join(strings.Fields(string(res.Body)), ""); got != c.want {
			t.Errorf("%s: answer %s, want %s", c.name, got, c.want)
		}
	}

	os.WriteFile(filepath.Join(dir, LabelsFile), []byte(`{"zero": "cat"}`), 0o644)
	if _, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Dir: dir}); err == nil {
		t.Error("bad index_to_name.json accepted")
	}
}

func TestTensorHandler(t *testing.T) {
	iris := &Model{Inputs: []tensor.Info{{Name: "features", DType: tensor.Float32, Shape: []int64{-1, 4}}},
		Outputs: []tensor.Info{{Name: "probabilities", DType: tensor.Float32, Shape: []int64{-1, 3}}}}
	multi := &Model{Inputs: []tensor.Info{{Name: "ids:0", DType: tensor.Int64, Shape: []int64{-1, 3}}, {Name: "k", DType: tensor.Int64, Shape: []int64{}},
		{Name: "mask", DType: tensor.Bool, Shape: []int64{-1, 3}}}}
	cases := []struct {
		name   string
		model  *Model
		body   string
		shapes [][]int64
		err    string
	}{
		{"named", iris, `{"inputs": {"features": [[5.1, 3.5, 1.4, 0.2]]}}`, [][]int64{{1, 4}}, ""},
		{"bare array, two rows", iris, `[[5.1, 3.5, 1.4, 0.2], [6, 3, 5, 2]]`, [][]int64{{2, 4}}, ""},
		{"batch dimension added", iris, `{"inputs": {"features": [5.1, 3.5, 1.4, 0.2]}}`, [][]int64{{1, 4}}, ""},
		{"one item's values, flat", &Model{Inputs: []tensor.Info{{Name: "image", DType: tensor.Float32, Shape: []int64{-1, 1, 2, 2}}}}, `[1, 2, 3, 4]`, [][]int64{{1, 1, 2, 2}}, ""},
		{"a lone number for a [batch, 1] input (curl -d 1)", &Model{Inputs: []tensor.Info{{Name: "modelInput", DType: tensor.Float32, Shape: []int64{-1, 1}}}}, `1`, [][]int64{{1, 1}}, ""},
		{"flat values that are not one item", &Model{Inputs: []tensor.Info{{Name: "image", DType: tensor.Float32, Shape: []int64{-1, 1, 2, 2}}}}, `[1, 2, 3]`, nil, "must have shape [-1,1,2,2], got [3]"},
		{"inputs by name at the top level", multi, `{"ids:0": [[1, 2, 3]], "k": 7, "mask": [[true, false, true]]}`, [][]int64{{1, 3}, {}, {1, 3}}, ""},
		{"one input by name at the top level", iris, `{"features": [5.1, 3.5, 1.4, 0.2]}`, [][]int64{{1, 4}}, ""},
		{"one input wrapped in data", iris, `{"data": [[5.1, 3.5, 1.4, 0.2]]}`, [][]int64{{1, 4}}, ""},
		{"rows wrapped in instances", iris, `{"instances": [[5.1, 3.5, 1.4, 0.2], [6, 3, 5, 2]]}`, [][]int64{{2, 4}}, ""},
		{"wrapped, but the model takes two inputs", multi, `{"data": [[1, 2, 3]]}`, nil, `request JSON has "data", which is not an input of the model`},
		{"an input named inputs", &Model{Inputs: []tensor.Info{{Name: "inputs", DType: tensor.Float32, Shape: []int64{-1, 2}}, {Name: "k", DType: tensor.Int64, Shape: []int64{}}}}, `{"inputs": [[1, 2]], "k": 1}`, [][]int64{{1, 2}, {}}, ""},
		{"no inputs, empty body", &Model{}, ``, [][]int64{}, ""},
		{"no inputs, empty object", &Model{}, `{}`, [][]int64{}, ""},
		{"kserve v2", iris, `{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`, [][]int64{{1, 4}}, ""},
		{"int64 scalar, bool, colon", multi, `{"inputs": {"ids:0": [[9007199254740993, 2, 3]], "k": 7, "mask": [[true, false, 1]]}}`, [][]int64{{1, 3}, {}, {1, 3}}, ""},
		{"wrong name", iris, `{"inputs": {"x": [[1, 2, 3, 4]]}}`, nil, `no input "x"`},
		{"top-level key that is no input", multi, `{"ids:0": [[1, 2, 3]], "k": 7, "data": [1]}`, nil, `request JSON has "data", which is not an input of the model: send {"inputs": {"ids:0": [...], "k": [...], "mask": [...]}}`},
		{"wrong shape", iris, `{"inputs": {"features": [[1, 2, 3]]}}`, nil, "must have shape [-1,4], got [1,3]"},
		{"ragged", iris, `[[1, 2, 3, 4], [1, 2]]`, nil, "not rectangular"},
		{"not json", iris, `features=1,2,3,4`, nil, `not valid JSON: invalid character 'e' in literal false (expecting 'a'): send JSON {"inputs": {"features": [...]}}`},
		{"an image", iris, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", nil, "the request is an image (image/png), but the tensor handler takes tensors"},
		{"string value", iris, `[["NaN", 2, 3, 4]]`, nil, `input "features" is float32; value 0 is "NaN", not a number`},
		{"null value", iris, `[[1, null, 3, 4]]`, nil, `input "features" is float32; value 1 is null, not a number`},
		{"a string where arrays are wanted", iris, `{"features": "abc"}`, nil, `input "features" takes float32 arrays of shape [-1,4]; got "abc"`},
		{"null where arrays are wanted", iris, `null`, nil, `input "features" takes float32 arrays of shape [-1,4]; got null`},
		{"object value", multi, `{"inputs": {"ids:0": [[{"a": 1}, 2, 3]], "k": 1, "mask": [[true, true, true]]}}`, nil, `input "ids:0" is int64; value 0 is an object`},
		{"empty", iris, ``, nil, "no tensors"},
		{"empty array", iris, `{"inputs": {"features": []}}`, nil, `input "features" is empty`},
		{"empty rows", iris, `[[], []]`, nil, `input "features" is empty`},
		{"missing input", multi, `{"inputs": {"k": 1}}`, nil, `"ids:0" is missing`},
		{"wrong v2 dtype", iris, `{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "INT64", "data": [1, 2, 3, 4]}]}`, nil, "must be float32"},
		{"fraction in int64", multi, `{"inputs": {"ids:0": [[1.5, 2, 3]], "k": 1, "mask": [[true, true, true]]}}`, nil, "is not one"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _ := newTensorHandler(c.model)
			in, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte(c.body)}}})
			if c.err != "" {
				var ae *apierror.Error
				if !errors.As(err, &ae) || ae.Code != 400 || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want a 400 containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(in) != len(c.model.Inputs) {
				t.Fatalf("%d tensors, want %d", len(in), len(c.model.Inputs))
			}
			for i, s := range c.shapes {
				if !slices.Equal(in[i].Shape, s) {
					t.Errorf("input %d shape %v, want %v", i, in[i].Shape, s)
				}
			}
			if c.name == "int64 scalar, bool, colon" {
				if v, _ := tensor.Values[int64](in[0]); v[0] != 9007199254740993 {
					t.Errorf("int64 lost precision: %d", v[0])
				}
			}
		})
	}
	h, _ := newTensorHandler(iris)
	res, err := h.Postprocess(context.Background(), nil, []*tensor.Tensor{tensor.New([]int64{1, 3}, []float32{0.1, float32(math.NaN()), 0.7})})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"outputs":[{"name":"probabilities","shape":[1,3],"dtype":"float32","data":[0.1,null,0.7]}]}` + "\n"
	if string(res.Body) != want {
		t.Errorf("body %s, want %s", res.Body, want)
	}
}

// TestTensorHandlerText: a model with one string input takes a plain text body as one
// string, shaped as the input takes it; JSON bodies still work.
func TestTensorHandlerText(t *testing.T) {
	model := func(shape []int64) *Model {
		return &Model{Inputs: []tensor.Info{{Name: "text", DType: tensor.String, Shape: shape}}}
	}
	cases := []struct {
		name, body, contentType string
		declared, shape         []int64
		strings                 []string
		err                     string
	}{
		{"a column of strings", "Win a FREE cruise!\n", "application/x-www-form-urlencoded", []int64{-1, 1}, []int64{1, 1}, []string{"Win a FREE cruise!\n"}, ""},
		{"a row of strings", "héllo", "", []int64{-1}, []int64{1}, []string{"héllo"}, ""},
		{"a scalar", "one", "", []int64{}, []int64{}, []string{"one"}, ""},
		{"any shape", "one", "", nil, []int64{1}, []string{"one"}, ""},
		{"text/plain that looks like JSON", `[URGENT] reply`, "text/plain; charset=utf-8", []int64{-1, 1}, []int64{1, 1}, []string{"[URGENT] reply"}, ""},
		{"JSON still", `[["a"], ["b"]]`, "", []int64{-1, 1}, []int64{2, 1}, []string{"a", "b"}, ""},
		{"JSON content type", `spam`, "application/json", []int64{-1, 1}, nil, nil, "not valid JSON"},
		{"three strings per row", "hello", "", []int64{-1, 3}, nil, nil, `input "text" takes [-1,3] strings, not one text`},
		{"not UTF-8", "\xff\xfe", "text/plain", []int64{-1, 1}, nil, nil, "must be UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _ := newTensorHandler(model(c.declared))
			in, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte(c.body), ContentType: c.contentType}}})
			if failsAs(t, err, c.err) {
				return
			}
			if !slices.Equal(in[0].Shape, c.shape) || !slices.Equal(in[0].Strings, c.strings) {
				t.Errorf("got %v %q, want %v %q", in[0].Shape, in[0].Strings, c.shape, c.strings)
			}
		})
	}
}

// TestTensorHandlerIntegers: the widest integers go in and come out exactly (uint64 past
// 2^63, uint32 and int32 at their limits, as integers, not 4.294967295e+09); one past a
// type's range is a 400.
func TestTensorHandlerIntegers(t *testing.T) {
	info := func(name string, dt tensor.DType) tensor.Info {
		return tensor.Info{Name: name, DType: dt, Shape: []int64{-1, 2}}
	}
	m := &Model{Inputs: []tensor.Info{info("u64", tensor.Uint64), info("u32", tensor.Uint32), info("i32", tensor.Int32), info("u16", tensor.Uint16)}}
	m.Outputs = m.Inputs
	h, _ := newTensorHandler(m)
	preprocess := func(body string) ([]*tensor.Tensor, error) {
		return h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: []byte(body)}}})
	}
	in, err := preprocess(`{"inputs": {"u64": [[18446744073709551615, 9223372036854775809]], "u32": [[4294967295, 2]], "i32": [[-2147483648, 3]], "u16": [[65535, 0]]}}`)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tensor.Values[uint64](in[0]); !slices.Equal(v, []uint64{math.MaxUint64, 1<<63 + 1}) {
		t.Errorf("uint64 %v", v)
	}
	res, err := h.Postprocess(context.Background(), nil, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"data":[18446744073709551615,9223372036854775809]`, `"data":[4294967295,2]`, `"data":[-2147483648,3]`, `"data":[65535,0]`} {
		if !strings.Contains(string(res.Body), want) {
			t.Errorf("answer %s lacks %s", res.Body, want)
		}
	}
	for body, want := range map[string]string{
		`{"inputs": {"u64": [[18446744073709551616, 0]], "u32": [[0, 0]], "i32": [[0, 0]], "u16": [[0, 0]]}}`: `input "u64" is uint64; value 0 (18446744073709551616) is not one`,
		`{"inputs": {"u64": [[-1, 0]], "u32": [[0, 0]], "i32": [[0, 0]], "u16": [[0, 0]]}}`:                   `input "u64" is uint64; value 0 (-1) is not one`,
		`{"inputs": {"u64": [[0, 0]], "u32": [[4294967296, 0]], "i32": [[0, 0]], "u16": [[0, 0]]}}`:           `value 4294967296 at index 0 does not fit uint32`,
		`{"inputs": {"u64": [[0, 0]], "u32": [[0, 0]], "i32": [[2147483648, 0]], "u16": [[0, 0]]}}`:           `value 2147483648 at index 0 does not fit int32`,
	} {
		if _, err := preprocess(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error containing %q", body, err, want)
		}
	}
}

// TestTensorHandlerJSONStrings: output names and string tensors are written as valid JSON
// whatever bytes they hold (Go's strconv quoting would write \x01 and \a, which JSON refuses).
func TestTensorHandlerJSONStrings(t *testing.T) {
	m := &Model{Outputs: []tensor.Info{{Name: "label\x01\"é", DType: tensor.String, Shape: []int64{-1}}}}
	h, _ := newTensorHandler(m)
	values := []string{"plain", "bell\a tab\t nl\n", "quote\" back\\", "bad utf-8 \xff", "café ✓"}
	res, err := h.Postprocess(context.Background(), nil, []*tensor.Tensor{{DType: tensor.String, Shape: []int64{int64(len(values))}, Strings: values}})
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(res.Body) {
		t.Fatalf("invalid JSON: %s", res.Body)
	}
	var got struct {
		Outputs []struct {
			Name string
			Data []string
		}
	}
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(values)
	want[3] = "bad utf-8 \ufffd"
	if o := got.Outputs[0]; o.Name != m.Outputs[0].Name || !slices.Equal(o.Data, want) {
		t.Errorf("decoded %q %q, want %q %q", o.Name, o.Data, m.Outputs[0].Name, want)
	}
}

// TestMatchesTorchvision: the image_classifier's default preprocessing of a 1024×768 JPEG
// (Resize(256) + CenterCrop(224), antialiased) matches torchvision's, made with Debian's
// torchvision by testdata/make_reference.py, within a small tolerance. The differences come
// from JPEG decoding (Go's decoder and libjpeg round differently) and resampling.
func TestMatchesTorchvision(t *testing.T) {
	data, err := os.ReadFile("testdata/photo.jpg")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/photo_torchvision.png")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := newImageSpec(tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 3, 224, 224}}, nil, nil, classifierSide)
	if err != nil {
		t.Fatal(err)
	}
	img, err := decodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := spec.prepare(img)
	if got.Bounds().Dx() != 224 || got.Bounds().Dy() != 224 {
		t.Fatalf("prepared %v", got.Bounds())
	}
	var sum, worst float64
	n := 0
	for y := 0; y < 224; y++ {
		for x := 0; x < 224; x++ {
			r1, g1, b1, _ := got.At(got.Bounds().Min.X+x, got.Bounds().Min.Y+y).RGBA()
			r2, g2, b2, _ := ref.At(x, y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				sum += math.Abs(d)
				worst = math.Max(worst, math.Abs(d))
				n++
			}
		}
	}
	mae := sum / float64(n)
	t.Logf("mean absolute difference %.2f levels of 255, worst %.0f", mae, worst)
	if mae > 1.0 || worst > 16 {
		t.Errorf("mean absolute difference %.2f levels (of 255), worst %.0f, from torchvision; want ≤ 1 and ≤ 16", mae, worst)
	}
}

// BenchmarkImagePreprocess: decode, resize, crop and normalise a 1024×768 JPEG.
func BenchmarkImagePreprocess(b *testing.B) {
	data, err := os.ReadFile("testdata/photo.jpg")
	if err != nil {
		b.Fatal(err)
	}
	h, err := newImageClassifier(&Model{Inputs: []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 3, 224, 224}}}, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	req := &Request{Inputs: []Input{{Name: "body", Data: data}}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.Preprocess(context.Background(), req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestImageHandlersNeedOneInput: each image handler refuses a model with two inputs and
// names itself in the error.
func TestImageHandlersNeedOneInput(t *testing.T) {
	img := tensor.Info{Name: "x", DType: tensor.Float32, Shape: []int64{1, 3, 64, 64}}
	m := &Model{Inputs: []tensor.Info{img, img}, Outputs: []tensor.Info{{Name: "out", DType: tensor.Float32, Shape: []int64{1, 3, 64, 64}}}, Dir: t.TempDir()}
	for _, name := range []string{"image_classifier", "image_segmenter", "object_detector"} {
		_, err := New(name, m)
		if err == nil || !strings.Contains(err.Error(), name+" needs a model with one image input, this one has 2 inputs") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// failsAs checks a table case's error: when want is set, err must contain it and the case
// ends there (true); otherwise err must be nil and the case goes on (false).
func failsAs(t *testing.T, err error, want string) bool {
	t.Helper()
	if want != "" {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want one containing %q", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}

// TestUnknownSettings: a model-config.yaml handler section's typos and other handlers'
// settings are found for the built-in handlers; custom handlers read any.
func TestUnknownSettings(t *testing.T) {
	cfg := map[string]any{"topk": 3, "chanel_order": "BGR", "threshold": 0.2, "mean": []any{0.5}}
	cases := []struct {
		handler string
		want    []string
	}{
		{"image_classifier", []string{"chanel_order", "threshold"}},
		{"object_detector", []string{"chanel_order", "topk"}},
		{"text_classifier", []string{"chanel_order", "mean", "threshold"}},
		{"tensor", []string{"chanel_order", "mean", "threshold", "topk"}},
		{"handler.py", nil},
	}
	for _, c := range cases {
		got, known := UnknownSettings(c.handler, cfg)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: unknown %v, want %v", c.handler, got, c.want)
		}
		if IsBuiltin(c.handler) != (known != nil) {
			t.Errorf("%s: known settings %v", c.handler, known)
		}
	}
	for _, name := range Names() {
		if _, ok := settings[name]; !ok {
			t.Errorf("built-in handler %s lists no settings", name)
		}
	}
}

// TestTensorHandlerParts: a multipart request whose fields are named after the model's
// inputs feeds each input from its field.
func TestTensorHandlerParts(t *testing.T) {
	multi := &Model{Inputs: []tensor.Info{{Name: "ids:0", DType: tensor.Int64, Shape: []int64{-1, 3}}, {Name: "k", DType: tensor.Int64, Shape: []int64{}},
		{Name: "text", DType: tensor.String, Shape: []int64{-1}}}}
	cases := []struct {
		name   string
		parts  []Input
		shapes [][]int64
		err    string
	}{
		{"each input its field", []Input{{Name: "k", Data: []byte("7")}, {Name: "ids:0", Data: []byte("[[1, 2, 3]]")}, {Name: "text", Data: []byte("hello there")}},
			[][]int64{{1, 3}, {}, {1}}, ""},
		{"a string input from JSON", []Input{{Name: "ids:0", Data: []byte("[[1, 2, 3], [4, 5, 6]]")}, {Name: "k", Data: []byte("1")}, {Name: "text", ContentType: "application/json", Data: []byte(`["a", "b"]`)}},
			[][]int64{{2, 3}, {}, {2}}, ""},
		{"a field missing", []Input{{Name: "ids:0", Data: []byte("[[1, 2, 3]]")}, {Name: "k", Data: []byte("7")}}, nil, `input "text" is missing`},
		{"bad JSON in a field", []Input{{Name: "ids:0", Data: []byte("[[1, 2,")}, {Name: "k", Data: []byte("7")}}, nil, `field "ids:0" is not valid JSON`},
		{"a field that is no input", []Input{{Name: "ids:0", Data: []byte("[[1, 2, 3]]")}, {Name: "other", Data: []byte("7")}}, nil, "a bare array only works for models with one input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, _ := newTensorHandler(multi)
			in, err := h.Preprocess(context.Background(), &Request{Inputs: c.parts})
			if failsAs(t, err, c.err) {
				return
			}
			for i, s := range c.shapes {
				if !slices.Equal(in[i].Shape, s) {
					t.Errorf("input %d shape %v, want %v", i, in[i].Shape, s)
				}
			}
			if v, _ := tensor.Values[int64](in[0]); v[0] != 1 {
				t.Errorf("ids:0 starts with %d, want 1", v[0])
			}
		})
	}
}

// TestLoadLabels: index_to_name.json's forms, a Hugging Face config.json's id2label when
// there is no index_to_name.json, and an Ultralytics export's names in the ONNX metadata
// when there is neither.
func TestLoadLabels(t *testing.T) {
	yolo := map[string]string{"names": `{0: 'person', 1: 'bicycle', 2: "teddy's bear", 10: 'fire hydrant'}`, "task": "detect"}
	cases := []struct {
		name     string
		files    map[string]string
		metadata map[string]string
		want     map[int]string
		err      string
	}{
		{"ultralytics names", nil, yolo, map[int]string{0: "person", 1: "bicycle", 2: "teddy's bear", 10: "fire hydrant"}, ""},
		{"files before the metadata", map[string]string{LabelsFile: `{"0": "cat"}`}, yolo, map[int]string{0: "cat"}, ""},
		{"other metadata names", nil, map[string]string{"names": "person,bicycle"}, nil, ""},
		{"an older YOLOv5 export's list", nil, map[string]string{"names": `['person', "teddy's bear"]`}, map[int]string{0: "person", 1: "teddy's bear"}, ""},
		{"names", map[string]string{LabelsFile: `{"0": "cat", "1": "dog"}`}, nil, map[int]string{0: "cat", 1: "dog"}, ""},
		{"synsets", map[string]string{LabelsFile: `{"0": ["n02123045", "tabby"]}`}, nil, map[int]string{0: "tabby"}, ""},
		{"object_type_names", map[string]string{LabelsFile: `{"object_type_names": ["square", "circle"]}`}, nil, map[int]string{0: "square", 1: "circle"}, ""},
		{"hugging face id2label", map[string]string{HFConfigFile: `{"architectures": ["BertForSequenceClassification"], "id2label": {"0": "NEGATIVE", "1": "POSITIVE"}}`},
			nil, map[int]string{0: "NEGATIVE", 1: "POSITIVE"}, ""},
		{"index_to_name.json first", map[string]string{LabelsFile: `{"0": "cat"}`, HFConfigFile: `{"id2label": {"0": "LABEL_0"}}`}, nil, map[int]string{0: "cat"}, ""},
		{"config.json without id2label", map[string]string{HFConfigFile: `{"hidden_size": 32}`}, nil, nil, ""},
		{"neither", nil, nil, nil, ""},
		{"bad index", map[string]string{LabelsFile: `{"cat": "dog"}`}, nil, nil, `key "cat" is not a class index`},
		{"bad id2label index", map[string]string{HFConfigFile: `{"id2label": {"first": "A"}}`}, nil, nil, `id2label key "first" is not a class index`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, text := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := loadLabels(dir, c.metadata)
			if failsAs(t, err, c.err) {
				return
			}
			if !maps.Equal(got, labels(c.want)) {
				t.Errorf("labels %v, want %v", got, c.want)
			}
		})
	}
}

// TestDecoderPanic: an image codec that panics on malformed data (third-party code fed by
// clients) makes a 400 for that request, not a crash.
func TestDecoderPanic(t *testing.T) {
	image.RegisterFormat("tsboom", "TSBOOM", func(io.Reader) (image.Image, error) { panic("index out of range") },
		func(io.Reader) (image.Config, error) { return image.Config{Width: 2, Height: 2}, nil })
	_, err := decodeImage([]byte("TSBOOM and then garbage"))
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Code != 400 || !strings.Contains(err.Error(), "cannot decode tsboom image: malformed image (index out of range)") {
		t.Errorf("error %v, want a 400 naming the malformed image", err)
	}
}

// FuzzTensorHandler: no body, however malformed, panics the tensor handler; a body it
// accepts gives every input, of the model's element type and rank.
func FuzzTensorHandler(f *testing.F) {
	model := &Model{Inputs: []tensor.Info{
		{Name: "ids:0", DType: tensor.Int64, Shape: []int64{-1, 3}},
		{Name: "k", DType: tensor.Int64, Shape: []int64{}},
		{Name: "mask", DType: tensor.Bool, Shape: []int64{-1, 3}},
		{Name: "text", DType: tensor.String, Shape: []int64{-1}},
		{Name: "x", DType: tensor.Float16, Shape: []int64{-1, 2, 2}},
	}}
	f.Add([]byte(`{"inputs": {"ids:0": [[1, 2, 3]], "k": 7, "mask": [[true, false, 1]], "text": ["a"], "x": [[[1, 2], [3, 4]]]}}`))
	f.Add([]byte(`{"ids:0": [1, 2, 3], "k": 7, "mask": [true, false, true], "text": "a", "x": [1, 2, 3, 4]}`))
	f.Add([]byte(`{"inputs": [{"name": "k", "shape": [], "datatype": "INT64", "data": [1]}]}`))
	f.Add([]byte(`[[[1e400]]]`))
	h, _ := newTensorHandler(model)
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", ContentType: "application/json", Data: body}}})
		if err != nil {
			return
		}
		for i, x := range in {
			if want := model.Inputs[i]; x == nil || x.DType != want.DType || len(x.Shape) != len(want.Shape) {
				t.Fatalf("input %d: %+v, want %s", i, x, want)
			}
		}
	})
}

// TestScoresOutput: a classifier with several outputs reads the one holding class scores.
func TestScoresOutput(t *testing.T) {
	f := func(name string, shape ...int64) tensor.Info {
		return tensor.Info{Name: name, DType: tensor.Float32, Shape: shape}
	}
	i64 := func(name string, shape ...int64) tensor.Info {
		return tensor.Info{Name: name, DType: tensor.Int64, Shape: shape}
	}
	cases := []struct {
		name    string
		outputs []tensor.Info
		labels  int
		want    int
	}{
		{"one output", []tensor.Info{f("y", -1, 10)}, 0, 0},
		{"features, then scores of as many classes as labels", []tensor.Info{f("features", -1, 512), f("head", -1, 10)}, 10, 1},
		{"features, then probabilities by name", []tensor.Info{f("features", -1, 512), f("probs", -1, 10)}, 0, 1},
		{"logits after hidden states", []tensor.Info{f("last_hidden_state", -1, 8, 768), f("logits", -1, 2)}, 0, 1},
		{"sklearn: label, then probabilities", []tensor.Info{i64("output_label", -1), f("output_probability", -1, 3)}, 0, 1},
		{"integer class first, no names", []tensor.Info{i64("y", -1), f("z", -1, 3)}, 0, 1},
		{"nothing to go by: the first", []tensor.Info{f("a", -1, 512), f("b", -1, 10)}, 0, 0},
		{"labels decide over names", []tensor.Info{f("output_0", -1, 512), f("output_1", -1, 10)}, 10, 1},
	}
	for _, c := range cases {
		if got := scoresOutput(c.outputs, c.labels); got != c.want {
			t.Errorf("%s: output %d, want %d", c.name, got, c.want)
		}
	}
}

// TestOneScoreRow: a classifier refuses, when the model loads, an output that scores each
// token or pixel rather than each input ([batch, sequence, labels], [1, classes, H, W]),
// and takes [N, classes] and Caffe's [N, classes, 1, 1].
func TestOneScoreRow(t *testing.T) {
	for _, c := range []struct {
		shape []int64
		ok    bool
	}{
		{[]int64{-1, 10}, true},
		{[]int64{1, 1000, 1, 1}, true},
		{[]int64{-1, 1}, true},
		{[]int64{-1, -1, 9}, false},
		{[]int64{1, 21, 64, 64}, false},
	} {
		err := oneScoreRow([]tensor.Info{{Name: "logits", DType: tensor.Float32, Shape: c.shape}}, 0, "text_classifier", "a score per token")
		if (err == nil) != c.ok {
			t.Errorf("%v: %v, want accepted %v", c.shape, err, c.ok)
		}
	}
	_, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Outputs: []tensor.Info{{Name: "out", DType: tensor.Float32, Shape: []int64{1, 21, 8, 8}}}, Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "image_classifier answers one set of classes per input, but output out") || !strings.Contains(err.Error(), "image_segmenter") {
		t.Errorf("a per-pixel output: %v", err)
	}
}

// FuzzImageHandlers: whatever bytes come as an image, the image handlers' preprocessing
// gives the model's input or a 4xx error, never a panic or a server error.
func FuzzImageHandlers(f *testing.F) {
	for _, p := range []string{"samples/digits/3.png", "samples/digits/3.jpg", "samples/detector/shapes_1.png"} {
		b, err := os.ReadFile(testenv.Path(p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	img := image.NewPaletted(image.Rect(0, 0, 5, 3), color.Palette{color.Black, color.White})
	var gifData bytes.Buffer
	gif.Encode(&gifData, img, nil)
	f.Add(gifData.Bytes())
	f.Add([]byte("iVBORw0KGgo=")) // base64 of a PNG's signature
	f.Add([]byte(`{"data": "R0lGODlhAQABAAAAACw="}`))
	rgb := tensor.Info{Name: "images", DType: tensor.Float32, Shape: []int64{1, 3, 32, 32}}
	var handlers []Handler
	for _, c := range []struct {
		name string
		m    *Model
	}{
		{"image_classifier", &Model{Inputs: []tensor.Info{digitsInput}, Outputs: []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 10}}}}},
		{"image_classifier", &Model{Inputs: []tensor.Info{{Name: "x", DType: tensor.Uint8, Shape: []int64{-1, -1, -1, 3}}}, Outputs: []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 10}}}}},
		{"object_detector", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{{DType: tensor.Float32, Shape: []int64{1, 3, 7}}}}},
		{"image_segmenter", &Model{Inputs: []tensor.Info{rgb}, Outputs: []tensor.Info{{Name: "out", DType: tensor.Float32, Shape: []int64{1, 4, 32, 32}}}}},
	} {
		c.m.Dir = f.TempDir()
		h, err := New(c.name, c.m)
		if err != nil {
			f.Fatal(err)
		}
		handlers = append(handlers, h)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, h := range handlers {
			_, err := h.Preprocess(context.Background(), &Request{Inputs: []Input{{Name: "body", Data: data}}})
			var ae *apierror.Error
			if err != nil && (!errors.As(err, &ae) || ae.Code >= 500) {
				t.Fatalf("handler %d: %v, want a 4xx error", i, err)
			}
		}
	})
}

// TestUnbatchedScores: a classifier output [classes] with no batch dimension (a model that
// squeezed it) is one item's scores, in answers and explanations alike; a dynamic [N] is
// a score per item. The fixed [3] was read as three items' binary scores.
func TestUnbatchedScores(t *testing.T) {
	logits := tensor.New([]int64{3}, []float32{-1, 3, 2})
	for _, c := range []struct {
		name     string
		declared []int64
		items    int // answers: 1 is an object, more a list
	}{
		{"fixed [classes]: one item", []int64{3}, 1},
		{"dynamic [N]: a score per item", []int64{-1}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			h, err := newImageClassifier(&Model{Inputs: []tensor.Info{digitsInput}, Outputs: []tensor.Info{{Name: "logits", DType: tensor.Float32, Shape: c.declared}}, Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			res, err := h.Postprocess(context.Background(), nil, []*tensor.Tensor{logits})
			if err != nil {
				t.Fatal(err)
			}
			var one map[string]float64
			var many []map[string]float64
			if c.items == 1 {
				// softmax over the three logits: class 1 first, at 0.705
				if err := json.Unmarshal(res.Body, &one); err != nil || len(one) != 3 || math.Abs(one["1"]-0.7213991842739687) > 1e-6 {
					t.Errorf("answer %s (%v), want one object of three classes, class 1 at 0.721", res.Body, err)
				}
			} else if err := json.Unmarshal(res.Body, &many); err != nil || len(many) != c.items || math.Abs(many[1]["1"]-0.9525741268224334) > 1e-6 {
				t.Errorf("answer %s (%v), want %d binary answers, the second's class 1 at 0.953", res.Body, err, c.items)
			}
		})
	}
	// the explanation's target and score are the answer's top class and probability
	e, err := classifierExplanation(&Request{}, []*tensor.Tensor{logits}, 0, true, "auto", nil)
	if err != nil || e.Target != "1" || math.Abs(e.Base-0.7213991842739687) > 1e-6 {
		t.Errorf("explanation of [classes]: %+v, %v; want class 1 at 0.721", e, err)
	}
}
