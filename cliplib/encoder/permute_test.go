package encoder

import (
	"fmt"
	"testing"
)

// TestTranspose2DMatchesDefinition checks the blocked transpose element by element on shapes
// that exercise every path: smaller than a block, not a multiple of the 8-row block or of the
// 64×64 tile, one row, one column, and the sizes of real weights.
func TestTranspose2DMatchesDefinition(t *testing.T) {
	for _, tc := range [][2]int{{1, 1}, {1, 37}, {37, 1}, {7, 13}, {8, 8}, {9, 70}, {64, 64}, {65, 129}, {130, 3}, {768, 2304}} {
		rows, cols := tc[0], tc[1]
		t.Run(fmt.Sprintf("%dx%d", rows, cols), func(t *testing.T) {
			src := make([]float32, rows*cols)
			for i := range src {
				src[i] = float32(i) + 0.5
			}
			dst := make([]float32, rows*cols)
			transpose2D(dst, src, rows, cols)
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					if got, want := dst[j*rows+i], src[i*cols+j]; got != want {
						t.Fatalf("dst[%d][%d] = %v, want src[%d][%d] = %v", j, i, got, i, j, want)
					}
				}
			}
		})
	}
}

// BenchmarkTranspose2D times the transpose of a [3072, 768] weight (ViT-B/32's MLP), the work
// of placing Linear weights under nn.LayoutInOut.
func BenchmarkTranspose2D(b *testing.B) {
	const rows, cols = 3072, 768
	src := make([]float32, rows*cols)
	dst := make([]float32, rows*cols)
	b.SetBytes(rows * cols * 4)
	for b.Loop() {
		transpose2D(dst, src, rows, cols)
	}
}
