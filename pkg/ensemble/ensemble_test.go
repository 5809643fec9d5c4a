package ensemble

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/tensor"
	"google.golang.org/protobuf/encoding/prototext"
)

var (
	in  = []tensor.Info{{Name: "IN", DType: tensor.Float32, Shape: []int64{-1, 1}}}
	out = []tensor.Info{{Name: "OUT", DType: tensor.Float32, Shape: []int64{-1, 1}}}
)

func config(t *testing.T, steps string) *oippb.ModelConfig {
	t.Helper()
	cfg := &oippb.ModelConfig{}
	if err := prototext.Unmarshal([]byte(`platform: "ensemble" ensemble_scheduling { `+steps+` }`), cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// step is a step's text: model m from tensor a (its input x) to tensor b (its output y).
func step(m, a, b string) string {
	return fmt.Sprintf(`step { model_name: %q model_version: -1 input_map { key: "x" value: %q } output_map { key: "y" value: %q } } `, m, a, b)
}

// TestNewRefuses: steps that do not form a graph giving the ensemble's outputs from its
// inputs are refused, saying why.
func TestNewRefuses(t *testing.T) {
	for _, c := range []struct{ steps, want string }{
		{``, "no step"},
		{step("", "IN", "OUT"), "names no model_name"},
		{`step { model_name: "m" model_version: -2 input_map { key: "x" value: "IN" } output_map { key: "y" value: "OUT" } }`, "model_version -2"},
		{`step { model_name: "m" model_version: -1 output_map { key: "y" value: "OUT" } }`, "input_map and output_map"},
		{step("m", "IN", "OUT") + step("n", "IN", "OUT"), `which step 1 gives already`},
		{step("m", "IN", "IN"), `which the ensemble's input gives already`},
		{step("m", "IN", "MID"), `no step gives the ensemble's output "OUT"`},
		{step("m", "NOPE", "OUT"), `takes tensor "NOPE", which neither`},
		{step("m", "B", "A") + step("n", "A", "B") + step("o", "A", "OUT"), "cycle"},
	} {
		if _, err := New("e", config(t, c.steps), in, out); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.steps, err, c.want)
		}
	}
}

// model is a step's model: y = x + add, counting its runs.
type model struct {
	add  float32
	runs *atomic.Int32
	fail error
}

func (m model) Inputs() []tensor.Info {
	return []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 1}}}
}
func (m model) Outputs() []tensor.Info {
	return []tensor.Info{{Name: "y", DType: tensor.Float32, Shape: []int64{-1, 1}}}
}
func (m model) Infer(_ context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	m.runs.Add(1)
	if m.fail != nil {
		return nil, m.fail
	}
	v, _ := tensor.Values[float32](inputs[0])
	return []*tensor.Tensor{tensor.New([]int64{1, 1}, []float32{v[0] + m.add})}, nil
}

// TestRun: each step runs once, after the steps whose tensors it takes, on the model lookup
// finds; the ensemble answers its outputs; a step's error is the request's, naming the step
// and keeping its status.
func TestRun(t *testing.T) {
	// OUT = (IN + 1) + (IN + 10): the two first steps in one wave, the sum after them
	cfg := config(t, step("one", "IN", "A")+step("ten", "IN", "B")+
		`step { model_name: "sum" model_version: 2 input_map [ { key: "x" value: "A" }, { key: "z" value: "B" } ] output_map { key: "y" value: "OUT" } }`)
	e, err := New("e", cfg, in, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.waves) != 2 || len(e.waves[0]) != 2 {
		t.Errorf("waves %v, want the first two steps together, then the sum", e.waves)
	}
	var runs atomic.Int32
	var mu sync.Mutex
	var asked []string
	lookup := func(name, version string) (Model, error) {
		mu.Lock()
		asked = append(asked, name+"@"+version)
		mu.Unlock()
		switch name {
		case "one":
			return model{add: 1, runs: &runs}, nil
		case "ten":
			return model{add: 10, runs: &runs}, nil
		}
		return sum{&runs}, nil
	}
	got, err := e.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 1}, []float32{5})}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tensor.Values[float32](got[0]); len(v) != 1 || v[0] != 21 || runs.Load() != 3 {
		t.Errorf("OUT %v after %d runs, want 21 after 3", v, runs.Load())
	}
	if !strings.Contains(strings.Join(asked, " "), "sum@2") {
		t.Errorf("models asked for %v, want sum's version 2", asked)
	}
	busy := apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable, "no worker")
	_, err = e.Run(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, 1}, []float32{5})}, func(name, version string) (Model, error) {
		return model{runs: &runs, fail: busy}, nil
	})
	var a *apierror.Error
	if !errors.As(err, &a) || a.Code != http.StatusServiceUnavailable || !strings.Contains(a.Message, "ensemble e, step") || !strings.Contains(a.Message, "no worker") {
		t.Errorf("a step's error: %v", err)
	}
	if _, err := e.Run(context.WithValue(context.Background(), depthKey{}, MaxDepth), nil, lookup); err == nil || !strings.Contains(err.Error(), "nest") {
		t.Errorf("an ensemble nested past MaxDepth: %v", err)
	}
}

// sum is a model of two inputs: y = x + z.
type sum struct{ runs *atomic.Int32 }

func (s sum) Inputs() []tensor.Info {
	return []tensor.Info{{Name: "x", DType: tensor.Float32, Shape: []int64{-1, 1}}, {Name: "z", DType: tensor.Float32, Shape: []int64{-1, 1}}}
}
func (s sum) Outputs() []tensor.Info { return model{}.Outputs() }
func (s sum) Infer(_ context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	s.runs.Add(1)
	x, _ := tensor.Values[float32](inputs[0])
	z, _ := tensor.Values[float32](inputs[1])
	return []*tensor.Tensor{tensor.New([]int64{1, 1}, []float32{x[0] + z[0]})}, nil
}
