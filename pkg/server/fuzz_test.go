package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/registry"
)

// FuzzInferenceAPI: whatever body and content type come to the inference paths of a
// tensor model and an image model, the answer is not a server error, and every error has
// TorchServe's JSON shape (or the protocol's, for /v2).
func FuzzInferenceAPI(f *testing.F) {
	ts := emptyServer(f, nil)
	// a Triton sequence model, and an ensemble of iris and plus
	for name, config := range map[string]string{"acc": sequenceConfig(8, 0), "chain": ensembleConfig} {
		os.MkdirAll(filepath.Join(ts.store, name, "1"), 0o755)
		os.WriteFile(filepath.Join(ts.store, name, "config.pbtxt"), []byte(config), 0o644)
	}
	for src, dst := range map[string]string{"pkg/seqbatch/testdata/accumulate.onnx": "acc", "pkg/engine/testdata/passthrough.onnx": "plus"} {
		b, err := os.ReadFile(testenv.Path(src))
		if err != nil {
			f.Fatal(err)
		}
		os.MkdirAll(filepath.Join(ts.store, dst, "1"), 0o755)
		os.WriteFile(filepath.Join(ts.store, dst, "1", "model.onnx"), b, 0o644)
	}
	for _, url := range []string{"/models?url=iris.mar&initial_workers=1&synchronous=true", "/models?url=digits.mar&initial_workers=1&synchronous=true&batch_size=4&max_batch_delay=1",
		"/models?url=acc&initial_workers=1&synchronous=true", "/models?url=plus&initial_workers=1&synchronous=true", "/models?url=chain&synchronous=true"} {
		res, err := http.Post(ts.management.URL+url, "", nil)
		if err != nil || res.StatusCode != http.StatusOK {
			f.Fatalf("register %s: %v %v", url, res, err)
		}
		res.Body.Close()
	}
	h, _ := ts.srv.Handler(Inference)
	paths := []string{"/predictions/iris", "/predictions/digits", "/v2/models/iris/infer", "/v1/models/iris:predict",
		"/explanations/iris", "/predictions/iris?shape=1,4", "/v2/models/digits/infer", "/predictions/iris/1.0",
		"/v2/models/acc/infer", "/v2/models/chain/infer", "/predictions/chain"}
	f.Add(uint8(0), "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`))
	f.Add(uint8(2), "application/json", []byte(`{"inputs": [{"name": "features", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}`))
	f.Add(uint8(3), "application/json", []byte(`{"instances": [[1, 2, 3, 4]]}`))
	f.Add(uint8(5), "application/octet-stream", []byte("\x00\x00\x80?\x00\x00\x80?\x00\x00\x80?\x00\x00\x80?"))
	f.Add(uint8(1), "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nabc\r\n--x--\r\n"))
	f.Add(uint8(4), "text/plain", []byte(`{"data": [1, 2, 3, 4]}`))
	f.Add(uint8(8), "application/json", []byte(`{"parameters": {"sequence_id": 7, "sequence_start": true}, "inputs": [{"name": "INPUT", "shape": [1, 1], "datatype": "INT32", "data": [1]}]}`))
	f.Add(uint8(8), "application/json", []byte(`{"parameters": {"sequence_id": "7", "sequence_end": true}, "inputs": [{"name": "INPUT", "shape": [1, 1], "datatype": "INT32", "data": [1]}]}`))
	f.Add(uint8(9), "application/json", []byte(`{"inputs": [{"name": "IN", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}`))
	f.Add(uint8(10), "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`))
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

// FuzzManagementAPI: whatever method, path, query and body come to the management API
// (register, scale, describe, set-default, unregister, list, split), no handler panics, every
// error has TorchServe's JSON shape, and a model the requests do not name goes on serving.
// Models a request registers are unregistered after it, so that the runs stay small.
func FuzzManagementAPI(f *testing.F) {
	ts := emptyServer(f, nil)
	const guard = "guard-zq7" // the model that must go on serving
	for _, url := range []string{"/models?url=iris.mar&initial_workers=1", "/models?url=digits.mar&model_name=" + guard + "&initial_workers=1"} {
		res, err := http.Post(ts.management.URL+url, "", nil)
		if err != nil || res.StatusCode != http.StatusOK {
			f.Fatalf("register %s: %v %v", url, res, err)
		}
		res.Body.Close()
	}
	png, err := os.ReadFile(testenv.Path("samples/digits/3.png"))
	if err != nil {
		f.Fatal(err)
	}
	mgmt, _ := ts.srv.Handler(Management)
	inf, _ := ts.srv.Handler(Inference)
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions}
	paths := []string{"/models", "/models/iris", "/models/iris/1.0", "/models/iris/1.0/set-default", "/models/iris/all", "/models/iris/split",
		"/models/%s", "/models/%s/%s", "/models/%s/%s/set-default", "/models/upload"}
	f.Add(uint8(1), uint8(0), "", "", "url=iris-v2.mar&initial_workers=1&synchronous=true", []byte(nil))
	f.Add(uint8(2), uint8(1), "", "", "min_worker=3&max_worker=2", []byte(nil))
	f.Add(uint8(2), uint8(2), "", "", "min_worker=-1&synchronous=true", []byte(nil))
	f.Add(uint8(1), uint8(0), "", "", "", []byte(`{"url": "digits.mar", "model_name": "d2", "batch_size": 4, "initial_workers": 2}`))
	f.Add(uint8(2), uint8(5), "", "", "weights=1.0:90,2.0:10", []byte(nil))
	f.Add(uint8(3), uint8(7), "iris", "2.0", "", []byte(nil))
	f.Add(uint8(0), uint8(0), "", "", "limit=-1&next_page_token=99999999999999999999", []byte(nil))
	f.Add(uint8(1), uint8(0), "", "", "url=digits.mar&model_name=x&startup_timeout=0&initial_workers=3", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path uint8, name, version, query string, body []byte) {
		p := paths[int(path)%len(paths)]
		switch strings.Count(p, "%s") {
		case 1:
			p = fmt.Sprintf(p, url.PathEscape(name))
		case 2:
			p = fmt.Sprintf(p, url.PathEscape(name), url.PathEscape(version))
		}
		target := p + "?" + url.PathEscape(query)
		if strings.Contains(query, "=") {
			target = p + "?" + query
		}
		req, err := http.NewRequest(methods[int(method)%len(methods)], target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		if len(body) > 0 && body[0] == '{' {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		mgmt.ServeHTTP(rec, req)
		if rec.Code >= 400 {
			var e struct {
				Code    int    `json:"code"`
				Type    string `json:"type"`
				Message string `json:"message"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Message == "" || e.Type == "" || e.Code != rec.Code {
				t.Fatalf("%s %s: %d with body %s, want TorchServe's JSON error", req.Method, target, rec.Code, rec.Body)
			}
			if strings.HasPrefix(e.Message, "Internal error while serving") {
				t.Fatalf("%s %s: a handler panicked: %s", req.Method, target, e.Message)
			}
		}
		// the guard model still answers
		pred := httptest.NewRequest(http.MethodPost, "/predictions/"+guard, bytes.NewReader(png))
		out := httptest.NewRecorder()
		inf.ServeHTTP(out, pred)
		if out.Code != http.StatusOK {
			t.Fatalf("after %s %s: the model %s answers %d %s", req.Method, target, guard, out.Code, out.Body)
		}
		// unregister what the requests registered and changed; iris comes back as it was
		for _, e := range ts.reg.List() {
			if e.Name == guard {
				continue
			}
			for _, v := range e.Versions {
				if v.Version != e.DefaultVersion {
					ts.reg.Unregister(context.Background(), e.Name, v.Version)
				}
			}
			ts.reg.Unregister(context.Background(), e.Name, "")
		}
		one := 1
		if _, err := ts.reg.Register(context.Background(), registry.Spec{Path: filepath.Join(ts.store, "iris.mar"), URL: "iris.mar",
			Overrides: registry.Overrides{InitialWorkers: &one}, Synchronous: true}); err != nil {
			t.Fatalf("register iris again: %v", err)
		}
	})
}
