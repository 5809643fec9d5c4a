// Package seqbatch runs the requests of an ONNX model that a Triton config.pbtxt gives
// sequence_batching: each sequence's requests one at a time and in order, with the control
// inputs the config names (start, end, ready, correlation id) and its implicit state (an
// output given back as an input on the sequence's next request), as Triton's sequence batcher
// does. The requests of different sequences still batch together, through the model's batcher:
// ONNX Runtime keeps no state of its own, so a sequence needs no batch slot of its own.
package seqbatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/tensor"
)

// DefaultIdle is how long a sequence may go without a request before it is dropped, when
// the config gives no max_sequence_idle_microseconds (Triton's default).
const DefaultIdle = time.Second

// InitialStateDir is the model folder's folder of initial_state data files.
const InitialStateDir = "initial_state"

// Flags are a request's sequence parameters (sequence_id, sequence_start, sequence_end).
type Flags struct {
	// ID is the sequence's correlation id: a number's decimal text when Numeric, else the
	// string given; "" when the request names no sequence.
	ID      string
	Numeric bool
	Start   bool
	End     bool
	// StartNew starts the sequence when it is not running, as TorchServe's sequence headers
	// do (a request with an id not seen continues nothing: it begins a sequence).
	StartNew bool
}

// HeaderFlags are the flags of a request that names its sequence with TorchServe's headers:
// an id (a number when it is one, else a string), start and end, a sequence not running
// started.
func HeaderFlags(id string, start, end bool) Flags {
	f, err := ParseID(id, true)
	if err != nil || f.ID == "" && id != "" { // not a number (or 0): the id's text
		f = Flags{ID: id}
	}
	f.Start, f.End, f.StartNew = start, end, true
	return f
}

// key is a sequence's map key: a number and a string of the same text are two sequences.
func (f Flags) key() string {
	if f.Numeric {
		return "n" + f.ID
	}
	return "s" + f.ID
}

// String is the id as a message names it.
func (f Flags) String() string {
	if f.Numeric {
		return f.ID
	}
	return strconv.Quote(f.ID)
}

// ParseID reads a sequence_id parameter: a whole number ≥ 0 (its text, from JSON) or a string;
// 0 and "" name no sequence.
func ParseID(numberText string, isNumber bool) (Flags, error) {
	if !isNumber {
		return Flags{ID: numberText}, nil
	}
	n, err := strconv.ParseUint(numberText, 10, 64)
	if err != nil {
		return Flags{}, fmt.Errorf("parameter sequence_id must be a whole number from 0 to 2^64-1, or a string; got %s", numberText)
	}
	if n == 0 {
		return Flags{}, nil
	}
	return Flags{ID: strconv.FormatUint(n, 10), Numeric: true}, nil
}

// control is a control input: where it goes among the model's inputs, the shape each
// request gives it, and its values.
type control struct {
	name  string
	input int
	dtype tensor.DType
	shape []int64
	kind  oippb.ModelSequenceBatching_Control_Kind
	// no and yes are a start, end or ready control's values
	no, yes *tensor.Tensor
}

// state is an implicit state: the input it is given as, the output it is read from, and its
// value when a sequence starts.
type state struct {
	input, output int
	initial       *tensor.Tensor
}

// Scheduler holds a model's sequences and runs their requests.
type Scheduler struct {
	model    string
	idle     time.Duration
	batched  bool
	inputs   []tensor.Info // the model's
	given    []int         // the model inputs requests give, by index
	answered []int         // the model outputs answered, by index
	controls []control
	states   []state

	mu        sync.Mutex
	sequences map[string]*sequenceState
	swept     time.Time
}

// sequenceState is one sequence.
type sequenceState struct {
	key  string
	turn chan struct{} // holds a token while one of the sequence's requests runs
	// users are the requests that joined it and have not left
	users int
	// started: a request started it and none has ended it
	started bool
	state   []*tensor.Tensor
	last    time.Time
}

