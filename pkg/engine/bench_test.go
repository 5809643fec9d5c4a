package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/internal/testenv"
	"github.com/tsserve/ts/pkg/tensor"
)

func BenchmarkRunTiny(b *testing.B) {
	s, err := Load(testenv.Path("samples/iris/model.onnx"), Options{IntraOpThreads: 2, Spinning: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	x := tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"cancellable", ctx}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := s.Run(c.ctx, []*tensor.Tensor{x}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRunTinyColdCache(b *testing.B) {
	s, err := Load(testenv.Path("samples/iris/model.onnx"), Options{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	x := tensor.New([]int64{1, 4}, []float32{5.1, 3.5, 1.4, 0.2})
	junk := make([]byte, 8<<20)
	for _, thrash := range []int{0, 256 << 10, 8 << 20} {
		b.Run(fmt.Sprint(thrash), func(b *testing.B) {
			var runTime time.Duration
			for i := 0; i < b.N; i++ {
				for j := 0; j < thrash; j += 64 {
					junk[j]++
				}
				t0 := time.Now()
				if _, err := s.Run(context.Background(), []*tensor.Tensor{x}); err != nil {
					b.Fatal(err)
				}
				runTime += time.Since(t0)
			}
			b.ReportMetric(float64(runTime.Nanoseconds())/float64(b.N), "run-ns/op")
		})
	}
}
