package testutil

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// WriteImages writes images number first ... first+n-1 of a fixed sequence of distinct small PNGs
// (gradients of different colours and angles, image i is (48+8i)×40) into dir as imgNN.png and
// returns their paths.
func WriteImages(t testing.TB, dir string, first, n int) []string {
	t.Helper()
	var paths []string
	for i := first; i < first+n; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 48+8*i, 40))
		for y := range 40 {
			for x := range 48 + 8*i {
				v := uint8((x*(i+1) + y*(7-i%7)) * 3)
				img.Set(x, y, color.RGBA{v, uint8(40 * i), 255 - v, 255})
			}
		}
		p := filepath.Join(dir, fmt.Sprintf("img%02d.png", i))
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			f.Close()
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}
