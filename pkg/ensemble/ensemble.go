// Package ensemble runs a Triton ensemble (config.pbtxt's platform "ensemble"): its steps,
// each a request to another model, with the tensors the ensemble's inputs and its steps'
// outputs give, as Triton's ensemble scheduler runs them. A step runs once every tensor it
// takes is there, beside the other steps that can; the ensemble answers the tensors its
// outputs name.
package ensemble

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/tensor"
)

// MaxDepth is how deeply ensembles may nest (an ensemble a step of another).
const MaxDepth = 8

// Step is one of an ensemble's steps: a request to a version of a model ("" the default:
// Triton's model_version -1, or none given), its inputs and outputs mapped to the ensemble's
// tensors.
type Step struct {
	Model, Version string
	// Inputs maps the model's inputs to the ensemble tensors they take; Outputs its outputs
	// to the ensemble tensors they give.
	Inputs, Outputs map[string]string
}

// Model is what a step runs: a model's inputs and outputs, and a request to it.
type Model interface {
	Inputs() []tensor.Info
	Outputs() []tensor.Info
	// Infer runs the inputs (in Inputs' order, nil for one not given) and answers the
	// outputs in Outputs' order.
	Infer(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error)
}

// Lookup finds a step's model: a registered version of it.
type Lookup func(name, version string) (Model, error)

// Ensemble is a Triton ensemble's steps, checked to form a graph that gives its outputs.
type Ensemble struct {
	name            string
	inputs, outputs []tensor.Info
	steps           []Step
	// waves are the steps in the order they may run: each wave's steps take only tensors
	// the ensemble's inputs and the earlier waves give.
	waves [][]int
}

// New reads the ensemble_scheduling of cfg for an ensemble named name with these inputs and
// outputs (config.pbtxt's); it checks that its steps form a graph that gives every output
// from the inputs, each tensor given once and none taken before it is given.
func New(name string, cfg *oippb.ModelConfig, inputs, outputs []tensor.Info) (*Ensemble, error) {
	e := &Ensemble{name: name, inputs: inputs, outputs: outputs}
	given := map[string]string{} // ensemble tensor → what gives it
	for _, in := range inputs {
		given[in.Name] = "the ensemble's input"
	}
	steps := cfg.GetEnsembleScheduling().GetStep()
	if len(steps) == 0 {
		return nil, errors.New("ensemble_scheduling has no step")
	}
	for i, s := range steps {
		where := fmt.Sprintf("ensemble_scheduling: step %d (model %q)", i+1, s.GetModelName())
		if s.GetModelName() == "" {
			return nil, fmt.Errorf("ensemble_scheduling: step %d names no model_name", i+1)
		}
		step := Step{Model: s.GetModelName(), Inputs: s.GetInputMap(), Outputs: s.GetOutputMap()}
		if v := s.GetModelVersion(); v > 0 {
			step.Version = strconv.FormatInt(v, 10)
		} else if v < -1 {
			return nil, fmt.Errorf("%s: model_version %d: give a version (1 or more) or -1, the latest", where, v)
		}
		if len(step.Inputs) == 0 || len(step.Outputs) == 0 {
			return nil, fmt.Errorf("%s: input_map and output_map must each map one tensor or more", where)
		}
		for _, key := range slices.Sorted(maps.Keys(step.Outputs)) {
			tensorName := step.Outputs[key]
			if by, ok := given[tensorName]; ok {
				return nil, fmt.Errorf("%s: output %q gives tensor %q, which %s gives already", where, key, tensorName, by)
			}
			given[tensorName] = fmt.Sprintf("step %d", i+1)
		}
		e.steps = append(e.steps, step)
	}
	for _, out := range outputs {
		if by := given[out.Name]; by == "" || by == "the ensemble's input" {
			return nil, fmt.Errorf("ensemble_scheduling: no step gives the ensemble's output %q", out.Name)
		}
	}
	// waves: a step runs once the tensors it takes are given
	have := map[string]bool{}
	for _, in := range inputs {
		have[in.Name] = true
	}
	done := make([]bool, len(e.steps))
	for left := len(e.steps); left > 0; {
		var wave []int
		for i, s := range e.steps {
			if !done[i] && takesGiven(s, have) {
				wave = append(wave, i)
			}
		}
		if len(wave) == 0 {
			for i, s := range e.steps {
				if done[i] {
					continue
				}
				for _, key := range slices.Sorted(maps.Keys(s.Inputs)) {
					if t := s.Inputs[key]; !have[t] {
						if given[t] == "" {
							return nil, fmt.Errorf("ensemble_scheduling: step %d (model %q): input %q takes tensor %q, which neither the ensemble's inputs nor a step give", i+1, s.Model, key, t)
						}
						return nil, fmt.Errorf("ensemble_scheduling: step %d (model %q): input %q takes tensor %q, which %s gives from it in turn: the steps make a cycle", i+1, s.Model, key, t, given[t])
					}
				}
			}
		}
		for _, i := range wave {
			done[i] = true
			for _, t := range e.steps[i].Outputs {
				have[t] = true
			}
		}
		e.waves = append(e.waves, wave)
		left -= len(wave)
	}
	return e, nil
}

