package cli

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/client"
	"github.com/tsserve/ts/pkg/tensor"
)

// PerfCmd is `ts perf`: a load test of a served model, as Triton's perf_analyzer: clients
// send requests back to back at each concurrency in turn, and ts perf reports throughput,
// latency percentiles and what the server says of its queue and runs.
type PerfCmd struct {
	Model       string        `arg:"" optional:"" placeholder:"MODEL" predictor:"model" help:"Model name (model/version for a version); may be left out when the server has one model."`
	Files       []string      `arg:"" optional:"" placeholder:"FILE" help:"Requests to send through the model's handler (/predictions), in turn. Without files or --data, random tensors for the model's inputs go to the Open Inference Protocol's /v2 infer."`
	Data        []string      `name:"data" short:"d" sep:"none" placeholder:"TEXT" help:"A request given on the command line, text or JSON (after the files); repeatable."`
	Version     string        `name:"version" placeholder:"VERSION" help:"Model version (default: the default version, or the traffic split)."`
	Concurrency []int         `name:"concurrency" short:"c" default:"1,4,16" placeholder:"N,..." help:"Clients sending at once; each value of the list is measured in turn."`
	Rate        []float64     `name:"rate" placeholder:"R,..." help:"Instead of clients, send this many requests a second, each at its time whatever the answers (perf_analyzer's --request-rate-range); each value is measured in turn."`
	Duration    time.Duration `name:"duration" default:"5s" help:"How long each concurrency is measured."`
	Warmup      time.Duration `name:"warmup" default:"1s" help:"How long each concurrency sends before it is measured (not counted)."`
	Shape       []string      `name:"shape" sep:"none" placeholder:"INPUT:DIMS" help:"The shape of a random input whose dimensions are dynamic (perf_analyzer's --shape), e.g. pixels:1,3,224,224; repeatable. Dynamic dimensions are 1 otherwise."`
	Timeout     time.Duration `name:"timeout" default:"60s" help:"Give up on a request after this long (it counts as an error)."`
	MaxP99      time.Duration `name:"max-p99" placeholder:"DURATION" help:"Fail (exit 1) when a level's p99 latency is above this, e.g. 50ms: a speed check for CI."`
	MinRate     float64       `name:"min-throughput" placeholder:"REQ/S" help:"Fail (exit 1) when a level serves fewer requests a second than this."`
}

