package handler

import (
	"cmp"
	"encoding/json"
	"image/color"
	"net/url"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

// TestImageExplanationLayouts: an image classifier's explanation hides square patches of
// the image whatever the input's layout ([N,C,H,W], [N,H,W,C], one image with no batch
// dimension, a flattened row in either order, grey with no channel dimension, RGBA), and
// answers each element of the model's input for one image with the attribution of the
// patch its pixel lies in.
func TestImageExplanationLayouts(t *testing.T) {
	const side, patch = 8, 5 // 2×2 patches, the last row and column narrower
	for _, c := range []struct {
		name  string
		shape []int64
		cfg   config
		// at is the flat index of pixel (y, x), channel ch, in one image
		at       func(y, x, ch int) int
		channels int // 3 when 0
	}{
		{"NCHW", []int64{-1, 3, side, side}, nil, func(y, x, ch int) int { return (ch*side+y)*side + x }, 0},
		{"NHWC", []int64{1, side, side, 3}, nil, func(y, x, ch int) int { return (y*side+x)*3 + ch }, 0},
		{"CHW, no batch", []int64{3, side, side}, nil, func(y, x, ch int) int { return (ch*side+y)*side + x }, 0},
		{"flat, PyTorch's order", []int64{-1, 3 * side * side}, config{"size": side}, func(y, x, ch int) int { return (ch*side+y)*side + x }, 0},
		{"flat, Keras's order", []int64{-1, 3 * side * side}, config{"size": side, "layout": "NHWC"}, func(y, x, ch int) int { return (y*side+x)*3 + ch }, 0},
		{"grey, no channel dimension", []int64{-1, side, side}, nil, func(y, x, _ int) int { return y*side + x }, 1},
		{"RGBA", []int64{-1, 4, side, side}, nil, func(y, x, ch int) int { return (ch*side+y)*side + x }, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec, err := newImageSpec(tensor.Info{Name: "x", DType: tensor.Float32, Shape: c.shape}, c.cfg, nil, classifierSide)
			if err != nil {
				t.Fatal(err)
			}
			h := &imageClassifier{spec: spec, topk: 5, softmax: "auto"}
			prepared, _ := spec.prepare(solid(side, side, color.White))
			img, err := spec.tensor(prepared)
			if err != nil {
				t.Fatal(err)
			}
			logits := tensor.New([]int64{1, 2}, []float32{0, 1})
			req := &Request{Query: url.Values{"patch": {"5"}}}
			e, err := h.Explain(req, []*tensor.Tensor{img}, []*tensor.Tensor{logits})
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Features) != 4 || e.Target != "1" {
				t.Fatalf("%d features explaining %q, want 4 explaining class 1", len(e.Features), e.Target)
			}
			// each patch's attribution is its number: pixel (y, x) must carry patch y/5*2 + x/5
			res, err := e.Answer([]float64{0, 1, 2, 3})
			if err != nil {
				t.Fatal(err)
			}
			var nested any
			if err := json.Unmarshal(res.Body, &nested); err != nil {
				t.Fatal(err)
			}
			channels := cmp.Or(c.channels, 3)
			flat := numbers(nested)
			if len(flat) != channels*side*side {
				t.Fatalf("%d attributions, want %d", len(flat), channels*side*side)
			}
			for y := range side {
				for x := range side {
					for ch := range channels {
						if got, want := flat[c.at(y, x, ch)], float64(y/patch*2+x/patch); got != want {
							t.Fatalf("pixel (%d, %d) channel %d: attribution %g, want %g", y, x, ch, got, want)
						}
					}
				}
			}
			// hiding a patch's copy sets exactly its pixels to 0 in the model's input
			n := 0
			for _, f := range e.Features {
				n += len(f[0].Index)
			}
			if n != channels*side*side {
				t.Errorf("the patches hide %d elements, want each of %d once", n, channels*side*side)
			}
		})
	}
}

// numbers lists a nested JSON array's numbers in order.
func numbers(v any) []float64 {
	switch x := v.(type) {
	case float64:
		return []float64{x}
	case []any:
		var out []float64
		for _, e := range x {
			out = append(out, numbers(e)...)
		}
		return out
	}
	return nil
}

// TestExplainScores: a classifier's score is the target class's probability in the row the
// copy ran in, after the softmax setting; the class may be named by index or label, and a
// model that answers class indexes has nothing to explain.
func TestExplainScores(t *testing.T) {
	l := labels{0: "cat", 1: "dog", 2: "bird"}
	logits := tensor.New([]int64{2, 3}, []float32{0, 2, 1, 3, 0, 0})
	for _, c := range []struct {
		target string
		want   int
	}{{"", 1}, {"2", 2}, {"cat", 0}} {
		req := &Request{Query: url.Values{"target": {c.target}}}
		e, err := classifierExplanation(req, []*tensor.Tensor{logits}, 0, false, "auto", l)
		if err != nil || e.Target != l[c.want] {
			t.Fatalf("target %q: explained %v (%v), want %s", c.target, e, err, l[c.want])
		}
		p0 := softmax([]float64{0, 2, 1})[c.want]
		p1 := softmax([]float64{3, 0, 0})[c.want]
		s0, _ := e.Score([]*tensor.Tensor{logits}, 0)
		s1, _ := e.Score([]*tensor.Tensor{logits}, 1)
		if s0 != p0 || s1 != p1 || e.Base != p0 {
			t.Errorf("target %q: scores %g %g base %g, want %g %g", c.target, s0, s1, e.Base, p0, p1)
		}
	}
	for _, bad := range []string{"3", "-1", "horse"} {
		if _, err := classifierExplanation(&Request{Query: url.Values{"target": {bad}}}, []*tensor.Tensor{logits}, 0, false, "auto", l); err == nil {
			t.Errorf("target %q taken", bad)
		}
	}
	indexes := tensor.New([]int64{1, 1}, []int64{2})
	if _, err := classifierExplanation(&Request{}, []*tensor.Tensor{indexes}, 0, false, "auto", l); err == nil {
		t.Error("an argmax model explained")
	}
}
