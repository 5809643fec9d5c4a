package trace

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/tensor"
)

var quiet = slog.New(slog.DiscardHandler)

// TestSampling: off by default (Sample is nil, From finds nothing); one request in
// trace_rate is traced, trace_count of them, and then none.
func TestSampling(t *testing.T) {
	tr := New(Defaults(), quiet)
	if tr.Sample("m", "1", nil) != nil {
		t.Fatal("traced with tracing off")
	}
	if _, err := tr.Update("", []byte(`{"trace_level": ["TIMESTAMPS"], "trace_rate": "3", "trace_count": "2"}`)); err != nil {
		t.Fatal(err)
	}
	var traced []int
	for i := range 10 {
		if x := tr.Sample("m", "1", nil); x != nil {
			traced = append(traced, i)
			if From(With(context.Background(), x), tr) != x {
				t.Error("the context does not carry the trace")
			}
			x.Finish()
		}
	}
	if !slices.Equal(traced, []int{0, 3}) {
		t.Errorf("traced requests %v, want [0 3] (one in 3, two in all)", traced)
	}
	if got := tr.Get(""); got[keyCount] != "0" {
		t.Errorf("count after two traces: %v", got[keyCount])
	}
	if From(context.Background(), tr) != nil {
		t.Error("From found a trace in a context without one")
	}
}

// TestModelSettings: a model's settings override the global ones it sets, follow the global
// ones it does not (null clears one), and sample apart from the other models; bad settings
// change nothing.
func TestModelSettings(t *testing.T) {
	tr := New(Defaults(), quiet)
	got, err := tr.Update("m", []byte(`{"trace_level": ["TENSORS"], "trace_rate": "1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[keyLevel].([]string), []string{LevelTensors}) || got[keyRate] != "1" || got[keyCount] != "-1" {
		t.Errorf("model settings %v", got)
	}
	if tr.Sample("other", "1", nil) != nil {
		t.Error("another model is traced by m's settings")
	}
	x := tr.Sample("m", "1", nil)
	if x == nil || !x.Tensors || x.Timestamps {
		t.Fatalf("m's request: %+v", x)
	}
	x.Finish()
	if _, err := tr.Update("", []byte(`{"trace_count": "7"}`)); err != nil {
		t.Fatal(err)
	}
	if got := tr.Get("m"); got[keyCount] != "7" {
		t.Errorf("m does not follow the global count it does not set: %v", got[keyCount])
	}
	if _, err := tr.Update("m", []byte(`{"trace_level": null}`)); err != nil {
		t.Fatal(err)
	}
	if got := tr.Get("m"); !slices.Equal(got[keyLevel].([]string), []string{LevelOff}) || got[keyRate] != "1" {
		t.Errorf("after clearing m's level: %v", got)
	}
	for _, bad := range []string{
		`{"trace_level": ["LOUD"]}`, `{"trace_level": ["OFF", "TIMESTAMPS"]}`, `{"trace_rate": "0"}`, `{"trace_count": "-2"}`,
		`{"log_frequency": "x"}`, `{"trace_file": "/tmp/elsewhere"}`, `{"trace_mode": "opentelemetry"}`, `{"verbose": "1"}`, `not json`,
		`{"trace_rate": "5", "trace_level": ["LOUD"]}`,
	} {
		if _, err := tr.Update("", []byte(bad)); !errors.Is(err, ErrBadSetting) {
			t.Errorf("%s: %v, want ErrBadSetting", bad, err)
		}
	}
	if got := tr.Get(""); got[keyRate] != "1000" {
		t.Errorf("a refused update changed the rate: %v", got[keyRate])
	}
	if _, err := tr.Update("", []byte(`{"trace_level": null}`)); !errors.Is(err, ErrBadSetting) {
		t.Errorf("null on the global settings: %v", err)
	}
}

// TestTraceFile: traces are written as Triton writes them: the request's model, version and
// id, then its timestamps and tensors; by log_frequency to trace_file.N, and the rest to
// trace_file.N at Close.
func TestTraceFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "trace.json")
	s := Defaults()
	s.Levels, s.Rate, s.LogFrequency, s.File = []string{LevelTimestamps, LevelTensors}, 1, 2, file
	tr := New(s, quiet)
	for i := range 3 {
		x := tr.Sample("m", "1", http.Header{"X-Request-Id": {"req"}})
		x.StampAt(RequestStart, time.Unix(0, int64(1000+i)))
		x.RecordTensors("TENSOR_QUEUE_INPUT", []string{"x"}, []*tensor.Tensor{tensor.New([]int64{1, 2}, []float32{0.1, 2})})
		x.Stamp(RequestEnd)
		x.Finish()
	}
	b, err := os.ReadFile(file + ".0")
	if err != nil {
		t.Fatal(err)
	}
	var entries []map[string]any
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	if len(entries) != 8 || entries[0]["model_name"] != "m" || entries[0]["model_version"] != float64(1) || entries[0]["request_id"] != "req" {
		t.Fatalf("%s: %s", file+".0", b)
	}
	if !strings.Contains(string(b), `"name": "REQUEST_START"`) || !strings.Contains(string(b), `"data": "0.1,2"`) || !strings.Contains(string(b), `"shape": "1,2"`) {
		t.Errorf("timestamps or tensors missing: %s", b)
	}
	if _, err := os.Stat(file + ".1"); err == nil {
		t.Error("the third trace was written before Close")
	}
	// a long string tensor is shown cut, and left whole
	words := make([]string, 5000)
	for i := range words {
		words[i] = "w"
	}
	long := tensor.NewStrings([]int64{5000}, words)
	x := tr.Sample("m", "1", nil)
	x.RecordTensors("TENSOR_QUEUE_INPUT", []string{"s"}, []*tensor.Tensor{long})
	if long.Strings[4096] != "w" || len(long.Strings) != 5000 {
		t.Errorf("recording changed the tensor: element 4096 is %q", long.Strings[4096])
	}
	if text := tensorText(long); !strings.HasSuffix(text, ",w,...") || strings.Count(text, "w") != 4096 {
		t.Errorf("a long tensor's text ends %q", text[len(text)-10:])
	}
	x.Finish()
	tr.Close()
	if b, err := os.ReadFile(file + ".1"); err != nil || !strings.Contains(string(b), `"id": 3`) {
		t.Errorf("after Close: %v %s", err, b)
	}
}
