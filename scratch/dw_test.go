package scratch

import (
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

func run1(t *testing.T, name string, b backends.Backend, fn func(x *Node) *Node, xs shapes.Shape) {
	exec := MustNewExec(b, fn)
	x := tensors.FromShape(xs)
	st := time.Now()
	exec.MustExec(x)[0].FinalizeAll()
	first := time.Since(st)
	n := 3
	st = time.Now()
	for i := 0; i < n; i++ {
		exec.MustExec(x)[0].FinalizeAll()
	}
	t.Logf("%-45s first %8.1f ms, then %8.2f ms", name, float64(first.Microseconds())/1000, float64(time.Since(st).Microseconds())/1000/float64(n))
}

func TestOps(t *testing.T) {
	b, _ := backends.NewWithConfig("go")
	N := 64 * 64
	C := 64
	s4 := shapes.Make(dtypes.Float32, 1, 64, 64, C)
	run1(t, "add equal [1,64,64,64]", b, func(x *Node) *Node { return Add(x, x) }, s4)
	run1(t, "add bcast last [C]", b, func(x *Node) *Node {
		return Add(x, Iota(x.Graph(), shapes.Make(dtypes.Float32, 1, 1, 1, C), 3))
	}, s4)
	run1(t, "add bcast first [C,1]", b, func(x *Node) *Node {
		x2 := Reshape(x, C, N)
		return Add(x2, Iota(x.Graph(), shapes.Make(dtypes.Float32, C, 1), 0))
	}, s4)
	run1(t, "slice [1,70,70,64]->[1,64,64,64]", b, func(x *Node) *Node {
		return Slice(x, AxisRange(), AxisRange(3, 60), AxisRange(3, 60), AxisRange())
	}, shapes.Make(dtypes.Float32, 1, 70, 70, C))
	run1(t, "gelu", b, func(x *Node) *Node { return Erf(x) }, s4)
	run1(t, "dot [4096,64]x[64,192]", b, func(x *Node) *Node {
		w := Iota(x.Graph(), shapes.Make(dtypes.Float32, 192, C), 0)
		return DotGeneral(Reshape(x, N, C), []int{1}, nil, w, []int{1}, nil)
	}, s4)
	run1(t, "dot [192,64]x[64,4096]", b, func(x *Node) *Node {
		w := Iota(x.Graph(), shapes.Make(dtypes.Float32, 192, C), 0)
		return DotGeneral(w, []int{1}, nil, Reshape(x, C, N), []int{0}, nil)
	}, s4)
	run1(t, "transpose NHWC->CNHW", b, func(x *Node) *Node { return TransposeAllDims(x, 3, 0, 1, 2) }, s4)
	run1(t, "concat 4 on axis 1", b, func(x *Node) *Node { return Concatenate([]*Node{x, x, x, x}, 1) }, s4)
}
