package seqbatch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/api/grpc/oippb"
	"github.com/tsserve/ts/pkg/tensor"
	"google.golang.org/protobuf/encoding/prototext"
)

// model is accumulate.onnx's signature (testdata/make_models.py).
var (
	modelInputs = []tensor.Info{
		{Name: "INPUT", DType: tensor.Int32, Shape: []int64{-1, 1}},
		{Name: "START", DType: tensor.Int32, Shape: []int64{-1, 1}},
		{Name: "END", DType: tensor.Int32, Shape: []int64{-1, 1}},
		{Name: "READY", DType: tensor.Int32, Shape: []int64{-1, 1}},
		{Name: "CORRID", DType: tensor.Uint64, Shape: []int64{-1, 1}},
		{Name: "SUM_IN", DType: tensor.Int32, Shape: []int64{-1, 1}},
		{Name: "HIST_IN", DType: tensor.Int32, Shape: []int64{-1, -1}},
	}
	modelOutputs = []tensor.Info{
		{Name: "OUTPUT", DType: tensor.Int32, Shape: []int64{-1, 1}},
		{Name: "SUM_OUT", DType: tensor.Int32, Shape: []int64{-1, 1}},
		{Name: "HIST_OUT", DType: tensor.Int32, Shape: []int64{-1, -1}},
	}
)

const controls = `control_input [
  { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] },
  { name: "END" control [ { kind: CONTROL_SEQUENCE_END fp32_false_true: [ 0, 1 ] } ] },
  { name: "READY" control [ { kind: CONTROL_SEQUENCE_READY bool_false_true: [ false, true ] } ] },
  { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_UINT64 } ] } ]
`

const states = `state [
  { input_name: "SUM_IN" output_name: "SUM_OUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { input_name: "HIST_IN" output_name: "HIST_OUT" dims: [ -1 ] } ]
`

func newScheduler(t *testing.T, text string, dir string) (*Scheduler, error) {
	t.Helper()
	cfg := &oippb.ModelSequenceBatching{}
	if err := prototext.Unmarshal([]byte(text), cfg); err != nil {
		t.Fatal(err)
	}
	return New("acc", cfg, true, modelInputs, modelOutputs, dir)
}

// TestNewRefuses: a sequence_batching ts cannot run as Triton would is refused, saying why.
func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, InitialStateDir), 0o755)
	os.WriteFile(filepath.Join(dir, InitialStateDir, "short"), []byte{1, 2, 3}, 0o644)
	for _, c := range []struct{ config, want string }{
		{`iterative_sequence: true`, "iterative_sequence"},
		{`control_input [ { name: "BEGIN" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] } ]`, `"BEGIN" is not an input`},
		{`control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] }, { kind: CONTROL_SEQUENCE_END int32_false_true: [ 0, 1 ] } ] } ]`, "one control"},
		{`control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 1 ] } ] } ]`, "two values"},
		{`control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START } ] } ]`, "two values"},
		{`control_input [ { name: "START" control [ { kind: CONTROL_SEQUENCE_START fp32_false_true: [ 0, 0.5 ] } ] } ]`, "INT32"},
		{`control_input [ { name: "CORRID" control [ { kind: CONTROL_SEQUENCE_CORRID data_type: TYPE_INT64 } ] } ]`, "data_type TYPE_INT64"},
		{`control_input [ { name: "HIST_IN" control [ { kind: CONTROL_SEQUENCE_START int32_false_true: [ 0, 1 ] } ] } ] ` + states, "both a control input and a state input"},
		{`state [ { input_name: "SUM_IN" output_name: "NOPE" } ]`, `"NOPE" is not an output`},
		{`state [ { input_name: "SUM_IN" output_name: "SUM_OUT" dims: [ 1 ] }, { input_name: "HIST_IN" output_name: "SUM_OUT" dims: [ -1 ] } ]`, "two states"},
		{`state [ { input_name: "SUM_IN" output_name: "SUM_OUT" data_type: TYPE_FP32 dims: [ 1 ] } ]`, "data_type TYPE_FP32"},
		{`state [ { input_name: "SUM_IN" output_name: "SUM_OUT" dims: [ 1, 1 ] } ]`, "dims [1 1]"},
		{`state [ { input_name: "SUM_IN" output_name: "SUM_OUT" dims: [ 1 ] initial_state [ { dims: [ 1 ] } ] } ]`, "zero_data or data_file"},
		{`state [ { input_name: "SUM_IN" output_name: "SUM_OUT" dims: [ 1 ] initial_state [ { dims: [ 1 ] data_file: "../x" } ] } ]`, "initial_state folder"},
		{`state [ { input_name: "SUM_IN" output_name: "SUM_OUT" dims: [ 1 ] initial_state [ { dims: [ 1 ] data_file: "absent" } ] } ]`, "no such file"},
		{`state [ { input_name: "SUM_IN" output_name: "SUM_OUT" dims: [ 1 ] initial_state [ { dims: [ 1 ] data_file: "short" } ] } ]`, "short"},
		{`state [ { input_name: "HIST_IN" output_name: "HIST_OUT" dims: [ -1 ] initial_state [ { dims: [ -1 ] data_file: "short" } ] } ]`, "fixed dimensions"},
	} {
		_, err := newScheduler(t, c.config, dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.config, err, c.want)
		}
	}
}

