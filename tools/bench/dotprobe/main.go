// Command dotprobe times the weight products of a ViT-B/32-sized transformer alone (12 layers of
// the q/k/v, output, and two MLP products on 50 tokens: the image tower at batch 1, weights held
// [in, out]), without attention, normalisation or activations, on the backend chosen as clipx
// chooses it. Compared with `clipx bench models --batches 1`, it shows how much of batch-1
// latency the matrix products are (docs/performance.md).
//
//	go run ./tools/bench/dotprobe [-t 50] [-w 768] [-l 12]
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/clipkit/clipkit/cliplib/backend"
)

// Times 12 layers of ViT-B/32's four weight products at batch 1 (50 tokens), alone.
func main() {
	tokens := flag.Int("t", 50, "")
	width := flag.Int("w", 768, "")
	layers := flag.Int("l", 12, "")
	flag.Parse()
	b, err := backend.New("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dotprobe:", err)
		os.Exit(1)
	}
	W := *width
	mk := func(r, c int) *tensors.Tensor {
		v := make([]float32, r*c)
		for i := range v {
			v[i] = float32(i%13) * 1e-3
		}
		return tensors.FromFlatDataAndDimensions(v, r, c)
	}
	var ws []any
	for l := 0; l < *layers; l++ {
		ws = append(ws, mk(W, 3*W), mk(W, W), mk(W, 4*W), mk(4*W, W))
	}
	exec := MustNewExec(b, func(inputs []*Node) *Node {
		x := inputs[0]
		for l := 0; l < *layers; l++ {
			w := inputs[1+4*l:]
			qkv := DotGeneral(x, []int{1}, nil, w[0], []int{0}, nil)
			a := Slice(qkv, AxisRange(), AxisRange(0, W))
			x = Add(x, DotGeneral(a, []int{1}, nil, w[1], []int{0}, nil))
			h := DotGeneral(x, []int{1}, nil, w[2], []int{0}, nil)
			x = Add(x, DotGeneral(h, []int{1}, nil, w[3], []int{0}, nil))
		}
		return x
	})
	x := tensors.FromShape(shapes.Make(dtypes.Float32, *tokens, W))
	args := append([]any{x}, ws...)
	exec.MustExec(args...)
	var ts []float64
	for i := 0; i < 21; i++ {
		t := time.Now()
		exec.MustExec(args...)
		ts = append(ts, float64(time.Since(t).Microseconds())/1000)
	}
	sort.Float64s(ts)
	fmt.Printf("%d layers of 4 products, %d tokens, width %d: p50 %.1f ms, min %.1f ms\n", *layers, *tokens, W, ts[len(ts)/2], ts[0])
}
