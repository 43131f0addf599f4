// Command dotprobe times the weight products of a ViT-B/32-sized transformer alone (12 layers of
// the q/k/v, output, and two MLP products on 50 tokens: the image tower at batch 1, weights held
// [in, out]), without attention, normalisation or activations, on the backend chosen as clipx
// chooses it. Compared with `clipx bench models --batches 1`, it shows how much of batch-1
// latency the matrix products are (docs/performance.md). -orient picks how each product is
// written, to compare orientations of the same arithmetic:
//
//	x-in-out  x[T,in]·W[in,out], contracting W's axis 0 (what the towers do on xla:cpu)
//	x-out-in  x[T,in]·W[out,in], contracting W's axis 1 (PyTorch's nn.Linear layout)
//	out-in-x  W[out,in]·x[in,T]: activations feature-major, weights on the left
//	in-out-x  W[in,out] contracting axis 0 with x[in,T]: feature-major, weights on the left
//
//	go run ./tools/bench/dotprobe [-t 50] [-w 768] [-l 12] [-orient x-in-out]
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
	orient := flag.String("orient", "x-in-out", "x-in-out, x-out-in, out-in-x or in-out-x (see the package doc)")
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
	// lin applies one weight: token-major x is [T, in], feature-major x is [in, T].
	var lin func(x, w *Node) *Node
	switch *orient {
	case "x-in-out":
		lin = func(x, w *Node) *Node { return DotGeneral(x, []int{1}, nil, w, []int{0}, nil) }
	case "x-out-in":
		lin = func(x, w *Node) *Node { return DotGeneral(x, []int{1}, nil, w, []int{1}, nil) }
	case "out-in-x":
		lin = func(x, w *Node) *Node { return DotGeneral(w, []int{1}, nil, x, []int{0}, nil) }
	case "in-out-x":
		lin = func(x, w *Node) *Node { return DotGeneral(w, []int{0}, nil, x, []int{0}, nil) }
	default:
		fmt.Fprintf(os.Stderr, "dotprobe: -orient %q: want x-in-out, x-out-in, out-in-x or in-out-x\n", *orient)
		os.Exit(2)
	}
	inOut := *orient == "x-in-out" || *orient == "in-out-x"
	featureMajor := *orient == "out-in-x" || *orient == "in-out-x"
	var ws []any
	for l := 0; l < *layers; l++ {
		for _, d := range [][2]int{{W, 3 * W}, {W, W}, {W, 4 * W}, {4 * W, W}} { // [in, out]
			if inOut {
				ws = append(ws, mk(d[0], d[1]))
			} else {
				ws = append(ws, mk(d[1], d[0]))
			}
		}
	}
	exec := MustNewExec(b, func(inputs []*Node) *Node {
		x := inputs[0]
		for l := 0; l < *layers; l++ {
			w := inputs[1+4*l:]
			qkv := lin(x, w[0])
			var a *Node
			if featureMajor {
				a = Slice(qkv, AxisRange(0, W), AxisRange())
			} else {
				a = Slice(qkv, AxisRange(), AxisRange(0, W))
			}
			x = Add(x, lin(a, w[1]))
			h := lin(x, w[2])
			x = Add(x, lin(h, w[3]))
		}
		return x
	})
	x := tensors.FromShape(shapes.Make(dtypes.Float32, *tokens, W))
	if featureMajor {
		x = tensors.FromShape(shapes.Make(dtypes.Float32, W, *tokens))
	}
	args := append([]any{x}, ws...)
	exec.MustExec(args...)
	var ts []float64
	for i := 0; i < 21; i++ {
		t := time.Now()
		exec.MustExec(args...)
		ts = append(ts, float64(time.Since(t).Microseconds())/1000)
	}
	sort.Float64s(ts)
	fmt.Printf("%s: %d layers of 4 products, %d tokens, width %d: p50 %.1f ms, min %.1f ms\n", *orient, *layers, *tokens, W, ts[len(ts)/2], ts[0])
}
