package cliplib

import (
	"image"
	"image/color"
	"strings"
	"testing"
)

func TestPixelKeyDependsOnPixelsOnly(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 3, 2))
	gray.SetGray(1, 1, color.Gray{Y: 200})
	rgba := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for y := range 2 {
		for x := range 3 {
			rgba.Set(x, y, gray.At(x, y))
		}
	}
	shifted := image.NewRGBA(image.Rect(5, 5, 8, 7)) // same pixels at another origin
	for y := range 2 {
		for x := range 3 {
			shifted.Set(5+x, 5+y, gray.At(x, y))
		}
	}
	// A sub-image at the origin whose Pix slice runs on past its last row.
	tall := image.NewRGBA(image.Rect(0, 0, 3, 4))
	for y := range 2 {
		for x := range 3 {
			tall.Set(x, y, gray.At(x, y))
		}
	}
	tall.Set(0, 3, color.White)
	sub := tall.SubImage(image.Rect(0, 0, 3, 2))
	if PixelKey(gray) != PixelKey(rgba) || PixelKey(rgba) != PixelKey(shifted) || PixelKey(sub) != PixelKey(rgba) {
		t.Errorf("the same pixels in a Gray, an RGBA, a shifted RGBA and a sub-image should share a key")
	}
	other := image.NewGray(image.Rect(0, 0, 3, 2))
	other.SetGray(1, 1, color.Gray{Y: 201})
	if PixelKey(other) == PixelKey(gray) {
		t.Errorf("different pixels, same key")
	}
	wide := image.NewGray(image.Rect(0, 0, 6, 1)) // same number of pixels, other shape
	if PixelKey(wide) == PixelKey(image.NewGray(image.Rect(0, 0, 3, 2))) {
		t.Errorf("different sizes, same key")
	}
	if !strings.HasPrefix(PixelKey(gray), "pixels:") {
		t.Errorf("key without its namespace prefix")
	}
}
