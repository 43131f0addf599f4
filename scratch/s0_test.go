package scratch

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/encoder"
	"github.com/clipkit/clipkit/cliplib/model"
)

func TestS0Time(t *testing.T) {
	archs := strings.Split(os.Getenv("ARCHS"), ",")
	bs := []int{1}
	if v := os.Getenv("BATCH"); v != "" {
		n, _ := strconv.Atoi(v)
		bs = []int{n}
	}
	for _, name := range archs {
		cfg, _ := model.Lookup(name)
		sd, _ := encoder.RandomWeights(cfg, 1)
		e, err := encoder.New(cfg, sd, encoder.Options{Backend: "go"})
		if err != nil {
			t.Fatal(err)
		}
		r := cfg.Vision.ImageSize
		for _, b := range bs {
			px := make([]float32, b*3*r*r)
			st := time.Now()
			if _, err := e.EncodeImages(px, b); err != nil {
				t.Fatal(err)
			}
			c := time.Since(st)
			t.Logf("%s batch %d: compile+first %s", name, b, c)
			st = time.Now()
			n := 2
			for i := 0; i < n; i++ {
				e.EncodeImages(px, b)
			}
			t.Logf("%s batch %d: %.1f ms/batch, %.2f img/s", name, b, float64(time.Since(st).Milliseconds())/float64(n), float64(n*b)/time.Since(st).Seconds())
		}
		e.Close()
	}
}
