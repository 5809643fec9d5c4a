package backoff

import (
	"testing"
	"time"
)

func TestRestarts(t *testing.T) {
	var r Restarts
	t0 := time.Unix(1_800_000_000, 0)
	if r.GivenUp(t0, 0) || r.FailingFor(t0) != 0 {
		t.Fatal("given up, or failing, before any failure")
	}
	want := []time.Duration{0, 1, 1, 2, 3, 5, 8}
	for i, w := range want {
		if got := r.Fail(t0.Add(time.Duration(i) * time.Second)); got != w*time.Second {
			t.Errorf("failure %d: wait %v, want %v", i+1, got, w*time.Second)
		}
	}
	at := t0.Add(10 * time.Second)
	if r.FailingFor(at) != 10*time.Second {
		t.Errorf("failing for %v, want 10s", r.FailingFor(at))
	}
	for _, c := range []struct {
		maxRetry time.Duration
		want     bool
	}{{5 * time.Second, true}, {10 * time.Second, true}, {11 * time.Second, false}, {NoLimit, false}} {
		if got := r.GivenUp(at, c.maxRetry); got != c.want {
			t.Errorf("after 10 s of failures, maxRetry %v: given up %v, want %v", c.maxRetry, got, c.want)
		}
	}
	for range 30 {
		r.Fail(at)
	}
	if got := r.Fail(at); got != 1597*time.Second {
		t.Errorf("the longest wait is %v, want 1597s", got)
	}
	r.Succeeded()
	if got := r.Fail(at); got != 0 || r.GivenUp(at, 0) != true || r.FailingFor(at) != 0 {
		t.Errorf("after a success: wait %v, failing for %v; want a fresh count", got, r.FailingFor(at))
	}
}
