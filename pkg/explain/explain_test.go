package explain

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

func TestPatches(t *testing.T) {
	for _, c := range []struct {
		name                          string
		channels, height, width, side int
		channelsLast                  bool
		want                          [][]int
	}{
		{"one channel, 2×3, side 2", 1, 2, 3, 2, false, [][]int{{0, 1, 3, 4}, {2, 5}}},
		{"[C,H,W] 2×2×2, side 1", 2, 2, 2, 1, false, [][]int{{0, 4}, {1, 5}, {2, 6}, {3, 7}}},
		{"[H,W,C] 2×2×2, side 1", 2, 2, 2, 1, true, [][]int{{0, 1}, {2, 3}, {4, 5}, {6, 7}}},
		{"[H,W,C] 2×2×3, side 2: the whole image", 3, 2, 2, 2, true, [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}}},
		{"side 0 is 1", 1, 1, 2, 0, false, [][]int{{0}, {1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Patches(c.channels, c.height, c.width, c.side, c.channelsLast)
			if !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Errorf("Patches = %v, want %v", got, c.want)
			}
		})
	}
}

func TestSpread(t *testing.T) {
	features := []Feature{
		{{Input: 0, Index: []int{0, 2}}},
		{{Input: 1, Index: []int{0}}, {Input: 0, Index: []int{1}}},
	}
	if got, want := Spread(4, features, 0, []float64{0.5, -1}), []float64{0.5, -1, 0.5, 0}; !slices.Equal(got, want) {
		t.Errorf("Spread(input 0) = %v, want %v", got, want)
	}
	if got, want := Spread(2, features, 1, []float64{0.5, -1}), []float64{-1, 0}; !slices.Equal(got, want) {
		t.Errorf("Spread(input 1) = %v, want %v", got, want)
	}
}

// linear is a model y = W·x over rows of x [rows, 3], W [2, 3]: its runs count the rows
// they were given. (The algorithm's collaborator; the server's tests explain real ONNX
// models.)
type linear struct {
	w        [2][3]float64
	runs     atomic.Int64
	maxRows  atomic.Int64
	mixRows  bool // each row's answer also counts the other rows (rows not independent)
	failMany bool // more than one row fails, as a model exported for a batch of one does
}

func (m *linear) run(_ context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	x, err := inputs[0].Float64s()
	if err != nil {
		return nil, err
	}
	rows := len(x) / 3
	m.runs.Add(1)
	if int64(rows) > m.maxRows.Load() {
		m.maxRows.Store(int64(rows))
	}
	if m.failMany && rows > 1 {
		return nil, errors.New("the model takes one row")
	}
	total := 0.0
	for _, v := range x {
		total += v
	}
	y := make([]float64, 2*rows)
	for r := range rows {
		for k := range 2 {
			for i := range 3 {
				y[2*r+k] += m.w[k][i] * x[3*r+i]
			}
			if m.mixRows {
				y[2*r+k] += total
			}
		}
	}
	out, err := tensor.FromFloat64s(tensor.Float32, []int64{int64(rows), 2}, y)
	return []*tensor.Tensor{out}, err
}

func scoreOf(k int) Scorer {
	return func(outputs []*tensor.Tensor, row int) (float64, error) {
		v, err := outputs[0].Float64s()
		if err != nil {
			return 0, err
		}
		return v[2*row+k], nil
	}
}

