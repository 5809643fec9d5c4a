package registry

import (
	"fmt"
	"maps"
	"slices"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/tensor"
)

// reshaper applies a Triton model's reshapes (config.pbtxt's input and output reshape):
// requests give an input in its dims, which the model takes in its reshape's shape; the
// model gives an output in its reshape's shape, which requests get in its dims. Only the
// shape changes: the elements stay, in order. With max_batch_size above 0 both come after
// the batch dimension.
type reshaper struct {
	batched bool
	// inputs and outputs are the shapes (after the batch dimension) the model's inputs take
	// and its outputs are answered in, by the model's input and output index.
	inputs, outputs map[int][]int64
}

// newReshaper reads the reshapes of cfg for a model with these inputs and outputs; nil when
// there are none. It answers the inputs and outputs requests see: dims, where reshaped.
func newReshaper(cfg *oippb.ModelConfig, inputs, outputs []tensor.Info) (r *reshaper, shown, answered []tensor.Info, err error) {
	shown, answered = slices.Clone(inputs), slices.Clone(outputs)
	r = &reshaper{batched: cfg.GetMaxBatchSize() > 0, inputs: map[int][]int64{}, outputs: map[int][]int64{}}
	type declared struct {
		name    string
		dims    []int64
		reshape *oippb.ModelTensorReshape
	}
	side := func(what string, decls []declared, infos, shownInfos []tensor.Info, to map[int][]int64, toModel bool) error {
		for _, d := range decls {
			if d.reshape == nil {
				continue
			}
			i := slices.IndexFunc(infos, func(t tensor.Info) bool { return t.Name == d.name })
			if i < 0 {
				continue // checkTritonIO says so
			}
			model, given := d.reshape.GetShape(), d.dims
			if err := sameCount(given, model); err != nil {
				return fmt.Errorf("%s: %s %q: reshape %v does not fit dims %v: %v", FromTritonConfig, what, d.name, model, given, err)
			}
			if toModel {
				to[i] = model
			} else {
				to[i] = given
			}
			shape := slices.Clone(given)
			if r.batched {
				shape = append([]int64{-1}, shape...)
			}
			shownInfos[i].Shape, shownInfos[i].DimNames = shape, nil
		}
		return nil
	}
	var ins, outs []declared
	for _, in := range cfg.GetInput() {
		ins = append(ins, declared{in.GetName(), in.GetDims(), in.GetReshape()})
	}
	for _, out := range cfg.GetOutput() {
		outs = append(outs, declared{out.GetName(), out.GetDims(), out.GetReshape()})
	}
	if err := side("input", ins, inputs, shown, r.inputs, true); err != nil {
		return nil, nil, nil, err
	}
	if err := side("output", outs, outputs, answered, r.outputs, false); err != nil {
		return nil, nil, nil, err
	}
	if len(r.inputs) == 0 && len(r.outputs) == 0 {
		return nil, inputs, outputs, nil
	}
	return r, shown, answered, nil
}

// sameCount checks that two shapes (−1 any size) can hold the same number of elements: equal
// counts when both are fixed, and at most one −1 in each.
func sameCount(a, b []int64) error {
	count := func(s []int64) (n int64, dynamic int) {
		n = 1
		for _, d := range s {
			if d < 0 {
				dynamic++
				continue
			}
			n *= d
		}
		return n, dynamic
	}
	na, da := count(a)
	nb, db := count(b)
	switch {
	case da > 1 || db > 1:
		return fmt.Errorf("at most one dimension may be -1")
	case da == 0 && db == 0 && na != nb:
		return fmt.Errorf("%d elements against %d", na, nb)
	}
	return nil
}

// in reshapes a request's inputs (in the model's order) to the shapes the model takes.
func (r *reshaper) in(inputs []*tensor.Tensor, infos []tensor.Info) ([]*tensor.Tensor, error) {
	return r.apply(inputs, r.inputs, func(i int, t *tensor.Tensor, shape []int64) error {
		return apierror.BadRequest("input %q: its shape %s cannot be reshaped to %v, the shape the model takes (config.pbtxt's reshape)", infos[i].Name, tensor.ShapeString(t.Shape), shape)
	})
}

// out reshapes the model's outputs to the shapes requests get.
func (r *reshaper) out(outputs []*tensor.Tensor, infos []tensor.Info) ([]*tensor.Tensor, error) {
	return r.apply(outputs, r.outputs, func(i int, t *tensor.Tensor, shape []int64) error {
		return apierror.Internal("output %q: the model's shape %s cannot be reshaped to dims %v (config.pbtxt)", infos[i].Name, tensor.ShapeString(t.Shape), shape)
	})
}

// apply gives the tensors at the indexes of shapes those shapes (after a batch dimension of
// the tensor's own when batched; a −1 the size that holds the rest); the others stay.
func (r *reshaper) apply(ts []*tensor.Tensor, shapes map[int][]int64, fail func(int, *tensor.Tensor, []int64) error) ([]*tensor.Tensor, error) {
	if len(shapes) == 0 {
		return ts, nil
	}
	out := slices.Clone(ts)
	for i, shape := range shapes {
		if i >= len(ts) || ts[i] == nil {
			continue
		}
		t := ts[i]
		n, err := tensor.NumElements(t.Shape)
		if err != nil {
			return nil, fail(i, t, shape)
		}
		target := slices.Clone(shape)
		if r.batched {
			if len(t.Shape) == 0 {
				return nil, fail(i, t, shape)
			}
			target = append([]int64{t.Shape[0]}, target...)
		}
		known, free := int64(1), -1
		for k, d := range target {
			if d < 0 {
				free = k
				continue
			}
			known *= d
		}
		switch {
		case free >= 0 && known > 0 && n%known == 0:
			target[free] = n / known
		case free >= 0 && known == 0 && n == 0:
			target[free] = 0
		case free >= 0 || known != n:
			return nil, fail(i, t, target)
		}
		reshaped := *t
		reshaped.Shape = target
		out[i] = &reshaped
	}
	return out, nil
}

// warmup is w with the shapes it gives reshaped inputs (config.pbtxt's dims, as Triton's
// model_warmup gives them) made the shapes the model takes, where those are fixed: the
// warm-up runs on the model directly.
func (r *reshaper) warmup(w *Warmup, inputs []tensor.Info) *Warmup {
	out := *w
	out.Shapes = maps.Clone(w.Shapes)
	for i, shape := range r.inputs {
		if _, given := out.Shapes[inputs[i].Name]; given && !slices.Contains(shape, -1) {
			out.Shapes[inputs[i].Name] = slices.Clone(shape)
		}
	}
	return &out
}
