package gcfloor

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		least       int
		want        int64
	}{
		{2 * mb, 16 * mb, 100, 400},   // Go's minimum goal at 400 % is the floor
		{4 * mb, 16 * mb, 100, 300},   // 4 MB may grow to 16 MB
		{8 * mb, 16 * mb, 100, 100},   // half the floor: Go's default rules
		{40 * mb, 16 * mb, 100, 100},  // past the floor
		{2 * mb, 16 * mb, 1000, 1000}, // GOGC set higher than the floor asks
		{0, 16 * mb, 100, 400},        // before the first collection
		{0, 64 * mb, 100, 1600},
		{15 * mb, 16 * mb, 50, 50}, // a lower GOGC rules where the floor asks for less
	} {
		if got := PercentFor(c.live, c.floor, c.least); got != c.want {
			t.Errorf("PercentFor(%d MB, %d MB, %d) = %d, want %d", c.live/mb, c.floor/mb, c.least, got, c.want)
		}
	}
}

// waitPercent collects garbage until the floor has set a percent that ok accepts.
func waitPercent(t *testing.T, f *Floor, what string, ok func(int) bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		runtime.GC()
		if ok(f.Percent()) {
			return
		}
	}
	t.Fatalf("%s: percent %d", what, f.Percent())
}

// The real collector: a small live heap gets a high percent after a collection, a large
// one Go's default, and Stop puts back the percent it found.
func TestFloorFollowsTheLiveHeap(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	const floor = 64 << 20
	f := Start(floor)
	defer f.Stop()
	waitPercent(t, f, "a small live heap", func(p int) bool { return p > 300 && p <= 1600 })

	keep := make([][]byte, 0, 128)
	for range 128 { // 128 MB alive, twice the floor
		keep = append(keep, make([]byte, 1<<20))
	}
	waitPercent(t, f, "a live heap past the floor", func(p int) bool { return p == 100 })
	runtime.KeepAlive(keep)

	f.Stop()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("after Stop the percent is %d, want the 100 it found", got)
	}
}
