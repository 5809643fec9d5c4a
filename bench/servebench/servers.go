package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/tensor"
)

// noopServer answers every request with a fixed small body: the HTTP floor.
func noopServer(ln net.Listener) error {
	body := []byte(`{"outputs":[{"name":"y","shape":[1,3],"dtype":"float32","data":[0.1,0.2,0.7]}]}` + "\n")
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
}

// naiveServer is what a user could write in an afternoon: net/http and one ONNX Runtime run
// per request on a shared session, no batching. The body is a raw float32 row; the answer is
// the output as JSON, like ts's tensor handler.
func naiveServer(ln net.Listener, model string) error {
	if _, err := engine.Init(config.ORTCandidates(os.Getenv(config.EnvORTLib))); err != nil {
		return err
	}
	s, err := engine.Load(model, engine.Options{})
	if err != nil {
		return err
	}
	in := s.Inputs()[0]
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		shape := append([]int64{1}, in.Shape[1:]...)
		x, err := tensor.FromBytes(tensor.Float32, shape, b)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		out, err := s.Run(r.Context(), []*tensor.Tensor{x})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		v, _ := tensor.Values[float32](out[0])
		json.NewEncoder(w).Encode(map[string]any{"outputs": []map[string]any{{"name": s.Outputs()[0].Name, "shape": out[0].Shape, "data": v}}})
	}))
}

// serveChild runs a server subcommand: servebench noop|naive ADDRFILE [MODEL]. It writes its
// address to ADDRFILE once listening.
func serveChild(args []string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := os.WriteFile(args[1], []byte(ln.Addr().String()), 0o644); err != nil {
		return err
	}
	switch args[0] {
	case "noop":
		return noopServer(ln)
	case "naive":
		return naiveServer(ln, args[2])
	}
	return fmt.Errorf("unknown server %q", args[0])
}

// rawRow is one row of float32 values for a model input of the given per-item shape.
func rawRow(shape []int64) []byte {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	b := make([]byte, 0, 4*n)
	for i := int64(0); i < n; i++ {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i%17)/17))
	}
	return b
}

func shapeQuery(shape []int64) string {
	parts := []string{"1"}
	for _, d := range shape {
		parts = append(parts, strconv.FormatInt(d, 10))
	}
	return "shape=" + strings.Join(parts, ",")
}

// rawConfig is one way to run the model with no server: goroutines × intra-op threads, at
// a batch size.
type rawConfig struct {
	goroutines, threads int
	batch               int64
}

func (c rawConfig) String() string {
	return fmt.Sprintf("batch %d, %d×%d threads", c.batch, c.goroutines, c.threads)
}

// rawInput is a batch of bs rows for a model input of the given per-item shape.
func rawInput(itemShape []int64, bs int64) *tensor.Tensor {
	row := rawRow(itemShape)
	data := make([]byte, 0, len(row)*int(bs))
	for i := int64(0); i < bs; i++ {
		data = append(data, row...)
	}
	x, _ := tensor.FromBytes(tensor.Float32, append([]int64{bs}, itemShape...), data)
	return x
}

// sweepCeiling runs the model with no server over batch sizes 1–32 and thread plans, d
// seconds each, and returns the configurations by items/s, best first. The sweep only
// shortlists: the best of a dozen noisy one-second samples overstates the ceiling, so the
// leaders are measured again in every round (measureRaw), interleaved with the servers.
func sweepCeiling(model string, itemShape []int64, cores int, d float64) ([]rawConfig, []float64, error) {
	type swept struct {
		c    rawConfig
		rate float64
	}
	var all []swept
	for _, plan := range []struct{ goroutines, threads int }{{1, cores}, {cores, 1}} {
		s, err := engine.Load(model, engine.Options{IntraOpThreads: plan.threads})
		if err != nil {
			return nil, nil, err
		}
		for _, bs := range []int64{1, 2, 4, 8, 16, 32} {
			x := rawInput(itemShape, bs)
			s.Run(context.Background(), []*tensor.Tensor{x}) // warm up
			all = append(all, swept{rawConfig{plan.goroutines, plan.threads, bs}, runFor(s, x, plan.goroutines, d) * float64(bs)})
		}
		s.Close()
	}
	slices.SortFunc(all, func(a, b swept) int { return cmp.Compare(b.rate, a.rate) })
	configs, rates := make([]rawConfig, len(all)), make([]float64, len(all))
	for i, sw := range all {
		configs[i], rates[i] = sw.c, sw.rate
	}
	return configs, rates, nil
}

// measureRaw is the items/s of one raw configuration over d seconds.
func measureRaw(model string, itemShape []int64, c rawConfig, d time.Duration) (float64, error) {
	s, err := engine.Load(model, engine.Options{IntraOpThreads: c.threads})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	x := rawInput(itemShape, c.batch)
	s.Run(context.Background(), []*tensor.Tensor{x}) // warm up
	return runFor(s, x, c.goroutines, d.Seconds()) * float64(c.batch), nil
}
