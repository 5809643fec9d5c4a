package handler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/tsserve/ts/pkg/apierror"
	"github.com/tsserve/ts/pkg/backoff"
	"github.com/tsserve/ts/pkg/batch"
	"github.com/tsserve/ts/pkg/handlerkit"
	"github.com/tsserve/ts/pkg/tensor"
	"github.com/tsserve/ts/templates"
)

// Direct is a handler that answers requests itself, running its own model: the model
// run and batching are skipped.
type Direct interface {
	Handle(ctx context.Context, req *Request) (*Response, error)
	// TakesOver reports whether requests go to Handle.
	TakesOver() bool
}

// Scaler is a handler with one process per worker: the registry tells it the count.
type Scaler interface {
	// SetWorkers sets the count. At 0 every process stops and requests get 503; from none
	// running to some, one starts at once, and the error says it could not (none runs then).
	SetWorkers(n int) error
	// Park stops every process until the next SetWorkers, which requests meanwhile wait for
	// (an idle model unloaded, which the next request loads again).
	Park()
}

// Describer is a handler that can say what describes its model beyond the model's own
// metadata (TorchServe's describe_handle, for GET /models/{name}?customized=true): JSON, or
// nil when it has nothing to say.
type Describer interface {
	Describe(ctx context.Context) (json.RawMessage, error)
}

// Process is a custom handler's process, as describe shows it.
type Process struct {
	PID     int
	Started time.Time
	Busy    bool // answering a request (or a batch)
}

// ProcessLister is a handler that runs processes of its own: a custom handler.
type ProcessLister interface {
	// Processes are its live processes, oldest first.
	Processes() []Process
}

// Queuer is a handler with a queue of its own: a custom handler, whose requests wait for its
// processes and for batches.
type Queuer interface {
	// Queued is how many requests wait in it.
	Queued() int
}

// Stopper is a handler that can stop serving until the next scale: a custom handler whose
// processes failed for longer than maxRetryTimeoutInSec. The model then has no ready worker.
type Stopper interface {
	Stopped() bool
}

// MetricFunc records a custom metric a handler reported.
type MetricFunc func(name, typ, unit string, value float64, dimensions map[string]string)

// customHandler runs the user's code (Python, Go, any executable) as a pool of processes,
// one per worker, speaking the frame protocol on stdin/stdout. A process that crashes,
// hangs past its timeout or writes garbage fails its request with a 5xx and is replaced,
// after TorchServe's backoff; its stderr goes to the log.
type customHandler struct {
	model    *Model
	argv     []string
	env      []string // added to the server's environment for the processes
	timeout  time.Duration
	startup  time.Duration
	log      *slog.Logger
	onMetric MetricFunc

	mu      sync.Mutex
	idle    []*proc
	size    int  // processes allowed
	parked  bool // size is 0 until the next SetWorkers, which requests wait for (Park)
	running int  // processes alive (idle or busy)
	queued  int  // requests waiting for a process (acquire), bounded by QueueSize
	wait    chan struct{}
	// restarts counts the processes' failures since the last success; notBefore is when the
	// next may start. Once failures have lasted MaxRetry, none starts until the next scale.
	restarts  backoff.Restarts
	notBefore time.Time
	takesOver bool
	// batches: the processes take "batch" frames (handler files written for TorchServe,
	// handlers with inference_batch), so requests are gathered for them up to BatchSize
	// (custombatch.go).
	batches bool
	closed  bool
	gather  gathering
	// sequences binds each open sequence of a stateful model to the process that keeps its
	// state (h.mu).
	sequences map[string]*sequence
	// waiting counts the requests of each sequence waiting for its process (SequenceQueue
	// bounds them).
	waiting map[string]int
	// procs are the processes started, oldest first, those that ended left out when listed
	// (h.mu).
	procs []*proc
}

// sequence is an open sequence: its process, and when it was last used.
type sequence struct {
	p    *proc
	last time.Time
}

type proc struct {
	cmd     *exec.Cmd
	started time.Time
	in      io.WriteCloser
	out     *bufio.Reader
	seq     int64
	exited  chan struct{}
	stderr  *tail
}

// tail keeps the last lines a process wrote to stderr, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > 5 {
		t.lines = t.lines[1:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, " | ")
}

