package scratch

import (
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/clipkit/clipkit/cliplib/model/nn"
)

func timeit(t *testing.T, name string, b backends.Backend, fn func(x, w *Node) *Node, xs, ws shapes.Shape) {
	exec := MustNewExec(b, fn)
	x := tensors.FromShape(xs)
	w := tensors.FromShape(ws)
	exec.MustExec(x, w)
	n := 3
	start := time.Now()
	for i := 0; i < n; i++ {
		out := exec.MustExec(x, w)
		out[0].FinalizeAll()
	}
	t.Logf("%-40s %8.2f ms", name, float64(time.Since(start).Microseconds())/1000/float64(n))
}

func TestConvSpeed(t *testing.T) {
	b, _ := backends.NewWithConfig("go")
	B, C, H := 8, 64, 64
	xs := shapes.Make(dtypes.Float32, B, C, H, H)
	// depthwise 7x7
	timeit(t, "3x3 full ConvGeneral", b, func(x, w *Node) *Node {
		return ConvGeneral(x, w, nn.NCHW, []int{1, 1}, [][2]int{{1, 1}, {1, 1}}, nil, nil, 1, 1)
	}, xs, shapes.Make(dtypes.Float32, C, C, 3, 3))
	timeit(t, "dw7 shifted sum", b, func(x, w *Node) *Node {
		zh := Zeros(x.Graph(), shapes.Make(dtypes.Float32, B, C, 3, H))
		xp := Concatenate([]*Node{zh, x, zh}, 2)
		zw := Zeros(x.Graph(), shapes.Make(dtypes.Float32, B, C, H+6, 3))
		xp = Concatenate([]*Node{zw, xp, zw}, 3)
		var acc *Node
		for i := 0; i < 7; i++ {
			for j := 0; j < 7; j++ {
				s := Slice(xp, AxisRange(), AxisRange(), AxisRange(i, i+H), AxisRange(j, j+H))
				k := Reshape(Slice(w, AxisRange(), AxisRange(), AxisElem(i), AxisElem(j)), 1, C, 1, 1)
				term := Mul(s, k)
				if acc == nil {
					acc = term
				} else {
					acc = Add(acc, term)
				}
			}
		}
		return acc
	}, xs, shapes.Make(dtypes.Float32, C, 1, 7, 7))
	// 1x1 conv C -> 3C
	timeit(t, "1x1 ConvGeneral", b, func(x, w *Node) *Node {
		return ConvGeneral(x, w, nn.NCHW, []int{1, 1}, nil, nil, nil, 1, 1)
	}, xs, shapes.Make(dtypes.Float32, 3*C, C, 1, 1))
	timeit(t, "1x1 DotGeneral", b, func(x, w *Node) *Node {
		w2 := Reshape(w, 3*C, C)
		y := DotGeneral(w2, []int{1}, nil, x, []int{1}, nil) // [3C, B, H, W]
		return TransposeAllDims(y, 1, 0, 2, 3)
	}, xs, shapes.Make(dtypes.Float32, 3*C, C, 1, 1))
	timeit(t, "1x1 DotGeneral batched", b, func(x, w *Node) *Node {
		w2 := Reshape(w, 3*C, C)
		x2 := Reshape(x, B, C, H*H)
		y := DotGeneral(x2, []int{1}, []int{0}, BroadcastToDims(ExpandAxes(w2, 0), B, 3*C, C), []int{2}, []int{0}) // [B, HW, 3C]
		return y
	}, xs, shapes.Make(dtypes.Float32, 3*C, C, 1, 1))
	timeit(t, "elementwise add", b, func(x, w *Node) *Node {
		return Add(x, x)
	}, xs, shapes.Make(dtypes.Float32, 1))
	timeit(t, "gelu", b, func(x, w *Node) *Node {
		return nn.GELU.Apply(x)
	}, xs, shapes.Make(dtypes.Float32, 1))
}