// perfLevel is what one concurrency measured.
type perfLevel struct {
	Concurrency int `json:"concurrency,omitempty"`
	// Rate is the requests a second sent (--rate; then Concurrency is 0).
	Rate       float64 `json:"requestRate,omitempty"`
	Requests   int     `json:"requests"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	firstErr   error
	Throughput float64 `json:"throughputPerSec"`
	// Latencies in milliseconds, of the requests that succeeded.
	MeanMS float64 `json:"meanMs"`
	P50MS  float64 `json:"p50Ms"`
	P90MS  float64 `json:"p90Ms"`
	P95MS  float64 `json:"p95Ms"`
	P99MS  float64 `json:"p99Ms"`
	// Server is what the server's statistics say of the same window.
	Server *perfServer `json:"server,omitempty"`
}

// perfServer is the server's side of a level, from Triton's statistics before and after it.
type perfServer struct {
	// Inferences counts the items inferred (a request of a batch of 2 counts 2), Runs the
	// model's runs, MeanBatch the items per run.
	Inferences int64   `json:"inferences"`
	Runs       int64   `json:"runs"`
	MeanBatch  float64 `json:"meanBatch"`
	// QueueMS is the mean time a request waited for a run; ComputeMS the mean time of a run
	// (its inputs, the model, its outputs).
	QueueMS   float64 `json:"queueMs"`
	ComputeMS float64 `json:"computeMs"`
}

// perfReport is ts perf's answer.
type perfReport struct {
	Model    string      `json:"model"`
	Version  string      `json:"version,omitempty"`
	Requests string      `json:"requests"` // what was sent
	Duration string      `json:"duration"`
	Levels   []perfLevel `json:"levels"`
}

// perfSend sends one request.
type perfSend func(ctx context.Context) error

// validate checks the flags (usage errors).
func (c *PerfCmd) validate() error {
	switch {
	case len(c.Concurrency) == 0 || slices.ContainsFunc(c.Concurrency, func(n int) bool { return n < 1 || n > 4096 }):
		return term.Usagef("--concurrency: give clients from 1 to 4096, e.g. 1,4,16")
	case slices.ContainsFunc(c.Rate, func(r float64) bool { return !(r > 0 && r <= 1e6) }):
		return term.Usagef("--rate: give requests a second above 0 and up to 1000000, e.g. 100,500")
	case c.MaxP99 < 0 || c.MinRate < 0:
		return term.Usagef("--max-p99 and --min-throughput must not be negative")
	case c.Duration <= 0 || c.Warmup < 0 || c.Timeout <= 0:
		return term.Usagef("--duration and --timeout must be positive, --warmup not negative")
	}
	return nil
}

// perfLoad measures one level for d.
type perfLoad func(d time.Duration) perfLevel

// loads are the levels to measure: the clients of each concurrency, or each request rate;
// per and column name them.
func (c *PerfCmd) loads(ctx context.Context, send perfSend) (loads []perfLoad, per, column string) {
	if len(c.Rate) > 0 {
		for _, r := range c.Rate {
			loads = append(loads, func(d time.Duration) perfLevel { return measureRate(ctx, r, d, c.Timeout, send) })
		}
		return loads, "request rate", "RATE/S"
	}
	for _, n := range c.Concurrency {
		loads = append(loads, func(d time.Duration) perfLevel { return measure(ctx, n, d, c.Timeout, send) })
	}
	return loads, "concurrency", "CONCURRENCY"
}

func (c *PerfCmd) Run(g *Globals) error {
	if err := c.validate(); err != nil {
		return err
	}
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	pick := &InferCmd{modelFiles: modelFiles{Model: c.Model, Files: c.Files, Data: c.Data}, perf: true}
	if err := pick.pickModel(ctx, cl); err != nil {
		return err
	}
	name, version := splitRef(pick.Model)
	if c.Version != "" {
		version = c.Version
	}
	report := &perfReport{Model: name, Version: version, Duration: c.Duration.String()}
	var send perfSend
	if requests := pick.requests(); len(requests) > 0 {
		send, report.Requests, err = c.handlerRequests(cl, name, version, requests)
	} else {
		send, report.Requests, err = c.randomTensors(ctx, cl, name, version)
	}
	if err != nil {
		return err
	}
	// one request first: a request the model refuses fails here, not after every level
	if err := send(ctx); err != nil {
		return err
	}
	io := g.IO()
	loads, per, column := c.loads(ctx, send)
	if io.OutTTY && g.Output == "text" {
		io.Println(io.Style(term.Bold, fmt.Sprintf("%s: %s, %s per %s", pick.Model, report.Requests, c.Duration, per)))
	}
	for _, run := range loads {
		if c.Warmup > 0 {
			run(c.Warmup)
		}
		before, statsErr := cl.ModelStatistics(ctx, name, version)
		level := run(c.Duration)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if after, err := cl.ModelStatistics(ctx, name, version); statsErr == nil && err == nil {
			level.Server = serverSide(before, after)
		}
		report.Levels = append(report.Levels, level)
	}
	if ok, err := io.Data(report); ok {
		if err != nil {
			return err
		}
	} else {
		io.Table([]string{column, "REQ/S", "P50 MS", "P90 MS", "P99 MS", "ERRORS", "SERVER QUEUE MS", "SERVER RUN MS", "BATCH"}, perfRows(report.Levels))
	}
	if err := perfErrors(report.Levels); err != nil {
		return err
	}
	return c.checkTargets(report.Levels)
}

// checkTargets fails when a level misses --max-p99 or --min-throughput, naming each miss.
func (c *PerfCmd) checkTargets(levels []perfLevel) error {
	var misses []string
	for _, l := range levels {
		load := fmt.Sprintf("concurrency %d", l.Concurrency)
		if l.Rate > 0 {
			load = fmt.Sprintf("rate %g/s", l.Rate)
		}
		if c.MaxP99 > 0 && l.P99MS > msOf(c.MaxP99) {
			misses = append(misses, fmt.Sprintf("p99 %.3f ms at %s is above --max-p99 %v", l.P99MS, load, c.MaxP99))
		}
		if c.MinRate > 0 && l.Throughput < c.MinRate {
			misses = append(misses, fmt.Sprintf("%.1f requests/s at %s is below --min-throughput %g", l.Throughput, load, c.MinRate))
		}
	}
	if len(misses) > 0 {
		return errors.New(strings.Join(misses, "; "))
	}
	return nil
}

// handlerRequests sends the files and --data texts through the model's handler, in turn.
func (c *PerfCmd) handlerRequests(cl *client.Client, name, version string, requests []request) (perfSend, string, error) {
	type body struct {
		data  []byte
		ctype string
	}
	bodies := make([]body, len(requests))
	for i, r := range requests {
		b, ctype, err := r.read()
		if err != nil {
			return nil, "", err
		}
		bodies[i] = body{b, ctype}
	}
	var mu sync.Mutex
	next := 0
	send := func(ctx context.Context) error {
		mu.Lock()
		b := bodies[next%len(bodies)]
		next++
		mu.Unlock()
		_, err := cl.Predict(ctx, name, b.data, client.PredictOptions{Version: version, ContentType: b.ctype})
		return err
	}
	what := fmt.Sprintf("%d request bodies to /predictions", len(bodies))
	if len(bodies) == 1 {
		what = "1 request body to /predictions"
	}
	return send, what, nil
}

// randomTensors sends the model's inputs, random, to the Open Inference Protocol's infer
// (binary tensor data): the same request each time, as perf_analyzer does.
func (c *PerfCmd) randomTensors(ctx context.Context, cl *client.Client, name, version string) (perfSend, string, error) {
	want := version
	if want == "" {
		want = "all"
	}
	ds, err := cl.Describe(ctx, name, want)
	if err != nil {
		return nil, "", err
	}
	d := ds[0]
	for _, x := range ds {
		if x.Default {
			d = x
		}
	}
	shapes, err := parseShapes(c.Shape)
	if err != nil {
		return nil, "", err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var inputs []client.V2Input
	var shown []string
	for input := range shapes {
		if !slices.ContainsFunc(d.Inputs, func(in tensor.Info) bool { return in.Name == input }) {
			return nil, "", term.Usagef("--shape %s: the model has no such input (it has %s)", input, strings.Join(tensor.Names(d.Inputs), ", "))
		}
	}
	for _, in := range d.Inputs {
		shape, ok := shapes[in.Name]
		if !ok {
			if in.AnyShape() {
				return nil, "", term.Usagef("input %q declares no shape: give one with --shape %s:DIMS", in.Name, in.Name)
			}
			shape = make([]int64, len(in.Shape))
			for i, dim := range in.Shape {
				shape[i] = max(dim, 1)
				if n := tensor.SharedDimSize(d.Inputs, shapes, 0, in.DimName(i)); n > 0 && dim < 0 {
					shape[i] = n // the size --shape gives the dimension of that name
				}
			}
		} else if !in.AnyShape() {
			if len(shape) != len(in.Shape) {
				return nil, "", term.Usagef("--shape %s: %d dimensions, the model's input has %d (%s)", in.Name, len(shape), len(in.Shape), in.ShapeText())
			}
			for i, dim := range in.Shape {
				if dim >= 0 && shape[i] != dim {
					return nil, "", term.Usagef("--shape %s: dimension %d is %d in the model (%s)", in.Name, i, dim, in.ShapeText())
				}
			}
		}
		t, err := tensor.Generate(in.DType, shape, rng)
		if err != nil {
			return nil, "", term.Usagef("input %q: %v", in.Name, err)
		}
		inputs = append(inputs, client.V2Input{Name: in.Name, Tensor: t})
		shown = append(shown, in.Name+" "+in.DType.String()+tensor.ShapeString(shape))
	}
	req, err := client.NewV2Request(inputs)
	if err != nil {
		return nil, "", err
	}
	send := func(ctx context.Context) error {
		_, err := cl.InferV2(ctx, name, version, req)
		return err
	}
	return send, "random " + strings.Join(shown, ", ") + " to /v2 infer", nil
}

// parseShapes reads --shape NAME:D1,D2,... (the name may hold colons: the last one splits).
func parseShapes(list []string) (map[string][]int64, error) {
	shapes := map[string][]int64{}
	for _, s := range list {
		i := strings.LastIndex(s, ":")
		if i <= 0 {
			return nil, term.Usagef("--shape %q: write it as INPUT:DIMS, e.g. pixels:1,3,224,224", s)
		}
		var shape []int64
		for _, f := range strings.Split(s[i+1:], ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || n < 0 {
				return nil, term.Usagef("--shape %q: %q is not a dimension", s, f)
			}
			shape = append(shape, n)
		}
		shapes[s[:i]] = shape
	}
	return shapes, nil
}

// recorder collects the latencies and errors of a level's requests.
type recorder struct {
	ctx    context.Context
	mu     sync.Mutex
	lat    []time.Duration
	errors int
	first  error
}

// add records a request that took d, or failed with err (not counted once the command is
// interrupted).
func (r *recorder) add(d time.Duration, err error) {
	if err != nil && r.ctx.Err() != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.lat = append(r.lat, d)
		return
	}
	r.errors++
	if r.first == nil {
		r.first = err
	}
}

// level summarises what was recorded over elapsed.
func (r *recorder) level(elapsed time.Duration) perfLevel {
	r.mu.Lock()
	defer r.mu.Unlock()
	level := perfLevel{Requests: len(r.lat) + r.errors, Errors: r.errors, Throughput: float64(len(r.lat)) / elapsed.Seconds()}
	if r.first != nil {
		level.firstErr, level.FirstError = r.first, r.first.Error()
	}
	if lat := r.lat; len(lat) > 0 {
		slices.Sort(lat)
		var sum time.Duration
		for _, l := range lat {
			sum += l
		}
		at := func(p int) float64 { return msOf(lat[min(len(lat)-1, len(lat)*p/100)]) }
		level.MeanMS = msOf(sum / time.Duration(len(lat)))
		level.P50MS, level.P90MS, level.P95MS, level.P99MS = at(50), at(90), at(95), at(99)
	}
	return level
}

// timed sends one request within timeout and records it, timed from start.
func (r *recorder) timed(start time.Time, timeout time.Duration, send perfSend) {
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	err := send(ctx)
	cancel()
	r.add(time.Since(start), err)
}

// measure runs n clients sending back to back for d (a closed loop) and collects their
// latencies.
func measure(ctx context.Context, n int, d, timeout time.Duration, send perfSend) perfLevel {
	rec := &recorder{ctx: ctx}
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				rec.timed(time.Now(), timeout, send)
			}
		})
	}
	wg.Wait()
	level := rec.level(time.Since(start))
	level.Concurrency = n
	return level
}

// maxInFlight bounds the requests measureRate leaves outstanding.
const maxInFlight = 4096

// errBehind counts a request measureRate could not send: maxInFlight were unanswered.
var errBehind = fmt.Errorf("%d requests in flight: the server falls behind the rate", maxInFlight)

// measureRate sends rate requests a second for d (an open loop: each at its time, whatever
// the answers). A request's latency counts from the time it was due, so a server (or a
// client) that falls behind shows it rather than slowing the load down.
func measureRate(ctx context.Context, rate float64, d, timeout time.Duration, send perfSend) perfLevel {
	rec := &recorder{ctx: ctx}
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	sem := make(chan struct{}, maxInFlight)
	var wg sync.WaitGroup
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= d {
			break
		}
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		select {
		case sem <- struct{}{}:
			wg.Go(func() {
				defer func() { <-sem }()
				rec.timed(due, timeout, send)
			})
		default:
			rec.add(0, errBehind)
		}
	}
	wg.Wait()
	level := rec.level(time.Since(start))
	level.Rate = rate
	return level
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// serverSide is what the server's statistics say of a level: the differences between the
// statistics after and before it, summed over the versions answered.
func serverSide(before, after []api.TritonModelStats) *perfServer {
	var s perfServer
	var queue, compute, queued, runs api.TritonDuration
	find := func(v string) *api.TritonModelStats {
		for i := range before {
			if before[i].Version == v {
				return &before[i]
			}
		}
		return &api.TritonModelStats{}
	}
	for _, a := range after {
		b := find(a.Version)
		s.Inferences += a.InferenceCount - b.InferenceCount
		s.Runs += a.ExecutionCount - b.ExecutionCount
		ai, bi := a.InferenceStats, b.InferenceStats
		queue.NS += ai.Queue.NS - bi.Queue.NS
		queued.Count += ai.Queue.Count - bi.Queue.Count
		compute.NS += ai.ComputeInput.NS + ai.ComputeInfer.NS + ai.ComputeOutput.NS - bi.ComputeInput.NS - bi.ComputeInfer.NS - bi.ComputeOutput.NS
		runs.Count += ai.ComputeInfer.Count - bi.ComputeInfer.Count
	}
	if s.Runs > 0 {
		s.MeanBatch = float64(s.Inferences) / float64(s.Runs)
	}
	if queued.Count > 0 {
		s.QueueMS = float64(queue.NS) / float64(queued.Count) / 1e6
	}
	if runs.Count > 0 {
		s.ComputeMS = float64(compute.NS) / float64(runs.Count) / 1e6
	}
	return &s
}

func perfRows(levels []perfLevel) [][]string {
	var rows [][]string
	for _, l := range levels {
		f := func(ms float64) string { return strconv.FormatFloat(ms, 'f', 3, 64) }
		queue, run, batch := "-", "-", "-"
		if s := l.Server; s != nil && s.Runs > 0 {
			queue, run, batch = f(s.QueueMS), f(s.ComputeMS), strconv.FormatFloat(s.MeanBatch, 'f', 2, 64)
		}
		load := strconv.Itoa(l.Concurrency)
		if l.Rate > 0 {
			load = strconv.FormatFloat(l.Rate, 'f', -1, 64)
		}
		rows = append(rows, []string{load, strconv.FormatFloat(l.Throughput, 'f', 1, 64),
			f(l.P50MS), f(l.P90MS), f(l.P99MS), strconv.Itoa(l.Errors), queue, run, batch})
	}
	return rows
}

// perfErrors fails the command when requests failed, naming the first failure.
func perfErrors(levels []perfLevel) error {
	failed, total := 0, 0
	var first error
	for _, l := range levels {
		failed += l.Errors
		total += l.Requests
		if first == nil {
			first = l.firstErr
		}
	}
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d requests failed; first: %w", failed, total, first)
}