// New reads cfg (config.pbtxt's sequence_batching) for a model with these inputs and outputs
// (all of them) whose folder is dir; batched says whether its requests carry a batch
// dimension (max_batch_size above 0), each of size 1.
func New(model string, cfg *oippb.ModelSequenceBatching, batched bool, inputs, outputs []tensor.Info, dir string) (*Scheduler, error) {
	if cfg.GetIterativeSequence() {
		return nil, errors.New("sequence_batching: iterative_sequence needs a backend that reschedules its requests; ts runs ONNX models, which do not")
	}
	s := &Scheduler{model: model, idle: time.Duration(cfg.GetMaxSequenceIdleMicroseconds()) * time.Microsecond,
		batched: batched, inputs: inputs, sequences: map[string]*sequenceState{}}
	if s.idle <= 0 {
		s.idle = DefaultIdle
	}
	taken := map[int]string{} // model inputs the sequence batcher gives, and by what
	input := func(name, what string) (int, error) {
		i := slices.IndexFunc(inputs, func(t tensor.Info) bool { return t.Name == name })
		switch {
		case i < 0:
			return 0, fmt.Errorf("sequence_batching: %s %q is not an input of the model (its inputs: %s)", what, name, strings.Join(tensor.Names(inputs), ", "))
		case taken[i] != "":
			return 0, fmt.Errorf("sequence_batching: input %q is both %s and %s", name, taken[i], what)
		}
		taken[i] = what
		return i, nil
	}
	for _, ci := range cfg.GetControlInput() {
		if len(ci.GetControl()) != 1 {
			return nil, fmt.Errorf("sequence_batching: control_input %q must give one control, not %d", ci.GetName(), len(ci.GetControl()))
		}
		c, err := s.newControl(ci.GetName(), ci.GetControl()[0], input)
		if err != nil {
			return nil, err
		}
		s.controls = append(s.controls, c)
	}
	stateOutputs := map[int]bool{}
	for _, st := range cfg.GetState() {
		in, err := input(st.GetInputName(), "a state input")
		if err != nil {
			return nil, err
		}
		out := slices.IndexFunc(outputs, func(t tensor.Info) bool { return t.Name == st.GetOutputName() })
		if out < 0 {
			return nil, fmt.Errorf("sequence_batching: state output %q is not an output of the model (its outputs: %s)", st.GetOutputName(), strings.Join(tensor.Names(outputs), ", "))
		}
		if stateOutputs[out] {
			return nil, fmt.Errorf("sequence_batching: output %q carries two states", st.GetOutputName())
		}
		stateOutputs[out] = true
		initial, err := s.initialState(st, inputs[in], outputs[out], dir)
		if err != nil {
			return nil, err
		}
		s.states = append(s.states, state{input: in, output: out, initial: initial})
	}
	for i := range inputs {
		if taken[i] == "" {
			s.given = append(s.given, i)
		}
	}
	for i := range outputs {
		if !stateOutputs[i] {
			s.answered = append(s.answered, i)
		}
	}
	return s, nil
}

// newControl reads a control of the input named name.
func (s *Scheduler) newControl(name string, c *oippb.ModelSequenceBatching_Control, input func(name, what string) (int, error)) (control, error) {
	i, err := input(name, "a control input")
	if err != nil {
		return control{}, err
	}
	in := s.inputs[i]
	ctl := control{name: name, input: i, dtype: in.DType, kind: c.GetKind(), shape: []int64{1}}
	if !in.AnyShape() { // a request's: 1 in every dimension the model has
		ctl.shape = make([]int64, len(in.Shape))
		for d, n := range in.Shape {
			if n > 1 {
				return control{}, fmt.Errorf("sequence_batching: control input %q: the model's shape %s has a dimension of %d, where a control gives one value a request", name, in.ShapeText(), n)
			}
			ctl.shape[d] = 1
		}
	}
	if ctl.kind == oippb.ModelSequenceBatching_Control_CONTROL_SEQUENCE_CORRID {
		switch want := c.GetDataType(); {
		case want != oippb.DataType_TYPE_INVALID && want.DType() != in.DType:
			return control{}, fmt.Errorf("sequence_batching: control input %q: data_type %s, but the model's input is %s", name, want, in.DType.V2Name())
		case !slices.Contains([]tensor.DType{tensor.Uint64, tensor.Int64, tensor.Uint32, tensor.Int32, tensor.String}, in.DType):
			return control{}, fmt.Errorf("sequence_batching: control input %q: a correlation id goes in a UINT64, INT64, UINT32, INT32 or STRING input, not %s", name, in.DType.V2Name())
		}
		return ctl, nil
	}
	var values []float64
	switch {
	case len(c.GetInt32FalseTrue()) > 0:
		for _, v := range c.GetInt32FalseTrue() {
			values = append(values, float64(v))
		}
	case len(c.GetFp32FalseTrue()) > 0:
		for _, v := range c.GetFp32FalseTrue() {
			values = append(values, float64(v))
		}
	default:
		for _, v := range c.GetBoolFalseTrue() {
			values = append(values, map[bool]float64{false: 0, true: 1}[v])
		}
	}
	if len(values) != 2 {
		return control{}, fmt.Errorf("sequence_batching: control input %q: %s needs two values, false then true, in int32_false_true, fp32_false_true or bool_false_true", name, ctl.kind)
	}
	if ctl.no, err = tensor.FromFloat64s(in.DType, ctl.shape, values[:1]); err == nil {
		ctl.yes, err = tensor.FromFloat64s(in.DType, ctl.shape, values[1:])
	}
	if err != nil {
		return control{}, fmt.Errorf("sequence_batching: control input %q (%s): %v", name, in.DType.V2Name(), err)
	}
	return ctl, nil
}

