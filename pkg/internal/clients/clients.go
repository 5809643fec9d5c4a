// Package clients runs test clients that send requests over and over, for tests that change
// a server (scaling, reloading) while it is under load.
package clients

import "sync"

// Loop runs n clients, each calling request (with its number) over and over until request
// returns false or stop is called; stop waits for them to return, and may be called more
// than once (deferred as well, for a test that fails early).
func Loop(n int, request func(client int) bool) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if !request(c) {
					return
				}
			}
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { close(done); wg.Wait() }) }
}
