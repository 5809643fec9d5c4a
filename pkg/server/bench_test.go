package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// BenchmarkPredictTiny: one request at a time through the inference API on a loopback
// connection (batching on), beside a no-op handler on the same client; the difference is
// what ts adds per request.
func BenchmarkPredictTiny(b *testing.B) {
	settings := map[string]string{}
	if n := os.Getenv("BENCH_THREADS"); n != "" {
		settings["intra_op_threads"] = n
	}
	ts := emptyServer(b, settings)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true&batch_size=8&max_batch_delay=5", "", nil, 200, "", ""}.run(b, ts.management.URL)
	noop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"outputs":[{"name":"probabilities","shape":[1,3],"dtype":"float32","data":[0.1,0.2,0.7]}]}` + "\n"))
	}))
	defer noop.Close()
	body := float32Bytes(5.1, 3.5, 1.4, 0.2)
	for _, c := range []struct{ name, url string }{
		{"noop", noop.URL + "/"},
		{"ts", ts.inference.URL + "/predictions/iris?shape=1,4"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				res, err := http.Post(c.url, "application/octet-stream", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatal(res.Status)
				}
			}
		})
	}
}

// BenchmarkPredictTinyParallel: 16 clients at once, batching on.
func BenchmarkPredictTinyParallel(b *testing.B) {
	ts := emptyServer(b, nil)
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=2&synchronous=true&batch_size=32&max_batch_delay=5", "", nil, 200, "", ""}.run(b, ts.management.URL)
	body := float32Bytes(5.1, 3.5, 1.4, 0.2)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Post(ts.inference.URL+"/predictions/iris?shape=1,4", "application/octet-stream", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
	v, _ := ts.reg.Get("iris", "")
	st := v.Info().Queue
	b.ReportMetric(st.MeanBatchItems, "items/batch")
	b.ReportMetric(float64(st.Batches), "batches")
}

// BenchmarkHandlerTiny: the inference handler called directly (no network), so that its own
// CPU cost shows without the HTTP transport's.
func BenchmarkHandlerTiny(b *testing.B) {
	ts := emptyServer(b, map[string]string{"intra_op_threads": "1"})
	exchange{"register", "POST", "/models?url=iris.mar&initial_workers=1&synchronous=true&batch_size=8&max_batch_delay=5", "", nil, 200, "", ""}.run(b, ts.management.URL)
	h, _ := ts.srv.Handler(Inference)
	body := float32Bytes(5.1, 3.5, 1.4, 0.2)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithCancel(context.Background()) // as net/http gives each request
		req := httptest.NewRequestWithContext(ctx, "POST", "/predictions/iris?shape=1,4", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code, rec.Body.String())
		}
		cancel()
	}
}
