package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tsserve/ts/pkg/tensor"
)

func TestMemAvailable(t *testing.T) {
	cases := []struct {
		text string
		want int64
	}{
		{"MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:   20480000 kB\n", 20480000 << 10},
		{"MemTotal:       24576000 kB\n", -1},
		{"MemAvailable:   lots kB\n", -1},
		{"", -1},
	}
	for _, c := range cases {
		root := t.TempDir() // a proc file system holding only this meminfo
		os.WriteFile(filepath.Join(root, "meminfo"), []byte(c.text), 0o644)
		if got := memAvailableIn(root); got != c.want {
			t.Errorf("%q: %d, want %d", c.text, got, c.want)
		}
	}
	if got := MemAvailable(); (runtime.GOOS == "linux") != (got > 0) {
		t.Errorf("MemAvailable on %s: %d", runtime.GOOS, got)
	}
}

// TestOutputCopyRefused: an output ONNX Runtime allocated that would take more than half the
// memory left to copy into Go memory fails the run with ErrOutOfResources (507) instead of
// exhausting the machine (norank.onnx's output has no declared shape, so ONNX Runtime
// allocates it); the session serves the next run. The limits are shrunk to the test's sizes.
func TestOutputCopyRefused(t *testing.T) {
	s := mustLoad(t, "testdata/norank.onnx", Options{})
	from, avail := copyCheckFrom, memAvailable
	t.Cleanup(func() { copyCheckFrom, memAvailable = from, avail })
	copyCheckFrom, memAvailable = 0, func() int64 { return 1000 } // 500 bytes may be copied
	x := tensor.New([]int64{200}, make([]float32, 200))           // 800 bytes out
	_, err := s.Run(context.Background(), []*tensor.Tensor{x})
	if !errors.Is(err, ErrOutOfResources) || !strings.Contains(err.Error(), "output of 800 bytes would take more than half the memory left (1000 bytes)") {
		t.Fatalf("run: %v, want ErrOutOfResources for the copy", err)
	}
	small := tensor.New([]int64{2}, []float32{-1, 2}) // 8 bytes: copied
	out, err := s.Run(context.Background(), []*tensor.Tensor{small})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := tensor.Values[float32](out[0]); !slices.Equal(v, []float32{0, 2}) {
		t.Errorf("relu: %v", v)
	}
}
