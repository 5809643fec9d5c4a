// Command servebench measures ts against the raw ONNX Runtime ceiling, a no-op HTTP server
// (the floor) and a naive per-request server, on ResNet-18 (compute-bound) and a tiny model
// (bound by per-request overhead), all on 127.0.0.1 in one run, interleaved and repeated.
// It prints a Markdown table with a PASS/MISS line per target. Run it with `make bench`.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/engine"
	"github.com/tsserve/ts/pkg/tensor"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "noop" || os.Args[1] == "naive") {
		if err := serveChild(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "servebench:", err)
			os.Exit(1)
		}
		return
	}
	o := options{}
	flag.StringVar(&o.ts, "ts", "bin/ts", "ts binary")
	flag.StringVar(&o.tsarchive, "tsarchive", "bin/tsarchive", "tsarchive binary")
	flag.StringVar(&o.resnet, "resnet", "", "ResNet-18 ONNX model (bench/make_resnet18.py)")
	flag.StringVar(&o.tiny, "tiny", "samples/iris/model.onnx", "tiny model")
	flag.StringVar(&o.digits, "digits", "samples/digits", "digits sample folder (cold start)")
	flag.DurationVar(&o.duration, "duration", 2*time.Second, "length of each tiny-model measurement (ResNet-18: 1.5×)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every configuration once, in a rotated order")
	flag.StringVar(&o.conc, "concurrency", "1,4,16,64", "client concurrencies")
	flag.StringVar(&o.only, "only", "", "run one workload only: tiny or resnet18 (and skip memory and cold start)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		os.Exit(1)
	}
}

type options struct {
	ts, tsarchive, resnet, tiny, digits string
	duration                            time.Duration
	rounds                              int
	conc                                string
	only                                string
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// process is a server started for the benchmark.
type process struct {
	cmd  *exec.Cmd
	addr string // inference (or the only) API
	mgmt string // management API (ts only)
}

func (p *process) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
	}
}