// TestOcclude: hiding x_i (baseline 0) from a linear score w·x drops it by w_i·x_i exactly,
// whether the copies run one by one or stacked in batches, and a model whose rows are not
// independent, or that runs no batches, has its copies run one by one.
func TestOcclude(t *testing.T) {
	x := []float32{1, -2, 0.5}
	w := [2][3]float64{{0.5, 1, -2}, {3, 0.25, 1}}
	features := []Feature{{{Input: 0, Index: []int{0}}}, {{Input: 0, Index: []int{1}}}, {{Input: 0, Index: []int{2}}}}
	for _, c := range []struct {
		name              string
		batch             int
		mix, failMany     bool
		wantRuns, maxRows int64
	}{
		{"one by one", 1, false, false, 3, 1},
		{"stacked: the copies and the check row in one run", 16, false, false, 1, 4},
		{"batches of two: one copy and the check row, then the other two", 2, false, false, 2, 2},
		{"rows not independent: the check fails, then one by one", 16, true, false, 4, 4},
		{"no batches: the stacked run fails, then one by one", 16, false, true, 4, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &linear{w: w, mixRows: c.mix, failMany: c.failMany}
			inputs := []*tensor.Tensor{tensor.New([]int64{1, 3}, x)}
			base, err := m.run(context.Background(), inputs)
			if err != nil {
				t.Fatal(err)
			}
			m.runs.Store(0)
			for k := range 2 {
				b, _ := scoreOf(k)(base, 0)
				got, err := Occlude(context.Background(), inputs, features, b, scoreOf(k), m.run, Options{Batch: c.batch, Parallel: 2})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 3 {
					want := w[k][i] * float64(x[i])
					if c.mix { // the row's own sum counts in its score
						want += float64(x[i])
					}
					if math.Abs(got[i]-want) > 1e-5 {
						t.Errorf("target %d: attribution of x%d = %g, want %g", k, i, got[i], want)
					}
				}
			}
			if got := m.runs.Load(); got != 2*c.wantRuns {
				t.Errorf("%d runs for two explanations, want %d", got, 2*c.wantRuns)
			}
			if got := m.maxRows.Load(); got != c.maxRows {
				t.Errorf("at most %d rows in a run, want %d", got, c.maxRows)
			}
			if got := inputs[0].Data; !slices.Equal(got, tensor.New([]int64{1, 3}, x).Data) {
				t.Errorf("the request's inputs changed")
			}
		})
	}
}

// TestOccludeBoundsRunSize: copies of a large input are stacked only as many as fit in
// maxRunBytes.
func TestOccludeBoundsRunSize(t *testing.T) {
	rows := 3 * (maxRunBytes/4/3/4 + 1) // a quarter of maxRunBytes and a bit: 3 copies per run
	x := make([]float32, rows)
	var maxRows atomic.Int64
	run := func(_ context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
		maxRows.Store(max(maxRows.Load(), inputs[0].Shape[0]))
		return []*tensor.Tensor{tensor.New([]int64{inputs[0].Shape[0]}, make([]float32, inputs[0].Shape[0]))}, nil
	}
	features := make([]Feature, 8)
	for i := range features {
		features[i] = Feature{{Input: 0, Index: []int{i}}}
	}
	score := func(outputs []*tensor.Tensor, row int) (float64, error) { return 0, nil }
	if _, err := Occlude(context.Background(), []*tensor.Tensor{tensor.New([]int64{1, int64(rows)}, x)}, features, 0, score, run, Options{Batch: 16}); err != nil {
		t.Fatal(err)
	}
	if got := maxRows.Load(); got != 3 {
		t.Errorf("runs of up to %d copies, want 3", got)
	}
}

func TestOccludeRefuses(t *testing.T) {
	m := &linear{}
	inputs := []*tensor.Tensor{tensor.New([]int64{1, 3}, []float32{1, 2, 3})}
	many := make([]Feature, MaxFeatures+1)
	for i := range many {
		many[i] = Feature{{Input: 0, Index: []int{0}}}
	}
	for _, c := range []struct {
		name     string
		features []Feature
	}{
		{"too many features", many},
		{"an input the model lacks", []Feature{{{Input: 1, Index: []int{0}}}}},
		{"an element past the input", []Feature{{{Input: 0, Index: []int{3}}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Occlude(context.Background(), inputs, c.features, 0, scoreOf(0), m.run, Options{}); err == nil {
				t.Error("no error")
			}
			if m.runs.Load() != 0 {
				t.Error("the model ran")
			}
		})
	}
	strs := []*tensor.Tensor{tensor.NewStrings([]int64{1}, []string{"a"})}
	if _, err := Occlude(context.Background(), strs, []Feature{{{Input: 0, Index: []int{0}}}}, 0, scoreOf(0), m.run, Options{}); err == nil {
		t.Error("a string input was perturbed")
	}
}

func TestOccludeStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := &linear{}
	inputs := []*tensor.Tensor{tensor.New([]int64{1, 3}, []float32{1, 2, 3})}
	features := []Feature{{{Input: 0, Index: []int{0}}}, {{Input: 0, Index: []int{1}}}}
	run := func(ctx context.Context, in []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return m.run(ctx, in)
	}
	for _, batch := range []int{1, 16} {
		if _, err := Occlude(ctx, inputs, features, 0, scoreOf(0), run, Options{Batch: batch}); !errors.Is(err, context.Canceled) {
			t.Errorf("batch %d: err = %v, want context.Canceled", batch, err)
		}
	}
}
