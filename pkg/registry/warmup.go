package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/tensor"
)

// Warm-up data kinds.
const (
	WarmupZero   = "zero"   // zeros, false and empty strings (Triton's zero_data)
	WarmupRandom = "random" // numbers in [0, 1), integers 0 or 1, random bools and letters (Triton's random_data)
)

// Limits on a warm-up, so that a model-config.yaml cannot make the server allocate without end.
const (
	maxWarmupRuns     = 1000
	maxWarmupBatch    = 4096
	maxWarmupElements = 1 << 28 // per input
)

// Warmup is a model's warm-up (Triton's model_warmup), from model-config.yaml: when the
// model loads, and before it serves a request, it runs Runs times for each batch size on
// generated inputs, so that the first clients do not pay for ONNX Runtime's first runs
// (allocations, a GPU's kernel selection). A run that fails fails the load.
type Warmup struct {
	// Runs per batch size; 0 turns the warm-up off.
	Runs int `yaml:"runs" json:"runs"`
	// BatchSizes are the batch sizes to run when the model batches (its inputs' first
	// dimension is the batch): by default 1 and the model's batchSize.
	BatchSizes []int `yaml:"batchSizes" json:"batchSizes,omitempty"`
	// Data is WarmupZero (the default) or WarmupRandom.
	Data string `yaml:"data" json:"data"`
	// Shapes give inputs' dynamic dimensions (others are 1), by input name: for a model that
	// batches, the dimensions after the batch dimension (as Triton's dims); else the whole
	// shape. An input whose model declares no shape needs one.
	Shapes map[string][]int64 `yaml:"shapes" json:"shapes,omitempty"`
	// Files give inputs' data instead, by input name: a file of the archive (an extra file)
	// holding one sample (batch 1) in the binary tensor data layout, repeated for larger
	// batches (Triton's input_data_file).
	Files map[string]string `yaml:"files" json:"files,omitempty"`
}

// UnmarshalYAML reads the warm-up's section, or a number alone as its runs (warmup: 2).
func (w *Warmup) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&w.Runs)
	}
	type plain Warmup // without this method
	return n.Decode((*plain)(w))
}

// RunBatchSizes are the batch sizes the warm-up runs for a model with this batchSize; none
// when the model does not batch (its inputs then have one warm-up shape).
func (w *Warmup) RunBatchSizes(batchable bool, batchSize int) []int {
	switch {
	case !batchable:
		return nil
	case len(w.BatchSizes) > 0:
		return w.BatchSizes
	case batchSize > 1:
		return []int{1, batchSize}
	}
	return []int{1}
}

// runShapes are the batch sizes of the warm-up's runs, or one 0 (no batch dimension) when
// the model does not batch.
func (w *Warmup) runShapes(batchable bool, batchSize int) []int {
	if !batchable {
		return []int{0}
	}
	return w.RunBatchSizes(batchable, batchSize)
}

// check says what is wrong with the warm-up for a model with these inputs and batchSize,
// whose archive is in dir, or nil.
func (w *Warmup) check(inputs []tensor.Info, batchable bool, batchSize int, dir string) error {
	switch {
	case w.Runs < 0 || w.Runs > maxWarmupRuns:
		return fmt.Errorf("warmup.runs must be between 0 and %d, got %d", maxWarmupRuns, w.Runs)
	case w.Data != "" && w.Data != WarmupZero && w.Data != WarmupRandom:
		return fmt.Errorf("warmup.data must be %q or %q, got %q", WarmupZero, WarmupRandom, w.Data)
	}
	for _, b := range w.BatchSizes {
		if b < 1 || b > maxWarmupBatch {
			return fmt.Errorf("warmup.batchSizes: %d is not between 1 and %d", b, maxWarmupBatch)
		}
	}
	names := make([]string, len(inputs))
	for i, in := range inputs {
		names[i] = in.Name
	}
	for _, key := range []struct {
		what  string
		names []string
	}{{"shapes", slices.Collect(maps.Keys(w.Shapes))}, {"files", slices.Collect(maps.Keys(w.Files))}} {
		for _, name := range key.names {
			if !slices.Contains(names, name) {
				return fmt.Errorf("warmup.%s names %q, which is not an input of the model (its inputs: %s)", key.what, name, strings.Join(names, ", "))
			}
		}
	}
	if _, err := w.samples(inputs, batchable, dir); err != nil {
		return err
	}
	for _, in := range inputs {
		for _, b := range w.runShapes(batchable, batchSize) {
			if _, err := w.Shape(in, inputs, batchable, b); err != nil {
				return err
			}
		}
	}
	return nil
}

