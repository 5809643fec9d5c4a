package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/onnxgen"
)

// explainOK posts body to path, wants a 200, and answers the body and the explanation's
// target and score headers.
func explainOK(t *testing.T, url string, body []byte, header ...string) ([]byte, string, float64) {
	t.Helper()
	status, b, h, err := send("POST", url, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	if status != 200 {
		t.Fatalf("POST %s: %d %s", url, status, b)
	}
	score, err := strconv.ParseFloat(h.Get(api.HeaderExplainScore), 64)
	if err != nil {
		t.Fatalf("%s: %v", api.HeaderExplainScore, err)
	}
	return b, h.Get(api.HeaderExplainTarget), score
}

// softmaxOf is the softmax of logits.
func softmaxOf(logits []float64) []float64 {
	out := make([]float64, len(logits))
	sum := 0.0
	for i, v := range logits {
		out[i] = math.Exp(v)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// TestExplainImageClassifier: /explanations on the digits sample answers TorchServe's
// nested list shaped like one image of the model's input ([1][8][8]), explains the top
// class (the one /predictions ranks first) unless target names another, and each element
// carries its patch's attribution: with one patch over the whole image, the drop of the
// target's probability when the image is all baseline (zeros), computed here from the
// model's logits for zeros through the Open Inference Protocol. KServe v1's :explain
// answers the same explanation per instance.
func TestExplainImageClassifier(t *testing.T) {
	inference, _ := newTestServer(t)
	img, err := os.ReadFile(testenv.Path("samples/digits/3.png"))
	if err != nil {
		t.Fatal(err)
	}
	status, predBody, _ := post(t, inference.URL+"/predictions/digits", img)
	if status != 200 {
		t.Fatalf("predict: %d %s", status, predBody)
	}
	top := topLabel(t, predBody)
	var probs map[string]float64
	json.Unmarshal(predBody, &probs)

	body, target, score := explainOK(t, inference.URL+"/explanations/digits", img)
	if target != top || math.Abs(score-probs[top]) > 1e-4 {
		t.Errorf("explained %q (%g), want the top class %q (%g)", target, score, top, probs[top])
	}
	var nested [][][]float64
	if err := json.Unmarshal(body, &nested); err != nil {
		t.Fatalf("%v: %.200s", err, body)
	}
	if len(nested) != 1 || len(nested[0]) != 8 || len(nested[0][0]) != 8 {
		t.Fatalf("attributions of shape [%d][%d][…], want [1][8][8]", len(nested), len(nested[0]))
	}
	positive := 0
	for _, row := range nested[0] {
		for _, v := range row {
			if v > 0.01 {
				positive++
			}
		}
	}
	if positive == 0 {
		t.Errorf("no patch supports the top class: %v", nested)
	}

	// one patch over the whole image, for class 8: p8(image) - p8(zeros)
	_, zeros, _ := post(t, inference.URL+"/v2/models/digits/infer",
		[]byte(`{"inputs":[{"name":"input","shape":[1,1,8,8],"datatype":"FP32","data":[`+strings.Repeat("0,", 63)+`0]}]}`))
	var v2 struct {
		Outputs []struct {
			Data []float64 `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(zeros, &v2); err != nil || len(v2.Outputs) != 1 || len(v2.Outputs[0].Data) != 10 {
		t.Fatalf("logits for zeros: %s", zeros)
	}
	want := probs["8"] - softmaxOf(v2.Outputs[0].Data)[8]
	body, target, score = explainOK(t, inference.URL+"/explanations/digits?target=8&patch=8", img)
	if target != "8" || math.Abs(score-probs["8"]) > 1e-4 {
		t.Errorf("explained %q (%g), want 8 (%g)", target, score, probs["8"])
	}
	nested = nil
	if err := json.Unmarshal(body, &nested); err != nil {
		t.Fatal(err)
	}
	for _, row := range nested[0] {
		for _, v := range row {
			if math.Abs(v-want) > 1e-4 {
				t.Fatalf("attribution %g, want %g everywhere (one patch)", v, want)
			}
		}
	}

	// the target as a form field, as TorchServe's handlers read it
	ctype, form := multipartFields(t, map[string][]byte{"data": img, "target": []byte("8")})
	if _, target, _ := explainOK(t, inference.URL+"/explanations/digits", form, "Content-Type", ctype); target != "8" {
		t.Errorf("form field target=8 explained %q", target)
	}

	v1 := fmt.Sprintf(`{"instances": [{"data": %q}]}`, base64.StdEncoding.EncodeToString(img))
	status, b, _ := post(t, inference.URL+"/v1/models/digits:explain", []byte(v1))
	var kserve struct {
		Explanations [][][][]float64 `json:"explanations"`
	}
	if status != 200 || json.Unmarshal(b, &kserve) != nil || len(kserve.Explanations) != 1 {
		t.Fatalf("v1 explain: %d %.300s", status, b)
	}
	first, _, _ := explainOK(t, inference.URL+"/explanations/digits", img)
	var again [][][]float64
	json.Unmarshal(first, &again)
	if fmt.Sprint(kserve.Explanations[0]) != fmt.Sprint(again) {
		t.Errorf("v1 :explain differs from /explanations")
	}

	for _, x := range []exchange{
		{"unknown model", "POST", "/explanations/nope", "", img, 404, "ModelNotFoundException", ""},
		{"unknown version", "POST", "/explanations/digits/9.9", "", img, 404, "ModelVersionNotFoundException", ""},
		{"target past the classes", "POST", "/explanations/digits?target=10", "", img, 400, "BadRequestException", "not a class"},
		{"target no label names", "POST", "/explanations/digits?target=cat", "", img, 400, "BadRequestException", "neither a class index nor a label"},
		{"patch 0", "POST", "/explanations/digits?patch=0", "", img, 400, "BadRequestException", "patch"},
		{"no image", "POST", "/explanations/digits", "", nil, 400, "BadRequestException", ""},
		{"not an image", "POST", "/explanations/digits", "", []byte("hello"), 400, "BadRequestException", ""},
	} {
		x.run(t, inference.URL)
	}
}

// multipartFields is a multipart/form-data body with the given fields.
func multipartFields(t *testing.T, fields map[string][]byte) (string, []byte) {
	t.Helper()
	var b strings.Builder
	const boundary = "xXxFieldsxXx"
	for name, data := range fields {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n", boundary, name)
		b.Write(data)
		b.WriteString("\r\n")
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return "multipart/form-data; boundary=" + boundary, []byte(b.String())
}

// TestExplainTensorModel: for a linear model y = G·x (onnxgen: one Gemm, a batch
// dimension) served by the tensor handler, hiding x_i (setting it to the baseline b) drops
// y_t by G[t][i]·(x_i - b), exactly what the explanation answers for each element; G is
// read here from the model's answers for the unit vectors. The copies run stacked in
// batches (the model takes them); a model whose rows are not independent (rowsoftmax: a
// softmax across dimension 0, all 1s for one row alone) or that runs one row only
// (onerow) has them run one by one, and answers as it does alone. The Open Inference
// Protocol's explain answers the same attributions as an output named "explain".
func TestExplainTensorModel(t *testing.T) {
	const dim, out = 6, 3
	ts := emptyServer(t, nil)
	dir := t.TempDir()
	linear := filepath.Join(dir, "linear.onnx")
	if err := onnxgen.Write(linear, onnxgen.Spec{Dim: dim, Out: out, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	for name, model := range map[string]string{"linear": linear,
		"rowsoftmax": testenv.Path("pkg/engine/testdata/rowsoftmax.onnx"), "onerow": testenv.Path("pkg/engine/testdata/onerow.onnx")} {
		ts.registerArchive(t, archive.PackOptions{ModelName: name, SerializedFile: model, Handler: "tensor"}, "initial_workers=1&batch_size=8")
	}
	base := ts.inference.URL

	// G's columns: the answers for the unit vectors
	var rows []string
	for i := range dim {
		r := make([]string, dim)
		for k := range r {
			r[k] = "0"
		}
		r[i] = "1"
		rows = append(rows, "["+strings.Join(r, ",")+"]")
	}
	status, b, _ := post(t, base+"/predictions/linear", []byte("["+strings.Join(rows, ",")+"]"))
	var pred struct {
		Outputs []struct {
			Data []float64 `json:"data"`
		} `json:"outputs"`
	}
	if status != 200 || json.Unmarshal(b, &pred) != nil || len(pred.Outputs[0].Data) != dim*out {
		t.Fatalf("predict the unit vectors: %d %s", status, b)
	}
	g := func(t, i int) float64 { return pred.Outputs[0].Data[i*out+t] }

	x := []float64{1.5, -2, 0.25, 3, -0.5, 1}
	xs, _ := json.Marshal([][]float64{x})
	y := make([]float64, out)
	for k := range out {
		for i := range dim {
			y[k] += g(k, i) * x[i]
		}
	}
	top := 0
	for k := range y {
		if y[k] > y[top] {
			top = k
		}
	}
	for _, c := range []struct {
		query    string
		target   int
		baseline float64
	}{
		{"", top, 0},
		{"?target=1", 1, 0},
		{"?target=2&baseline=0.5", 2, 0.5},
	} {
		body, target, score := explainOK(t, base+"/explanations/linear"+c.query, xs)
		var e struct {
			Target struct {
				Output string  `json:"output"`
				Index  int     `json:"index"`
				Value  float64 `json:"value"`
			} `json:"target"`
			Baseline     float64 `json:"baseline"`
			Attributions []struct {
				Name  string    `json:"name"`
				Shape []int64   `json:"shape"`
				Data  []float64 `json:"data"`
			} `json:"attributions"`
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		if e.Target.Output != "y" || e.Target.Index != c.target || target != fmt.Sprintf("y[%d]", c.target) ||
			math.Abs(e.Target.Value-y[c.target]) > 1e-4 || math.Abs(score-y[c.target]) > 1e-4 || e.Baseline != c.baseline {
			t.Errorf("%q: target %+v (header %q %g), baseline %g; want y[%d] = %g, baseline %g", c.query, e.Target, target, score, e.Baseline, c.target, y[c.target], c.baseline)
		}
		if len(e.Attributions) != 1 || e.Attributions[0].Name != "x" || fmt.Sprint(e.Attributions[0].Shape) != "[1 6]" || len(e.Attributions[0].Data) != dim {
			t.Fatalf("%q: attributions %+v", c.query, e.Attributions)
		}
		for i, got := range e.Attributions[0].Data {
			if want := g(c.target, i) * (x[i] - c.baseline); math.Abs(got-want) > 1e-4 {
				t.Errorf("%q: attribution of x%d = %g, want %g", c.query, i, got, want)
			}
		}
	}

	// the Open Inference Protocol's explain: the same attributions as an output "explain"
	v2 := fmt.Sprintf(`{"id": "q1", "inputs": [{"name": "x", "shape": [1, %d], "datatype": "FP32", "data": %s}]}`, dim, xs[1:len(xs)-1])
	body, target, score := explainOK(t, base+"/v2/models/linear/versions/1.0/explain?target=2&baseline=0.5", []byte(v2))
	var oip struct {
		ModelName  string `json:"model_name"`
		ID         string `json:"id"`
		Parameters struct {
			Target string  `json:"target"`
			Score  float64 `json:"score"`
		} `json:"parameters"`
		Outputs []struct {
			Name       string            `json:"name"`
			Datatype   string            `json:"datatype"`
			Shape      []int64           `json:"shape"`
			Data       []float64         `json:"data"`
			Parameters map[string]string `json:"parameters"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal(body, &oip); err != nil || oip.ModelName != "linear" || oip.ID != "q1" || oip.Parameters.Target != "y[2]" || target != "y[2]" ||
		math.Abs(oip.Parameters.Score-y[2]) > 1e-4 || math.Abs(score-y[2]) > 1e-4 || len(oip.Outputs) != 1 {
		t.Fatalf("v2 explain: %s", body)
	}
	if o := oip.Outputs[0]; o.Name != "explain" || o.Datatype != "FP64" || fmt.Sprint(o.Shape) != "[1 6]" || o.Parameters["input"] != "x" || len(o.Data) != dim {
		t.Fatalf("v2 explain output %+v", o)
	}
	for i, got := range oip.Outputs[0].Data {
		if want := g(2, i) * (x[i] - 0.5); math.Abs(got-want) > 1e-4 {
			t.Errorf("v2 explain: attribution of x%d = %g, want %g", i, got, want)
		}
	}

	// rows not independent, and one row only: each copy alone
	attributions := func(body []byte) string {
		var e struct {
			Attributions []struct {
				Data []float64 `json:"data"`
			} `json:"attributions"`
		}
		if err := json.Unmarshal(body, &e); err != nil || len(e.Attributions) != 1 {
			t.Fatalf("explanation %s", body)
		}
		return fmt.Sprint(e.Attributions[0].Data)
	}
	body, _, _ = explainOK(t, base+"/explanations/rowsoftmax", []byte("[[1, 2, 3]]"))
	if got := attributions(body); got != "[0 0 0]" {
		t.Errorf("rowsoftmax: attributions %s, want 0s (alone each row is all 1s)", got)
	}
	body, target, _ = explainOK(t, base+"/explanations/onerow", []byte("[[1, 5, 3]]"))
	if got := attributions(body); target != "y[1]" || got != "[0 5 0]" {
		t.Errorf("onerow: %s explained, attributions %s; want y[1] = x1 attributed to x1 alone", target, got)
	}

	for _, x := range []exchange{
		{"target past the output", "POST", "/explanations/linear?target=3", "", xs, 400, "BadRequestException", "target must be an element"},
		{"unknown output", "POST", "/explanations/linear?output=z", "", xs, 400, "BadRequestException", `is not an output of the model`},
		{"baseline not a number", "POST", "/explanations/linear?baseline=NaN", "", xs, 400, "BadRequestException", "baseline must be a number"},
		{"wrong width", "POST", "/explanations/linear", "", []byte("[[1, 2]]"), 400, "BadRequestException", ""},
		{"v2: no inputs", "POST", "/v2/models/linear/explain", "", []byte(`{"inputs": []}`), 400, "BadRequestException", "is missing"},
		{"v2: unknown model", "POST", "/v2/models/nope/explain", "", []byte(v2), 404, "ModelNotFoundException", ""},
	} {
		x.run(t, base)
	}
}

// TestExplainText: the text sample's explanation is TorchServe's {"words", "importances"}
// over the text's tokens, the importances of unit norm, the most important a word of the
// text; the model's class for it is the one explained.
func TestExplainText(t *testing.T) {
	ts := emptyServer(t, nil)
	sampleServer(t, ts, "topics", "text", "text_classifier", "tokenizer.json")
	text, err := os.ReadFile(testenv.Path("samples/text/weather.txt"))
	if err != nil {
		t.Fatal(err)
	}
	_, predBody, _ := post(t, ts.inference.URL+"/predictions/topics", text)
	body, target, _ := explainOK(t, ts.inference.URL+"/explanations/topics", text)
	if top := topLabel(t, predBody); target != top {
		t.Errorf("explained %q, the top class is %q", target, top)
	}
	var e struct {
		Words       []string  `json:"words"`
		Importances []float64 `json:"importances"`
		Target      string    `json:"target"`
	}
	if err := json.Unmarshal(body, &e); err != nil || len(e.Words) < 5 || len(e.Words) != len(e.Importances) || e.Target != target {
		t.Fatalf("explanation %s", body)
	}
	norm, best := 0.0, 0
	for i, v := range e.Importances {
		norm += v * v
		if v > e.Importances[best] {
			best = i
		}
	}
	if math.Abs(norm-1) > 1e-6 {
		t.Errorf("importances of norm² %g, want 1", norm)
	}
	if w := e.Words[best]; !strings.Contains(strings.ToLower(string(text)), w) || len(w) < 3 {
		t.Errorf("the most important token is %q, not a word of %q", w, text)
	}
}

// TestExplainOtherHandlers: the detector cannot explain its answers (a 400 that says which
// handlers can); a custom handler gets the request with TorchServe's header explain=True
// and answers it itself.
// TestExplainSegmenter: a segmenter's explanation attributes the share of pixels of the
// class with the most pixels (but the background) to patches of the image: the patches over
// that shape support it more than the others, and the score is the share of the prediction's
// own mask.
func TestExplainSegmenter(t *testing.T) {
	ts := emptyServer(t, nil)
	sampleServer(t, ts, "shapes", "segmenter", "image_segmenter")
	img, err := os.ReadFile(testenv.Path("samples/segmenter/shapes_1.png"))
	if err != nil {
		t.Fatal(err)
	}
	status, predBody, _ := post(t, ts.inference.URL+"/predictions/shapes", img)
	var mask [][][2]float64
	if err := json.Unmarshal(predBody, &mask); status != 200 || err != nil || len(mask) != 64 || len(mask[0]) != 64 {
		t.Fatalf("predict: %d %v %.200s", status, err, predBody)
	}
	names := []string{"background", "circle", "square"}
	counts := make([]int, 3)
	for _, row := range mask {
		for _, px := range row {
			counts[int(px[0])]++
		}
	}
	top := 1
	if counts[2] > counts[1] {
		top = 2
	}
	body, target, score := explainOK(t, ts.inference.URL+"/explanations/shapes", img)
	if target != names[top] || math.Abs(score-float64(counts[top])/4096) > 1e-5 {
		t.Errorf("explained %q (%g), want %q (%g of the pixels)", target, score, names[top], float64(counts[top])/4096)
	}
	var nested [][][]float64
	if err := json.Unmarshal(body, &nested); err != nil || len(nested) != 3 || len(nested[0]) != 64 || len(nested[0][0]) != 64 {
		t.Fatalf("attributions %v: %.200s", err, body)
	}
	var on, off, nOn, nOff float64
	for y, row := range mask {
		for x, px := range row {
			if int(px[0]) == top {
				on, nOn = on+nested[0][y][x], nOn+1
			} else {
				off, nOff = off+nested[0][y][x], nOff+1
			}
		}
	}
	if on/nOn <= off/nOff+0.001 {
		t.Errorf("patches over the %s support it no more than the others: %g against %g", names[top], on/nOn, off/nOff)
	}
	exchange{"another target", "POST", "/explanations/shapes?target=background", "", img, 200, "", ""}.run(t, ts.inference.URL)
	exchange{"no such class", "POST", "/explanations/shapes?target=7", "", img, 400, "BadRequestException", "target 7 is not a class of this model (0 to 2)"}.run(t, ts.inference.URL)
}

// TestExplainDetector: a detector's explanation attributes its best detection's score to
// patches of the image (64×64, as the model's input): the patches inside that box support it
// more than those outside.
func TestExplainDetector(t *testing.T) {
	ts := emptyServer(t, nil)
	sampleServer(t, ts, "shapes", "detector", "object_detector")
	img, err := os.ReadFile(testenv.Path("samples/detector/shapes_1.png"))
	if err != nil {
		t.Fatal(err)
	}
	status, predBody, _ := post(t, ts.inference.URL+"/predictions/shapes", img)
	var dets []map[string]any
	if err := json.Unmarshal(predBody, &dets); status != 200 || err != nil || len(dets) == 0 {
		t.Fatalf("predict: %d %v %s", status, err, predBody)
	}
	var label string
	var box []any
	for k, v := range dets[0] {
		if k != "score" {
			label, box = k, v.([]any)
		}
	}
	body, target, score := explainOK(t, ts.inference.URL+"/explanations/shapes", img)
	if target != label || math.Abs(score-dets[0]["score"].(float64)) > 1e-4 {
		t.Errorf("explained %q (%g), want the best detection %q (%v)", target, score, label, dets[0]["score"])
	}
	var nested [][][]float64
	if err := json.Unmarshal(body, &nested); err != nil || len(nested) != 3 || len(nested[0]) != 64 || len(nested[0][0]) != 64 {
		t.Fatalf("attributions %v: %.200s", err, body)
	}
	x1, y1, x2, y2 := box[0].(float64), box[1].(float64), box[2].(float64), box[3].(float64)
	var in, out, nIn, nOut float64
	for y := range 64 {
		for x := range 64 {
			if float64(x) >= x1 && float64(x) < x2 && float64(y) >= y1 && float64(y) < y2 {
				in, nIn = in+nested[0][y][x], nIn+1
			} else {
				out, nOut = out+nested[0][y][x], nOut+1
			}
		}
	}
	if in/nIn <= out/nOut+0.001 {
		t.Errorf("patches inside the %s's box support it no more than the others: %g against %g", label, in/nIn, out/nOut)
	}
	other := map[string]string{"circle": "square", "square": "circle"}[label]
	_, target, _ = explainOK(t, ts.inference.URL+"/explanations/shapes?target="+other, img)
	if target != other {
		t.Errorf("explained %q, want the asked %q", target, other)
	}
	var blank bytes.Buffer
	png.Encode(&blank, image.NewGray(image.Rect(0, 0, 64, 64)))
	exchange{"nothing detected", "POST", "/explanations/shapes", "", blank.Bytes(), 400, "BadRequestException", "nothing detected above the threshold"}.run(t, ts.inference.URL)
}

// TestExplainCustomHandler: a custom handler gets an explanation as a prediction with the
// header explain=True, as TorchServe's handlers do.
func TestExplainCustomHandler(t *testing.T) {
	custom := customServer(t, "unruly.py", "unruly", "")
	exchange{"custom", "POST", "/explanations/unruly", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"explain": "True"`}.run(t, custom.inference.URL)
	exchange{"custom predicts", "POST", "/predictions/unruly", "", []byte("5.1,3.5,1.4,0.2"), 200, "", `"explain": null`}.run(t, custom.inference.URL)
}
