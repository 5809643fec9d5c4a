// Package explain attributes a model's answer to parts of its input by occlusion: each
// feature (an image patch, a token, a tensor element) is replaced by a baseline in a copy of
// the input, and its attribution is how much the target's score drops. The copies run
// through the model in batches, as any request does, so explanations need no gradients and
// work for every ONNX model.
package explain

import (
	"context"
	"errors"
	"fmt"
	"math"

	"golang.org/x/sync/errgroup"

	"github.com/tsserve/ts/pkg/tensor"
)

// MaxFeatures bounds the features of one explanation: each costs one item of a model run.
const MaxFeatures = 4096

// maxRunBytes bounds the inputs of one run of stacked copies: a request of 40 MB runs its
// copies one at a time, not 16 (640 MB) per run.
const maxRunBytes = 64 << 20

// Edit sets elements of one model input in a perturbed copy.
type Edit struct {
	// Input is the input's index, in the model's order.
	Input int
	// Index lists the elements to set, as flat indexes into the input's one item.
	Index []int
	// Value is what they are set to, converted to the input's element type.
	Value float64
}

// Feature is a part of the input that is hidden as a whole: a patch of an image (every
// channel of its pixels), a token and its attention mask, one tensor element.
type Feature []Edit

// Scorer reads the target's score from the outputs of a run, for its row (the perturbed
// copy's place in the batch).
type Scorer func(outputs []*tensor.Tensor, row int) (float64, error)

// Runner runs inputs through the model and answers its outputs.
type Runner func(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)

// Options say how the perturbed copies run.
type Options struct {
	// Batch is how many copies one run holds: 1 for a model without a batch dimension
	// (each copy has the inputs' own shape), more for one whose inputs hold one item along
	// dimension 0, where the copies are stacked.
	Batch int
	// Parallel is how many runs may be in flight at once (the model's workers).
	Parallel int
}

// ErrTooManyFeatures is returned when an explanation would need more than MaxFeatures runs.
var ErrTooManyFeatures = errors.New("too many features to explain")

// Occlude answers, for each feature, base minus the target's score when that feature is
// hidden: positive where the feature supports the target, negative where it speaks against
// it. inputs are one request's model inputs (one item), base the target's score on them.
func Occlude(ctx context.Context, inputs []*tensor.Tensor, features []Feature, base float64, score Scorer, run Runner, o Options) ([]float64, error) {
	if len(features) > MaxFeatures {
		return nil, fmt.Errorf("%w: %d (at most %d)", ErrTooManyFeatures, len(features), MaxFeatures)
	}
	if err := check(inputs, features); err != nil {
		return nil, err
	}
	batch := max(o.Batch, 1)
	size := 0
	for _, in := range inputs {
		size += len(in.Data)
	}
	batch = min(batch, max(1, maxRunBytes/max(size, 1))) // large inputs: fewer copies per run
	if batch > 1 {
		for _, in := range inputs {
			if len(in.Shape) == 0 || in.Shape[0] != 1 {
				batch = 1 // not one item along dimension 0: copies cannot be stacked
			}
		}
	}
	attributions := make([]float64, len(features))
	first := 0
	if batch > 1 && len(features) > 0 {
		// the first run also holds the inputs unperturbed: a model whose rows are not
		// independent (its answer for a row depends on the others) gives it another score,
		// and one that cannot run batches fails; then each copy runs alone
		n := min(batch-1, len(features))
		copies, err := perturb(inputs, append(features[:n:n], Feature{}))
		if err != nil {
			return nil, err
		}
		outputs, err := run(ctx, copies)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		unperturbed := math.NaN()
		if err == nil {
			unperturbed, err = score(outputs, n)
		}
		if err == nil && math.Abs(unperturbed-base) <= 1e-4+1e-3*math.Abs(base) {
			for k := range n {
				s, err := score(outputs, k)
				if err != nil {
					return nil, err
				}
				attributions[k] = base - s
			}
			first = n
		} else {
			batch = 1
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.Parallel, 1))
	for start := first; start < len(features); start += batch {
		end := min(start+batch, len(features))
		g.Go(func() error {
			copies, err := perturb(inputs, features[start:end])
			if err != nil {
				return err
			}
			outputs, err := run(gctx, copies)
			if err != nil {
				return err
			}
			for k := start; k < end; k++ {
				s, err := score(outputs, k-start)
				if err != nil {
					return err
				}
				attributions[k] = base - s
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return attributions, nil
}

// check makes sure every edit names an input and elements of its item.
func check(inputs []*tensor.Tensor, features []Feature) error {
	for _, f := range features {
		for _, e := range f {
			if e.Input < 0 || e.Input >= len(inputs) {
				return fmt.Errorf("explain: edit of input %d, the model has %d", e.Input, len(inputs))
			}
			in := inputs[e.Input]
			if in.DType == tensor.String || in.DType == tensor.Bool {
				return fmt.Errorf("explain: %s inputs cannot be perturbed", in.DType)
			}
			n := int(in.Len())
			for _, i := range e.Index {
				if i < 0 || i >= n {
					return fmt.Errorf("explain: element %d of an input of %d", i, n)
				}
			}
		}
	}
	return nil
}

// perturb builds the copies of inputs for features, one each: stacked along dimension 0
// for several, the inputs' own shape for one.
func perturb(inputs []*tensor.Tensor, features []Feature) ([]*tensor.Tensor, error) {
	copies := make([]*tensor.Tensor, len(inputs))
	for i, in := range inputs {
		shape := append([]int64(nil), in.Shape...)
		if len(features) > 1 {
			shape[0] = int64(len(features))
		}
		data := make([]byte, 0, len(in.Data)*len(features))
		for range features {
			data = append(data, in.Data...)
		}
		copies[i] = &tensor.Tensor{DType: in.DType, Shape: shape, Data: data}
	}
	for row, f := range features {
		for _, e := range f {
			in := copies[e.Input]
			value, err := tensor.FromFloat64s(in.DType, []int64{1}, []float64{e.Value})
			if err != nil {
				return nil, fmt.Errorf("explain: baseline for a %s input: %w", in.DType, err)
			}
			size := len(value.Data)
			offset := row * len(inputs[e.Input].Data)
			for _, i := range e.Index {
				copy(in.Data[offset+i*size:], value.Data)
			}
		}
	}
	return copies, nil
}

// Patches covers an image of height×width pixels with square patches of side pixels (the
// last row and column of patches may be narrower), row by row, and lists for each the
// indexes of its elements, every channel included, in an image laid out as [C,H,W] or, when
// channelsLast, [H,W,C].
func Patches(channels, height, width, side int, channelsLast bool) [][]int {
	side = max(side, 1)
	var patches [][]int
	for y0 := 0; y0 < height; y0 += side {
		for x0 := 0; x0 < width; x0 += side {
			var idx []int
			for y := y0; y < min(y0+side, height); y++ {
				for x := x0; x < min(x0+side, width); x++ {
					for c := range channels {
						if channelsLast {
							idx = append(idx, (y*width+x)*channels+c)
						} else {
							idx = append(idx, (c*height+y)*width+x)
						}
					}
				}
			}
			patches = append(patches, idx)
		}
	}
	return patches
}

// Spread gives each of n elements of input the attribution of the feature that hides it (0
// for elements no feature hides).
func Spread(n int, features []Feature, input int, attributions []float64) []float64 {
	out := make([]float64, n)
	for k, f := range features {
		for _, e := range f {
			if e.Input != input {
				continue
			}
			for _, i := range e.Index {
				if i >= 0 && i < n {
					out[i] = attributions[k]
				}
			}
		}
	}
	return out
}
