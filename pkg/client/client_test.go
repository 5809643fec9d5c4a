package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseHost(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{"", "http://127.0.0.1:8080", ""},
		{"localhost", "http://localhost:8080", ""},
		{"example.com:9000", "http://example.com:9000", ""},
		{":9000", "http://127.0.0.1:9000", ""},
		{"http://10.0.0.1", "http://10.0.0.1:8080", ""},
		{"HTTPS://models.example.com/", "https://models.example.com:443", ""},
		{"https://models.example.com:8443", "https://models.example.com:8443", ""},
		{"[::1]", "http://[::1]:8080", ""},
		{"[::1]:9000", "http://[::1]:9000", ""},
		{"::1", "http://[::1]:8080", ""},
		{"ftp://host", "", "scheme"},
		{"host:0", "", "bad port"},
		{"host:http", "", "bad port"},
		{"host:70000", "", "bad port"},
		{"unix:", "", "want unix:/path/to/socket"},
	} {
		u, err := ParseHost(c.in, 8080)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseHost(%q) = %v, %v; want an error with %q", c.in, u, err, c.err)
		case c.err == "" && (err != nil || u.String() != c.want):
			t.Errorf("ParseHost(%q) = %v, %v; want %s", c.in, u, err, c.want)
		}
	}
}

func TestNewDerivesAddresses(t *testing.T) {
	c, err := New(Options{Host: "https://gpu-box:9080", Metrics: "metrics-box:9999", Token: "t", ManagementToken: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Inference.String() != "https://gpu-box:9080" || c.Management.String() != "https://gpu-box:8081" || c.Metrics.String() != "http://metrics-box:9999" {
		t.Errorf("addresses %s %s %s", c.Inference, c.Management, c.Metrics)
	}
	if c.InferenceToken != "t" || c.ManagementToken != "m" {
		t.Errorf("tokens %q %q", c.InferenceToken, c.ManagementToken)
	}
	if _, err := New(Options{CAFile: "/nonexistent.pem"}); err == nil {
		t.Error("a missing CA file was accepted")
	}
}

// TestErrors: a server's error answer becomes an *Error with TorchServe's fields (or the
// text it sent); nothing listening is an *UnreachableError naming the cause.
func TestErrors(t *testing.T) {
	var lastURI string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastURI = r.RequestURI
		if r.Header.Get("Authorization") != "Bearer secret" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte("no token"))
			return
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"code": 404, "type": "ModelNotFoundException", "message": "Model not found: x"}`))
	}))
	defer srv.Close()
	c, err := New(Options{Host: srv.URL, Management: srv.URL, Token: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Describe(context.Background(), "x", "")
	var e *Error
	if !errors.As(err, &e) || e.Code != 404 || e.Type != "ModelNotFoundException" || e.Error() != "Model not found: x" {
		t.Errorf("describe: %#v", err)
	}
	// "." and ".." would reach the server as another path; names are sent escaped once
	for _, ref := range [][2]string{{"..", ""}, {"x", ".."}, {"x", "."}} {
		if _, err := c.Describe(context.Background(), ref[0], ref[1]); err == nil || !strings.Contains(err.Error(), "is not a model name or version") {
			t.Errorf("describe %q %q: %v", ref[0], ref[1], err)
		}
	}
	if _, err := c.Predict(context.Background(), "..", nil, PredictOptions{}); err == nil || !strings.Contains(err.Error(), `".." is not a model name or version`) {
		t.Errorf("predict ..: %v", err)
	}
	if c.Describe(context.Background(), "x", "1.0 beta"); lastURI != "/models/x/1.0%20beta" {
		t.Errorf("describe x, version 1.0 beta: requested %s, want /models/x/1.0%%20beta", lastURI)
	}
	c.ManagementToken = ""
	_, err = c.Describe(context.Background(), "x", "")
	if !errors.As(err, &e) || e.Code != 401 || e.Message != "no token" {
		t.Errorf("without a token: %#v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, _ = New(Options{Host: addr, Management: addr, Timeout: 5 * time.Second})
	_, err = c.Ping(context.Background())
	var u *UnreachableError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), addr) {
		t.Errorf("nothing listening: %v", err)
	}
}

// TestUnixSocket: a unix:/path host reaches a server on that socket (never through a
// proxy), is shown as typed in messages, and leaves the other APIs at their defaults.
func TestUnixSocket(t *testing.T) {
	sock := t.TempDir() + "/inference.sock"
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ping" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status": "Healthy"}`))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := New(Options{Host: "unix:" + sock, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := Address(c.Inference); got != "unix:"+sock {
		t.Errorf("Address %q", got)
	}
	if c.Management.String() != "http://127.0.0.1:8081" || c.Metrics.String() != "http://127.0.0.1:8082" {
		t.Errorf("derived %s %s", c.Management, c.Metrics)
	}
	req, _ := http.NewRequest("GET", c.Inference.String()+"/ping", nil)
	if proxy, err := c.HTTP.Transport.(*http.Transport).Proxy(req); proxy != nil || err != nil {
		t.Errorf("a socket's request goes through the proxy %v (%v)", proxy, err)
	}
	if status, err := c.Ping(context.Background()); err != nil || status != "Healthy" {
		t.Fatalf("ping over the socket: %q %v", status, err)
	}
	c, _ = New(Options{Host: "unix:" + sock + ".gone"})
	_, err = c.Ping(context.Background())
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "cannot reach unix:"+sock+".gone") {
		t.Errorf("no server on the socket: %v", err)
	}
}

// TestUploadWaitsForTheServer: an upload asks the server first (Expect: 100-continue), so an
// archive the server refuses on its declared size is not sent at all.
func TestUploadWaitsForTheServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 1000 { // refused unread, as ts serve refuses past max_upload_size
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			w.Write([]byte(`{"code": 413, "type": "RequestEntityTooLargeException", "message": "the archive is larger than max_upload_size (1000 bytes)"}`))
			return
		}
		w.Write([]byte(`{"status": "ok"}`))
	}))
	defer srv.Close()
	big := filepath.Join(t.TempDir(), "big.mar")
	if err := os.WriteFile(big, make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Host: srv.URL, Management: srv.URL, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var sent int64
	_, err = c.Upload(context.Background(), big, RegisterOptions{}, func(n, total int64) { sent = max(sent, n) })
	var e *Error
	if !errors.As(err, &e) || e.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("upload of 8 MiB: %v, want the server's 413", err)
	}
	if sent != 0 {
		t.Errorf("%d bytes of a refused archive were sent", sent)
	}
}
