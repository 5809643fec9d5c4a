package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/archive"
	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/registry"
)

// uploadServer serves the management API over an empty registry and model store, with
// settings from flags.
func uploadServer(t *testing.T, flags map[string]string) (*httptest.Server, string) {
	t.Helper()
	store := t.TempDir()
	flags["model_store"] = store
	cfg, err := config.Load(config.Inputs{Flags: flags})
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(registry.Options{TempDir: t.TempDir(), Logger: quiet})
	t.Cleanup(func() { reg.Close(context.Background()) })
	mh, _ := New(reg, Options{Settings: cfg, Logger: quiet}).Handler("management")
	srv := httptest.NewServer(mh)
	t.Cleanup(srv.Close)
	return srv, store
}

// TestUpload: POST /models/upload stores the archive and registers it, or leaves nothing.
func TestUpload(t *testing.T) {
	res, err := archive.Pack(context.Background(), archive.PackOptions{
		ModelName: "iris", SerializedFile: testenv.Path("samples/iris/model.onnx"), Handler: "tensor", ExportPath: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	mar, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	post := func(srv *httptest.Server, query string, body []byte) (int, string, string) {
		r, err := http.Post(srv.URL+"/models/upload?"+query, "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		var e struct{ Type string }
		json.Unmarshal(b, &e)
		return r.StatusCode, e.Type, string(b)
	}

	off, _ := uploadServer(t, map[string]string{})
	if code, _, body := post(off, "filename=iris.mar", mar); code != http.StatusMethodNotAllowed {
		t.Errorf("uploads off: %d %s", code, body)
	}

	srv, store := uploadServer(t, map[string]string{"enable_model_upload": "true", "max_upload_size": "200000"})
	for _, c := range []struct {
		name, query string
		body        []byte
		status      int
	}{
		{"no filename", "", mar, 400},
		{"path in filename", "filename=../iris.mar", mar, 400},
		{"not an archive name", "filename=iris.onnx", mar, 400},
		{"empty", "filename=iris.mar", nil, 400},
		{"not an archive", "filename=iris.mar", []byte("this is not a zip"), 400},
		{"too large", "filename=big.mar", make([]byte, 300000), 413},
	} {
		code, typ, body := post(srv, c.query, c.body)
		if code != c.status || typ == "" {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.status)
		}
	}
	if left, _ := os.ReadDir(store); len(left) != 0 {
		t.Fatalf("failed uploads left %v in the model store", left)
	}

	if code, _, body := post(srv, "filename=iris.mar&initial_workers=1&synchronous=true", mar); code != 200 {
		t.Fatalf("upload: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(store, "iris.mar")); err != nil {
		t.Errorf("uploaded archive not in the store: %v", err)
	}
	r, err := http.Get(srv.URL + "/models/iris")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("describe after upload: %v %v", err, r.Status)
	}
	r.Body.Close()
	if code, _, body := post(srv, "filename=iris.mar", mar); code != http.StatusConflict {
		t.Errorf("second upload of iris.mar: %d %s", code, body)
	}
}

// TestDeclaredTooLarge: a body whose Content-Length is past the limit gets 413 before any of
// it is read: a client that sent "Expect: 100-continue" gets no 100 and need not send it.
// A body of no declared length is cut at the limit.
func TestDeclaredTooLarge(t *testing.T) {
	inference, _ := newTestServer(t) // max_request_size 65536
	head := func(url, path string, length int) string {
		t.Helper()
		conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", path, length)
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.Status + " " + string(b)
	}
	if got := head(inference.URL, "/predictions/iris", 1<<30); !strings.HasPrefix(got, "413 ") || !strings.Contains(got, "max_request_size (65536 bytes)") {
		t.Errorf("1 GiB declared to the inference API: %s", got)
	}
	if got := head(inference.URL, "/v2/models/iris/infer", 65537); !strings.HasPrefix(got, "413 ") {
		t.Errorf("one byte past the limit, declared to /v2: %s", got)
	}

	srv, store := uploadServer(t, map[string]string{"enable_model_upload": "true", "max_upload_size": "200000"})
	if got := head(srv.URL, "/models/upload?filename=big.mar", 1<<30); !strings.HasPrefix(got, "413 ") || !strings.Contains(got, "the archive is larger than max_upload_size (200000 bytes)") {
		t.Errorf("1 GiB declared to the upload: %s", got)
	}
	// no Content-Length: chunked, cut at the limit
	r, err := http.Post(srv.URL+"/models/upload?filename=big.mar", "application/octet-stream", io.MultiReader(bytes.NewReader(make([]byte, 300000))))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 413 || !strings.Contains(string(b), "max_upload_size (200000 bytes)") {
		t.Errorf("chunked upload past the limit: %s %s", r.Status, b)
	}
	if left, _ := os.ReadDir(store); len(left) != 0 {
		t.Errorf("refused uploads left %v in the model store", left)
	}
}