// Shape is the shape of input in's warm-up tensor, of the model's inputs, for a run of batch
// size b.
func (w *Warmup) Shape(in tensor.Info, inputs []tensor.Info, batchable bool, b int) ([]int64, error) {
	given, ok := w.Shapes[in.Name]
	declared := in.Shape
	if batchable && !in.AnyShape() {
		declared = declared[1:] // the batch dimension comes first
	}
	var shape []int64
	switch {
	case in.AnyShape() && !ok:
		return nil, fmt.Errorf("warmup: input %q has no declared shape: give it one in warmup.shapes", in.Name)
	case in.AnyShape():
		shape = slices.Clone(given)
	case ok && len(given) != len(declared):
		what := "its shape"
		if batchable {
			what = "its dimensions after the batch dimension (the model batches)"
		}
		return nil, fmt.Errorf("warmup.shapes.%s must give %s, %d of them for %s; got %d", in.Name, what, len(declared), in.ShapeText(), len(given))
	default:
		shape = make([]int64, len(declared))
		for i, d := range declared {
			switch {
			case d >= 0 && ok && given[i] != d:
				return nil, fmt.Errorf("warmup.shapes.%s: dimension %d is fixed at %d in %s, got %d", in.Name, i+len(in.Shape)-len(declared), d, in.ShapeText(), given[i])
			case d >= 0:
				shape[i] = d
			case ok:
				shape[i] = given[i]
			default: // the size shapes gives a dimension of the same name, else 1
				shape[i] = max(w.dimSize(inputs, batchable, in, i), 1)
			}
		}
	}
	if batchable && !in.AnyShape() {
		shape = append([]int64{int64(b)}, shape...)
	}
	n, err := tensor.NumElements(shape)
	switch {
	case err != nil || slices.ContainsFunc(shape, func(d int64) bool { return d < 0 }):
		return nil, fmt.Errorf("warmup: input %q: shape %s is not valid", in.Name, tensor.ShapeString(shape))
	case n > maxWarmupElements:
		return nil, fmt.Errorf("warmup: input %q: shape %s holds %d elements, over the warm-up's limit of %d", in.Name, tensor.ShapeString(shape), n, maxWarmupElements)
	}
	return shape, nil
}

// dimSize is the size shapes gives another input's dynamic dimension that has the same name
// as dimension i (after the batch, when the model batches) of in, or 0: inputs that share a
// dimension ([batch, sequence] for a text model's ids and mask) need one size.
func (w *Warmup) dimSize(inputs []tensor.Info, batchable bool, in tensor.Info, i int) int64 {
	skip := 0
	if batchable {
		skip = 1
	}
	return tensor.SharedDimSize(inputs, w.Shapes, skip, in.DimName(skip+i))
}

// samples reads the inputs' samples from their files in the archive in dir, by input name:
// each one batch (the shape of a run of batch size 1).
func (w *Warmup) samples(inputs []tensor.Info, batchable bool, dir string) (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	for _, in := range inputs {
		if _, ok := w.Files[in.Name]; ok {
			t, err := w.sample(in, inputs, batchable, dir)
			if err != nil {
				return nil, err
			}
			out[in.Name] = t
		}
	}
	return out, nil
}

