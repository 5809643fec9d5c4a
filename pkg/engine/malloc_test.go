package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/config"
	"github.com/tsserve/ts/pkg/onnxgen"
	"github.com/tsserve/ts/pkg/tensor"
)

// rssChildEnv makes the test binary load the model it names, run it, close it and print
// how much its resident memory grew: once with the C allocator tuned as ts tunes it, once
// without, each in a fresh process.
const rssChildEnv = "TS_ENGINE_TEST_RSS_MODEL"

func rssKB() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

// rssChild is the child's side: it prints the growth in kB.
func rssChild(model string, tuned bool) {
	if tuned {
		SetMmapThreshold(config.DefaultMallocMmapThreshold)
	}
	if _, err := Init(config.ORTCandidates("")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	before := rssKB()
	for i := 0; i < 2; i++ {
		s, err := Load(model, Options{IntraOpThreads: 1})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		x := tensor.New([]int64{1, 1000}, make([]float32, 1000))
		if _, err := s.Run(context.Background(), []*tensor.Tensor{x}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s.Close()
	}
	debug.FreeOSMemory()
	fmt.Println(rssKB() - before)
	os.Exit(0)
}

// TestFreedModelMemoryGoesBack: with the mmap threshold fixed (as ts serve runs), creating
// and closing a session for a 128 MB model of 4 MB layers leaves little behind (glibc's
// default kept 56 MB of it here, logged for comparison).
func TestFreedModelMemoryGoesBack(t *testing.T) {
	if !SetMmapThreshold(config.DefaultMallocMmapThreshold) {
		t.Fatal("SetMmapThreshold: the C allocator refused the setting (ts's Linux builds use glibc)")
	}
	model := filepath.Join(t.TempDir(), "big.onnx")
	const modelKB = 128 << 10
	if err := onnxgen.Write(model, onnxgen.Spec{Dim: 1000, Depth: modelKB << 10 / 4 / 1000 / 1000, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	growth := func(tuned bool) int64 {
		cmd := exec.Command(os.Args[0], "-test.run", "^$")
		cmd.Env = append(os.Environ(), rssChildEnv+"="+model, "TS_ENGINE_TEST_RSS_TUNED="+strconv.FormatBool(tuned))
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			t.Fatalf("child: %v\n%s", err, errb.String())
		}
		n, err := strconv.ParseInt(strings.TrimSpace(out.String()), 10, 64)
		if err != nil {
			t.Fatalf("child printed %q", out.String())
		}
		return n
	}
	tuned, plain := growth(true), growth(false)
	t.Logf("RSS growth after loading, running and closing a %d MB model twice: %d MB with the threshold fixed, %d MB with glibc's default",
		modelKB>>10, tuned>>10, plain>>10)
	if tuned > modelKB/4 {
		t.Errorf("with the threshold fixed, %d MB stayed resident (want < %d MB, a quarter of the model)", tuned>>10, modelKB>>12)
	}
}