// pythonLauncher starts a Python handler: it loads ts's Python kit (templates.PythonKit, given
// in TS_HANDLER_KIT, so that the archive need not hold it) and serves the handler file with
// it (serve_file): a ts handler as it runs itself, or a handler written for TorchServe.
const pythonLauncher = `import os, sys, types
kit = types.ModuleType("ts_handler_kit")
kit.__file__ = "ts_handler.py"
sys.modules["ts_handler_kit"] = kit
exec(compile(os.environ.pop("TS_HANDLER_KIT"), "ts_handler.py", "exec"), kit.__dict__)
kit.serve_file(*sys.argv[1:])
`

// framingHeaders are the response headers that frame the answer on the wire, which the
// server sets and a handler must not.
var framingHeaders = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Connection": true,
	"Keep-Alive": true, "Trailer": true, "Upgrade": true}

// customCommand resolves the manifest's handler to a command and what it adds to the
// environment: a .py file runs with python (the handler setting python, default python3)
// through pythonLauncher, a folder runs its handler.py or handler executable, anything else
// is executed. "file.py:function" names a function TorchServe style: a Python handler's
// entry point (serve_file), and for an executable its first argument.
func customCommand(dir, handler string, c config) (argv, env []string, err error) {
	file, fn, _ := strings.Cut(handler, ":")
	p := filepath.Join(dir, filepath.FromSlash(file))
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("handler %q is neither built in (%s) nor a file in the archive", handler, strings.Join(Names(), ", "))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("custom handler %s: %w", handler, err)
	}
	if st.IsDir() {
		switch {
		case fileExists(filepath.Join(p, "handler.py")):
			p = filepath.Join(p, "handler.py")
		case fileExists(filepath.Join(p, "handler")):
			p = filepath.Join(p, "handler")
		default:
			return nil, nil, fmt.Errorf("custom handler folder %s has neither handler.py nor an executable named handler", handler)
		}
	}
	if strings.HasSuffix(p, ".py") {
		python, err := c.string("python", "python3")
		if err != nil {
			return nil, nil, err
		}
		argv = []string{python, "-c", pythonLauncher, p}
		env = []string{"TS_HANDLER_KIT=" + string(templates.PythonKit)}
	} else {
		if err := os.Chmod(p, 0o755); err != nil { // archives do not keep the executable bit
			return nil, nil, err
		}
		argv = []string{p}
	}
	if fn != "" {
		argv = append(argv, fn)
	}
	return argv, env, nil
}

// CheckCustom reports why the custom handler NewCustom would create for m cannot start
// (no such file or folder in the archive), without starting it.
func CheckCustom(m *Model) error {
	_, _, err := customCommand(m.Dir, m.Handler, config(m.Config))
	return err
}

// NewCustom creates the handler for a custom handler file or folder in the archive.
func NewCustom(m *Model, log *slog.Logger, onMetric MetricFunc) (Handler, error) {
	c := config(m.Config)
	argv, env, err := customCommand(m.Dir, m.Handler, c)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	h := &customHandler{model: m, argv: argv, env: env, timeout: m.Timeout, startup: m.StartupTimeout, size: max(m.Workers, 1),
		log: log.With("model", m.Name, "version", m.Version, "handler", m.Handler), onMetric: onMetric, wait: make(chan struct{})}
	if h.timeout <= 0 {
		h.timeout = 120 * time.Second
	}
	if h.startup <= 0 {
		h.startup = 120 * time.Second
	}
	// start one process now: a handler that cannot start fails the registration (or, for a
	// handler of a model, which starts with the workers, their start)
	p, err := h.spawn()
	if err != nil {
		return nil, err
	}
	h.running = 1
	h.release(p)
	return h, nil
}

func (h *customHandler) TakesOver() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.takesOver
}

func (h *customHandler) SetWorkers(n int) error {
	h.mu.Lock()
	h.resize(n, false)
	if h.givenUp() { // a scale is a fresh start
		h.restarts.Succeeded()
		h.notBefore = time.Time{}
	}
	// none running (scaled to 0 before, or all failed): start one now, as TorchServe starts a
	// scale's workers, so that a handler that no longer starts fails the scale
	start := n > 0 && h.running == 0 && !h.closed
	if start {
		h.running++
	}
	h.mu.Unlock()
	if !start {
		return nil
	}
	p, err := h.spawn()
	if err != nil {
		h.failed()
		h.mu.Lock()
		h.resize(0, false) // the requests waiting get 503, as with no worker
		h.mu.Unlock()
		return err
	}
	h.release(p)
	return nil
}

func (h *customHandler) Park() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.resize(0, true)
}

