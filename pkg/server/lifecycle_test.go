package server

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

// TestLifecycleRaces registers, scales (synchronously and not), unregisters and queries one
// model from several clients at once for a few seconds, beside a model nobody touches. The
// server must not crash or answer 500, the other model must keep answering, and once the
// churn stops a fresh registration must serve. Built-in handler, then a custom (Python) one.
func TestLifecycleRaces(t *testing.T) {
	png, err := os.ReadFile(testenv.Path("samples/digits/3.png"))
	if err != nil {
		t.Fatal(err)
	}
	digitsV2 := `{"inputs":[{"name":"input","shape":[1,1,8,8],"datatype":"FP32","data":[` + strings.Repeat("0,", 63) + `0]}]}`
	t.Run("built-in handler", func(t *testing.T) {
		ts := emptyServer(t, nil)
		churn(t, ts, "digits", png, `"3"`, digitsV2)
	})
	t.Run("custom handler", func(t *testing.T) {
		ts := customServer(t, "unruly.py", "unruly", "")
		churn(t, ts, "unruly", []byte("5.1,3.5,1.4,0.2"), `"probabilities"`, irisV2)
	})
}

// irisV2 is an Open Inference Protocol request for the iris model.
const irisV2 = `{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`

// churn runs TestLifecycleRaces on model name (NAME.mar in the store), sending body through
// /predictions and v2 (an Open Inference Protocol request) through /v2.
func churn(t *testing.T, ts *testServer, name string, body []byte, answer, v2 string) {
	exchange{"register iris", "POST", "/models?url=iris.mar&model_name=steady&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, ts.management.URL)
	do := func(method, url string, body []byte) (int, string) {
		status, b, _, err := send(method, url, body)
		if err != nil {
			return 0, err.Error()
		}
		return status, string(b)
	}
	var mu sync.Mutex
	bad := map[string]int{}
	note := func(what string, code int, body string) {
		if code >= 500 && code != http.StatusServiceUnavailable || code == 0 {
			mu.Lock()
			bad[fmt.Sprintf("%s: %d %.200s", what, code, body)]++
			mu.Unlock()
		}
	}
	stop := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	loop := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				f()
			}
		}()
	}
	m := ts.management.URL
	loop(func() {
		code, body := do("POST", m+"/models?url="+name+".mar&initial_workers=2&synchronous=true", nil)
		note("register", code, body)
		code, body = do("DELETE", m+"/models/"+name, nil)
		note("unregister", code, body)
	})
	loop(func() {
		code, body := do("POST", m+"/models?url="+name+".mar&initial_workers=1", nil) // loads in the background
		note("register async", code, body)
	})
	loop(func() {
		for _, w := range []int{0, 2, 1} {
			code, body := do("PUT", fmt.Sprintf("%s/models/%s?min_worker=%d&synchronous=%v", m, name, w, w != 2), nil)
			note("scale", code, body)
		}
	})
	loop(func() {
		code, body := do("POST", ts.inference.URL+"/predictions/"+name, body)
		note("infer", code, body)
	})
	loop(func() {
		code, body := do("POST", ts.inference.URL+"/v2/models/"+name+"/infer", []byte(v2))
		note("infer through /v2", code, body)
		code, body = do("POST", ts.inference.URL+"/v1/models/"+name+":predict", []byte(`{"instances": ["5.1,3.5,1.4,0.2"]}`))
		note("infer through /v1", code, body)
	})
	loop(func() {
		for _, path := range []string{"/predictions/steady", "/steady/predict", "/invocations?model_name=steady"} {
			code, body := do("POST", ts.inference.URL+path, []byte(`[[5.1, 3.5, 1.4, 0.2]]`))
			if code != http.StatusOK {
				note("infer the untouched model at "+path, code+1000, body) // always counted
			}
		}
		code, body := do("POST", ts.inference.URL+"/v2/models/steady/infer", []byte(irisV2))
		if code != http.StatusOK {
			note("infer the untouched model through /v2", code+1000, body)
		}
		code, body = do("POST", ts.inference.URL+"/v1/models/steady:predict", []byte(`{"instances": [[5.1, 3.5, 1.4, 0.2]]}`))
		if code != http.StatusOK {
			note("infer the untouched model through /v1", code+1000, body)
		}
	})
	wg.Wait()
	for what, n := range bad {
		t.Errorf("%d× %s", n, what)
	}
	// settle: whatever state the churn left, the model can be registered afresh and serves
	do("DELETE", m+"/models/"+name, nil)
	time.Sleep(100 * time.Millisecond)
	do("DELETE", m+"/models/"+name, nil)
	exchange{"register again", "POST", "/models?url=" + name + ".mar&initial_workers=1&synchronous=true", "", nil, 200, "", ""}.run(t, m)
	exchange{"serves", "POST", "/predictions/" + name, "", body, 200, "", answer}.run(t, ts.inference.URL)
}

// TestRefusalsAreNotErrors: a 503 because the model has no worker (as under overload) is
// logged at Debug, not Error, so a busy server's log is not flooded; a 500 is an error.
func TestRefusalsAreNotErrors(t *testing.T) {
	ts := emptyServer(t, nil)
	log, logger := testenv.NewLog()
	ts.srv.log = logger
	exchange{"register, no workers", "POST", "/models?url=iris.mar&initial_workers=0", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"no worker", "POST", "/predictions/iris", "application/json", []byte(`[[5.1, 3.5, 1.4, 0.2]]`), 503, "ServiceUnavailableException", "no worker"}.run(t, ts.inference.URL)
	exchange{"register, a handler that is not there", "POST", "/models?url=digits.mar&handler=invalidHandler", "", nil, 200, "", ""}.run(t, ts.management.URL)
	exchange{"scale it", "PUT", "/models/digits?min_worker=1&synchronous=true", "", nil, 500, "InternalServerException", ""}.run(t, ts.management.URL)
	got := log.String()
	if !strings.Contains(got, `level=DEBUG msg="request refused"`) || strings.Count(got, "level=ERROR ") != 1 || !strings.Contains(got, `level=ERROR msg="request failed"`) {
		t.Errorf("log records:\n%s\nwant the 503 at DEBUG and only the 500 at ERROR", got)
	}
}
