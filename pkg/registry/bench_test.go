package registry

import (
	"context"
	"log/slog"
	"testing"

	"github.com/tsserve/ts/pkg/handler"
	"github.com/tsserve/ts/pkg/tensor"
)

// BenchmarkInferTiny: one request at a time through handler, batcher, worker and ONNX
// Runtime, without HTTP.
func BenchmarkInferTiny(b *testing.B) {
	for _, c := range []struct {
		name string
		yaml string
	}{{"batch8", "batchSize: 8\nmaxBatchDelay: 5\nintraOpThreads: 1\n"}, {"batch1", "intraOpThreads: 1\n"}} {
		b.Run(c.name, func(b *testing.B) {
			r := New(Options{TempDir: b.TempDir(), Defaults: Defaults{}, Cores: 2, Logger: slog.New(slog.DiscardHandler)})
			defer r.Close(context.Background())
			v, err := r.Register(context.Background(), Spec{Path: irisArchive(b, "1.0", c.yaml), Overrides: Overrides{InitialWorkers: ptr(1)}, Synchronous: true})
			if err != nil {
				b.Fatal(err)
			}
			body := tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2}).Data
			req := &handler.Request{Inputs: []handler.Input{{Name: "body", ContentType: "application/octet-stream", Data: body}}, Query: map[string][]string{"shape": {"1,4"}}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := v.Infer(context.Background(), req, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
