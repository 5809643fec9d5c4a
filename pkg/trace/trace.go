// Package trace is Triton's trace extension: settings (global, and per model over them)
// that sample inference requests, and the traces of those requests, each the timestamps of
// its stages and, at level TENSORS, its input and output tensors, written as Triton writes
// them (a JSON array, to trace_file or files trace_file.N) or, with no trace_file, to the log.
package trace

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tsserve/ts/pkg/tensor"
)

// Levels and the timestamps a trace records, as Triton names them.
const (
	LevelOff        = "OFF"
	LevelTimestamps = "TIMESTAMPS"
	LevelTensors    = "TENSORS"

	RequestStart = "REQUEST_START"
	QueueStart   = "QUEUE_START"
	ComputeStart = "COMPUTE_START"
	ComputeEnd   = "COMPUTE_END"
	RequestEnd   = "REQUEST_END"
)

// The settings' names in the API.
const (
	keyFile         = "trace_file"
	keyLevel        = "trace_level"
	keyRate         = "trace_rate"
	keyCount        = "trace_count"
	keyLogFrequency = "log_frequency"
	keyMode         = "trace_mode"
)

// ErrBadSetting is a setting the API refuses (a 400).
var ErrBadSetting = errors.New("invalid trace setting")

// Settings are one scope's trace settings.
type Settings struct {
	// Levels are OFF, or TIMESTAMPS and/or TENSORS.
	Levels []string
	// Rate samples one request in Rate.
	Rate int
	// Count is how many more traces to take (-1: no end).
	Count int
	// LogFrequency writes the traces to File.N each time this many are taken (0: to File
	// when the server stops).
	LogFrequency int
	// File is where traces go ("": to the log, one line each).
	File string
}

// Defaults are Triton's: tracing off, one request in 1000, no end, written at the end.
func Defaults() Settings {
	return Settings{Levels: []string{LevelOff}, Rate: 1000, Count: -1}
}

func (s Settings) on() bool {
	return s.Count != 0 && !slices.Equal(s.Levels, []string{LevelOff}) && len(s.Levels) > 0
}

// scope is the global settings or a model's overrides, with its sampling state.
type scope struct {
	settings Settings
	set      map[string]bool // for a model: the keys it sets itself
	seen     int64           // requests sampled from
}

// Tracer holds the settings and samples requests. It is safe for concurrent use.
type Tracer struct {
	log    *slog.Logger
	active atomic.Bool // some scope traces: Sample looks further
	// inflight counts the traces sampled and not finished: From looks only while there are
	inflight atomic.Int64
	nextID   atomic.Uint64

	mu      sync.Mutex
	global  *scope
	models  map[string]*scope
	writers map[string]*writer // by file
}

// New makes a tracer with global settings s.
func New(s Settings, log *slog.Logger) *Tracer {
	t := &Tracer{log: log, global: &scope{settings: s}, models: map[string]*scope{}, writers: map[string]*writer{}}
	t.refresh()
	return t
}

// effective is a model's settings: its own over the global ones (t.mu held).
func (t *Tracer) effective(model string) (Settings, *scope) {
	m := t.models[model]
	if m == nil {
		return t.global.settings, t.global
	}
	s := t.global.settings
	if m.set[keyLevel] {
		s.Levels = m.settings.Levels
	}
	if m.set[keyRate] {
		s.Rate = m.settings.Rate
	}
	if m.set[keyCount] {
		s.Count = m.settings.Count
	}
	if m.set[keyLogFrequency] {
		s.LogFrequency = m.settings.LogFrequency
	}
	return s, m
}

// refresh recomputes whether any scope traces (t.mu held, or before t is shared).
func (t *Tracer) refresh() {
	on := t.global.settings.on()
	for name := range t.models {
		if s, _ := t.effective(name); s.on() {
			on = true
		}
	}
	t.active.Store(on)
}

// Sample decides whether to trace a request to model, version: nil (almost always, at
// the cost of one atomic load when tracing is off) or a trace to stamp and Finish. The
// trace's request id is the response header X-Request-Id, read only for a trace.
func (t *Tracer) Sample(model, version string, header http.Header) *Trace {
	if t == nil || !t.active.Load() {
		return nil
	}
	t.mu.Lock()
	s, sc := t.effective(model)
	if !s.on() {
		t.mu.Unlock()
		return nil
	}
	sc.seen++
	if (sc.seen-1)%int64(max(s.Rate, 1)) != 0 {
		t.mu.Unlock()
		return nil
	}
	last := false
	if s.Count > 0 {
		// the count belongs to the scope that set it
		owner := sc
		if sc != t.global && !sc.set[keyCount] {
			owner = t.global
		}
		owner.settings.Count--
		last = owner.settings.Count == 0
		t.refresh()
	}
	t.mu.Unlock()
	t.inflight.Add(1)
	return &Trace{tracer: t, ID: t.nextID.Add(1), Model: model, Version: version, RequestID: header.Get("X-Request-Id"),
		Tensors: slices.Contains(s.Levels, LevelTensors), Timestamps: slices.Contains(s.Levels, LevelTimestamps),
		file: s.File, frequency: s.LogFrequency, last: last}
}

