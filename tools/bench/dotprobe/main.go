// Command dotprobe times the weight products of a ViT-B/32-sized transformer alone (12 layers of
// the q/k/v, output, and two MLP products on 50 tokens: the image tower at batch 1), without
// attention, normalisation or activations, on the backend chosen as clipx chooses it. Compared
// with `clipx bench models --batches 1`, it shows how much of batch-1 latency the matrix products
// are (docs/performance.md).
//
// With -orient all it times, round-robin in one process (one call of each per round, so that a
// drifting machine load affects them alike), the orientations the products can be written in:
//
//	x_w_inout    x [T, in] · W [in, out], contracting W's axis 0 (what the towers run on xla:cpu)
//	x_w_outin    x [T, in] · W [out, in], contracting W's axis 1 (PyTorch's layout)
//	w_outin_x    W [out, in] · x, giving [out, T], transposed back to [T, out] at each product
//	w_inout_x    W [in, out] contracting axis 0 with x, giving [out, T], transposed back
//	featmajor    activations held [in, T] throughout: W [out, in] · x [in, T] → [out, T], no transposes
//	fusedqkv_off the q/k/v product split into three [in, in] products (x_w_inout otherwise)
//
//	go run ./tools/bench/dotprobe [-t 50] [-w 768] [-l 12] [-orient x_w_inout|all|name,name]
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/clipkit/clipkit/cliplib/backend"
)

// orientations are the ways dotprobe can write one weight product y = x·Wᵀ (PyTorch's Linear).
var orientations = []string{"x_w_inout", "x_w_outin", "w_outin_x", "w_inout_x", "featmajor", "fusedqkv_off"}

// Times 12 layers of ViT-B/32's four weight products at batch 1 (50 tokens), alone.
func main() {
	tokens := flag.Int("t", 50, "tokens")
	width := flag.Int("w", 768, "width")
	layers := flag.Int("l", 12, "layers")
	orient := flag.String("orient", "x_w_inout", "orientation(s) to time, comma-separated, or all: "+strings.Join(orientations, ", "))
	rounds := flag.Int("rounds", 21, "timed calls of each orientation")
	flag.Parse()
	names := strings.Split(*orient, ",")
	if *orient == "all" {
		names = orientations
	}
	for _, n := range names {
		if !slices.Contains(orientations, n) {
			fmt.Fprintf(os.Stderr, "dotprobe: unknown orientation %q (want one of %s, or all)\n", n, strings.Join(orientations, ", "))
			os.Exit(2)
		}
	}
	b, err := backend.New("")
	if err != nil {
		fmt.Fprintln(os.Stderr, "dotprobe:", err)
		os.Exit(1)
	}
	W, T := *width, *tokens
	mk := func(r, c int) *tensors.Tensor {
		v := make([]float32, r*c)
		for i := range v {
			v[i] = float32(i%13) * 1e-3
		}
		return tensors.FromFlatDataAndDimensions(v, r, c)
	}
	type probe struct {
		exec *Exec
		args []any
		ts   []float64
	}
	probes := make([]*probe, len(names))
	for i, name := range names {
		outIn := name == "x_w_outin" || name == "w_outin_x" || name == "featmajor"
		// w returns a weight of `in` inputs and `out` outputs in the orientation's layout.
		w := func(in, out int) *tensors.Tensor {
			if outIn {
				return mk(out, in)
			}
			return mk(in, out)
		}
		var ws []any
		for l := 0; l < *layers; l++ {
			if name == "fusedqkv_off" {
				ws = append(ws, w(W, W), w(W, W), w(W, W))
			} else {
				ws = append(ws, w(W, 3*W))
			}
			ws = append(ws, w(W, W), w(W, 4*W), w(4*W, W))
		}
		// prod applies one product to x in the orientation's activation layout.
		prod := func(x, w *Node) *Node {
			switch name {
			case "x_w_outin":
				return DotGeneral(x, []int{1}, nil, w, []int{1}, nil)
			case "w_outin_x":
				return Transpose(DotGeneral(w, []int{1}, nil, x, []int{1}, nil), 0, 1)
			case "w_inout_x":
				return Transpose(DotGeneral(w, []int{0}, nil, x, []int{1}, nil), 0, 1)
			case "featmajor": // x is [in, T]
				return DotGeneral(w, []int{1}, nil, x, []int{0}, nil)
			}
			return DotGeneral(x, []int{1}, nil, w, []int{0}, nil)
		}
		perLayer := 4
		if name == "fusedqkv_off" {
			perLayer = 6
		}
		exec := MustNewExec(b, func(inputs []*Node) *Node {
			x := inputs[0]
			feat := 1 // axis of x over the features
			if name == "featmajor" {
				feat = 0
			}
			for l := 0; l < *layers; l++ {
				lw := inputs[1+perLayer*l:]
				var a *Node
				if name == "fusedqkv_off" {
					q, k, v := prod(x, lw[0]), prod(x, lw[1]), prod(x, lw[2])
					a = Add(Add(q, k), v)
					lw = lw[2:]
				} else {
					a = Slice(prod(x, lw[0]), axisRanges(feat, 0, W)...)
				}
				x = Add(x, prod(a, lw[1]))
				h := prod(x, lw[2])
				x = Add(x, prod(h, lw[3]))
			}
			return x
		})
		xdims := []int{T, W}
		if name == "featmajor" {
			xdims = []int{W, T}
		}
		x := tensors.FromShape(shapes.Make(dtypes.Float32, xdims...))
		probes[i] = &probe{exec: exec, args: append([]any{x}, ws...)}
		exec.MustExec(probes[i].args...) // compile and warm up
	}
	for r := 0; r < *rounds; r++ {
		for _, p := range probes {
			t := time.Now()
			p.exec.MustExec(p.args...)
			p.ts = append(p.ts, float64(time.Since(t).Microseconds())/1000)
		}
	}
	for i, p := range probes {
		sort.Float64s(p.ts)
		fmt.Printf("%-12s %d layers of 4 products, %d tokens, width %d: p50 %.1f ms, min %.1f ms\n",
			names[i], *layers, T, W, p.ts[len(p.ts)/2], p.ts[0])
	}
}

// axisRanges returns ranges selecting [from, to) on axis of a rank-2 node, all of the other.
func axisRanges(axis, from, to int) []SliceAxisSpec {
	r := []SliceAxisSpec{AxisRange(), AxisRange()}
	r[axis] = AxisRange(from, to)
	return r
}