// TestInitialState: a state starts as its initial_state's data file says, or zeros, with a
// batch dimension; a growing state starts empty.
func TestInitialState(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, InitialStateDir), 0o755)
	os.WriteFile(filepath.Join(dir, InitialStateDir, "seven"), []byte{7, 0, 0, 0}, 0o644)
	s, err := newScheduler(t, controls+`state [
  { input_name: "SUM_IN" output_name: "SUM_OUT" dims: [ 1 ] initial_state [ { data_type: TYPE_INT32 dims: [ 1 ] data_file: "seven" } ] },
  { input_name: "HIST_IN" output_name: "HIST_OUT" dims: [ -1 ] } ]`, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := tensor.Names(s.Inputs(modelInputs)); strings.Join(got, ",") != "INPUT" {
		t.Errorf("inputs %v, want INPUT alone", got)
	}
	if got := tensor.Names(s.Outputs(modelOutputs)); strings.Join(got, ",") != "OUTPUT" {
		t.Errorf("outputs %v, want OUTPUT alone", got)
	}
	var given []*tensor.Tensor
	_, err = s.Run(context.Background(), Flags{ID: "1", Numeric: true, Start: true}, []*tensor.Tensor{tensor.New([]int64{1, 1}, []int32{5})},
		func(all []*tensor.Tensor) ([]*tensor.Tensor, error) {
			given = all
			return []*tensor.Tensor{all[0], all[0], all[0]}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"[1 1] [5]", "[1 1] [1]", "[1 1] [0]", "[1 1] [1]", "[1 1] [1]", "[1 1] [7]", "[1 0] []"} {
		v, err := given[i].Float64s()
		if got := fmt.Sprint(given[i].Shape, " ", v); err != nil || got != want {
			t.Errorf("input %s: %s %v, want %s", modelInputs[i].Name, got, err, want)
		}
	}
}

// accumulate stands for accumulate.onnx's run: OUTPUT and SUM_OUT = SUM_IN + INPUT,
// HIST_OUT = HIST_IN then INPUT; wait, when given, holds the run until it is closed.
func accumulate(wait chan struct{}) func(all []*tensor.Tensor) ([]*tensor.Tensor, error) {
	return func(all []*tensor.Tensor) ([]*tensor.Tensor, error) {
		if wait != nil {
			<-wait
		}
		in, _ := tensor.Values[int32](all[0])
		sum, _ := tensor.Values[int32](all[5])
		hist, _ := tensor.Values[int32](all[6])
		out := tensor.New([]int64{1, 1}, []int32{sum[0] + in[0]})
		hist = append(append([]int32{}, hist...), in[0])
		return []*tensor.Tensor{out, out, tensor.New([]int64{1, int64(len(hist))}, hist)}, nil
	}
}

func one(v int32) []*tensor.Tensor { return []*tensor.Tensor{tensor.New([]int64{1, 1}, []int32{v})} }

// TestRunOrder: a sequence's requests run one at a time, in order, each given the state the
// one before it left; another sequence's requests do not wait for them; a request given up
// while it waits leaves the sequence as it was.
func TestRunOrder(t *testing.T) {
	s, err := newScheduler(t, controls+states, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	seq := func(id string, start bool) Flags { return Flags{ID: id, Numeric: true, Start: start} }
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := s.Run(ctx, seq("1", true), one(2), accumulate(release))
		first <- err
	}()
	for s.Active() == 0 { // the first request has joined its sequence
		time.Sleep(time.Millisecond)
	}
	second := make(chan []*tensor.Tensor, 1)
	go func() {
		out, err := s.Run(ctx, seq("1", false), one(3), accumulate(nil))
		if err != nil {
			t.Error(err)
		}
		second <- out
	}()
	cancelled, cancel := context.WithCancel(ctx)
	third := make(chan error, 1)
	go func() {
		_, err := s.Run(cancelled, seq("1", false), one(100), accumulate(nil))
		third <- err
	}()
	if out, err := s.Run(ctx, seq("2", true), one(9), accumulate(nil)); err != nil || len(out) != 1 {
		t.Fatalf("another sequence, while the first's request runs: %v %v", out, err)
	}
	cancel()
	if err := <-third; !errors.Is(err, context.Canceled) {
		t.Errorf("a request given up while it waits: %v", err)
	}
	select {
	case <-second:
		t.Fatal("the sequence's second request ran before its first was answered")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	out := <-second
	if v, _ := tensor.Values[int32](out[0]); len(v) != 1 || v[0] != 5 {
		t.Errorf("the second request's sum %v, want 2+3", v)
	}
	out, err = s.Run(ctx, Flags{ID: "1", Numeric: true, End: true}, one(4), accumulate(nil))
	if v, _ := tensor.Values[int32](out[0]); err != nil || v[0] != 9 {
		t.Errorf("the last request: %v %v, want 2+3+4", v, err)
	}
	if n := s.Active(); n != 1 {
		t.Errorf("%d sequences held after sequence 1 ended, want sequence 2", n)
	}
	if _, err := s.Run(ctx, seq("1", false), one(1), accumulate(nil)); err == nil || !strings.Contains(err.Error(), "START flag") {
		t.Errorf("a request after the sequence ended: %v", err)
	}
}

// TestIdleSequence: a sequence idle past max_sequence_idle_microseconds is dropped; the next
// request must start it again. A request of no sequence, or of a batch, is refused.
func TestIdleSequence(t *testing.T) {
	s, err := newScheduler(t, "max_sequence_idle_microseconds: 20000 "+controls+states, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Run(ctx, Flags{ID: "x", Start: true}, one(1), accumulate(nil)); err == nil || !strings.Contains(err.Error(), `not the string "x"`) {
		t.Errorf("a string id for a UINT64 correlation id: %v", err)
	}
	if _, err := s.Run(ctx, Flags{}, one(1), accumulate(nil)); err == nil || !strings.Contains(err.Error(), "correlation ID") {
		t.Errorf("no sequence: %v", err)
	}
	two := []*tensor.Tensor{tensor.New([]int64{2, 1}, []int32{1, 2})}
	if _, err := s.Run(ctx, Flags{ID: "7", Numeric: true, Start: true}, two, accumulate(nil)); err == nil || !strings.Contains(err.Error(), "batch-size 1") {
		t.Errorf("a batch of two: %v", err)
	}
	if _, err := s.Run(ctx, Flags{ID: "7", Numeric: true, Start: true}, one(1), accumulate(nil)); err != nil {
		t.Fatal(err)
	}
	if n := s.Active(); n != 1 {
		t.Fatalf("%d sequences held, want 1", n)
	}
	time.Sleep(50 * time.Millisecond)
	if n := s.Active(); n != 0 {
		t.Errorf("%d sequences held after their idle limit", n)
	}
	if _, err := s.Run(ctx, Flags{ID: "7", Numeric: true}, one(1), accumulate(nil)); err == nil || !strings.Contains(err.Error(), "START flag") {
		t.Errorf("a request after the idle limit: %v", err)
	}
}

// TestHeaderFlags: a request naming its sequence with TorchServe's headers starts it when it
// is not running (the start control says so), and continues it when it is.
func TestHeaderFlags(t *testing.T) {
	if f := HeaderFlags("42", false, true); f != (Flags{ID: "42", Numeric: true, End: true, StartNew: true}) {
		t.Errorf("HeaderFlags(42) = %+v", f)
	}
	if f := HeaderFlags("ts-seq-1", true, false); f != (Flags{ID: "ts-seq-1", Start: true, StartNew: true}) {
		t.Errorf("HeaderFlags(ts-seq-1) = %+v", f)
	}
	s, err := newScheduler(t, controls+states, "")
	if err != nil {
		t.Fatal(err)
	}
	var starts []float64
	run := func(all []*tensor.Tensor) ([]*tensor.Tensor, error) {
		v, _ := all[1].Float64s() // START
		starts = append(starts, v[0])
		return accumulate(nil)(all)
	}
	for _, in := range []int32{2, 3} {
		if _, err := s.Run(context.Background(), HeaderFlags("9", false, false), one(in), run); err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.Run(context.Background(), HeaderFlags("9", false, true), one(4), run)
	if v, _ := tensor.Values[int32](out[0]); err != nil || v[0] != 9 || fmt.Sprint(starts) != "[1 0 0]" {
		t.Errorf("sum %v, start controls %v, %v: want 9 and [1 0 0]", v, starts, err)
	}
}

// TestParseID: sequence_id is a number up to 2^64-1 or a string; 0 and "" name none.
func TestParseID(t *testing.T) {
	for _, c := range []struct {
		text     string
		isNumber bool
		want     Flags
		bad      bool
	}{
		{"42", true, Flags{ID: "42", Numeric: true}, false},
		{"18446744073709551615", true, Flags{ID: "18446744073709551615", Numeric: true}, false},
		{"18446744073709551616", true, Flags{}, true},
		{"-1", true, Flags{}, true},
		{"1.5", true, Flags{}, true},
		{"0", true, Flags{}, false},
		{"42", false, Flags{ID: "42"}, false},
		{"", false, Flags{}, false},
	} {
		f, err := ParseID(c.text, c.isNumber)
		if f != c.want || (err != nil) != c.bad {
			t.Errorf("ParseID(%q, %v) = %+v, %v", c.text, c.isNumber, f, err)
		}
	}
	if (Flags{ID: "42", Numeric: true}).key() == (Flags{ID: "42"}).key() {
		t.Error("the number 42 and the string \"42\" name one sequence")
	}
}
