package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestGenerate: Triton's generate extension. A model served with the tensor handler takes
// its inputs by name from the request's fields (parameters and other fields left out) and
// answers its outputs by name, one element as a value, more as a list; a custom handler
// gets the request as its body and answers text_output (its streamed parts joined in front),
// or its JSON object's fields; generate_stream sends each part as a Server-Sent Event, and
// an error after the first as an event {"error"}; bad requests get 400 with the protocol's
// "error".
func TestGenerate(t *testing.T) {
	ts := emptyServer(t, nil)
	ts.registerArchive(t, archive.PackOptions{ModelName: "strings", SerializedFile: testenv.Path("pkg/engine/testdata/strings.onnx"), Handler: "tensor"}, "initial_workers=1")
	ts.registerArchive(t, archive.PackOptions{ModelName: "streamer", Handler: testenv.Path("pkg/handler/testdata/streamer.py")}, "initial_workers=1")
	ts.registerArchive(t, archive.PackOptions{ModelName: "echo", Handler: testenv.Path("pkg/handler/testdata/takeover.py")}, "initial_workers=1")
	ts.registerArchive(t, archive.PackOptions{ModelName: "tsfn", Handler: testenv.Path("pkg/handler/testdata/torchserve_fn.py")}, "initial_workers=1")
	i := ts.inference.URL
	exchange{"register digits", "POST", ts.management.URL + "/models?url=digits.mar&initial_workers=1", "", nil, 200, "", "registered with 1 initial workers"}.run(t, "")
	for _, c := range []struct {
		name, path, body string
		status           int
		want             string // the whole answer, or a substring of an error's
	}{
		{"a string in, a string out", "/v2/models/strings/generate", `{"text": "hello", "parameters": {"temperature": 0}, "stream": false}`, 200,
			`{"model_name":"strings","model_version":"1.0","same":"hello"}` + "\n"},
		{"a list in, a list out", "/v2/models/strings/versions/1.0/generate", `{"text": ["a", "b"]}`, 200,
			`{"model_name":"strings","model_version":"1.0","same":["a","b"]}` + "\n"},
		{"an event", "/v2/models/strings/generate_stream", `{"text": "hello"}`, 200,
			`data: {"model_name":"strings","model_version":"1.0","same":"hello"}` + "\n\n"},
		{"a handler's parts joined", "/v2/models/streamer/generate", `{"text_input": "hi", "parts": 2}`, 200,
			`{"model_name":"streamer","model_version":"1.0","text_output":"part 0 part 1 last"}` + "\n"},
		{"a handler's parts as events", "/v2/models/streamer/generate_stream", `{"text_input": "hi", "parts": 2}`, 200,
			`data: {"model_name":"streamer","model_version":"1.0","text_output":"part 0 "}` + "\n\n" +
				`data: {"model_name":"streamer","model_version":"1.0","text_output":"part 1 "}` + "\n\n" +
				`data: {"model_name":"streamer","model_version":"1.0","text_output":"last"}` + "\n\n"},
		{"a failure after the first event", "/v2/models/streamer/generate_stream", `{"parts": 1, "fail": true}`, 200,
			`data: {"model_name":"streamer","model_version":"1.0","text_output":"part 0 "}` + "\n\n" + `data: {"error":"failed after streaming"}` + "\n\n"},
		{"a handler's JSON object", "/v2/models/echo/generate", `{"text_input":"ab"}`, 200,
			`{"model_name":"echo","model_version":"1.0","reversed":"}\"ba\":\"tupni_txet\"{","model":"echo"}` + "\n"},
		{"an input missing", "/v2/models/strings/generate", `{"text_input": "x"}`, 400, `input \"text\" is missing`},
		{"not an object", "/v2/models/strings/generate", `["x"]`, 400, "must be a JSON object"},
		{"not JSON", "/v2/models/strings/generate_stream", `{"text":`, 400, "is not valid JSON"},
		{"an image model", "/v2/models/digits/generate", `{"text_input": "x"}`, 400, "served with the image_classifier handler"},
		{"a failure before any event", "/v2/models/streamer/generate_stream", `{"parts": 0, "fail": true}`, 500, "failed after streaming"},
		{"no such model", "/v2/models/nope/generate", `{}`, 404, "nope"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body, header, err := send("POST", i+c.path, []byte(c.body), "Content-Type", "application/json")
			if err != nil {
				t.Fatal(err)
			}
			if status != c.status {
				t.Fatalf("%d %s, want %d", status, body, c.status)
			}
			if status != 200 {
				var e struct{ Error string }
				if json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, strings.ReplaceAll(c.want, `\"`, `"`)) {
					t.Errorf("%s, want an error holding %q", body, c.want)
				}
				return
			}
			if string(body) != c.want {
				t.Errorf("answered %q, want %q", body, c.want)
			}
			if wantType := map[bool]string{true: "text/event-stream; charset=utf-8", false: "application/json"}[strings.HasSuffix(c.path, "_stream")]; header.Get("Content-Type") != wantType {
				t.Errorf("Content-Type %q, want %q", header.Get("Content-Type"), wantType)
			}
		})
	}
	// a custom handler's status and headers (set_response_status, set_response_header) go with
	// its answer, as on /predictions; generate's answer stays JSON, and an event stream's 200
	status, body, header, err := send("POST", i+"/v2/models/tsfn/generate", []byte(`{"answer_status": 201}`), "Content-Type", "application/json")
	if err != nil || status != 201 || header.Get("X-Answer-Kind") != "generated" || header.Get("Content-Type") != "application/json" ||
		string(body) != `{"model_name":"tsfn","model_version":"1.0","text_output":"generated"}`+"\n" {
		t.Errorf("a handler's status and headers: %d %q %v %v", status, body, header, err)
	}
	status, body, header, err = send("POST", i+"/v2/models/tsfn/generate_stream", []byte(`{"answer_status": 201}`), "Content-Type", "application/json")
	if err != nil || status != 200 || header.Get("X-Answer-Kind") != "generated" || header.Get("Content-Type") != "text/event-stream; charset=utf-8" ||
		string(body) != `data: {"model_name":"tsfn","model_version":"1.0","text_output":"generated"}`+"\n\n" {
		t.Errorf("a handler's headers on its one event: %d %q %v %v", status, body, header, err)
	}
}