// Trace is one sampled request's trace.
type Trace struct {
	tracer     *Tracer
	ID         uint64
	Model      string
	Version    string
	RequestID  string
	Timestamps bool // record timestamps
	Tensors    bool // record tensors

	mu        sync.Mutex
	entries   []any
	file      string
	frequency int
	last      bool // the scope's last trace: write what was taken
}

// Stamp records that the request reached a stage now.
func (tr *Trace) Stamp(name string) { tr.StampAt(name, time.Now()) }

// StampAt records that the request reached a stage at t.
func (tr *Trace) StampAt(name string, t time.Time) {
	if tr == nil || !tr.Timestamps || t.IsZero() {
		return
	}
	tr.mu.Lock()
	tr.entries = append(tr.entries, map[string]any{"id": tr.ID, "timestamps": []map[string]any{{"name": name, "ns": t.UnixNano()}}})
	tr.mu.Unlock()
}

// RecordTensors records tensors at an activity (TENSOR_QUEUE_INPUT, TENSOR_BACKEND_OUTPUT), as
// Triton's TENSORS level does: each with its data as comma-separated text.
func (tr *Trace) RecordTensors(activity string, names []string, ts []*tensor.Tensor) {
	if tr == nil || !tr.Tensors {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i, t := range ts {
		if t == nil || i >= len(names) {
			continue
		}
		tr.entries = append(tr.entries, map[string]any{"id": tr.ID, "activity": activity, "tensor": map[string]any{
			"name": names[i], "data": tensorText(t), "shape": strings.Trim(tensor.ShapeString(t.Shape), "[]"),
			"dtype": t.DType.V2Name(),
		}})
	}
}

// tensorText is a tensor's elements, comma-separated (at most 4096 shown, then "...").
func tensorText(t *tensor.Tensor) string {
	const most = 4096
	var parts []string
	if t.DType == tensor.String {
		parts = slices.Clone(t.Strings[:min(len(t.Strings), most+1)]) // "..." below must not land in the tensor
	} else if vs, err := t.Float64s(); err == nil {
		bits := 64
		if t.DType.Size() <= 4 && t.DType.IsFloat() {
			bits = 32 // float32 and float16 values as written, not their float64 expansion
		}
		for _, v := range vs[:min(len(vs), most+1)] {
			parts = append(parts, strconv.FormatFloat(v, 'g', -1, bits))
		}
	}
	if len(parts) > most {
		parts = append(parts[:most], "...")
	}
	return strings.Join(parts, ",")
}

// Finish hands the trace to its writer.
func (tr *Trace) Finish() {
	if tr == nil {
		return
	}
	tr.mu.Lock()
	head := map[string]any{"id": tr.ID, "model_name": tr.Model, "model_version": versionNumber(tr.Version)}
	if tr.RequestID != "" {
		head["request_id"] = tr.RequestID
	}
	entries := append([]any{head}, tr.entries...)
	tr.mu.Unlock()
	tr.tracer.inflight.Add(-1)
	tr.tracer.write(tr.file, tr.frequency, tr.last, entries)
}

// versionNumber is a version as Triton writes it: a number when it is one.
func versionNumber(v string) any {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n
	}
	return v
}

type traceKey struct{}

// With returns ctx carrying tr (ctx itself when tr is nil).
func With(ctx context.Context, tr *Trace) context.Context {
	if tr == nil {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, tr)
}

// From is the trace ctx carries, or nil. It looks only while some request is traced (an
// atomic load otherwise).
func From(ctx context.Context, t *Tracer) *Trace {
	if t == nil || t.inflight.Load() == 0 {
		return nil
	}
	tr, _ := ctx.Value(traceKey{}).(*Trace)
	return tr
}

// writer collects the traces bound for one file.
type writer struct {
	entries []any
	traces  int
	index   int
}

// write takes a finished trace's entries: to the log when there is no file, else kept and
// written to file.N each frequency traces (or when the scope's count ran out), or to file
// at Close.
func (t *Tracer) write(file string, frequency int, last bool, entries []any) {
	if file == "" {
		b, _ := json.Marshal(entries)
		t.log.Info("trace", "trace", json.RawMessage(b))
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.writers[file]
	if w == nil {
		w = &writer{}
		t.writers[file] = w
	}
	w.entries = append(w.entries, entries...)
	w.traces++
	if (frequency > 0 && w.traces >= frequency) || last {
		t.flush(file, w, fmt.Sprintf("%s.%d", file, w.index))
		w.index++
	}
}

// flush writes w's traces to path (t.mu held).
func (t *Tracer) flush(file string, w *writer, path string) {
	if len(w.entries) == 0 {
		return
	}
	b, err := json.MarshalIndent(w.entries, "", "  ")
	if err == nil {
		err = os.WriteFile(path, append(b, '\n'), 0o644)
	}
	if err != nil {
		t.log.Error("trace file not written", "file", path, "err", err)
	}
	w.entries, w.traces = nil, 0
}

// Close writes the traces kept: to trace_file (or its next index when it logs by frequency).
func (t *Tracer) Close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for file, w := range t.writers {
		path := file
		if w.index > 0 {
			path = fmt.Sprintf("%s.%d", file, w.index)
		}
		t.flush(file, w, path)
	}
}