// sample reads input in's sample from its file in the archive in dir.
func (w *Warmup) sample(in tensor.Info, inputs []tensor.Info, batchable bool, dir string) (*tensor.Tensor, error) {
	file := w.Files[in.Name]
	if !filepath.IsLocal(filepath.FromSlash(file)) {
		return nil, fmt.Errorf("warmup.files.%s: %q is not a file of the archive", in.Name, file)
	}
	path := filepath.Join(dir, filepath.FromSlash(file))
	shape, err := w.Shape(in, inputs, batchable, 1)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("warmup.files.%s: %q is not a file of the archive (pack it with --extra-files)", in.Name, file)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 8*maxWarmupElements+1))
	if err != nil {
		return nil, fmt.Errorf("warmup.files.%s: %w", in.Name, err)
	}
	t, err := tensor.FromBinary(in.DType, shape, data)
	if err != nil {
		return nil, fmt.Errorf("warmup.files.%s: %q is not one sample of %s: %v", in.Name, file, in.Name, err)
	}
	return t, nil
}

// inputs are the warm-up tensors of a run of batch size b: the inputs' samples (read from
// files, stacked b times when the model batches) or generated data.
func (w *Warmup) inputs(infos []tensor.Info, batchable bool, b int, samples map[string]*tensor.Tensor, rng *rand.Rand) ([]*tensor.Tensor, error) {
	out := make([]*tensor.Tensor, len(infos))
	for i, in := range infos {
		if t, ok := samples[in.Name]; ok {
			if batchable {
				var err error
				if t, err = tensor.Concat(slices.Repeat([]*tensor.Tensor{t}, b)); err != nil {
					return nil, fmt.Errorf("warmup.files.%s: %w", in.Name, err)
				}
			}
			out[i] = t
			continue
		}
		shape, err := w.Shape(in, infos, batchable, b)
		if err != nil {
			return nil, err
		}
		var values *rand.Rand // zeros
		if w.Data == WarmupRandom {
			values = rng
		}
		if out[i], err = tensor.Generate(in.DType, shape, values); err != nil {
			return nil, fmt.Errorf("warmup: input %q: %w", in.Name, err)
		}
	}
	return out, nil
}

// warmUp runs the warm-up on a session just loaded (before it serves) and says how long it
// took; a run that fails, or ctx ending, fails it.
func warmUp(ctx context.Context, s *engine.Session, w *Warmup, batchable bool, batchSize int, dir string) (time.Duration, error) {
	start := time.Now()
	rng := rand.New(rand.NewPCG(1, 2)) // the same data at every load
	samples, err := w.samples(s.Inputs(), batchable, dir)
	if err != nil {
		return 0, err
	}
	for _, b := range w.runShapes(batchable, batchSize) {
		inputs, err := w.inputs(s.Inputs(), batchable, b, samples, rng)
		if err != nil {
			return 0, err
		}
		for run := 1; run <= w.Runs; run++ {
			if _, err := s.Run(ctx, inputs); err != nil {
				if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
					return 0, err
				}
				var shapes []string
				for _, t := range inputs {
					shapes = append(shapes, tensor.ShapeString(t.Shape))
				}
				return 0, fmt.Errorf("warm-up run %d of %d on %s, inputs of shape %s failed: %w", run, w.Runs, w.dataText(), strings.Join(shapes, ", "), err)
			}
		}
	}
	return time.Since(start), nil
}

// dataText says where the warm-up's data comes from: "zero data", "random data and ids
// from ids.bin".
func (w *Warmup) dataText() string {
	text := w.DataKind() + " data"
	for _, name := range slices.Sorted(maps.Keys(w.Files)) {
		text += fmt.Sprintf(" and %s from %s", name, w.Files[name])
	}
	return text
}

// DataKind is the warm-up's data kind, WarmupZero when not given.
func (w *Warmup) DataKind() string {
	if w.Data == "" {
		return WarmupZero
	}
	return w.Data
}