// resize sets how many processes may run, stops the idle ones beyond (a busy one stops when
// released) and wakes the requests waiting, to look again. h.mu held.
func (h *customHandler) resize(n int, parked bool) {
	h.size, h.parked = n, parked
	for h.running > h.size && len(h.idle) > 0 {
		p := h.idle[len(h.idle)-1]
		h.idle = h.idle[:len(h.idle)-1]
		h.running--
		h.unbind(p)
		go p.stop()
	}
	h.wakeWaiters()
}

// wakeWaiters wakes the requests waiting for a process (acquire). h.mu held.
func (h *customHandler) wakeWaiters() {
	close(h.wait)
	h.wait = make(chan struct{})
}

// Describe asks a process for its description ("describe"; the Python kit's describe, a
// TorchServe handler's describe_handle). It starts none: with no process running (scaled to
// 0, unloaded when idle) it answers nil. A body that is not JSON is a JSON string.
func (h *customHandler) Describe(ctx context.Context) (json.RawMessage, error) {
	h.mu.Lock()
	none := h.size == 0 || h.running == 0 || h.closed
	h.mu.Unlock()
	if none {
		return nil, nil
	}
	header := http.Header{}
	header.Set(DescribeHeader, "True") // as the explain header, canonical: Go handlers Get it
	reply, err := h.call(ctx, &handlerkit.Frame{Type: "describe", Request: &handlerkit.FrameRequest{Headers: header}}, nil)
	if err != nil {
		return nil, err
	}
	var body []byte
	if len(reply.Data) > 0 {
		body = bytes.TrimSpace(reply.Data[0])
	}
	switch {
	case len(body) == 0 || string(body) == "null":
		return nil, nil
	case json.Valid(body):
		return body, nil
	}
	return json.Marshal(string(body))
}

// unloading is the error of a request that finds the handler closed (503).
func (h *customHandler) unloading() error {
	return apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable, "model %s is being unloaded", h.model.Name)
}

// Close stops every process.
func (h *customHandler) Close() error {
	h.gather.stop()
	h.mu.Lock()
	h.closed = true
	idle := h.idle
	h.idle = nil
	h.mu.Unlock()
	for _, p := range idle {
		p.stop()
	}
	return nil
}

// Processes lists the handler's live processes, oldest first.
func (h *customHandler) Processes() []Process {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.procs = slices.DeleteFunc(h.procs, (*proc).ended)
	out := make([]Process, len(h.procs))
	for i, p := range h.procs {
		out[i] = Process{PID: p.cmd.Process.Pid, Started: p.started, Busy: !slices.Contains(h.idle, p)}
	}
	return out
}

// ended reports whether the process has exited.
func (p *proc) ended() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

