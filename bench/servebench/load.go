package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"
)

// result is one load measurement.
type result struct {
	rps      float64 // requests (= items) per second
	p50, p99 time.Duration
	errors   int
}

// load sends POSTs of body to url from c concurrent clients (keep-alive connections) for d
// and measures throughput and latency.
func load(url string, body []byte, ctype string, c int, d time.Duration) result {
	tr := &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			bad := 0
			for time.Now().Before(deadline) {
				t0 := time.Now()
				res, err := client.Post(url, ctype, bytes.NewReader(body))
				if err != nil {
					bad++
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					bad++
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := result{rps: float64(len(lat)) / elapsed.Seconds(), errors: errs}
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}

// series collects repeated measurements of one configuration.
type series []result

func (s series) median() result {
	if len(s) == 0 {
		return result{}
	}
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(s))
		for i, r := range s {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m := result{
		rps: pick(func(r result) float64 { return r.rps }),
		p50: time.Duration(pick(func(r result) float64 { return float64(r.p50) })),
		p99: time.Duration(pick(func(r result) float64 { return float64(r.p99) })),
	}
	for _, r := range s {
		m.errors += r.errors
	}
	return m
}

func (s series) spread() string {
	lo, hi := s[0].rps, s[0].rps
	for _, r := range s {
		lo, hi = min(lo, r.rps), max(hi, r.rps)
	}
	return fmt.Sprintf("%.0f–%.0f", lo, hi)
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f", float64(d)/float64(time.Millisecond))
}

// distinctBurst sends n requests at once whose float32 bodies differ in their first value,
// so that ts checks its first batch on distinct requests (docs/batching.md) before the
// measurements rather than during them.
func distinctBurst(url string, body []byte, ctype string, n int) {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		b := slices.Clone(body)
		binary.LittleEndian.PutUint32(b, math.Float32bits(float32(i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if res, err := http.Post(url, ctype, bytes.NewReader(b)); err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
}
