package scratch

import (
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
)

func TestSmoke(t *testing.T) {
	for _, name := range []string{"MobileCLIP-test-S0", "MobileCLIP-test-S2", "MobileCLIP2-test-S3", "MobileCLIP-test-B", "MobileCLIP2-test-B"} {
		for _, unf := range []bool{false, true} {
			cfg, _ := model.Lookup(name)
			cfg.Unfolded = unf
			sd, err := encoder.RandomWeights(cfg, 1)
			if err != nil {
				t.Fatal(err)
			}
			e, err := encoder.New(cfg, sd, encoder.Options{Backend: "go"})
			if err != nil {
				t.Fatal(err)
			}
			r := cfg.Vision.ImageSize
			px := make([]float32, 2*3*r*r)
			for i := range px {
				px[i] = float32(i%13) / 13
			}
			st := time.Now()
			f, err := e.EncodeImages(px, 2)
			if err != nil {
				t.Fatal(err)
			}
			ids := make([]int32, 77)
			ids[0], ids[1], ids[2] = 998, 5, 999
			tf, err := e.EncodeTokens([][]int32{ids})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s unfolded=%v: img %v... txt %v... (%s)", name, unf, f[0][:3], tf[0][:3], time.Since(st))
			e.Close()
		}
	}
}
