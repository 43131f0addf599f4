// Package parallel runs the iterations of an independent loop on every core: the safetensors
// reader, the finiteness check and the encoder's weight conversion spread per-tensor work this
// way, and cliplib's image-file encoding its per-image decoding. (The standard library has no
// parallel for; golang.org/x/sync's errgroup would add a dependency for these few lines and still
// need the index feeding written out.)
package parallel

import (
	"runtime"
	"sync"
)

// For calls f(i) for every i in [0, n) on min(GOMAXPROCS, n) goroutines, handing out indices in
// increasing order, and returns when every call has returned. The calls must be independent;
// each writes only what belongs to its i.
func For(n int, f func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}
