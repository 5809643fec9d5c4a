// Package e2e runs the real ts and tsarchive binaries end to end.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(testenv.Binaries(t), bin), args...)
	cmd.Dir = testenv.Root()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func request(t *testing.T, method, url string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// orderedTop returns the first key of a JSON object as written (the top class).
func orderedTop(t *testing.T, body []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("answer is not a JSON object: %s", body)
	}
	tok, err := dec.Token()
	if err != nil {
		t.Fatalf("empty answer: %s", body)
	}
	return tok.(string)
}

// TestFiveSteps packs the digits sample with tsarchive, serves it with ts serve on random
// ports, and checks every sample image gets its digit, bad input a 400, and that the
// server keeps serving.
func TestFiveSteps(t *testing.T) {
	store := t.TempDir()
	out := run(t, "tsarchive", "--model-name", "digits", "--version", "1.0",
		"--serialized-file", "samples/digits/model.onnx", "--handler", "image_classifier",
		"--extra-files", "samples/digits/index_to_name.json", "--export-path", store)
	if !strings.Contains(out, filepath.Join(store, "digits.mar")) {
		t.Errorf("tsarchive output %q does not name the archive", out)
	}
	srv := testenv.StartServer(t, "--model-store", store, "--models", "digits=digits.mar")
	srv.WaitHealthy(t)

	code, body := request(t, "GET", srv.Inference+"/ping", nil)
	if code != 200 || !strings.Contains(string(body), `"Healthy"`) {
		t.Fatalf("ping: %d %s", code, body)
	}
	code, body = request(t, "GET", srv.Management+"/models", nil)
	var list struct {
		Models []struct{ ModelName, ModelURL string }
	}
	if err := json.Unmarshal(body, &list); code != 200 || err != nil || len(list.Models) != 1 || list.Models[0].ModelName != "digits" {
		t.Fatalf("list models: %d %s", code, body)
	}

	images, _ := filepath.Glob(testenv.Path("samples/digits/*.png"))
	jpegs, _ := filepath.Glob(testenv.Path("samples/digits/*.jpg"))
	images = append(images, jpegs...)
	if len(images) < 10 {
		t.Fatalf("found %d sample images", len(images))
	}
	for _, img := range images {
		data, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(filepath.Base(img), filepath.Ext(img))
		for _, method := range []string{"PUT", "POST"} {
			code, body := request(t, method, srv.Inference+"/predictions/digits", data)
			if code != 200 {
				t.Fatalf("%s %s: %d %s", method, img, code, body)
			}
			if got := orderedTop(t, body); got != want {
				t.Errorf("%s %s: top class %q, want %q\n%s", method, filepath.Base(img), got, want, body)
			}
		}
	}

	for name, bad := range map[string][]byte{"text": []byte("this is not an image"), "empty": nil, "truncated png": []byte("\x89PNG\r\n\x1a\n\x00\x00")} {
		code, body := request(t, "POST", srv.Inference+"/predictions/digits", bad)
		var e struct {
			Code    int
			Type    string
			Message string
		}
		if err := json.Unmarshal(body, &e); code != 400 || err != nil || e.Code != 400 || e.Type == "" || e.Message == "" {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	code, _ = request(t, "POST", srv.Inference+"/predictions/missing", []byte("x"))
	if code != 404 {
		t.Errorf("unknown model: %d", code)
	}
	// still serving
	data, _ := os.ReadFile(testenv.Path("samples/digits/7.png"))
	if code, body := request(t, "POST", srv.Inference+"/predictions/digits/1.0", data); code != 200 || orderedTop(t, body) != "7" {
		t.Errorf("after bad input: %d %s", code, body)
	}
	if err := srv.Stop(t); err != nil {
		t.Errorf("ts serve exited with %v after SIGTERM\n%s", err, srv.Log())
	}
}

// TestMissingLibrary: a missing or wrong ONNX Runtime library is one line on stderr and a
// non-zero exit, for every way of naming it.
func TestMissingLibrary(t *testing.T) {
	bin := filepath.Join(testenv.Binaries(t), "ts")
	notLib := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	os.WriteFile(notLib, []byte("not a library"), 0o644)
	cases := []struct {
		name string
		args []string
		env  string
	}{
		{"flag, missing", []string{"--ort-lib", "/nonexistent/libonnxruntime.so.1", "version"}, ""},
		{"flag, not a library", []string{"serve", "--ort-lib", notLib}, ""},
		{"env, missing", []string{"version"}, "TS_ORT_LIB=/nonexistent/libonnxruntime.so.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var env []string
			if c.env != "" {
				env = append(env, c.env)
			}
			msg := mustFail(t, bin, env, c.args...)
			if strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "ts: cannot load ONNX Runtime: tried ") || !strings.Contains(msg, "make setup") {
				t.Errorf("stderr is not one helpful line:\n%s", msg)
			}
		})
	}
}

// TestBadModelStore: ts serve stops at once, with one line naming the setting, when the model
// store is not a folder (torchserve: "--model-store directory not found").
func TestBadModelStore(t *testing.T) {
	bin := filepath.Join(testenv.Binaries(t), "ts")
	file := filepath.Join(t.TempDir(), "store.txt")
	os.WriteFile(file, []byte("x"), 0o644)
	conf := filepath.Join(t.TempDir(), "config.properties")
	os.WriteFile(conf, []byte("model_store=/nonexistent/store\n"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"missing", []string{"serve", "--model-store", "/nonexistent/store"}, "ts: model_store (from --model-store): folder /nonexistent/store not found\n"},
		{"a file", []string{"serve", "--model-store", file}, "ts: model_store (from --model-store): " + file + " is not a folder\n"},
		{"from the file", []string{"serve", "--ts-config", conf}, "ts: model_store (from file " + conf + "): folder /nonexistent/store not found\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			msg := mustFail(t, bin, nil, append(c.args, "--inference-address", "http://127.0.0.1:0", "--management-address", "http://127.0.0.1:0", "--metrics-address", "http://127.0.0.1:0")...)
			if msg != c.want {
				t.Errorf("stderr %q, want %q", msg, c.want)
			}
		})
	}
}

// mustFail runs bin with args (and env added to this process's) and returns its stderr,
// failing the test unless it exits with 1 within 20 s (a server that should have refused to
// start is killed then).
func mustFail(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v kept running\n%s", filepath.Base(bin), args, stderr.String())
	}
	if err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1\n%s", err, stderr.String())
	}
	return stderr.String()
}