func (p *proc) stop() {
	p.in.Close()
	select {
	case <-p.exited:
	case <-time.After(2 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

func (p *proc) kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// spawn starts a process and initialises it.
func (h *customHandler) spawn() (*proc, error) {
	cmd := exec.Command(h.argv[0], h.argv[1:]...)
	cmd.Dir = h.model.Dir
	cmd.Env = append(os.Environ(), "TS_MODEL_DIR="+h.model.Dir, "TS_MODEL_NAME="+h.model.Name, "PYTHONUNBUFFERED=1")
	cmd.Env = append(cmd.Env, h.env...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start custom handler %s (%s): %w", h.model.Handler, h.argv[0], err)
	}
	p := &proc{cmd: cmd, started: time.Now(), in: in, out: bufio.NewReaderSize(out, 1<<16), exited: make(chan struct{}), stderr: &tail{}}
	go func() {
		sc := bufio.NewScanner(errPipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.stderr.add(sc.Text())
			h.log.Info("handler: " + sc.Text())
		}
		io.Copy(io.Discard, errPipe)
		cmd.Wait()
		close(p.exited)
	}()
	m := h.model
	props := map[string]any{"model_dir": m.Dir, "batch_size": max(m.BatchSize, 1), "gpu_id": nil, "server_name": "ts", "limit_max_image_pixels": true}
	init := &handlerkit.Frame{Type: "init", Model: &handlerkit.FrameModel{Name: m.Name, Version: m.Version, Dir: m.Dir, Manifest: m.Manifest,
		Inputs: m.Inputs, Outputs: m.Outputs, Config: m.Config, YAML: m.YAML, Properties: props}}
	reply, err := h.exchange(context.Background(), p, init, h.startup, nil)
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("custom handler did not start: %w", err)
	}
	if reply.Type != "ready" {
		p.kill()
		return nil, fmt.Errorf("custom handler answered %q to init, want ready: %s", reply.Type, reply.Message)
	}
	h.mu.Lock()
	h.takesOver, h.batches = reply.Inference, reply.Batch
	h.procs = append(slices.DeleteFunc(h.procs, (*proc).ended), p)
	h.mu.Unlock()
	h.log.Info("custom handler started", "pid", cmd.Process.Pid, "takes_over_inference", reply.Inference, "takes_batches", reply.Batch)
	if h.model.ContinuousBatching && !reply.Batch {
		h.log.Warn("continuousBatching is not applied: the handler does not take batches (a handler file written for TorchServe does; a ts handler defines inference_batch)")
	}
	return p, nil
}

// acquire takes an idle process, starting one when the pool may grow. A request of a
// sequence (seq) takes the process its sequence is bound to, waiting while it is busy; a new
// sequence is bound to the process it gets. A request that starts a call (bounded) and
// finds the model's job queue size of others waiting gets batch.ErrQueueFull instead of
// waiting, as TorchServe's full queue answers.
func (h *customHandler) acquire(ctx context.Context, seq string, bounded bool) (*proc, error) {
	queued := false // counted in h.queued
	defer func() {
		if queued {
			h.mu.Lock()
			h.queued--
			h.mu.Unlock()
		}
	}()
	// join counts the request among those waiting (once; h.mu held), or refuses it when
	// the job queue is full
	join := func() error {
		if !bounded || queued {
			return nil
		}
		if limit := h.model.QueueSize; limit > 0 && h.queued >= limit {
			return batch.ErrQueueFull
		}
		queued = true
		h.queued++
		return nil
	}
	if bounded && seq != "" {
		if err := h.waitInSequence(seq); err != nil {
			return nil, err
		}
		defer h.doneWaitingInSequence(seq)
	}
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return nil, h.unloading()
		}
		if seq != "" {
			p, bound, err := h.takeBound(seq)
			if err != nil {
				h.mu.Unlock()
				return nil, err
			}
			if p != nil {
				h.mu.Unlock()
				return p, nil
			}
			if bound { // busy: wait for it
				if err := join(); err != nil {
					h.mu.Unlock()
					return nil, err
				}
				wait := h.wait
				h.mu.Unlock()
				select {
				case <-wait:
					continue
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		if n := len(h.idle); n > 0 {
			i := n - 1
			if seq != "" { // a new sequence: the process with the fewest
				i = h.leastBound()
			}
			p := h.idle[i]
			h.idle = slices.Delete(h.idle, i, i+1)
			h.bind(seq, p)
			h.mu.Unlock()
			return p, nil
		}
		if h.size == 0 && !h.parked {
			h.mu.Unlock()
			return nil, apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable, "model %s has no worker: its custom handler was scaled to 0 or did not start", h.model.Name)
		}
		if h.running < h.size && h.givenUp() {
			if h.running == 0 {
				failing := h.restarts.FailingFor(time.Now()).Round(time.Second)
				h.mu.Unlock()
				return nil, apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable,
					"custom handler of model %s has failed for %v with no success (maxRetryTimeoutInSec %d): not started again; scale the model to try again",
					h.model.Name, failing, int(h.model.MaxRetry/time.Second))
			}
			// the processes still alive serve; wait for one below
		} else if h.running < h.size {
			if wait := time.Until(h.notBefore); wait > 0 {
				h.mu.Unlock()
				select {
				case <-time.After(wait):
					continue
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			h.running++
			h.mu.Unlock()
			p, err := h.spawn()
			if err != nil {
				h.failed()
				return nil, apierror.Internal("custom handler could not start: %v", err)
			}
			h.mu.Lock()
			h.bind(seq, p)
			h.mu.Unlock()
			return p, nil
		}
		if err := join(); err != nil {
			h.mu.Unlock()
			return nil, err
		}
		wait := h.wait
		h.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// takeBound takes the idle process a sequence is bound to. It answers (nil, true) while
// that process is busy, and (nil, false) for a sequence not bound (a new one, or one whose
// process has ended: it starts again on another). Sequences idle past SequenceIdle end
// first; a new sequence beyond MaxSequences is refused (503). h.mu held.
func (h *customHandler) takeBound(seq string) (*proc, bool, error) {
	now := time.Now()
	if idle := h.model.SequenceIdle; idle > 0 {
		for id, s := range h.sequences {
			if now.Sub(s.last) > idle {
				delete(h.sequences, id)
			}
		}
	}
	s := h.sequences[seq]
	if s == nil {
		if limit := h.model.MaxSequences; limit > 0 && len(h.sequences) >= limit {
			return nil, false, &sequenceLimitError{apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable,
				"model %s has %d open sequences, its maxNumSequence: end one (its last request with the sequence end header) or let one idle out (sequenceMaxIdleMSec)",
				h.model.Name, len(h.sequences))}
		}
		return nil, false, nil
	}
	s.last = now
	if i := slices.Index(h.idle, s.p); i >= 0 {
		h.idle = slices.Delete(h.idle, i, i+1)
		return s.p, true, nil
	}
	if s.p.ended() {
		delete(h.sequences, seq)
		return nil, false, nil
	}
	return nil, true, nil
}

// sequenceLimitError is the 503 for a request that would open a sequence while the model's
// maxNumSequence are open.
type sequenceLimitError struct{ err *apierror.Error }

func (e *sequenceLimitError) Error() string { return e.err.Error() }
func (e *sequenceLimitError) Unwrap() error { return e.err }

// waitInSequence counts a request of seq that waits for its process, or refuses it when
// the model's SequenceQueue of them already wait.
func (h *customHandler) waitInSequence(seq string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if limit := h.model.SequenceQueue; limit > 0 && h.waiting[seq] >= limit {
		return sequenceQueueFull(h.model.Name, seq, limit)
	}
	if h.waiting == nil {
		h.waiting = map[string]int{}
	}
	h.waiting[seq]++
	return nil
}

func (h *customHandler) doneWaitingInSequence(seq string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiting[seq]--; h.waiting[seq] <= 0 {
		delete(h.waiting, seq)
	}
}

// sequenceQueueFull is the 503 for a request of a sequence that has its model's
// maxSequenceJobQueueSize (limit) of others waiting.
func sequenceQueueFull(model, seq string, limit int) error {
	return apierror.New(http.StatusServiceUnavailable, apierror.TypeServiceUnavailable,
		"model %s: sequence %s has its maxSequenceJobQueueSize (%d) of requests waiting: send the next once one is answered", model, seq, limit)
}

// bind binds a new sequence to p (seq "": none). h.mu held.
func (h *customHandler) bind(seq string, p *proc) {
	if seq == "" {
		return
	}
	if h.sequences == nil {
		h.sequences = map[string]*sequence{}
	}
	h.sequences[seq] = &sequence{p: p, last: time.Now()}
}

// leastBound is the index of the idle process with the fewest sequences. h.mu held.
func (h *customHandler) leastBound() int {
	best, fewest := len(h.idle)-1, -1
	for i, p := range h.idle {
		n := 0
		for _, s := range h.sequences {
			if s.p == p {
				n++
			}
		}
		if fewest < 0 || n < fewest {
			best, fewest = i, n
		}
	}
	return best
}

// unbind ends the sequences bound to p, a process that stops. h.mu held.
func (h *customHandler) unbind(p *proc) {
	for id, s := range h.sequences {
		if s.p == p {
			delete(h.sequences, id)
		}
	}
}

// endSequence ends a sequence (its end header, or a start afresh).
func (h *customHandler) endSequence(seq string) {
	h.mu.Lock()
	delete(h.sequences, seq)
	h.mu.Unlock()
}

// Stopped reports whether no process runs and none will start until the next scale.
func (h *customHandler) Stopped() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.running == 0 && h.givenUp()
}

// givenUp reports whether processes have failed for MaxRetry with no success since (h.mu
// held).
func (h *customHandler) givenUp() bool {
	return h.restarts.GivenUp(time.Now(), h.model.MaxRetry)
}

// release returns a healthy process to the pool after a success.
func (h *customHandler) release(p *proc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.restarts.Succeeded()
	h.putBackLocked(p)
}

// putBack returns a process to the pool unused.
func (h *customHandler) putBack(p *proc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.putBackLocked(p)
}

// putBackLocked returns p to the idle processes, or stops it when the pool has shrunk or
// closed (h.mu held).
func (h *customHandler) putBackLocked(p *proc) {
	if h.closed || h.running > h.size {
		h.running--
		h.unbind(p)
		go p.stop()
	} else {
		h.idle = append(h.idle, p)
	}
	h.wakeWaiters()
}

// failed accounts for a process that died or was killed; the next start waits the backoff.
func (h *customHandler) failed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.running--
	now := time.Now()
	h.notBefore = now.Add(h.restarts.Fail(now))
	if h.givenUp() {
		h.log.Error("custom handler not started again: its processes have failed for longer than maxRetryTimeoutInSec; scale the model to try again",
			"failing_for", h.restarts.FailingFor(now).Round(time.Millisecond), "max_retry", h.model.MaxRetry)
	}
	h.wakeWaiters()
}

// errOutOfResources marks a handler process killed from outside with SIGKILL, which is how
// the kernel's out-of-memory killer ends a process.
var errOutOfResources = errors.New("out of resources")

// killed reports whether a process ended by SIGKILL (the exit code 137 of a shell).
func killed(st *os.ProcessState) bool {
	if st == nil {
		return false
	}
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL || st.ExitCode() == 137
}

// exchange sends one frame and reads the reply, within timeout. Parts of the answer the
// handler sends first ("intermediate" frames) go to onPart (nil: none expected), each
// restarting the timeout: it bounds the handler's silence, not a long stream.
func (h *customHandler) exchange(ctx context.Context, p *proc, f *handlerkit.Frame, timeout time.Duration, onPart func(*handlerkit.Frame) error) (*handlerkit.Frame, error) {
	p.seq++
	f.ID = p.seq
	type result struct {
		f   *handlerkit.Frame
		err error
	}
	frames := make(chan result, 1)
	next := make(chan struct{}, 1) // the reader may read the next frame
	go func() {
		if err := handlerkit.WriteFrame(p.in, f); err != nil {
			frames <- result{err: err}
			return
		}
		for {
			r, err := handlerkit.ReadFrame(p.out)
			frames <- result{r, err}
			if err != nil || (r.Type != "intermediate" && r.Type != "run") {
				return
			}
			if _, ok := <-next; !ok {
				return
			}
		}
	}()
	defer close(next)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case r := <-frames:
			if r.err != nil {
				select {
				case <-p.exited:
					if killed(p.cmd.ProcessState) {
						return nil, fmt.Errorf("%w: the handler process was killed (SIGKILL: the kernel's out-of-memory killer?): %s", errOutOfResources, p.stderr)
					}
					return nil, fmt.Errorf("the handler process exited (%s): %s", p.cmd.ProcessState, p.stderr)
				case <-time.After(100 * time.Millisecond):
				}
				if errors.Is(r.err, io.EOF) || errors.Is(r.err, io.ErrUnexpectedEOF) {
					return nil, fmt.Errorf("the handler process closed its output: %s", p.stderr)
				}
				return nil, r.err
			}
			if r.f.ID != f.ID && r.f.Type != "ready" {
				return nil, fmt.Errorf("%w (reply to message %d, expected %d)", handlerkit.ErrGarbage, r.f.ID, f.ID)
			}
			if r.f.Type == "run" { // the handler asks ts to run the model, and waits
				if err := handlerkit.WriteFrame(p.in, h.runModel(ctx, r.f)); err != nil {
					return nil, err
				}
				timer.Reset(timeout)
				next <- struct{}{}
				continue
			}
			if r.f.Type != "intermediate" {
				return r.f, nil
			}
			if onPart == nil {
				return nil, fmt.Errorf("%w: a part of an answer to %s", handlerkit.ErrGarbage, f.Type)
			}
			if err := onPart(r.f); err != nil {
				return nil, &partError{err}
			}
			timer.Reset(timeout)
			next <- struct{}{}
		case <-timer.C:
			return nil, fmt.Errorf("the handler did not answer within %v", timeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// partError is a part of an answer that could not be passed on (the client has gone): the
// process still has the rest of its answer to write, so it is replaced.
type partError struct{ err error }

func (e *partError) Error() string { return "sending a part of the answer: " + e.err.Error() }
func (e *partError) Unwrap() error { return e.err }

// call runs one exchange on a pooled process; a broken process is killed and replaced.
// onPart receives the parts of the answer sent before the reply (nil: none expected).
func (h *customHandler) call(ctx context.Context, f *handlerkit.Frame, onPart func(*handlerkit.Frame) error) (*handlerkit.Frame, error) {
	seq := ""
	if f.Request != nil && h.model.MaxSequences > 0 { // a stateful model
		seq = f.Request.SequenceID
	}
	start := time.Now()
	p, err := h.acquire(ctx, seq, f.Type == "preprocess" || f.Type == "handle") // a request's first call
	if err != nil {
		return nil, err
	}
	acquired := time.Now()
	reply, err := h.callOn(ctx, p, f, onPart)
	if f.Type == "handle" { // the handler runs the model: its call is the request's run
		h.report(1, []time.Duration{acquired.Sub(start)}, time.Since(acquired), err)
	}
	return reply, err
}

// report tells OnBatch of a call that answered items requests (a batch, or one alone).
func (h *customHandler) report(items int64, queued []time.Duration, run time.Duration, err error) {
	if h.model.OnBatch != nil {
		h.model.OnBatch(batch.Report{Items: items, Queued: queued, Run: run, Err: err})
	}
}

// callOn runs one exchange on p, a process acquired from the pool, and returns it to the
// pool, or kills and replaces it when broken.
func (h *customHandler) callOn(ctx context.Context, p *proc, f *handlerkit.Frame, onPart func(*handlerkit.Frame) error) (*handlerkit.Frame, error) {
	reply, err := h.exchange(ctx, p, f, h.timeout, onPart)
	if err != nil {
		p.kill()
		h.mu.Lock()
		h.unbind(p) // their state went with the process
		h.mu.Unlock()
		h.failed()
		var part *partError
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &part): // the client has gone
			return nil, part.err
		}
		h.log.Error("custom handler failed; restarting it", "err", err)
		if errors.Is(err, errOutOfResources) { // TorchServe: 507 for a worker whose exit code is 137
			return nil, apierror.New(http.StatusInsufficientStorage, apierror.TypeInternal, "custom handler failed: %v", err)
		}
		return nil, apierror.Internal("custom handler failed: %v", err)
	}
	h.release(p)
	h.record(reply.Metrics)
	if reply.Type == "error" {
		code := reply.Code
		if code < 400 || code > 599 {
			code = http.StatusInternalServerError
		}
		typ := apierror.TypeInternal
		if code < 500 {
			typ = apierror.TypeBadRequest
		}
		return nil, apierror.New(code, typ, "%s", reply.Message)
	}
	return reply, nil
}

func (h *customHandler) record(ms []handlerkit.Metric) {
	if h.onMetric == nil {
		return
	}
	for _, m := range ms {
		h.onMetric(m.Name, m.Type, m.Unit, m.Value, m.Dimensions)
	}
}

func requestFrame(typ string, req *Request) *handlerkit.Frame {
	f := &handlerkit.Frame{Type: typ, Request: &handlerkit.FrameRequest{ID: req.ID, SequenceID: req.Sequence, Headers: req.Header, Query: req.Query}}
	for _, in := range req.Inputs {
		f.Blobs = append(f.Blobs, handlerkit.Blob{Name: in.Name, ContentType: in.ContentType})
		f.Data = append(f.Data, in.Data)
	}
	return f
}

func (h *customHandler) Preprocess(ctx context.Context, req *Request) ([]*tensor.Tensor, error) {
	h.startSequence(req)
	reply, err := h.call(ctx, requestFrame("preprocess", req), nil)
	if err != nil {
		return nil, err
	}
	if reply.Type != "tensors" {
		return nil, apierror.Internal("custom handler answered %q to preprocess, want tensors", reply.Type)
	}
	req.State = reply.State
	inputs, err := h.modelInputs(reply)
	if err != nil {
		return nil, apierror.Internal("%v", err)
	}
	return inputs, nil
}

// modelInputs reads the tensors of a handler's frame in the order of the model's inputs:
// by name, or in the order given when there is one for each input.
func (h *customHandler) modelInputs(f *handlerkit.Frame) ([]*tensor.Tensor, error) {
	byName := map[string]*tensor.Tensor{}
	var ordered []*tensor.Tensor
	for i, b := range f.Blobs {
		t, err := f.Tensor(i)
		if err != nil {
			return nil, fmt.Errorf("custom handler %w", err)
		}
		byName[b.Name] = t
		ordered = append(ordered, t)
	}
	out := make([]*tensor.Tensor, len(h.model.Inputs))
	for i, in := range h.model.Inputs {
		if t, ok := byName[in.Name]; ok {
			out[i] = t
		} else if len(ordered) == len(out) {
			out[i] = ordered[i]
		} else {
			return nil, fmt.Errorf("custom handler gave no tensor for model input %q", in.Name)
		}
	}
	return out, nil
}

// runModel answers a handler's "run" frame: the archive's model run on the frame's tensors
// (Model.Run), its outputs in an "outputs" frame, or an "error" frame saying why not.
func (h *customHandler) runModel(ctx context.Context, f *handlerkit.Frame) *handlerkit.Frame {
	fail := func(err error) *handlerkit.Frame {
		e := apierror.From(err)
		return &handlerkit.Frame{Type: "error", ID: f.ID, Code: e.Code, Message: e.Message}
	}
	if h.model.Run == nil {
		return fail(apierror.BadRequest("model %s has no ONNX model to run: its archive names no serializedFile", h.model.Name))
	}
	inputs, err := h.modelInputs(f)
	if err != nil {
		return fail(apierror.BadRequest("%v", err))
	}
	outputs, err := h.model.Run(ctx, inputs)
	if err != nil {
		return fail(err)
	}
	reply := &handlerkit.Frame{Type: "outputs", ID: f.ID}
	h.addOutputs(reply, outputs)
	return reply
}

// addOutputs puts the model's outputs in a frame, named as the model names them.
func (h *customHandler) addOutputs(f *handlerkit.Frame, outputs []*tensor.Tensor) {
	for i, t := range outputs {
		f.AddTensor(h.model.Outputs[i].Name, t)
	}
}

func (h *customHandler) Postprocess(ctx context.Context, req *Request, outputs []*tensor.Tensor) (*Response, error) {
	f := &handlerkit.Frame{Type: "postprocess", Request: &handlerkit.FrameRequest{ID: req.ID, SequenceID: req.Sequence, Headers: req.Header, Query: req.Query}}
	if state, ok := req.State.(json.RawMessage); ok {
		f.State = state
	}
	h.addOutputs(f, outputs)
	return h.answer(ctx, req, f)
}

func (h *customHandler) Handle(ctx context.Context, req *Request) (*Response, error) {
	if h.batchable(req) {
		return h.handleInBatch(ctx, req)
	}
	h.startSequence(req)
	return h.answer(ctx, req, requestFrame("handle", req))
}

// answered ends the request's sequence once its answer is given, when it carries the end
// header.
func (h *customHandler) answered(req *Request) {
	if req.Sequence != "" && req.SequenceEnd {
		h.endSequence(req.Sequence)
	}
}

// startSequence ends the request's sequence before its first call when the request begins
// it afresh: it binds anew, to any process.
func (h *customHandler) startSequence(req *Request) {
	if req.Sequence != "" && req.SequenceStart {
		h.endSequence(req.Sequence)
	}
}

// answer sends a frame whose reply is the request's response, passing the parts the handler
// sends first to req.Stream, or joining them in front of the last when there is none.
func (h *customHandler) answer(ctx context.Context, req *Request, f *handlerkit.Frame) (*Response, error) {
	var joined []byte
	onPart := func(part *handlerkit.Frame) error {
		var body []byte
		if len(part.Data) > 0 {
			body = part.Data[0]
		}
		if req.Stream != nil {
			return req.Stream(body, part.ContentType)
		}
		joined = append(joined, body...)
		return nil
	}
	reply, err := h.call(ctx, f, onPart)
	h.answered(req)
	if err != nil {
		return nil, err
	}
	if reply.Type != "response" {
		return nil, apierror.Internal("custom handler answered %q, want response", reply.Type)
	}
	var body []byte
	if len(reply.Data) > 0 {
		body = reply.Data[0]
	}
	return h.response(handlerkit.FrameReply{Status: reply.Status, ContentType: reply.ContentType, Headers: reply.Headers}, joined, body), nil
}

// response is the answer a handler's reply makes, its body the parts sent before (joined)
// and then the reply's; headers that are not valid, or that frame the answer, are dropped,
// as is TorchServe's ts_stream_next, the handler's word to the server.
func (h *customHandler) response(reply handlerkit.FrameReply, joined, body []byte) *Response {
	res := &Response{ContentType: reply.ContentType, Status: reply.Status}
	for k, v := range reply.Headers {
		if strings.EqualFold(k, streamNextHeader) {
			continue
		}
		if !httpguts.ValidHeaderFieldName(k) || !httpguts.ValidHeaderFieldValue(v) || framingHeaders[http.CanonicalHeaderKey(k)] {
			h.log.Warn("custom handler's response header dropped", "header", k)
			continue
		}
		if res.Header == nil {
			res.Header = http.Header{}
		}
		res.Header.Set(k, v)
	}
	res.Body = body
	if joined != nil {
		res.Body = append(joined, body...)
	}
	return res
}
