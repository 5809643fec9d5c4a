package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzInferenceAPI: whatever body and content type come to the inference paths of a
// tensor model and an image model, the answer is not a server error, and every error has
// TorchServe's JSON shape (or the protocol's, for /v2).
func FuzzInferenceAPI(f *testing.F) {
	ts := emptyServer(f, nil)
	for _, url := range []string{"/models?url=iris.mar&initial_workers=1&synchronous=true", "/models?url=digits.mar&initial_workers=1&synchronous=true&batch_size=4&max_batch_delay=1"} {
		res, err := http.Post(ts.management.URL+url, "", nil)
		if err != nil || res.StatusCode != http.StatusOK {
			f.Fatalf("register %s: %v %v", url, res, err)
		}
		res.Body.Close()
	}
	h, _ := ts.srv.Handler(Inference)
	paths := []string{"/predictions/iris", "/predictions/digits", "/v2/models/iris/infer", "/v1/models/iris:predict",
		"/explanations/iris", "/predictions/iris?shape=1,4", "/v2/models/digits/infer", "/predictions/iris/1.0"}
	f.Add(uint8(0), "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`))
	f.Add(uint8(2), "application/json", []byte(`{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`))
	f.Add(uint8(3), "application/json", []byte(`{"instances": [[1, 2, 3, 4]]}`))
	f.Add(uint8(5), "application/octet-stream", []byte("\x00\x00\x80?\x00\x00\x80?\x00\x00\x80?\x00\x00\x80?"))
	f.Add(uint8(1), "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nabc\r\n--x--\r\n"))
	f.Add(uint8(4), "text/plain", []byte(`{"data": [1, 2, 3, 4]}`))
	f.Fuzz(func(t *testing.T, path uint8, contentType string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, paths[int(path)%len(paths)], bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s (%q, %q): %d %s", req.URL, contentType, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Error   string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || (e.Message == "" && e.Error == "") || (e.Code != 0 && e.Code != rec.Code) {
				t.Fatalf("%s: %d with body %s, want a JSON error", req.URL, rec.Code, rec.Body)
			}
		}
	})
}
