package server

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tsserve/ts/pkg/internal/testenv"
)

var soakRounds = flag.Int("soak.rounds", 1000, "register/infer/unregister rounds of BenchmarkRegisterSoak")

// soakSample is the process's resources after a round of BenchmarkRegisterSoak.
type soakSample struct {
	round                  int
	rssKB, heapKB          int64
	goroutines, fds, files int
	series                 int
}

// BenchmarkRegisterSoak registers a model (the digits sample, two workers, under a new name
// each round), sends it one request and unregisters it, for -soak.rounds rounds, and prints
// the process's memory, goroutines, open files, extracted files and metric series as it
// goes, with PASS/MISS lines for leaks: what a server that loads and unloads models for
// weeks must not accumulate (Triton's issues #2023, #4528 are such leaks). make bench-soak.
func BenchmarkRegisterSoak(b *testing.B) {
	ts := emptyServer(b, nil)
	tmp, _ := ts.reg.Extraction()
	image, err := os.ReadFile(testenv.Path("samples/digits/5.png"))
	if err != nil {
		b.Fatal(err)
	}
	sample := func(round int) soakSample {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := soakSample{round: round, heapKB: int64(ms.HeapAlloc / 1024), goroutines: runtime.NumGoroutine()}
		if b, err := os.ReadFile("/proc/self/status"); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					s.rssKB, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				}
			}
		}
		if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
			s.fds = len(fds)
		}
		filepath.WalkDir(tmp, func(_ string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				s.files++
			}
			return nil
		})
		if families, err := ts.srv.metrics.Registry.Gather(); err == nil {
			for _, f := range families {
				s.series += len(f.GetMetric())
			}
		}
		return s
	}
	var samples []soakSample
	start := time.Now()
	for i := 1; i <= *soakRounds; i++ {
		name := fmt.Sprintf("digits%d", i)
		exchange{"register", "POST", "/models?url=digits.mar&model_name=" + name + "&initial_workers=2&synchronous=true", "", nil, 200, "", ""}.run(b, ts.management.URL)
		exchange{"infer", "POST", "/predictions/" + name, "image/png", image, 200, "", ""}.run(b, ts.inference.URL)
		exchange{"unregister", "DELETE", "/models/" + name, "", nil, 200, "", ""}.run(b, ts.management.URL)
		if i == 1 || i%50 == 0 || i == *soakRounds {
			samples = append(samples, sample(i))
		}
	}
	elapsed := time.Since(start)
	fmt.Printf("\nregister (2 workers) + 1 request + unregister, a new model name each round: %d rounds in %v; %s, %s\n\n",
		*soakRounds, elapsed.Round(time.Millisecond), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH)
	fmt.Println("| round | RSS MB | Go heap MB | goroutines | open files | extracted files | metric series |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, s := range samples {
		fmt.Printf("| %d | %.1f | %.2f | %d | %d | %d | %d |\n", s.round, float64(s.rssKB)/1024, float64(s.heapKB)/1024, s.goroutines, s.fds, s.files, s.series)
	}
	if len(samples) < 3 {
		fmt.Println("\n(too few rounds for verdicts: -soak.rounds 100 or more)")
		return
	}
	// from the second sample on: the first round warms caches, pools and ONNX Runtime
	first, last := samples[1], samples[len(samples)-1]
	rounds := float64(last.round - first.round)
	verdict := func(ok bool, format string, args ...any) {
		word := "MISS"
		if ok {
			word = "PASS"
		}
		fmt.Printf("- %s: %s\n", word, fmt.Sprintf(format, args...))
	}
	fmt.Println()
	verdict(last.goroutines <= first.goroutines, "goroutines %d after round %d, %d after round %d (no growth)", first.goroutines, first.round, last.goroutines, last.round)
	verdict(last.fds <= first.fds, "open files %d, then %d (no growth)", first.fds, last.fds)
	verdict(last.files == 0, "extracted files left after the last unregister: %d (none)", last.files)
	verdict(last.series <= first.series, "metric series %d, then %d (no growth)", first.series, last.series)
	heapPerRound := float64(last.heapKB-first.heapKB) / rounds
	verdict(heapPerRound < 1, "Go heap %+.2f KB a round (< 1 KB)", heapPerRound)
	rssPerRound := float64(last.rssKB-first.rssKB) / rounds
	verdict(rssPerRound < 16, "RSS %+.1f KB a round (< 16 KB: ONNX Runtime's and the allocator's caches may grow a little)", rssPerRound)
}
