package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tsserve/ts/pkg/api"
	"github.com/tsserve/ts/pkg/cli/term"
	"github.com/tsserve/ts/pkg/client"
	"github.com/tsserve/ts/pkg/tensor"
)

// commandContext ends on Ctrl-C or SIGTERM.
func commandContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// connect is the start of every client command: the server's client and a context that
// SIGINT and SIGTERM cancel (stop releases it).
func (g *Globals) connect() (context.Context, *client.Client, context.CancelFunc, error) {
	cl, err := g.Client()
	if err != nil {
		return nil, nil, nil, err
	}
	ctx, stop := commandContext()
	return ctx, cl, stop, nil
}

// splitRef reads NAME[/VERSION].
func splitRef(ref string) (string, string) {
	name, version, _ := strings.Cut(ref, "/")
	return name, version
}

// done prints a server's status message (or it as JSON/YAML).
func done(g *Globals, status string) error {
	io := g.IO()
	if ok, err := io.Data(api.Status{Status: status}); ok {
		return err
	}
	io.Println(status)
	return nil
}

// UnregisterCmd is `ts unregister`.
type UnregisterCmd struct {
	Model string `arg:"" placeholder:"NAME[/VERSION]" predictor:"model" help:"Model, or model/version."`
}

func (c *UnregisterCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	name, version := splitRef(c.Model)
	status, err := cl.Unregister(ctx, name, version)
	if err != nil {
		return fmt.Errorf("unregister %s: %w", c.Model, err)
	}
	return done(g, status)
}

// ReloadCmd is `ts reload`: a model loaded again from the server's model store with no
// request lost, after its archive there changed (or loaded for the first time).
type ReloadCmd struct {
	Model string `arg:"" placeholder:"NAME" predictor:"model" help:"Model: NAME.mar (or .tar.gz, .tgz, .tar.zst, .onnx, or a folder NAME) in the server's model store."`
}

func (c *ReloadCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	if err := cl.Load(ctx, c.Model); err != nil {
		return fmt.Errorf("reload %s: %w", c.Model, err)
	}
	return done(g, fmt.Sprintf("Model %q loaded from the model store", c.Model))
}

// ScaleCmd is `ts scale`.
type ScaleCmd struct {
	Model string `arg:"" placeholder:"NAME[/VERSION]" predictor:"model" help:"Model, or model/version."`
	Min   int    `name:"min" aliases:"min-worker" required:"" placeholder:"N" help:"Workers to run (TorchServe's min_worker)."`
	Max   int    `name:"max" aliases:"max-worker" placeholder:"M" help:"Most workers (default: --min; TorchServe's max_worker)."`
	Sync  bool   `name:"sync" default:"true" negatable:"" help:"Wait until the workers run."`
}

func (c *ScaleCmd) Run(g *Globals) error {
	if c.Min < 0 || (c.Max != 0 && c.Max < c.Min) {
		return term.Usagef("--min must be ≥ 0 and --max ≥ --min")
	}
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	name, version := splitRef(c.Model)
	status, err := cl.Scale(ctx, name, version, c.Min, c.Max, c.Sync)
	if err != nil {
		return fmt.Errorf("scale %s: %w", c.Model, err)
	}
	return done(g, status)
}

// SetDefaultCmd is `ts set-default`.
type SetDefaultCmd struct {
	Model   string `arg:"" placeholder:"NAME" predictor:"model" help:"Model."`
	Version string `arg:"" placeholder:"VERSION" help:"Version to make the default."`
}

func (c *SetDefaultCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	status, err := cl.SetDefault(ctx, c.Model, c.Version)
	if err != nil {
		return fmt.Errorf("set-default %s %s: %w", c.Model, c.Version, err)
	}
	return done(g, status)
}

// SplitCmd is `ts split`.
type SplitCmd struct {
	Model   string   `arg:"" placeholder:"NAME" predictor:"model" help:"Model."`
	Weights []string `arg:"" optional:"" placeholder:"VERSION=WEIGHT" help:"Weights, e.g. 1.0=90 2.0=10; none shows the split."`
	Clear   bool     `name:"clear" help:"Remove the split: requests go to the default version."`
}