func startChild(kind string, args ...string) (*process, error) {
	self, _ := os.Executable()
	addrFile := filepath.Join(os.TempDir(), fmt.Sprintf("servebench-%s-%d", kind, time.Now().UnixNano()))
	cmd := exec.Command(self, append([]string{kind, addrFile}, args...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	for i := 0; i < 3000; i++ {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			os.Remove(addrFile)
			return &process{cmd: cmd, addr: "http://" + string(b)}, nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	return nil, fmt.Errorf("%s server did not start", kind)
}

func freePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startTS runs `ts serve` with the archives in store, each model with the given workers.
func startTS(o options, store string, models []string, extra ...string) (*process, error) {
	inf, mgmt, met := freePort(), freePort(), freePort()
	args := []string{"serve", "--model-store", store, "--models", strings.Join(models, ","), "--inference-address", inf,
		"--management-address", mgmt, "--metrics-address", met, "--no-grpc", "--log-level", "warn"}
	cmd := exec.Command(o.ts, append(args, extra...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, addr: "http://" + inf, mgmt: "http://" + mgmt}
	for i := 0; i < 6000; i++ {
		if res, err := http.Get(p.addr + "/ping"); err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if strings.Contains(string(b), `"Healthy"`) {
				return p, nil
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	p.stop()
	return nil, fmt.Errorf("ts serve did not become healthy")
}

// pack writes NAME.mar into store with a model-config.yaml setting the batch size (and the
// adaptive delay when batching).
func pack(o options, store, name, model string, batchSize, delayMS int) error {
	dir, err := os.MkdirTemp("", "servebench-pack-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	yaml := filepath.Join(dir, "model-config.yaml")
	os.WriteFile(yaml, []byte(fmt.Sprintf("batchSize: %d\nmaxBatchDelay: %d\nadaptiveBatching: %v\n", batchSize, delayMS, batchSize > 1)), 0o644)
	out, err := exec.Command(o.tsarchive, "--model-name", name, "--serialized-file", model, "--handler", "tensor",
		"--config-file", yaml, "--export-path", store, "--force").CombinedOutput()
	if err != nil {
		return fmt.Errorf("tsarchive: %v\n%s", err, out)
	}
	return nil
}

// runFor runs the session on x from g goroutines for d seconds; it returns runs per second.
func runFor(s *engine.Session, x *tensor.Tensor, g int, d float64) float64 {
	var mu sync.Mutex
	runs := 0
	deadline := time.Now().Add(time.Duration(d * float64(time.Second)))
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for time.Now().Before(deadline) {
				if _, err := s.Run(context.Background(), []*tensor.Tensor{x}); err == nil {
					n++
				}
			}
			mu.Lock()
			runs += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return float64(runs) / time.Since(start).Seconds()
}

type workload struct {
	name      string
	model     string
	itemShape []int64
	size      int64
	duration  time.Duration
}

type row struct {
	config string
	conc   int
	s      series
}

func run(o options) error {
	if o.resnet == "" {
		return fmt.Errorf("-resnet is required (make bench generates it with bench/make_resnet18.py)")
	}
	var concs []int
	for _, c := range strings.Split(o.conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil {
			return fmt.Errorf("-concurrency: %v", err)
		}
		concs = append(concs, n)
	}
	if _, err := engine.Init(config.ORTCandidates(os.Getenv(config.EnvORTLib))); err != nil {
		return err
	}
	cores := runtime.NumCPU()
	store, err := os.MkdirTemp("", "servebench-store-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(store)
	var works []workload
	for _, w := range []struct{ name, model string }{{"tiny", o.tiny}, {"resnet18", o.resnet}} {
		s, err := engine.Load(w.model, engine.Options{})
		if err != nil {
			return err
		}
		st, _ := os.Stat(w.model)
		d := o.duration
		if w.name == "resnet18" {
			d = o.duration * 3 / 2
		}
		works = append(works, workload{w.name, w.model, s.Inputs()[0].Shape[1:], st.Size(), d})
		s.Close()
		if err := pack(o, store, w.name+"-batch", w.model, 32, 5); err != nil {
			return err
		}
		if err := pack(o, store, w.name+"-single", w.model, 1, 0); err != nil {
			return err
		}
	}
	fmt.Printf("Machine: %d cores, %s/%s, %s, ONNX Runtime %s (CPU). Client and servers share the machine, on 127.0.0.1.\n",
		cores, runtime.GOOS, runtime.GOARCH, runtime.Version(), engine.Loaded().Version)
	fmt.Printf("Each cell: median of %d rounds (configurations interleaved, order rotated each round); tiny %v, ResNet-18 %v per measurement; one item per request, raw float32 body.\n\n",
		o.rounds, o.duration, o.duration*3/2)

	var targets []string
	verdict := func(ok bool, format string, args ...any) {
		v := "MISS"
		if ok {
			v = "PASS"
		}
		targets = append(targets, fmt.Sprintf("- %s: %s", v, fmt.Sprintf(format, args...)))
	}
	for _, w := range works {
		if o.only != "" && o.only != w.name {
			continue
		}
		logf("== %s: raw ceiling sweep", w.name)
		swept, sweptRates, err := sweepCeiling(w.model, w.itemShape, cores, 1)
		if err != nil {
			return err
		}
		leaders := swept[:min(3, len(swept))] // measured again in each round
		for i, c := range leaders {
			logf("sweep: #%d %.0f items/s (%s)", i+1, sweptRates[i], c)
		}
		raw := make([]series, len(leaders))
		noop, err := startChild("noop")
		if err != nil {
			return err
		}
		naive, err := startChild("naive", w.model)
		if err != nil {
			return err
		}
		ts, err := startTS(o, store, []string{w.name + "-batch=" + w.name + "-batch.mar", w.name + "-single=" + w.name + "-single.mar"})
		if err != nil {
			return err
		}
		body := rawRow(w.itemShape)
		q := shapeQuery(w.itemShape)
		batching := ts.addr + "/predictions/" + w.name + "-batch?" + q
		configs := []struct{ name, url string }{
			{"no-op HTTP server (floor)", noop.addr + "/"},
			{"naive server (net/http + 1 run/request)", naive.addr + "/"},
			{"ts, batching on (batch 32, adaptive delay ≤ 5 ms)", batching},
			{"ts, batching off", ts.addr + "/predictions/" + w.name + "-single?" + q},
		}
		for _, c := range configs { // warm up
			load(c.url, body, "application/octet-stream", 2, 200*time.Millisecond)
		}
		for range 2 { // let ts check its first batches (of distinct requests) now
			distinctBurst(batching, body, "application/octet-stream", 16)
		}
		var rows []row
		idx := map[string]int{}
		for r := 0; r < o.rounds; r++ {
			for i, c := range leaders {
				rate, err := measureRaw(w.model, w.itemShape, c, w.duration)
				if err != nil {
					return err
				}
				raw[i] = append(raw[i], result{rps: rate})
				logf("round %d %-8s raw (%s) %8.0f items/s", r+1, w.name, c, rate)
			}
			for _, conc := range concs {
				order := slices.Clone(configs)
				for i := 0; i < (r+conc)%len(order); i++ {
					order = append(order[1:], order[0])
				}
				for _, c := range order {
					key := fmt.Sprintf("%s|%d", c.name, conc)
					res := load(c.url, body, "application/octet-stream", conc, w.duration)
					i, ok := idx[key]
					if !ok {
						i = len(rows)
						idx[key] = i
						rows = append(rows, row{config: c.name, conc: conc})
					}
					rows[i].s = append(rows[i].s, res)
					logf("round %d %-8s c=%-3d %-42s %8.0f req/s p50 %s ms p99 %s ms errors %d", r+1, w.name, conc, c.name, res.rps, ms(res.p50), ms(res.p99), res.errors)
				}
			}
		}
		noop.stop()
		naive.stop()
		ts.stop()

		get := func(name string, conc int) result { return rows[idx[fmt.Sprintf("%s|%d", name, conc)]].s.median() }
		best := 0 // the ceiling: the leader with the highest median
		for i := range raw {
			if raw[i].median().rps > raw[best].median().rps {
				best = i
			}
		}
		ceil := raw[best].median().rps
		fmt.Printf("### %s (%s, raw ceiling %.0f items/s (%s) at %s; the sweep's best single second: %.0f)\n\n",
			w.name, humanSize(w.size), ceil, raw[best].spread(), leaders[best], sweptRates[0])
		fmt.Println("| configuration | concurrency | items/s (range) | p50 ms | p99 ms | ÷ ceiling | ÷ floor | ÷ naive | errors |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|")
		slices.SortStableFunc(rows, func(a, b row) int { return a.conc - b.conc })
		for _, rw := range rows {
			m := rw.s.median()
			fmt.Printf("| %s | %d | %.0f (%s) | %s | %s | %.2f | %.2f | %.2f | %d |\n", rw.config, rw.conc, m.rps, rw.s.spread(), ms(m.p50), ms(m.p99),
				m.rps/ceil, m.rps/get(configs[0].name, rw.conc).rps, m.rps/get(configs[1].name, rw.conc).rps, m.errors)
		}
		fmt.Println()
		tsb := configs[2].name
		if w.name == "resnet18" && slices.Contains(concs, 16) {
			r := get(tsb, 16)
			verdict(r.rps >= 0.95*ceil && r.rps >= get(configs[1].name, 16).rps,
				"ResNet-18 through ts with batching at concurrency 16: %.0f items/s = %.0f %% of the raw ceiling (≥ 95 %%) and %.2f× the naive server (≥ 1)",
				r.rps, 100*r.rps/ceil, r.rps/get(configs[1].name, 16).rps)
		}
		if w.name == "tiny" {
			if slices.Contains(concs, 1) {
				a, b := get(tsb, 1).p50, get(configs[0].name, 1).p50
				verdict(a <= b+50*time.Microsecond, "tiny model at concurrency 1: ts p50 %s ms ≤ no-op p50 %s ms + 0.050 ms (ts adds %.0f µs)", ms(a), ms(b), float64(a-b)/1e3)
			}
			for _, c := range []int{16, 64} {
				if slices.Contains(concs, c) {
					a, b := get(tsb, c).rps, get(configs[0].name, c).rps
					verdict(a >= 0.9*b, "tiny model at concurrency %d: ts %.0f req/s = %.0f %% of the no-op server (≥ 90 %%)", c, a, 100*a/b)
				}
			}
		}
	}
	if o.only == "" {
		if err := memoryAndColdStart(o, store, works[1], verdict); err != nil {
			return err
		}
	}
	fmt.Println("Targets:")
	fmt.Println()
	for _, t := range targets {
		fmt.Println(t)
	}
	return nil
}

func humanSize(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// rss reads a process's resident memory from /proc.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// secondWorker serves ResNet-18 with one worker, scales it to two and serves again; it
// returns the RSS after serving with one, just after scaling, and after serving with two.
func secondWorker(o options, store string, resnet workload, extra ...string) (one, idle, busy int64, err error) {
	ts, err := startTS(o, store, []string{"resnet18-single=resnet18-single.mar"}, append([]string{"--workers", "1"}, extra...)...)
	if err != nil {
		return 0, 0, 0, err
	}
	defer ts.stop()
	url := ts.addr + "/predictions/resnet18-single?" + shapeQuery(resnet.itemShape)
	body := rawRow(resnet.itemShape)
	load(url, body, "application/octet-stream", 2, time.Second)
	one = rss(ts.cmd.Process.Pid)
	req, _ := http.NewRequest("PUT", ts.mgmt+"/models/resnet18-single?min_worker=2&synchronous=true", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		return 0, 0, 0, fmt.Errorf("scaling to 2 workers: %s", res.Status)
	}
	idle = rss(ts.cmd.Process.Pid)
	load(url, body, "application/octet-stream", 2, time.Second)
	busy = rss(ts.cmd.Process.Pid)
	return one, idle, busy, nil
}

func memoryAndColdStart(o options, store string, resnet workload, verdict func(bool, string, ...any)) error {
	logf("== memory: one worker vs two on ResNet-18")
	// With the thread plan fixed, scaling adds a worker and nothing else: the target. With the
	// default plan, going from one worker to two on two cores also reloads the model with one
	// thread instead of two (docs/batching.md), which the second table row shows.
	one, idle, busy, err := secondWorker(o, store, resnet, "--intra-op-threads", "1")
	if err != nil {
		return err
	}
	pOne, _, pBusy, err := secondWorker(o, store, resnet)
	if err != nil {
		return err
	}
	pct := func(n int64) float64 { return 100 * float64(n) / float64(resnet.size) }
	fmt.Printf("### Memory (ResNet-18, %s)\n\n| | RSS MB | added by the second worker, %% of the model |\n|---|---|---|\n", humanSize(resnet.size))
	fmt.Printf("| 1 worker, after serving at concurrency 2 | %.1f | |\n", float64(one)/1e6)
	fmt.Printf("| 2 workers, just scaled | %.1f | %.1f %% |\n", float64(idle)/1e6, pct(idle-one))
	fmt.Printf("| 2 workers, after serving at concurrency 2 | %.1f | %.1f %% |\n", float64(busy)/1e6, pct(busy-one))
	fmt.Printf("| the same with the default thread plan (scaling reloads the model with 1 thread instead of 2) | %.1f | %.1f %% |\n\n", float64(pBusy)/1e6, pct(pBusy-pOne))
	fmt.Printf("The first three rows fix the thread plan (`--intra-op-threads 1`) so that scaling adds a worker and nothing else.\n\n")
	verdict(busy-one < resnet.size/20, "memory: a second worker on ResNet-18 adds %.1f %% of the model's size to RSS after serving (< 5 %%; TorchServe: a second process, ≥ 100 %%)",
		pct(busy-one))

	logf("== cold start: digits")
	dstore, err := os.MkdirTemp("", "servebench-digits-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dstore)
	if out, err := exec.Command(o.tsarchive, "--model-name", "digits", "--serialized-file", filepath.Join(o.digits, "model.onnx"),
		"--handler", "image_classifier", "--extra-files", filepath.Join(o.digits, "index_to_name.json"), "--export-path", dstore).CombinedOutput(); err != nil {
		return fmt.Errorf("tsarchive: %v\n%s", err, out)
	}
	img, err := os.ReadFile(filepath.Join(o.digits, "3.png"))
	if err != nil {
		return err
	}
	var times []time.Duration
	client := &http.Client{Timeout: 5 * time.Second}
	for i := 0; i < 7; i++ {
		inf := freePort()
		start := time.Now()
		cmd := exec.Command(o.ts, "serve", "--model-store", dstore, "--models", "digits=digits.mar", "--inference-address", inf,
			"--management-address", freePort(), "--metrics-address", freePort(), "--grpc-inference-port", "0",
			"--grpc-management-port", "0", "--log-level", "warn")
		if err := cmd.Start(); err != nil {
			return err
		}
		var first time.Duration
		for time.Since(start) < 10*time.Second {
			res, err := client.Post("http://"+inf+"/predictions/digits", "image/png", bytes.NewReader(img))
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == 200 {
					first = time.Since(start)
					break
				}
			}
			time.Sleep(500 * time.Microsecond)
		}
		(&process{cmd: cmd}).stop()
		if first == 0 {
			return fmt.Errorf("cold start: no answer within 10 s")
		}
		times = append(times, first)
	}
	slices.Sort(times)
	med := times[len(times)/2]
	fmt.Printf("### Cold start (digits sample)\n\nProcess start to the first classified image, 7 starts: median %s ms (min %s, max %s).\n\n", ms(med), ms(times[0]), ms(times[len(times)-1]))
	verdict(med < 300*time.Millisecond, "cold start: process start to first answer for the digits sample %s ms (< 300 ms)", ms(med))
	return nil
}
