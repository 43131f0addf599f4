package scratch

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// toeplitzDW: x [C, B, H, W], k [C, kh, kw], stride 1, pad kh/2. tile T.
func toeplitzDW(x, k *Node, kh, kw, T int) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions
	C, B, H, W := d[0], d[1], d[2], d[3]
	ph, pw := kh/2, kw/2
	oh, ow := H, W
	ntiles := (ow + T - 1) / T
	Ti := T - 1 + kw
	wpNeed := (ntiles-1)*T + Ti
	// pad
	zH := Zeros(g, shapes.Make(dtypes.Float32, C, B, ph, W))
	xp := Concatenate([]*Node{zH, x, zH}, 2)
	Hp := H + 2*ph
	right := wpNeed - W - pw
	parts := []*Node{Zeros(g, shapes.Make(dtypes.Float32, C, B, Hp, pw)), xp}
	if right > 0 {
		parts = append(parts, Zeros(g, shapes.Make(dtypes.Float32, C, B, Hp, right)))
	}
	xp = Concatenate(parts, 3)
	rows := make([]*Node, kh)
	for i := 0; i < kh; i++ {
		rows[i] = ExpandAxes(Slice(xp, AxisRange(), AxisRange(), AxisRange(i, i+oh), AxisRange()), 3) // [C,B,oh,1,Wp]
	}
	st := Concatenate(rows, 3) // [C,B,oh,kh,Wp]
	tiles := make([]*Node, ntiles)
	for t := 0; t < ntiles; t++ {
		tiles[t] = ExpandAxes(Slice(st, AxisRange(), AxisRange(), AxisRange(), AxisRange(), AxisRange(t*T, t*T+Ti)), 3) // [C,B,oh,1,kh,Ti]
	}
	lhs := Reshape(Concatenate(tiles, 3), C, B*oh*ntiles, kh*Ti)
	// selection [kw, Ti, T]: 1 if u == v + j
	j := Iota(g, shapes.Make(dtypes.Int32, kw, Ti, T), 0)
	u := Iota(g, shapes.Make(dtypes.Int32, kw, Ti, T), 1)
	v := Iota(g, shapes.Make(dtypes.Int32, kw, Ti, T), 2)
	sel := ConvertDType(Equal(u, Add(v, j)), dtypes.Float32)
	tm := DotGeneral(k, []int{2}, nil, sel, []int{0}, nil) // [C, kh, Ti, T]
	tm = Reshape(tm, C, kh*Ti, T)
	out := DotGeneral(lhs, []int{2}, []int{0}, tm, []int{1}, []int{0}) // [C, M, T]
	out = Reshape(out, C, B, oh, ntiles*T)
	if ntiles*T != ow {
		out = Slice(out, AxisRange(), AxisRange(), AxisRange(), AxisRange(0, ow))
	}
	return out
}

func TestDW(t *testing.T) {
	b, _ := backends.NewWithConfig("go")
	for _, sz := range [][2]int{{64, 64}, {128, 32}, {256, 16}} {
		C, H := sz[0], sz[1]
		t.Logf("C=%d H=W=%d", C, H)
		run1(t, "NHWC shifted dw7", b, func(x *Node) *Node {
			xs := TransposeAllDims(Reshape(x, C, 1, H, H), 1, 2, 3, 0)
			k := Iota(x.Graph(), shapes.Make(dtypes.Float32, C, 7, 7), 0)
			zh := Zeros(x.Graph(), shapes.Make(dtypes.Float32, 1, 3, H, C))
			xp := Concatenate([]*Node{zh, xs, zh}, 1)
			zw := Zeros(x.Graph(), shapes.Make(dtypes.Float32, 1, H+6, 3, C))
			xp = Concatenate([]*Node{zw, xp, zw}, 2)
			var acc *Node
			for i := 0; i < 7; i++ {
				for j := 0; j < 7; j++ {
					s := Slice(xp, AxisRange(), AxisRange(i, i+H), AxisRange(j, j+H), AxisRange())
					kk := Reshape(Slice(k, AxisRange(), AxisElem(i), AxisElem(j)), 1, 1, 1, C)
					term := Mul(s, kk)
					if acc == nil {
						acc = term
					} else {
						acc = Add(acc, term)
					}
				}
			}
			return acc
		}, shapes.Make(dtypes.Float32, C, 1, H, H))
		for _, T := range []int{4, 8} {
			if T > H {
				continue
			}
			run1(t, fmt.Sprintf("CNHW toeplitz dw7 T=%d", T), b, func(x *Node) *Node {
				k := Iota(x.Graph(), shapes.Make(dtypes.Float32, C, 7, 7), 0)
				return toeplitzDW(x, k, 7, 7, T)
			}, shapes.Make(dtypes.Float32, C, 1, H, H))
		}
		for _, T := range []int{4, 8} {
			run1(t, fmt.Sprintf("CNHW toeplitz dw3 T=%d", T), b, func(x *Node) *Node {
				k := Iota(x.Graph(), shapes.Make(dtypes.Float32, C, 3, 3), 0)
				return toeplitzDW(x, k, 3, 3, T)
			}, shapes.Make(dtypes.Float32, C, 1, H, H))
		}
		run1(t, "NHWC shifted dw3", b, func(x *Node) *Node {
			xs := TransposeAllDims(Reshape(x, C, 1, H, H), 1, 2, 3, 0)
			k := Iota(x.Graph(), shapes.Make(dtypes.Float32, C, 3, 3), 0)
			zh := Zeros(x.Graph(), shapes.Make(dtypes.Float32, 1, 1, H, C))
			xp := Concatenate([]*Node{zh, xs, zh}, 1)
			zw := Zeros(x.Graph(), shapes.Make(dtypes.Float32, 1, H+2, 1, C))
			xp = Concatenate([]*Node{zw, xp, zw}, 2)
			var acc *Node
			for i := 0; i < 3; i++ {
				for j := 0; j < 3; j++ {
					s := Slice(xp, AxisRange(), AxisRange(i, i+H), AxisRange(j, j+H), AxisRange())
					kk := Reshape(Slice(k, AxisRange(), AxisElem(i), AxisElem(j)), 1, 1, 1, C)
					term := Mul(s, kk)
					if acc == nil {
						acc = term
					} else {
						acc = Add(acc, term)
					}
				}
			}
			return acc
		}, shapes.Make(dtypes.Float32, C, 1, H, H))
		run1(t, "CNHW bias add [C,1,1,1]", b, func(x *Node) *Node {
			return Add(x, Iota(x.Graph(), shapes.Make(dtypes.Float32, C, 1, 1, 1), 0))
		}, shapes.Make(dtypes.Float32, C, 1, H, H))
		run1(t, "CNHW bias via outer dot", b, func(x *Node) *Node {
			bb := Iota(x.Graph(), shapes.Make(dtypes.Float32, C, 1), 0)
			ones := Ones(x.Graph(), shapes.Make(dtypes.Float32, 1, H*H))
			full := DotGeneral(bb, []int{1}, nil, ones, []int{0}, nil)
			return Add(x, Reshape(full, C, 1, H, H))
		}, shapes.Make(dtypes.Float32, C, 1, H, H))
		run1(t, "1x1 conv C->3C CN", b, func(x *Node) *Node {
			w := Iota(x.Graph(), shapes.Make(dtypes.Float32, 3*C, C), 0)
			return DotGeneral(w, []int{1}, nil, Reshape(x, C, H*H), []int{0}, nil)
		}, shapes.Make(dtypes.Float32, C, 1, H, H))
	}
}
