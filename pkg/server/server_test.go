package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/enginetest"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/registry"
)

var quiet = slog.New(slog.DiscardHandler)

func TestMain(m *testing.M) { enginetest.Main(m) }

// newTestServer registers the digits (image_classifier) and iris (tensor) samples and
// serves both APIs with httptest.
func newTestServer(t *testing.T) (inference, management *httptest.Server) {
	t.Helper()
	store := t.TempDir()
	pack := func(name, model, handler string, extra ...string) string {
		res, err := archive.Pack(context.Background(), archive.PackOptions{
			ModelName: name, SerializedFile: testenv.Path(model), Handler: handler, ExtraFiles: extra, ExportPath: store,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.Path
	}
	reg := registry.New(registry.Options{TempDir: t.TempDir(), Logger: quiet})
	t.Cleanup(func() { reg.Close(context.Background()) })
	one := 1
	for _, s := range []registry.Spec{
		{Path: pack("digits", "samples/digits/model.onnx", "image_classifier", testenv.Path("samples/digits/index_to_name.json")), URL: "digits.mar"},
		{Path: pack("iris", "samples/iris/model.onnx", "tensor"), URL: "iris.mar"},
	} {
		s.Synchronous, s.Overrides.InitialWorkers = true, &one
		if _, err := reg.Register(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(config.Inputs{Flags: map[string]string{"max_request_size": "65536", "model_store": store}})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(reg, Options{Settings: cfg, Logger: quiet})
	ih, _ := srv.Handler("inference")
	mh, _ := srv.Handler("management")
	inference, management = httptest.NewServer(ih), httptest.NewServer(mh)
	t.Cleanup(inference.Close)
	t.Cleanup(management.Close)
	return inference, management
}

type exchange struct {
	name    string
	method  string
	path    string
	ctype   string
	body    []byte
	status  int
	errType string // for errors: the "type" of the JSON error
	contain string // a substring of the body
}

// send makes one request (header: name, value pairs) and reads the whole answer. It does
// not fail the test, so goroutines may call it.
func send(method, url string, body []byte, header ...string) (int, []byte, http.Header, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header, err
}

// sendLater sends a request on a goroutine of its own; wait gives its status and its body
// (or error), failing the test when no answer has come within d (a request waiting for good).
func sendLater(method, url string, body []byte) (wait func(t *testing.T, d time.Duration) (int, string)) {
	type answer struct {
		status int
		text   string
	}
	answered := make(chan answer, 1)
	go func() {
		status, b, _, err := send(method, url, body)
		if err != nil {
			b = []byte(err.Error())
		}
		answered <- answer{status, string(b)}
	}()
	return func(t *testing.T, d time.Duration) (int, string) {
		t.Helper()
		select {
		case a := <-answered:
			return a.status, a.text
		case <-time.After(d):
			t.Fatalf("%s %s: no answer within %v", method, url, d)
			return 0, ""
		}
	}
}

func (x exchange) run(t testing.TB, base string) {
	t.Helper()
	var header []string
	if x.ctype != "" {
		header = append(header, "Content-Type", x.ctype)
	}
	if x.name == "bad priority" {
		header = append(header, "X-TS-Priority", "urgent")
	}
	status, body, h, err := send(x.method, base+x.path, x.body, header...)
	if err != nil {
		t.Fatal(err)
	}
	if status != x.status {
		t.Fatalf("%s %s: status %d, want %d\n%s", x.method, x.path, status, x.status, body)
	}
	if h.Get("x-request-id") == "" {
		t.Errorf("no x-request-id header")
	}
	if x.errType != "" {
		var e struct {
			Code    int    `json:"code"`
			Type    string `json:"type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Code != x.status || e.Type != x.errType || e.Message == "" {
			t.Errorf("error body %s, want code %d type %s", body, x.status, x.errType)
		}
	}
	if x.contain != "" && !strings.Contains(string(body), x.contain) {
		t.Errorf("body %s does not contain %q", body, x.contain)
	}
}

func multipartBody(t *testing.T, field string, data []byte) (string, []byte) {
	var b bytes.Buffer
	boundary := "xXxBoundaryxXx"
	fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q; filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n", boundary, field)
	b.Write(data)
	fmt.Fprintf(&b, "\r\n--%s--\r\n", boundary)
	return "multipart/form-data; boundary=" + boundary, b.Bytes()
}

func TestInferenceAPI(t *testing.T) {
	inference, _ := newTestServer(t)
	png, _ := os.ReadFile(testenv.Path("samples/digits/3.png"))
	setosa, _ := os.ReadFile(testenv.Path("samples/iris/setosa.json"))
	mpType, mpBody := multipartBody(t, "data", png)
	for _, x := range []exchange{
		{"ping", "GET", "/ping", "", nil, 200, "", `"status": "Healthy"`},
		{"image body (PUT, as curl -T)", "PUT", "/predictions/digits", "", png, 200, "", `"3": 0.99`},
		{"image body (POST)", "POST", "/predictions/digits", "image/png", png, 200, "", `"3": 0.99`},
		{"image as multipart", "POST", "/predictions/digits", mpType, mpBody, 200, "", `"3": 0.99`},
		{"explicit version", "POST", "/predictions/digits/1.0", "", png, 200, "", `"3"`},
		{"tensor JSON", "POST", "/predictions/iris", "application/json", setosa, 200, "", `"name":"probabilities","shape":[1,3]`},
		// curl -d sends application/x-www-form-urlencoded: JSON or text with no name=value
		// pair is the body itself; a real form's fields are inputs by name
		{"JSON as curl -d sends it", "POST", "/predictions/iris", "application/x-www-form-urlencoded", setosa, 200, "", `"shape":[1,3]`},
		{"text as curl -d sends it", "POST", "/predictions/iris", "application/x-www-form-urlencoded", []byte("hello there"), 400, "BadRequestException", "not valid JSON"},
		{"image as curl --data-binary sends it", "POST", "/predictions/digits", "application/x-www-form-urlencoded", png, 200, "", `"3": 0.99`},
		{"form field with UTF-8, as curl -d sends it", "POST", "/predictions/iris", "application/x-www-form-urlencoded", []byte("data=café"), 400, "BadRequestException", "invalid character 'c'"},
		{"form field", "POST", "/predictions/iris", "application/x-www-form-urlencoded", []byte("data=" + url.QueryEscape(string(setosa))), 200, "", `"shape":[1,3]`},
		{"bad form", "POST", "/predictions/iris", "application/x-www-form-urlencoded", []byte("a=1;b=2"), 400, "BadRequestException", "cannot read the request body"},
		{"not an image", "POST", "/predictions/digits", "", []byte("hello"), 400, "BadRequestException", "not a supported image"},
		{"bad tensor JSON", "POST", "/predictions/iris", "", []byte(`{"inputs": {"features": [[1, 2]]}}`), 400, "BadRequestException", "[-1,4]"},
		{"unknown model", "POST", "/predictions/nope", "", png, 404, "ModelNotFoundException", "Model not found: nope"},
		{"unknown version", "POST", "/predictions/digits/9.9", "", png, 404, "ModelVersionNotFoundException", "Model version: 9.9 does not exist for model: digits"},
		{"too large", "POST", "/predictions/digits", "", make([]byte, 65<<10), 413, "RequestEntityTooLargeException", "max_request_size"},
		{"unknown path", "GET", "/nowhere", "", nil, 404, "ResourceNotFoundException", ""},
		{"no model name", "POST", "/predictions", "", nil, 404, "ResourceNotFoundException", ""},
		{"no model name, trailing slash", "POST", "/predictions/", "", nil, 404, "ResourceNotFoundException", "Requested resource is not found"},
		{"explanations, no model name", "POST", "/explanations/", "", nil, 404, "ResourceNotFoundException", "Requested resource is not found"},
		{"ping, any method (TorchServe checks none)", "POST", "/ping", "", nil, 200, "", `"status": "Healthy"`},
		{"wrong method (TorchServe's testInvalidRootRequest)", "GET", "/", "", nil, 405, "MethodNotAllowedException", "Requested method is not allowed, please refer to API document."},
		{"OPTIONS on predictions describes the model", "OPTIONS", "/predictions/digits", "", nil, 200, "", `"x-model"`},
		{"API description", "OPTIONS", "/", "", nil, 200, "", `"openapi": "3.0.1"`},
		{"raw tensor", "POST", "/predictions/iris?shape=1,4", "application/octet-stream", float32Bytes(5.1, 3.5, 1.4, 0.2), 200, "", `"shape":[1,3]`},
		{"raw tensor, wrong size", "POST", "/predictions/iris?shape=1,4", "application/octet-stream", float32Bytes(5.1, 3.5), 400, "BadRequestException", "needs 16 bytes"},
		{"raw tensor, unknown dtype", "POST", "/predictions/iris?shape=1,4&dtype=complex64", "application/octet-stream", float32Bytes(5.1, 3.5, 1.4, 0.2), 400, "BadRequestException",
			`dtype (X-TS-Dtype or ?dtype=): unknown element type \"complex64\"`},
		{"bad priority", "POST", "/predictions/iris", "", setosa, 400, "BadRequestException", "X-TS-Priority"},
		// TorchServe's other forms of the same call: extra path segments (passed to the
		// handler as url_path), SageMaker's, and MMS's legacy ones
		{"extra path segments", "POST", "/predictions/digits/1.0/v1/chat/completions", "", png, 200, "", `"3": 0.99`},
		{"extra path segments, unknown version", "POST", "/predictions/digits/9.9/v1", "", png, 404, "ModelVersionNotFoundException", "9.9"},
		{"SageMaker, model_name in the query", "POST", "/invocations?model_name=digits", "", png, 200, "", `"3": 0.99`},
		{"SageMaker, model_name as a form field", "POST", "/invocations", "application/x-www-form-urlencoded",
			[]byte("model_name=iris&data=" + url.QueryEscape(string(setosa))), 200, "", `"shape":[1,3]`},
		{"SageMaker, no model named (none loaded at start-up)", "POST", "/invocations", "", png, 400, "BadRequestException", "Parameter model_name is required."},
		{"SageMaker, model in the path", "POST", "/models/digits/invoke", "", png, 200, "", `"3": 0.99`},
		{"SageMaker, unknown model", "POST", "/models/nope/invoke", "", png, 404, "ModelNotFoundException", "Model not found: nope"},
		{"SageMaker, other path", "POST", "/models/digits/predict", "", png, 404, "ResourceNotFoundException", ""},
		{"legacy predict", "POST", "/digits/predict", "", png, 200, "", `"3": 0.99`},
		{"legacy predict, version", "POST", "/iris/1.0/predict", "application/json", setosa, 200, "", `"shape":[1,3]`},
		{"legacy predict, unknown model", "POST", "/nope/predict", "", png, 404, "ModelNotFoundException", "Model not found: nope"},
		{"legacy predict, unknown version", "POST", "/digits/9.9/predict", "", png, 404, "ModelVersionNotFoundException", "9.9"},
		{"legacy predict, OPTIONS describes the model", "OPTIONS", "/digits/predict", "", nil, 200, "", `"x-model"`},
		{"not a legacy path", "POST", "/a/b/c/predict", "", png, 404, "ResourceNotFoundException", ""},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, inference.URL) })
	}
}

func TestManagementAPI(t *testing.T) {
	_, management := newTestServer(t)
	for _, x := range []exchange{
		{"list", "GET", "/models", "", nil, 200, "", `"modelName": "digits"`},
		{"list, limit 1", "GET", "/models?limit=1", "", nil, 200, "", `"nextPageToken": "1"`},
		{"list, second page", "GET", "/models?limit=1&next_page_token=1", "", nil, 200, "", `"modelName": "iris"`},
		{"list, bad limit", "GET", "/models?limit=x&next_page_token=-3", "", nil, 200, "", `"modelName": "iris"`},
		{"describe", "GET", "/models/digits", "", nil, 200, "", `"modelVersion": "1.0"`},
		{"describe version", "GET", "/models/iris/1.0", "", nil, 200, "", `"name": "features"`},
		{"describe all", "GET", "/models/iris/all", "", nil, 200, "", `"modelName": "iris"`},
		{"describe unknown", "GET", "/models/nope", "", nil, 404, "ModelNotFoundException", ""},
		{"describe unknown version", "GET", "/models/iris/2.0", "", nil, 404, "ModelVersionNotFoundException", ""},
	} {
		t.Run(x.name, func(t *testing.T) { x.run(t, management.URL) })
	}
	res, err := http.Get(management.URL + "/models?limit=1")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		NextPageToken string `json:"nextPageToken"`
		Models        []struct {
			ModelName string `json:"modelName"`
			ModelURL  string `json:"modelUrl"`
		} `json:"models"`
	}
	json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if len(page.Models) != 1 || page.Models[0].ModelName != "digits" || page.Models[0].ModelURL != "digits.mar" {
		t.Errorf("page %+v", page)
	}
}

func float32Bytes(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// TestInvocationsStartupModel: SageMaker's /invocations with no model_name goes to the only
// model loaded at start-up that is still registered, as in TorchServe; with several it needs
// the name.
func TestInvocationsStartupModel(t *testing.T) {
	ts := emptyServer(t, nil)
	one := 1
	for _, url := range []string{"iris.mar", "digits.mar"} {
		spec := registry.Spec{Path: filepath.Join(ts.store, url), URL: url, Startup: true, Synchronous: true}
		spec.Overrides.InitialWorkers = &one
		if _, err := ts.reg.Register(context.Background(), spec); err != nil {
			t.Fatal(err)
		}
	}
	setosa, _ := os.ReadFile(testenv.Path("samples/iris/setosa.json"))
	exchange{"two start-up models", "POST", "/invocations", "application/json", setosa, 400, "BadRequestException", "Parameter model_name is required."}.run(t, ts.inference.URL)
	exchange{"unregister digits", "DELETE", "/models/digits", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"the one left", "POST", "/invocations", "application/json", setosa, 200, "", `"shape":[1,3]`}.run(t, ts.inference.URL)
}

// TestUnixSocket: a unix:/path address (TorchServe's Unix domain socket addresses) serves the
// API on that socket; a socket file left by a killed server is replaced, one in use is not.
func TestUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "inference.sock")
	cfg, err := config.Load(config.Inputs{Flags: map[string]string{"inference_address": "unix:" + sock}})
	if err != nil {
		t.Fatal(err)
	}
	// a stale socket: its listener is gone, its file is not
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	ln, err := Bind(cfg.InferenceAddress, nil)
	if err != nil {
		t.Fatalf("bind over a stale socket: %v", err)
	}
	if _, err := Bind(cfg.InferenceAddress, nil); err == nil || !strings.Contains(err.Error(), "unix:"+sock) {
		t.Errorf("a second server on the socket in use: %v", err)
	}
	h, _ := New(nil, Options{Settings: cfg, Logger: quiet}).Handler(Inference)
	hs := &http.Server{Handler: h}
	go hs.Serve(ln)
	defer hs.Close()
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	res, err := client.Get("http://ts/api-description")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"openapi"`) {
		t.Errorf("over the socket: %s %s", res.Status, b)
	}
}

// TestPanicAnswers500: a panic inside a route answers TorchServe's 500 error (net/http alone
// would drop the connection with no answer), and the server goes on serving.
func TestPanicAnswers500(t *testing.T) {
	ts := emptyServer(t, nil)
	rt := ts.srv.newRouter(Inference)
	rt.mux.HandleFunc("POST /boom", func(http.ResponseWriter, *http.Request) { panic("a bug") })
	rt.mux.HandleFunc("GET /fine", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	srv := httptest.NewServer(rt)
	defer srv.Close()
	for range 2 {
		res, err := http.Post(srv.URL+"/boom", "text/plain", nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		var body struct {
			Code    int
			Type    string
			Message string
		}
		json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != 500 || body.Code != 500 || body.Type != "InternalServerException" || !strings.Contains(body.Message, "a bug") {
			t.Errorf("answer %d %+v, want a 500 InternalServerException naming the panic", res.StatusCode, body)
		}
	}
	res, err := http.Get(srv.URL + "/fine")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("after the panics: %v %v", res, err)
	}
	res.Body.Close()
}

// TestMaxResponseSize: an answer larger than max_response_size is not sent; the error says
// which limit it met and how to get an answer, and the next small answer goes out.
func TestMaxResponseSize(t *testing.T) {
	ts := emptyServer(t, map[string]string{"max_response_size": "100"})
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"too large", "POST", "/predictions/iris?shape=1,4", "application/octet-stream", float32Bytes(5.1, 3.5, 1.4, 0.2),
		500, "InternalServerException", "exceeds max_response_size (100 bytes): raise max_response_size, or ask for less"}.run(t, ts.inference.URL)
	// outputs too large whatever their encoding are refused before the answer is written (a
	// model's output may be far larger than a client should get): 20 rows of 3 scores take
	// at least 120 bytes, on every API that answers the tensors
	rows := strings.Repeat("[5.1, 3.5, 1.4, 0.2],", 19) + "[5.1, 3.5, 1.4, 0.2]"
	v2 := `{"inputs": [{"name": "features", "shape": [20, 4], "datatype": "FP32", "data": [` + strings.Trim(strings.ReplaceAll(strings.ReplaceAll(rows, "[", ""), "]", ""), ",") + `]}]}`
	const early = "response of at least 120 bytes exceeds max_response_size (100 bytes)"
	for _, x := range []exchange{
		{"too large, refused early", "POST", "/predictions/iris", "application/json", []byte("[" + rows + "]"), 500, "InternalServerException", early},
		{"too large, KServe v1 columnar", "POST", "/v1/models/iris:predict", "application/json", []byte(`{"inputs": [` + rows + `]}`), 500, "InternalServerException", early},
		{"too large, KServe v1 instances", "POST", "/v1/models/iris:predict", "application/json", []byte(`{"instances": [` + rows + `]}`), 500, "InternalServerException", early},
		{"too large, Open Inference Protocol", "POST", "/v2/models/iris/infer", "application/json", []byte(v2), 500, "InternalServerException", early},
	} {
		x.run(t, ts.inference.URL)
	}
	exchange{"ping still answers", "GET", "/ping", "", nil, 200, "", "Healthy"}.run(t, ts.inference.URL)
}

// TestSharedAddress: the inference and management APIs on one address (TorchServe allows
// it; KServe's configuration has both on 8085) answer both APIs' routes, each with its own
// errors: a path of either API with a method it lacks is a 405, any other path a 404.
func TestSharedAddress(t *testing.T) {
	ts := emptyServer(t, nil)
	h, err := ts.srv.Handlers(Inference, Management)
	if err != nil {
		t.Fatal(err)
	}
	both := httptest.NewServer(h)
	defer both.Close()
	for _, e := range []exchange{
		{"register (management)", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true", "", nil, 200, "", `"status": "Model \"iris\" Version: 1.0 registered with 1 initial workers"`},
		{"list (management)", "GET", "/models", "", nil, 200, "", `"modelName": "iris"`},
		{"predict (inference)", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 200, "", `"shape":[1,3]`},
		{"ping (inference)", "GET", "/ping", "", nil, 200, "", "Healthy"},
		{"describe (management)", "GET", "/models/iris", "", nil, 200, "", `"modelVersion": "1.0"`},
		{"a management path, another method", "PATCH", "/models", "", nil, 405, "MethodNotAllowedException", ""},
		{"an inference path, another method", "DELETE", "/v2/models/iris/ready", "", nil, 405, "MethodNotAllowedException", ""},
		{"no such path", "GET", "/nothing", "", nil, 404, "ResourceNotFoundException", ""},
		{"unregister (management)", "DELETE", "/models/iris", "", nil, 200, "", "unregistered"},
	} {
		e.run(t, both.URL)
	}
}

// TestIdleConnectionsClosed: Serve closes a keep-alive connection left idle past idleTimeout,
// and one in use stays open.
func TestIdleConnectionsClosed(t *testing.T) {
	defer func(d time.Duration) { idleTimeout = d }(idleTimeout)
	idleTimeout = 300 * time.Millisecond
	cfg, err := config.Load(config.Inputs{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- New(nil, Options{Settings: cfg, Logger: quiet}).Serve(ctx, map[string]net.Listener{Inference: ln}, time.Second)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	ping := func() error {
		if _, err := io.WriteString(conn, "GET /api-description HTTP/1.1\r\nHost: ts\r\n\r\n"); err != nil {
			return err
		}
		res, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("api-description: %s", res.Status)
		}
		return nil
	}
	for range 4 { // in use: every 100 ms, within the idle limit
		if err := ping(); err != nil {
			t.Fatalf("a connection in use: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if n, err := r.ReadByte(); err != io.EOF {
		t.Fatalf("an idle connection: read %q, %v; want EOF once the server closes it", n, err)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the idle connection closed after %v (idle limit 300ms)", waited)
	}
}
