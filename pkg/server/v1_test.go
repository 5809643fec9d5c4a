package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestKServeV1: KServe's v1 protocol (TensorFlow Serving's REST format), as TorchServe answers
// it: instances of a tensor model run through the batcher, each prediction its own item's;
// columnar inputs; several outputs as objects; an image model's instances through its handler.
func TestKServeV1(t *testing.T) {
	ts := emptyServer(t, nil)
	exchange{"register iris", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true&batch_size=8&max_batch_delay=20", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"register digits", "POST", "/models?url=digits.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	ts.registerArchive(t, archive.PackOptions{ModelName: "manyout", SerializedFile: testenv.Path("pkg/engine/testdata/manyout.onnx"), Handler: "tensor"}, "initial_workers=1")
	png, _ := os.ReadFile(testenv.Path("samples/digits/3.png"))
	b64 := base64.StdEncoding.EncodeToString(png)
	base := ts.inference.URL

	for _, x := range []exchange{
		{"list", "GET", "/v1/models", "", nil, 200, "", `"models": [
    "digits",
    "iris",
    "manyout"
  ]`},
		{"ready", "GET", "/v1/models/iris", "", nil, 200, "", `"ready": true`},
		{"unknown model", "POST", "/v1/models/nope:predict", "application/json", []byte(`{"instances": [[1]]}`), 404, "ModelNotFoundException", "Model not found: nope"},
		{"explain", "POST", "/v1/models/iris:explain", "application/json", []byte(`{"instances": [[5.1, 3.5, 1.4, 0.2]]}`), 200, "", `"explanations": [`},
		{"explain a bad instance", "POST", "/v1/models/iris:explain", "application/json", []byte(`{"instances": [[1]]}`), 400, "BadRequestException", "must have shape"},
		{"another verb", "POST", "/v1/models/iris:train", "application/json", []byte(`{"instances": [[1]]}`), 404, "ResourceNotFoundException", ""},
		{"a bad instance names itself", "POST", "/v1/models/iris:predict", "application/json", []byte(`{"instances": [[1, 2, 3, 4], [1, 2]]}`), 400, "BadRequestException", `instance 1: input \"features\" must have shape [-1,4], got [1,2]`},
		{"no instances", "POST", "/v1/models/iris:predict", "application/json", []byte(`{"rows": []}`), 400, "BadRequestException", `no \"instances\"`},
		{"several outputs: objects", "POST", "/v1/models/manyout:predict", "application/json", []byte(`{"instances": [[1.5, -2, 0]]}`), 200, "",
			`{"predictions":[{"y:0":[3,-4,0],"rounded":[1,-2,0],"sum":[-0.5],"positive":[true,false,false],"echo":[1.5,-2,0]}]}`},
		{"columnar", "POST", "/v1/models/manyout:predict", "application/json", []byte(`{"inputs": {"x:0": [[1, 1, 1], [2, 2, 2]]}}`), 200, "", `"sum":[[3],[6]]`},
		{"image instances through the handler", "POST", "/v1/models/digits:predict", "application/json", []byte(`{"instances": [{"data": "` + b64 + `"}, "` + b64 + `"]}`), 200, "", `"3": 0.99`},
		{"the management API answers readiness too", "GET", "/v1/models/digits", "", nil, 200, "", `"name": "digits"`},
	} {
		base := base
		if strings.HasPrefix(x.name, "the management API") {
			base = ts.management.URL
		}
		t.Run(x.name, func(t *testing.T) { x.run(t, base) })
	}

	// twenty instances: each prediction is its own row's answer, as /predictions gives it
	var instances []string
	for i := range 20 {
		instances = append(instances, fmt.Sprintf("[%d, 3, %d, 1]", i%7, i%4))
	}
	status, b, _, _ := send("POST", base+"/v1/models/iris:predict", []byte(`{"instances": [`+strings.Join(instances, ",")+`]}`), "Content-Type", "application/json")
	var res struct{ Predictions [][]float64 }
	if err := json.Unmarshal(b, &res); status != 200 || err != nil || len(res.Predictions) != 20 {
		t.Fatalf("%d %s", status, b)
	}
	for i, inst := range instances {
		_, b, _, _ := send("POST", base+"/predictions/iris", []byte("["+inst+"]"), "Content-Type", "application/json")
		var alone struct{ Outputs []struct{ Data []float64 } }
		json.Unmarshal(b, &alone)
		if fmt.Sprint(res.Predictions[i]) != fmt.Sprint(alone.Outputs[0].Data) {
			t.Errorf("instance %d: %v, alone %v", i, res.Predictions[i], alone.Outputs[0].Data)
		}
	}

	exchange{"scale digits to 0", "PUT", "/models/digits?min_worker=0&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	if status, b, _, _ := send("GET", base+"/v1/models/digits", nil); status != http.StatusServiceUnavailable || !strings.Contains(string(b), `"ready": false`) {
		t.Errorf("not ready: %d %s", status, b)
	}
}