// initialState is a state's value when a sequence starts: its initial_state (zeros, or the
// data file's bytes), else zeros, of dims (a dimension of -1 empty), with a batch dimension
// of 1 when requests have one.
func (s *Scheduler) initialState(st *oippb.ModelSequenceBatching_State, in, out tensor.Info, dir string) (*tensor.Tensor, error) {
	where := fmt.Sprintf("sequence_batching: state %q", st.GetInputName())
	if out.DType != in.DType {
		return nil, fmt.Errorf("%s: the model's input is %s and its output %q %s", where, in.DType.V2Name(), out.Name, out.DType.V2Name())
	}
	if want := st.GetDataType(); want != oippb.DataType_TYPE_INVALID && want.DType() != in.DType {
		return nil, fmt.Errorf("%s: data_type %s, but the model's input is %s", where, want, in.DType.V2Name())
	}
	if in.DType == tensor.String {
		return nil, fmt.Errorf("%s: a state of strings is not supported", where)
	}
	dims, file := st.GetDims(), ""
	if inits := st.GetInitialState(); len(inits) > 0 {
		if len(inits) > 1 {
			return nil, fmt.Errorf("%s: give one initial_state, not %d", where, len(inits))
		}
		dims, file = inits[0].GetDims(), inits[0].GetDataFile()
		if file == "" && !inits[0].GetZeroData() {
			return nil, fmt.Errorf("%s: initial_state needs zero_data or data_file", where)
		}
	}
	shape := make([]int64, 0, len(dims)+1)
	if s.batched {
		shape = append(shape, 1)
	}
	for _, d := range dims {
		if d < -1 || d < 0 && file != "" {
			return nil, fmt.Errorf("%s: dims %v: an initial state needs fixed dimensions", where, dims)
		}
		shape = append(shape, max(d, 0))
	}
	if !in.AnyShape() && len(in.Shape) != len(shape) {
		return nil, fmt.Errorf("%s: the model's input has shape %s, but dims %v give a state of shape %s", where, in.ShapeText(), dims, tensor.ShapeString(shape))
	}
	n, err := tensor.NumElements(shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", where, err)
	}
	data := make([]byte, n*int64(in.DType.Size()))
	if file != "" {
		if filepath.IsAbs(file) || !filepath.IsLocal(file) {
			return nil, fmt.Errorf("%s: data_file %q must be a file of the model folder's %s folder", where, file, InitialStateDir)
		}
		if data, err = os.ReadFile(filepath.Join(dir, InitialStateDir, file)); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	t, err := tensor.FromBytes(in.DType, shape, data)
	if err != nil {
		return nil, fmt.Errorf("%s: data_file %q: %v", where, file, err)
	}
	return t, nil
}

// Inputs are the model inputs a request gives: all but the control and state inputs.
func (s *Scheduler) Inputs(all []tensor.Info) []tensor.Info { return pick(all, s.given) }

// Outputs are the model outputs a request is answered: all but the state outputs.
func (s *Scheduler) Outputs(all []tensor.Info) []tensor.Info { return pick(all, s.answered) }

func pick[T any](all []T, at []int) []T {
	out := make([]T, len(at))
	for i, j := range at {
		out[i] = all[j]
	}
	return out
}

// Run runs a request of the sequence f names, with inputs (those Inputs lists, in order),
// once the sequence's earlier requests are answered: run gets the model's inputs, the
// controls and state added, and returns the model's outputs, of which Run answers those
// Outputs lists. A request must name a sequence, and the first of a sequence must start it
// (f.Start, or f.StartNew for one not running).
func (s *Scheduler) Run(ctx context.Context, f Flags, inputs []*tensor.Tensor, run func([]*tensor.Tensor) ([]*tensor.Tensor, error)) ([]*tensor.Tensor, error) {
	if f.ID == "" {
		return nil, apierror.BadRequest("inference request to model %q must specify a non-zero or non-empty correlation ID (parameter sequence_id)", s.model)
	}
	if s.batched {
		for i, t := range inputs {
			if t != nil && (len(t.Shape) == 0 || t.Shape[0] != 1) {
				return nil, apierror.BadRequest("inference request to model %q must specify batch-size 1 due to requirements of sequence batcher (input %q has shape %s)",
					s.model, s.inputs[s.given[i]].Name, tensor.ShapeString(t.Shape))
			}
		}
	}
	seq, err := s.join(f)
	if err != nil {
		return nil, err
	}
	defer s.leave(seq)
	select {
	case seq.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-seq.turn }()
	s.mu.Lock()
	f.Start = f.Start || f.StartNew && !seq.started // what the start control says
	started, states := seq.started || f.Start, seq.state
	s.mu.Unlock()
	if !started {
		return nil, s.notStarted(f)
	}
	all := make([]*tensor.Tensor, len(s.inputs))
	for i, j := range s.given {
		all[j] = inputs[i]
	}
	for _, c := range s.controls {
		t, err := s.controlValue(c, f)
		if err != nil {
			return nil, err
		}
		all[c.input] = t
	}
	if f.Start {
		s.mu.Lock()
		seq.started, seq.state, states = true, nil, nil
		s.mu.Unlock()
	}
	for i, st := range s.states {
		all[st.input] = st.initial
		if states != nil {
			all[st.input] = states[i]
		}
	}
	outputs, err := run(all)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.End {
		seq.started, seq.state = false, nil
	}
	if err != nil {
		return nil, err
	}
	if !f.End && len(s.states) > 0 {
		seq.state = make([]*tensor.Tensor, len(s.states))
		for i, st := range s.states {
			seq.state[i] = outputs[st.output]
		}
	}
	return pick(outputs, s.answered), nil
}

// controlValue is control c's tensor for a request of sequence f.
func (s *Scheduler) controlValue(c control, f Flags) (*tensor.Tensor, error) {
	on := true // ready: a request is there
	switch c.kind {
	case oippb.ModelSequenceBatching_Control_CONTROL_SEQUENCE_START:
		on = f.Start
	case oippb.ModelSequenceBatching_Control_CONTROL_SEQUENCE_END:
		on = f.End
	case oippb.ModelSequenceBatching_Control_CONTROL_SEQUENCE_CORRID:
		return s.correlationID(c, f)
	}
	if on {
		return c.yes, nil
	}
	return c.no, nil
}

// correlationID is a correlation id control's tensor for a request of sequence f.
func (s *Scheduler) correlationID(c control, f Flags) (*tensor.Tensor, error) {
	if c.dtype == tensor.String {
		return tensor.NewStrings(c.shape, []string{f.ID}), nil
	}
	if !f.Numeric {
		return nil, apierror.BadRequest("model %q takes its correlation id in input %q, %s: send sequence_id as a number, not the string %s", s.model, c.name, c.dtype.V2Name(), f)
	}
	n, _ := strconv.ParseUint(f.ID, 10, 64) // ParseID made it
	switch c.dtype {
	case tensor.Uint64:
		return tensor.New(c.shape, []uint64{n}), nil
	case tensor.Int64:
		return tensor.New(c.shape, []int64{int64(n)}), nil
	case tensor.Uint32:
		return tensor.New(c.shape, []uint32{uint32(n)}), nil // the low 32 bits, as Triton
	default:
		return tensor.New(c.shape, []int32{int32(n)}), nil
	}
}

// join finds the sequence f names, or starts it when f starts one, and counts the request
// among its users.
func (s *Scheduler) join(f Flags) (*sequenceState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	seq := s.sequences[f.key()]
	if seq != nil && seq.users == 0 && now.Sub(seq.last) > s.idle {
		delete(s.sequences, f.key()) // idle too long: dropped
		seq = nil
	}
	if seq == nil {
		if !f.Start && !f.StartNew {
			return nil, s.notStarted(f)
		}
		if now.Sub(s.swept) > s.idle {
			s.sweep(now)
		}
		seq = &sequenceState{key: f.key(), turn: make(chan struct{}, 1)}
		s.sequences[f.key()] = seq
	}
	seq.users++
	return seq, nil
}

func (s *Scheduler) notStarted(f Flags) error {
	return apierror.BadRequest("inference request for sequence %s to model %q must specify the START flag on the first request of the sequence (parameter sequence_start); a sequence ends with its END request, or after %v without a request",
		f, s.model, s.idle)
}

// leave ends a request's use of seq; a sequence that is not started, with no request, goes.
func (s *Scheduler) leave(seq *sequenceState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq.users--
	seq.last = time.Now()
	if seq.users == 0 && !seq.started && s.sequences[seq.key] == seq {
		delete(s.sequences, seq.key)
	}
}

// sweep drops the sequences idle too long. s.mu is held.
func (s *Scheduler) sweep(now time.Time) {
	s.swept = now
	for k, seq := range s.sequences {
		if seq.users == 0 && now.Sub(seq.last) > s.idle {
			delete(s.sequences, k)
		}
	}
}

// Active is the number of sequences held: started, not ended, and not idle too long.
func (s *Scheduler) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(time.Now())
	return len(s.sequences)
}
