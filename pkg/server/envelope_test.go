package server

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestServiceEnvelope: with TorchServe's service_envelope, /predictions and /explanations read
// and answer KServe v1 bodies (json, kserve: instances in, predictions or explanations out,
// TensorFlow Serving's {"b64"} an image's bytes) or Open Inference Protocol tensors
// (kservev2), on the default version or one named; a body of another shape is a 400, and
// OPTIONS still describes the model.
func TestServiceEnvelope(t *testing.T) {
	png, err := os.ReadFile(testenv.Path("samples/digits/3.png"))
	if err != nil {
		t.Fatal(err)
	}
	image := `{"instances": [{"b64": "` + base64.StdEncoding.EncodeToString(png) + `"}]}`
	for _, envelope := range []string{"json", "kserve"} {
		ts := emptyServer(t, map[string]string{"service_envelope": envelope})
		for _, m := range []string{"iris.mar", "digits.mar"} {
			exchange{"register " + m, "POST", "/models?url=" + m + "&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
		}
		status, b, _, err := send("POST", ts.inference.URL+"/predictions/iris", []byte(`{"instances": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}`))
		var answer struct{ Predictions [][]float64 }
		if err != nil || status != 200 || json.Unmarshal(b, &answer) != nil || len(answer.Predictions) != 2 || len(answer.Predictions[0]) != 3 {
			t.Fatalf("%s: iris: %d %v %s", envelope, status, err, b)
		}
		if answer.Predictions[0][0] < 0.5 || answer.Predictions[1][2] < 0.5 {
			t.Errorf("%s: iris predictions %v: want setosa, then virginica", envelope, answer.Predictions)
		}
		exchange{envelope + ": an image as b64", "POST", "/predictions/digits/1.0", "application/json", []byte(image), 200, "", `"predictions"`}.run(t, ts.inference.URL)
		status, b, _, _ = send("POST", ts.inference.URL+"/predictions/digits", []byte(image))
		var classes struct{ Predictions []map[string]float64 }
		if status != 200 || json.Unmarshal(b, &classes) != nil || len(classes.Predictions) != 1 {
			t.Fatalf("%s: digits: %d %s", envelope, status, b)
		}
		best, top := "", 0.0
		for label, p := range classes.Predictions[0] {
			if p > top {
				best, top = label, p
			}
		}
		if best != "3" {
			t.Errorf("%s: digits answers %v, want 3 first", envelope, classes.Predictions[0])
		}
		exchange{envelope + ": an explanation", "POST", "/explanations/digits", "application/json", []byte(image), 200, "", `"explanations"`}.run(t, ts.inference.URL)
		exchange{envelope + ": a body without instances", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 400, "BadRequestException", "instances"}.run(t, ts.inference.URL)
		exchange{envelope + ": b64 that is not base64", "POST", "/predictions/digits", "application/json", []byte(`{"instances": [{"b64": "%%%"}]}`), 400, "BadRequestException", "not base64"}.run(t, ts.inference.URL)
		exchange{envelope + ": OPTIONS describes", "OPTIONS", "/predictions/iris", "", nil, 200, "", `"openapi"`}.run(t, ts.inference.URL)
	}

	ts := emptyServer(t, map[string]string{"service_envelope": "kservev2"})
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	v2 := `{"id": "r1", "inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`
	for _, path := range []string{"/predictions/iris", "/predictions/iris/1.0"} {
		exchange{"kservev2: " + path, "POST", path, "application/json", []byte(v2), 200, "", `"id":"r1"`}.run(t, ts.inference.URL)
	}
	exchange{"kservev2: an explanation", "POST", "/explanations/iris", "application/json", []byte(v2), 200, "", `"name":"explain"`}.run(t, ts.inference.URL)
	exchange{"kservev2: instances", "POST", "/predictions/iris", "application/json", []byte(`{"instances": [[5.1, 3.5, 1.4, 0.2]]}`), 400, "BadRequestException", "inputs"}.run(t, ts.inference.URL)
	if status, b, _, _ := send("POST", ts.inference.URL+"/predictions/iris", []byte(v2)); status != 200 || strings.Contains(string(b), "predictions") {
		t.Errorf("kservev2: %d %s", status, b)
	}
}