func (c *SplitCmd) Run(g *Globals) error {
	weights := map[string]int{}
	for _, w := range c.Weights {
		v, n, ok := strings.Cut(w, "=")
		weight, err := strconv.Atoi(n)
		if !ok || err != nil || weight < 0 {
			return term.Usagef("weight %q: want VERSION=WEIGHT, e.g. 1.0=90", w)
		}
		weights[v] = weight
	}
	if c.Clear && len(weights) > 0 {
		return term.Usagef("--clear takes no weights")
	}
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	var s *api.Split
	switch {
	case c.Clear:
		s, err = cl.SetSplit(ctx, c.Model, nil)
	case len(weights) > 0:
		s, err = cl.SetSplit(ctx, c.Model, weights)
	default:
		s, err = cl.Split(ctx, c.Model)
	}
	if err != nil {
		return fmt.Errorf("split %s: %w", c.Model, err)
	}
	io := g.IO()
	if ok, err := io.Data(s); ok {
		return err
	}
	if len(s.Weights) == 0 {
		io.Println(fmt.Sprintf("%s has no traffic split: requests go to its default version", c.Model))
		return nil
	}
	total := 0
	for _, w := range s.Weights {
		total += w
	}
	var rows [][]string
	for _, v := range sortedKeys(s.Weights) {
		rows = append(rows, []string{v, strconv.Itoa(s.Weights[v]), fmt.Sprintf("%.1f%%", 100*float64(s.Weights[v])/float64(total))})
	}
	io.Table([]string{"VERSION", "WEIGHT", "SHARE"}, rows)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// LogLevelCmd is `ts log-level [LEVEL]`: the running server's log level, shown or changed
// (Triton's logging extension, on the inference API).
type LogLevelCmd struct {
	Level string `arg:"" optional:"" help:"The new level: debug, info, warn, error or off; none to show it."`
}

func (c *LogLevelCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	if c.Level != "" && !slices.Contains(api.LogLevels, c.Level) {
		return term.WithCode(term.ExitUsage, fmt.Errorf("log level %q: want one of %s", c.Level, strings.Join(api.LogLevels, ", ")))
	}
	var s *api.LogSettings
	if c.Level == "" {
		s, err = cl.LogSettings(ctx)
	} else {
		s, err = cl.SetLogSettings(ctx, api.LogSettingsFor(c.Level))
	}
	if err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	io := g.IO()
	if ok, err := io.Data(s); !ok {
		io.Println(s.Level())
	} else if err != nil {
		return err
	}
	return nil
}

// PingCmd is `ts ping`: exit 0 when the server is Healthy. With --wait it asks again until
// the server is, for scripts that start ts serve and go on once its models serve.
type PingCmd struct {
	Wait time.Duration `placeholder:"DURATION" help:"Ask again until the server is Healthy (it is starting, or its models are loading), for up to this long, e.g. 30s."`
}

// pingInterval is how often ping --wait asks.
const pingInterval = 100 * time.Millisecond

func (c *PingCmd) Run(g *Globals) error {
	if c.Wait < 0 {
		return term.Usagef("--wait %s: want a duration of 0 or more", c.Wait)
	}
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	addr := client.Address(cl.Inference)
	bar := g.IO().NewProgress("waiting for "+addr, c.Wait.Milliseconds()) // on a terminal: the time the wait has taken
	status, err := pingUntilHealthy(ctx, cl, c.Wait, func(waited time.Duration) { bar.Set(waited.Milliseconds()) })
	bar.Done()
	if err != nil {
		if c.Wait > 0 {
			return fmt.Errorf("ping %s for %s: %w", addr, c.Wait, err)
		}
		return fmt.Errorf("ping %s: %w", addr, err)
	}
	io := g.IO()
	if ok, err := io.Data(api.Status{Status: status}); !ok {
		st := term.Good
		if status != "Healthy" {
			st = term.Bad
		}
		io.Println(io.Style(st, status))
	} else if err != nil {
		return err
	}
	switch {
	case status == "Healthy":
		return nil
	case c.Wait > 0:
		return term.WithCode(term.ExitError, fmt.Errorf("%s is still %s after %s", addr, status, c.Wait))
	}
	return term.WithCode(term.ExitError, fmt.Errorf("%s is %s", addr, status))
}

// pingUntilHealthy pings the server until it is Healthy or wait has passed, and returns its
// last answer. It asks again while the server cannot be reached, answers Unhealthy or Partial
// Healthy, or fails with a 5xx (a proxy before a server still starting); a refused token, an
// untrusted certificate or another 4xx ends it at once: waiting would not change them.
// waited hears how long it has waited before each new try.
func pingUntilHealthy(ctx context.Context, cl *client.Client, wait time.Duration, waited func(time.Duration)) (string, error) {
	start := time.Now()
	deadline := start.Add(wait)
	for {
		attempt, cancel := ctx, context.CancelFunc(func() {})
		if wait > 0 { // a server that takes the connection but does not answer holds it up no longer than the wait
			attempt, cancel = context.WithDeadline(ctx, time.Now().Add(max(time.Until(deadline), pingInterval)))
		}
		status, err := cl.Ping(attempt)
		cancel()
		left := time.Until(deadline)
		if (err == nil && status == "Healthy") || left <= 0 || ctx.Err() != nil || !pingAgain(err) {
			return status, err
		}
		select {
		case <-ctx.Done():
			return status, err
		case <-time.After(min(pingInterval, left)):
		}
		waited(time.Since(start))
	}
}

// pingAgain reports whether a ping that failed with err (nil: the server answered, not
// Healthy) may succeed later.
func pingAgain(err error) bool {
	var unreachable *client.UnreachableError
	var cert *tls.CertificateVerificationError
	var answer *client.Error
	switch {
	case err == nil:
		return true
	case errors.As(err, &cert):
		return false
	case errors.As(err, &unreachable):
		return true
	case errors.As(err, &answer):
		return answer.Code >= 500
	}
	return false
}

// ListCmd is `ts list`.
type ListCmd struct{}

// listed is one model in `ts list -o json`.
type listed struct {
	Name           string   `json:"name"`
	DefaultVersion string   `json:"defaultVersion"`
	Versions       []string `json:"versions"`
	Workers        int      `json:"workers"`
	State          string   `json:"state"`
	URL            string   `json:"url"`
}

func (c *ListCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	refs, err := cl.AllModels(ctx)
	if err != nil {
		return fmt.Errorf("list models: %w", err)
	}
	out := []listed{}
	for _, r := range refs {
		ds, err := cl.Describe(ctx, r.ModelName, "all")
		if err != nil {
			return fmt.Errorf("describe %s: %w", r.ModelName, err)
		}
		l := listed{Name: r.ModelName, URL: r.ModelURL}
		for _, d := range ds {
			l.Versions = append(l.Versions, d.ModelVersion)
			l.Workers += len(d.Workers)
			if d.Default {
				l.DefaultVersion, l.State = d.ModelVersion, d.State
			}
		}
		out = append(out, l)
	}
	io := g.IO()
	if ok, err := io.Data(out); ok {
		return err
	}
	if len(out) == 0 && io.OutTTY {
		io.Println("no models registered")
		return nil
	}
	var rows [][]string
	for _, l := range out {
		rows = append(rows, []string{l.Name, l.DefaultVersion, strings.Join(l.Versions, ","), strconv.Itoa(l.Workers), l.State})
	}
	io.Table([]string{"NAME", "DEFAULT", "VERSIONS", "WORKERS", "STATE"}, rows)
	return nil
}

// DescribeCmd is `ts describe`.
type DescribeCmd struct {
	Model string `arg:"" placeholder:"NAME[/VERSION]" predictor:"model" help:"Model, model/version, or model/all."`
}

func (c *DescribeCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	name, version := splitRef(c.Model)
	ds, err := cl.Describe(ctx, name, version)
	if err != nil {
		return fmt.Errorf("describe %s: %w", c.Model, err)
	}
	io := g.IO()
	if ok, err := io.Data(ds); ok {
		return err
	}
	for i, d := range ds {
		if i > 0 {
			io.Println("")
		}
		describeText(io, d)
	}
	return nil
}

// processesText lists a custom handler's processes: each one's id and resident memory, and
// whether it is answering.
func processesText(ps []api.Process) string {
	var parts []string
	for _, p := range ps {
		part := fmt.Sprintf("pid %d (%.1f MB", p.PID, float64(p.MemoryUsage)/1e6)
		if p.Busy {
			part += ", busy"
		}
		parts = append(parts, part+")")
	}
	return strings.Join(parts, ", ")
}

func describeText(io *term.IO, d api.Description) {
	ready, failed := 0, 0
	for _, w := range d.Workers {
		switch w.Status {
		case "READY":
			ready++
		case "ERROR":
			failed++
		}
	}
	workers := fmt.Sprintf("%d ready of %d (min %d, max %d)", ready, len(d.Workers), d.MinWorkers, d.MaxWorkers)
	if failed > 0 {
		workers += fmt.Sprintf("; %d failed for over %ds (maxRetryTimeoutInSec) and not replaced: scale to start them again", failed, d.MaxRetryTimeoutInSec)
	}
	if len(d.Ensemble) > 0 {
		workers = "none of its own: its steps' models run its requests"
	}
	title := d.ModelName + " " + d.ModelVersion
	if d.Default {
		title += " (default)"
	}
	io.Println(io.Style(term.Bold, title))
	archive := fmt.Sprintf("%s (sha256 %.12s)", d.ModelURL, d.ArchiveSHA256)
	if d.SignedBy != "" {
		archive = fmt.Sprintf("%s (sha256 %.12s, signed by trusted key %s)", d.ModelURL, d.ArchiveSHA256, d.SignedBy)
	}
	pairs := [][2]string{
		{"state", d.State},
		{"handler", d.Handler},
		{"archive", archive},
		{"workers", workers},
	}
	if len(d.Processes) > 0 {
		pairs = append(pairs, [2]string{"processes", processesText(d.Processes)})
	}
	if len(d.Ensemble) > 0 {
		pairs = append(pairs, [2]string{"ensemble", "steps run " + strings.Join(d.Ensemble, ", ")})
	}
	if d.Sequences != nil {
		pairs = append(pairs, [2]string{"sequences", fmt.Sprintf("%d held (idle ones end after %d ms)", *d.Sequences, d.SequenceMaxIdleMSec)})
	}
	pairs = append(pairs, [][2]string{
		{"batching", batchingText(d)},
		{"queue", queueText(d)},
		{"timeouts", fmt.Sprintf("response %ds, startup %ds", d.ResponseTimeout, d.StartupTimeout)},
	}...)
	if d.Error != "" {
		pairs = append(pairs, [2]string{"error", io.Style(term.Bad, d.Error)})
	}
	if d.ExecutionProvider != "" {
		threads := "threads"
		if d.IntraOpThreads == 1 {
			threads = "thread"
		}
		provider := d.ExecutionProvider
		if devices := strings.Split(provider, ", "); len(devices) > 1 { // a session on each GPU
			provider = strings.Join(devices, " and ") + " in turn"
		}
		runs := fmt.Sprintf("%s, %d ONNX Runtime %s, loaded in %d ms", provider, d.IntraOpThreads, threads, d.LoadTimeMS)
		if d.GraphOptimization != "" && d.GraphOptimization != "all" {
			runs += ", graph optimisation " + d.GraphOptimization
		}
		if d.ExecutionMode == "parallel" {
			inter := "as many inter-op threads as cores"
			if d.InterOpThreads > 0 {
				inter = fmt.Sprintf("%d inter-op threads", d.InterOpThreads)
			}
			runs += ", parallel execution on " + inter
		}
		if d.MemArena != nil && !*d.MemArena {
			runs += ", no memory arena"
		}
		if d.MemPattern != nil && !*d.MemPattern {
			runs += ", no memory pattern"
		}
		if d.MemArenaShrinkage != "" {
			runs += ", arena shrunk after each run (" + d.MemArenaShrinkage + ")"
		}
		pairs = append(pairs, [2]string{"runs on", runs})
	}
	if w := d.Warmup; w != nil {
		pairs = append(pairs, [2]string{"warm-up", warmupText(w)})
	}
	if d.UnloadAfterIdle > 0 {
		text := fmt.Sprintf("after %ds without a request", d.UnloadAfterIdle)
		if d.State == "IDLE" {
			text += "; unloaded now: the next request loads it"
		}
		pairs = append(pairs, [2]string{"unload", text})
	}
	if c := d.ResponseCache; c != nil {
		text := fmt.Sprintf("on: %d hits, %d misses", c.Hits, c.Misses)
		if !c.Active {
			text = io.Style(term.Bad, "asked for, but the server has no response cache (response_cache_size 0)")
		}
		pairs = append(pairs, [2]string{"cache", text})
	}
	for _, line := range setByText(d.SettingSources) {
		pairs = append(pairs, [2]string{"set by", line})
	}
	if d.TrafficWeight != nil {
		pairs = append(pairs, [2]string{"traffic", fmt.Sprintf("weight %d in the split", *d.TrafficWeight)})
	}
	for _, in := range d.Inputs {
		pairs = append(pairs, [2]string{"input", signature(in)})
	}
	for _, out := range d.Outputs {
		pairs = append(pairs, [2]string{"output", signature(out)})
	}
	io.KeyValues(pairs)
}

// warmupText says what the warm-up runs: "2 runs at batch 1 and 8, zero data, 14 ms at the
// last load".
func warmupText(w *api.Warmup) string {
	runs := "runs"
	if w.Runs == 1 {
		runs = "run"
	}
	text := fmt.Sprintf("%d %s", w.Runs, runs)
	if len(w.BatchSizes) > 0 {
		sizes := make([]string, len(w.BatchSizes))
		for i, b := range w.BatchSizes {
			sizes[i] = strconv.Itoa(b)
		}
		text += " at batch " + strings.Join(sizes, ", ")
		if len(w.BatchSizes) > 1 {
			text += " each"
		}
	}
	text += ", " + w.Data + " data"
	for _, name := range slices.Sorted(maps.Keys(w.Files)) {
		text += fmt.Sprintf(", %s from %s", name, w.Files[name])
	}
	return fmt.Sprintf("%s, %d ms at the last load", text, w.TimeMS)
}

// setByText groups the settings that are not at their defaults by where they came from:
// "model-config.yaml: batchSize, maxBatchDelay", one line per source.
func setByText(sources map[string]string) []string {
	bySource := map[string][]string{}
	for setting, source := range sources {
		if source != "default" {
			bySource[source] = append(bySource[source], setting)
		}
	}
	var lines []string
	for _, source := range slices.Sorted(maps.Keys(bySource)) {
		settings := bySource[source]
		slices.Sort(settings)
		lines = append(lines, source+": "+strings.Join(settings, ", "))
	}
	return lines
}

func queueText(d api.Description) string {
	s := fmt.Sprintf("%d waiting, room for %d; %d running", d.JobQueueStatus.PendingRequests, d.JobQueueStatus.RemainingCapacity, d.Batching.Stats.Running)
	if d.Batching.MaxQueueTime > 0 {
		s += fmt.Sprintf("; waits at most %d ms", d.Batching.MaxQueueTime)
		if d.Batching.MaxQueueTimeAction == "delay" {
			s += ", then goes behind the others"
		}
		if d.Batching.AllowQueueTimeOverride {
			s += " (a request may ask for less)"
		}
	}
	if len(d.Batching.PriorityQueuePolicies) > 0 {
		var priorities []string
		for _, p := range slices.Sorted(maps.Keys(d.Batching.PriorityQueuePolicies)) {
			priorities = append(priorities, strconv.Itoa(p))
		}
		if len(priorities) == 1 {
			s += "; priority " + priorities[0] + " has its own policy"
		} else {
			s += "; priorities " + strings.Join(priorities, ", ") + " have their own policy"
		}
	}
	if d.UseJobTicket {
		s += "; only when a worker is free (job ticket)"
	}
	return s
}

func batchingText(d api.Description) string {
	if !d.Batching.Batchable {
		if d.Batching.Unbatchable == "" { // a server that does not say why
			return "off (the model has no dynamic batch dimension)"
		}
		return "off: " + d.Batching.Unbatchable
	}
	s := fmt.Sprintf("up to %d, delay %d ms", d.BatchSize, d.MaxBatchDelay)
	if st := d.Batching.Stats; st.Limit > 0 {
		s = fmt.Sprintf("up to %d (limited from %d: %s), delay %d ms", st.Limit, d.BatchSize, st.LimitReason, d.MaxBatchDelay)
	}
	if d.Batching.Adaptive {
		s += " (adaptive)"
	}
	if len(d.Batching.PreferredBatchSizes) > 0 {
		s += fmt.Sprintf(", preferred %v", d.Batching.PreferredBatchSizes)
	}
	if st := d.Batching.Stats; st.Batches > 0 {
		s += fmt.Sprintf("; %d batches, %.1f items and %.2f ms each on average", st.Batches, st.MeanBatchItems, st.MeanRunMS)
	}
	switch st := d.Batching.Stats; {
	case st.SendsAlone:
		s += fmt.Sprintf("; items run only %.2f× faster in batches, so requests go alone", st.BatchSpeedup)
	case st.BatchSpeedup > 0:
		s += fmt.Sprintf("; items run %.2f× faster in batches", st.BatchSpeedup)
	}
	return s
}

func signature(i tensor.Info) string {
	return fmt.Sprintf("%s %s%s", i.Name, i.DType, i.NamedShape())
}

// MetricsCmd is `ts metrics`: the Prometheus text, optionally filtered by metric name.
type MetricsCmd struct {
	Filter string `arg:"" optional:"" placeholder:"PREFIX" help:"Only metrics whose name starts with PREFIX (e.g. ts_inference)."`
}

func (c *MetricsCmd) Run(g *Globals) error {
	ctx, cl, stop, err := g.connect()
	if err != nil {
		return err
	}
	defer stop()
	b, err := cl.RawMetrics(ctx)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	io := g.IO()
	if io.Format != "text" {
		families, err := parseMetrics(b, c.Filter)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		_, err = io.Data(families)
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if c.Filter != "" {
			name := strings.TrimPrefix(strings.TrimPrefix(line, "# HELP "), "# TYPE ")
			if !strings.HasPrefix(name, c.Filter) {
				continue
			}
		}
		if line != "" {
			fmt.Fprintln(io.Out, line)
		}
	}
	return nil
}

// metricFamily is one metric in `ts metrics -o json`.
type metricFamily struct {
	Name    string         `json:"name"`
	Help    string         `json:"help,omitempty"`
	Type    string         `json:"type"`
	Samples []metricSample `json:"samples"`
}

// metricSample is one labelled series: a value, or a histogram's or summary's count, sum
// and buckets (upper bound → cumulative count) or quantiles.
type metricSample struct {
	Labels    map[string]string  `json:"labels,omitempty"`
	Value     *float64           `json:"value,omitempty"`
	Count     *uint64            `json:"count,omitempty"`
	Sum       *float64           `json:"sum,omitempty"`
	Buckets   map[string]uint64  `json:"buckets,omitempty"`
	Quantiles map[string]float64 `json:"quantiles,omitempty"`
}

// parseMetrics reads the Prometheus text format with prometheus/common's parser, keeping
// the families whose name starts with prefix, sorted by name.
func parseMetrics(text []byte, prefix string) ([]metricFamily, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	out := []metricFamily{}
	for name, f := range fams {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		mf := metricFamily{Name: name, Help: f.GetHelp(), Type: strings.ToLower(f.GetType().String()), Samples: []metricSample{}}
		for _, m := range f.GetMetric() {
			var s metricSample
			if len(m.GetLabel()) > 0 {
				s.Labels = map[string]string{}
				for _, l := range m.GetLabel() {
					s.Labels[l.GetName()] = l.GetValue()
				}
			}
			switch {
			case m.Counter != nil:
				s.Value = ptr(m.GetCounter().GetValue())
			case m.Gauge != nil:
				s.Value = ptr(m.GetGauge().GetValue())
			case m.Untyped != nil:
				s.Value = ptr(m.GetUntyped().GetValue())
			case m.Histogram != nil:
				h := m.GetHistogram()
				s.Count, s.Sum, s.Buckets = ptr(h.GetSampleCount()), ptr(h.GetSampleSum()), map[string]uint64{}
				for _, b := range h.GetBucket() {
					s.Buckets[strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)] = b.GetCumulativeCount()
				}
			case m.Summary != nil:
				sm := m.GetSummary()
				s.Count, s.Sum, s.Quantiles = ptr(sm.GetSampleCount()), ptr(sm.GetSampleSum()), map[string]float64{}
				for _, q := range sm.GetQuantile() {
					s.Quantiles[strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64)] = q.GetValue()
				}
			}
			mf.Samples = append(mf.Samples, s)
		}
		out = append(out, mf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func ptr[T any](v T) *T { return &v }