func takesGiven(s Step, have map[string]bool) bool {
	for _, t := range s.Inputs {
		if !have[t] {
			return false
		}
	}
	return true
}

// Steps are the ensemble's steps, in config.pbtxt's order.
func (e *Ensemble) Steps() []Step { return e.steps }

// depthKey is the context key of how deeply ensembles nest in a request.
type depthKey struct{}

// Run runs a request: its inputs (in the ensemble's order, nil for one not given) through the
// steps, each on the model lookup finds, and answers the ensemble's outputs in order. A
// step's error is the request's, naming the step.
func (e *Ensemble) Run(ctx context.Context, inputs []*tensor.Tensor, lookup Lookup) ([]*tensor.Tensor, error) {
	depth, _ := ctx.Value(depthKey{}).(int)
	if depth >= MaxDepth {
		return nil, apierror.New(http.StatusInternalServerError, apierror.TypeInternal, "ensemble %s: ensembles nest more than %d deep (does one take itself as a step?)", e.name, MaxDepth)
	}
	ctx = context.WithValue(ctx, depthKey{}, depth+1)
	values := map[string]*tensor.Tensor{}
	for i, in := range e.inputs {
		if i < len(inputs) && inputs[i] != nil {
			values[in.Name] = inputs[i]
		}
	}
	for _, wave := range e.waves {
		outs := make([]map[string]*tensor.Tensor, len(wave))
		g, gctx := errgroup.WithContext(ctx)
		for k, i := range wave {
			g.Go(func() (err error) {
				outs[k], err = e.runStep(gctx, i, values, lookup)
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
		for _, o := range outs {
			maps.Copy(values, o)
		}
	}
	answer := make([]*tensor.Tensor, len(e.outputs))
	for i, out := range e.outputs {
		answer[i] = values[out.Name]
	}
	return answer, nil
}

// runStep runs step i on the tensors given so far (read only) and answers the tensors its
// outputs give.
func (e *Ensemble) runStep(ctx context.Context, i int, values map[string]*tensor.Tensor, lookup Lookup) (map[string]*tensor.Tensor, error) {
	s := e.steps[i]
	fail := func(err error) error {
		var a *apierror.Error
		if !errors.As(err, &a) { // a client gone, a deadline: as they are
			return err
		}
		return apierror.New(a.Code, a.Type, "ensemble %s, step %d (model %s): %s", e.name, i+1, s.Model, a.Message)
	}
	m, err := lookup(s.Model, s.Version)
	if err != nil {
		return nil, fail(err)
	}
	modelInputs, modelOutputs := m.Inputs(), m.Outputs()
	inputs := make([]*tensor.Tensor, len(modelInputs))
	for _, key := range slices.Sorted(maps.Keys(s.Inputs)) {
		j := slices.IndexFunc(modelInputs, func(t tensor.Info) bool { return t.Name == key })
		if j < 0 {
			return nil, fail(apierror.New(http.StatusInternalServerError, apierror.TypeInternal, "input_map names input %q, which the model does not have (its inputs: %s)", key, strings.Join(tensor.Names(modelInputs), ", ")))
		}
		inputs[j] = values[s.Inputs[key]]
	}
	outputs, err := m.Infer(ctx, inputs)
	if err != nil {
		return nil, fail(err)
	}
	given := map[string]*tensor.Tensor{}
	for key, tensorName := range s.Outputs {
		j := slices.IndexFunc(modelOutputs, func(t tensor.Info) bool { return t.Name == key })
		if j < 0 || j >= len(outputs) {
			return nil, fail(apierror.New(http.StatusInternalServerError, apierror.TypeInternal, "output_map names output %q, which the model does not give (its outputs: %s)", key, strings.Join(tensor.Names(modelOutputs), ", ")))
		}
		given[tensorName] = outputs[j]
	}
	return given, nil
}
