package batcher

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
)

var (
	benchArch    = flag.String("arch", "ViT-B/32", "architecture of the batching benchmark (random weights)")
	benchClients = flag.Int("clients", 64, "concurrent clients of the batching benchmark, one request at a time each")
	benchTowers  = flag.String("towers", "image,text", "towers of the batching benchmark")
)

// BenchmarkThroughputByMaxBatch measures requests/s through a batching Encoder for MaxBatch 1, 2,
// 4, ..., 64, with -clients goroutines each sending one request at a time (one image, or one
// 7-token prompt). MaxBatch 1 is unbatched encoding. Slow on simplego with ViT-B/32; a quick run:
//
//	go test -run=^$ -bench=ThroughputByMaxBatch -arch=tiny-vit ./cliplib/batcher/
//
// `clipx bench batching` measures the same with latency percentiles, as JSON.
func BenchmarkThroughputByMaxBatch(b *testing.B) {
	cfg, err := model.Lookup(*benchArch)
	if err != nil {
		b.Fatal(err)
	}
	sd, err := encoder.RandomWeights(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	sizes := []int{1, 2, 4, 8, 16, 32, 64}
	enc, err := encoder.New(cfg, sd, encoder.Options{BatchBuckets: sizes})
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	imgs, txts := testInputs(enc, 16)
	for _, tower := range strings.Split(*benchTowers, ",") {
		for _, mb := range sizes {
			b.Run(fmt.Sprintf("%s/%s/maxbatch=%d", *benchArch, tower, mb), func(b *testing.B) {
				be, err := NewEncoder(enc, Options{MaxBatch: mb, MaxWait: 5 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				one := func(i int) error {
					var err error
					if tower == "image" {
						_, err = be.EncodeImage(context.Background(), imgs[i%len(imgs)])
					} else {
						_, err = be.EncodeTokens(context.Background(), txts[i%len(txts)])
					}
					return err
				}
				// Compile the full-batch graph outside the timing.
				var warm sync.WaitGroup
				for i := range mb {
					warm.Add(1)
					go func() { defer warm.Done(); _ = one(i) }()
				}
				warm.Wait()
				before := be.ImageStats()
				if tower == "text" {
					before = be.TextStats()
				}
				b.ResetTimer()
				var next atomic.Int64
				var wg sync.WaitGroup
				for range *benchClients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
							if err := one(int(i)); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				after := be.ImageStats()
				if tower == "text" {
					after = be.TextStats()
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
				if n := after.Batches - before.Batches; n > 0 {
					b.ReportMetric(float64(after.Items-before.Items)/float64(n), "items/batch")
				}
			})
		}
	}
}
