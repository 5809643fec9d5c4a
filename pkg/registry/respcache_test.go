package registry

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/tensor"
)

// A model with responseCache: true answers a request it answered before from the response
// cache, without a run: through its handler, and as tensors (the key is the input tensors,
// whatever the path); other inputs run. Its answers leave the cache when it is unregistered;
// a model that does not ask for the cache leaves it alone.
func TestResponseCache(t *testing.T) {
	r := newRegistry(t, Defaults{ResponseCacheSize: 1 << 20})
	register := func(name, yaml string) *Version {
		t.Helper()
		v, err := r.Register(context.Background(), Spec{Path: modelArchive(t, name, "1.0", testenv.Path("samples/iris/model.onnx"), yaml),
			Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cached := register("cached", "responseCache: true\nbatchSize: 4\nmaxBatchDelay: 1\n")
	plain := register("plain", "")
	infer := func(v *Version, body string) string {
		t.Helper()
		res, err := v.Infer(context.Background(), &handler.Request{Inputs: []handler.Input{{Name: "body", Data: []byte(body)}}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return string(res.Body)
	}
	first := infer(cached, `[[5.1, 3.5, 1.4, 0.2]]`)
	for range 3 {
		if again := infer(cached, `[[5.1, 3.5, 1.4, 0.2]]`); again != first {
			t.Errorf("from the cache: %s, want %s", again, first)
		}
	}
	outputs, err := cached.InferTensors(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})}, 0)
	if err != nil || len(outputs) != 1 || !strings.Contains(first, `"shape":[1,3]`) {
		t.Fatalf("as tensors: %v %v", outputs, err)
	}
	other := infer(cached, `[[6.7, 3.0, 5.2, 2.3]]`)
	if other == first {
		t.Errorf("another flower got the first one's answer: %s", other)
	}
	st := cached.Statistics()
	if st.CacheHit.Count != 4 || st.CacheMiss.Count != 2 || st.ExecutionCount != 2 || st.Success.Count != 6 {
		t.Errorf("4 hits, 2 misses and 2 runs of 6 requests; got %d hits, %d misses, %d runs, %d requests",
			st.CacheHit.Count, st.CacheMiss.Count, st.ExecutionCount, st.Success.Count)
	}
	if !cached.Info().Cached || cached.Settings().Sources["responseCache"] != FromYAML {
		t.Errorf("info: cached %v, from %s", cached.Info().Cached, cached.Settings().Sources["responseCache"])
	}
	infer(plain, `[[5.1, 3.5, 1.4, 0.2]]`)
	infer(plain, `[[5.1, 3.5, 1.4, 0.2]]`)
	if st := plain.Statistics(); st.CacheHit.Count != 0 || st.CacheMiss.Count != 0 || st.ExecutionCount != 2 || plain.Info().Cached {
		t.Errorf("a model without responseCache: %+v", st)
	}
	if s := r.ResponseCache().Stats(); s.Entries != 2 {
		t.Errorf("the cache holds %d answers, want the cached model's 2", s.Entries)
	}
	if _, err := r.Unregister(context.Background(), "cached", ""); err != nil {
		t.Fatal(err)
	}
	if s := r.ResponseCache().Stats(); s.Entries != 0 || s.Bytes != 0 {
		t.Errorf("after unregistering: %+v", s)
	}
	// registered again (another archive may hide behind the same name): no answer from before
	again := register("cached", "responseCache: true\n")
	infer(again, `[[5.1, 3.5, 1.4, 0.2]]`)
	if st := again.Statistics(); st.CacheHit.Count != 0 || st.CacheMiss.Count != 1 {
		t.Errorf("registered again: %d hits, %d misses", st.CacheHit.Count, st.CacheMiss.Count)
	}
}

// Without a server cache (response_cache_size 0), a model that asks for one registers and
// runs every request; a custom handler's model cannot ask (400).
func TestResponseCacheAbsent(t *testing.T) {
	log, logger := testenv.NewLog()
	r := New(Options{TempDir: t.TempDir(), Logger: logger})
	t.Cleanup(func() { r.Close(context.Background()) })
	v, err := r.Register(context.Background(), Spec{Path: irisArchive(t, "1.0", "responseCache: true\n"), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	if v.Info().Cached || r.ResponseCache() != nil || !strings.Contains(log.String(), "the server has no response cache") {
		t.Errorf("cached %v, log:\n%s", v.Info().Cached, log)
	}
	_, err = r.Register(context.Background(), Spec{Path: irisArchive(t, "2.0", "responseCache: true\n"), Handler: "ts_handler.py"})
	var ae *apierror.Error
	if !errors.As(err, &ae) || ae.Code != http.StatusBadRequest || !strings.Contains(ae.Message, "only models with a built-in handler can use the response cache") {
		t.Errorf("a custom handler with responseCache: %v", err)
	}
}
