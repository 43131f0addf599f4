package preprocess

import (
	"errors"
	"image"
	"image/color"
	"math"
	"strings"
	"testing"
)

func TestResizedSizeTruncatesLikeTorchvision(t *testing.T) {
	for _, tc := range []struct{ w, h, size, wantW, wantH int }{
		{640, 480, 224, 298, 224}, // 224·640/480 = 298.67 → 298
		{480, 640, 224, 224, 298},
		{200, 230, 224, 224, 257}, // 257.6 → 257
		{1000, 10, 224, 22400, 224},
		{1, 1, 224, 224, 224},
		{224, 301, 224, 224, 301}, // short side already 224: unchanged
		{512, 512, 336, 336, 336},
		{371, 370, 256, 256, 256}, // 256·371/370 = 256.69 → 256
	} {
		if w, h := ResizedSize(tc.w, tc.h, tc.size); w != tc.wantW || h != tc.wantH {
			t.Errorf("ResizedSize(%d, %d, %d) = %d×%d, want %d×%d", tc.w, tc.h, tc.size, w, h, tc.wantW, tc.wantH)
		}
	}
}

func TestCropOffsetRoundsHalfToEvenOrFloor(t *testing.T) {
	for _, tc := range []struct {
		side, size int
		r          CropRounding
		want       int
	}{
		{259, 224, CropTorchVision, 18}, // 17.5 → 18 (even)
		{257, 224, CropTorchVision, 16}, // 16.5 → 16 (even)
		{259, 224, CropFloor, 17},
		{257, 224, CropFloor, 16},
		{300, 224, CropTorchVision, 38},
		{300, 224, CropFloor, 38},
		{224, 224, CropTorchVision, 0},
		{303, 224, CropTorchVision, 40}, // 39.5 → 40
		{303, 224, CropFloor, 39},
	} {
		if got := CropOffset(tc.side, tc.size, tc.r); got != tc.want {
			t.Errorf("CropOffset(%d, %d, %v) = %d, want %d", tc.side, tc.size, tc.r, got, tc.want)
		}
	}
}

func TestPresets(t *testing.T) {
	o := OpenAI(224)
	if o.Size != 224 || o.Interpolation != Bicubic || o.Mean != OpenAIMean || o.Std != OpenAIStd || o.CropRounding != CropTorchVision {
		t.Errorf("OpenAI(224) = %+v", o)
	}
	m := MobileCLIP(256)
	if m.Size != 256 || m.Interpolation != Bilinear || m.Mean != [3]float32{} || m.Std != [3]float32{1, 1, 1} {
		t.Errorf("MobileCLIP(256) = %+v", m)
	}
	for _, c := range []Config{o, m} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestValidateRejectsBadConfigs(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"zero size", func(c *Config) { c.Size = 0 }, "Size"},
		{"huge size", func(c *Config) { c.Size = MaxSize + 1 }, "Size"},
		{"unknown filter", func(c *Config) { c.Interpolation = 7 }, "Interpolation(7)"},
		{"unknown crop", func(c *Config) { c.CropRounding = 9 }, "CropRounding(9)"},
		{"zero std", func(c *Config) { c.Std[1] = 0 }, "Std[1]"},
		{"nan mean", func(c *Config) { c.Mean[2] = nan }, "Mean[2]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := OpenAI(224)
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error mentioning %q", err, tc.want)
			}
			if _, err := Apply(image.NewGray(image.Rect(0, 0, 4, 4)), c); err == nil {
				t.Errorf("Apply accepted the bad config")
			}
		})
	}
}

// testImage returns a deterministic opaque RGB image with varied content.
func testImage(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := img.PixOffset(x, y)
			img.Pix[i] = uint8(x * 7)
			img.Pix[i+1] = uint8(y*5 + x)
			img.Pix[i+2] = uint8((x ^ y) * 3)
			img.Pix[i+3] = 255
		}
	}
	return img
}

func TestApplyIsCHWAndNormalised(t *testing.T) {
	const s = 16
	img := testImage(s, s) // no resize, no crop: the tensor is the image
	cfg := OpenAI(s)
	got, err := Apply(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3*s*s {
		t.Fatalf("len = %d, want %d", len(got), 3*s*s)
	}
	for _, p := range []image.Point{{0, 0}, {5, 7}, {15, 3}} {
		px := img.NRGBAAt(p.X, p.Y)
		for c, v := range []uint8{px.R, px.G, px.B} {
			want := (float32(v)/255 - cfg.Mean[c]) / cfg.Std[c]
			if g := got[(c*s+p.Y)*s+p.X]; g != want {
				t.Errorf("tensor[%d,%d,%d] = %v, want %v", c, p.Y, p.X, g, want)
			}
		}
	}
	mc, err := Apply(img, MobileCLIP(s))
	if err != nil {
		t.Fatal(err)
	}
	if g, want := mc[(1*s+7)*s+5], float32(img.NRGBAAt(5, 7).G)/255; g != want {
		t.Errorf("MobileCLIP tensor[1,7,5] = %v, want %v (unnormalised)", g, want)
	}
}

func TestNoResizeIsAPlainCenterCrop(t *testing.T) {
	img := testImage(224, 301) // short side 224: torchvision skips the resize
	got, err := ResizeCrop(img, OpenAI(224))
	if err != nil {
		t.Fatal(err)
	}
	const top = 38 // round(77/2 = 38.5) = 38
	for y := range 224 {
		for x := range 224 {
			g, w := got.RGBAAt(x, y), img.NRGBAAt(x, y+top)
			if g.R != w.R || g.G != w.G || g.B != w.B || g.A != 255 {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, g, w)
			}
		}
	}
}

func TestGrayAndEquivalentRGBGiveTheSameCrop(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 97, 61))
	rgb := image.NewRGBA(gray.Rect)
	for i := range gray.Pix {
		v := uint8(i*37 + i/97)
		gray.Pix[i] = v
		rgb.Pix[4*i], rgb.Pix[4*i+1], rgb.Pix[4*i+2], rgb.Pix[4*i+3] = v, v, v, 255
	}
	for _, cfg := range []Config{OpenAI(64), MobileCLIP(48)} {
		a, err := ResizeCrop(gray, cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ResizeCrop(rgb, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if string(a.Pix) != string(b.Pix) {
			t.Errorf("%v: L and RGB crops differ", cfg.Interpolation)
		}
	}
}

func TestSubImageWithOffsetOrigin(t *testing.T) {
	big := testImage(300, 250)
	sub := big.SubImage(image.Rect(31, 17, 31+150, 17+120)).(*image.NRGBA)
	fresh := image.NewNRGBA(image.Rect(0, 0, 150, 120))
	for y := range 120 {
		copy(fresh.Pix[y*fresh.Stride:], sub.Pix[sub.PixOffset(31, 17+y):sub.PixOffset(31+150, 17+y)])
	}
	a, err := ResizeCrop(sub, OpenAI(64))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ResizeCrop(fresh, OpenAI(64))
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Pix) != string(b.Pix) {
		t.Error("a sub-image and its copy at the origin give different crops")
	}
}

func TestInferModeFromGoTypes(t *testing.T) {
	r := image.Rect(0, 0, 2, 2)
	translucent := image.NewNRGBA(r)
	translucentRGBA := image.NewRGBA(r)
	for _, tc := range []struct {
		img  image.Image
		want pilMode
	}{
		{image.NewGray(r), modeL},
		{image.NewGray16(r), modeI16},
		{image.NewPaletted(r, color.Palette{color.Black}), modeP},
		{image.NewCMYK(r), modeCMYK},
		{image.NewYCbCr(r, image.YCbCrSubsampleRatio420), modeRGB},
		{testImage(2, 2), modeRGB},
		{translucent, modeRGBA},
		{translucentRGBA, modeRGBa},
		{image.NewUniform(color.NRGBA{1, 2, 3, 255}), modeRGB},
	} {
		if got := inferMode(tc.img); got != tc.want {
			t.Errorf("inferMode(%T) = %v, want %v", tc.img, got, tc.want)
		}
	}
}

func TestBadImagesAreErrorsNotPanics(t *testing.T) {
	cfg := OpenAI(32)
	for _, tc := range []struct {
		name string
		img  image.Image
		want string
	}{
		{"nil", nil, "nil image"},
		{"empty", image.NewRGBA(image.Rect(0, 0, 0, 5)), "no pixels"},
		{"short Pix", &image.RGBA{Pix: make([]uint8, 10), Stride: 400, Rect: image.Rect(0, 0, 100, 100)}, "malformed"},
		{"empty Decoded", &Decoded{}, "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Apply(tc.img, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestExtremeAspectRatios(t *testing.T) {
	for _, r := range []image.Rectangle{image.Rect(0, 0, 16384, 1), image.Rect(0, 0, 2, 9000)} {
		img := image.NewGray(r)
		for i := range img.Pix {
			img.Pix[i] = uint8(i)
		}
		out, err := ResizeCrop(img, OpenAI(224))
		if err != nil {
			t.Fatalf("%v: %v", r, err)
		}
		if out.Rect.Dx() != 224 || out.Rect.Dy() != 224 {
			t.Errorf("%v: crop is %v", r, out.Rect)
		}
	}
}

func TestBatchEqualsApplyPerImage(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 50, 70))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 13)
	}
	imgs := []image.Image{testImage(300, 200), gray, testImage(224, 224), testImage(10, 500), testImage(64, 64)}
	cfg := OpenAI(48)
	got, err := Batch(imgs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	per := 3 * 48 * 48
	if len(got) != len(imgs)*per {
		t.Fatalf("len = %d, want %d", len(got), len(imgs)*per)
	}
	for i, img := range imgs {
		one, err := Apply(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for j := range one {
			if one[j] != got[i*per+j] {
				t.Fatalf("image %d element %d: Batch %v, Apply %v", i, j, got[i*per+j], one[j])
			}
		}
	}
	imgs[3] = image.NewGray(image.Rect(0, 0, 0, 0))
	if _, err := Batch(imgs, cfg); err == nil || !strings.Contains(err.Error(), "batch image 3") {
		t.Errorf("Batch with an empty image 3: error %v, want one naming image 3", err)
	}
	if out, err := Batch(nil, cfg); err != nil || len(out) != 0 {
		t.Errorf("Batch(nil) = %d floats, %v", len(out), err)
	}
}

func TestNormalizeOfResizeCropEqualsApply(t *testing.T) {
	img := testImage(90, 70)
	cfg := OpenAI(32)
	crop, err := ResizeCrop(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 3*32*32)
	if err := Normalize(got, crop.Pix, cfg); err != nil {
		t.Fatal(err)
	}
	want, _ := Apply(img, cfg)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("element %d: %v, want %v", i, got[i], want[i])
		}
	}
	if err := Normalize(got[:5], crop.Pix, cfg); err == nil {
		t.Error("Normalize accepted a short destination")
	}
}

func TestApplyIntoChecksLength(t *testing.T) {
	err := ApplyInto(make([]float32, 10), testImage(8, 8), OpenAI(8))
	if err == nil || !strings.Contains(err.Error(), "length 10") {
		t.Fatalf("ApplyInto error = %v", err)
	}
	dst := make([]float32, 3*8*8)
	if err := ApplyInto(dst, testImage(8, 8), OpenAI(8)); err != nil {
		t.Fatal(err)
	}
	want, _ := Apply(testImage(8, 8), OpenAI(8))
	for i := range dst {
		if dst[i] != want[i] {
			t.Fatalf("ApplyInto differs from Apply at %d", i)
		}
	}
}

func TestBicubicKernelIsKeysHalf(t *testing.T) {
	for _, tc := range []struct{ x, want float64 }{
		{0, 1}, {1, 0}, {2, 0}, {-1, 0}, {0.5, 0.5625}, {-0.5, 0.5625}, {1.5, -0.0625}, {2.5, 0},
	} {
		if got := bicubicKernel(tc.x); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("bicubic(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	if bilinearKernel(0.25) != 0.75 || bilinearKernel(-1) != 0 {
		t.Error("bilinear kernel is not the triangle")
	}
}

func TestUnchangedAxisWeightsAreIdentity(t *testing.T) {
	// Pillow skips a pass whose size does not change; that is only safe because the pass would
	// be the identity. Check it for both filters.
	for _, f := range []filter{bicubicFilter, bilinearFilter} {
		c := precompute(37, 37, 0, 37, f)
		for j := range 37 {
			for x := range c.count[j] {
				want := int32(0)
				if c.start[j]+x == j {
					want = 1 << precisionBits
				}
				if got := c.fixed[j*c.ksize+x]; got != want {
					t.Fatalf("support %v, out %d tap %d: weight %d, want %d", f.support, j, x, got, want)
				}
			}
		}
	}
}

func TestFixedPointWeightsSumToOne(t *testing.T) {
	for _, tc := range []struct{ in, out int }{{512, 224}, {224, 512}, {1000, 3}, {3, 1000}, {301, 257}} {
		for _, f := range []filter{bicubicFilter, bilinearFilter} {
			c := precompute(tc.in, tc.out, 0, tc.out, f)
			for j := range tc.out {
				var sum int64
				for x := range c.count[j] {
					sum += int64(c.fixed[j*c.ksize+x])
				}
				if d := sum - 1<<precisionBits; d < -int64(c.ksize) || d > int64(c.ksize) {
					t.Fatalf("%d→%d support %v out %d: weights sum to 2^22%+d", tc.in, tc.out, f.support, j, d)
				}
			}
		}
	}
}

func TestMulDiv255IsRoundedProduct(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			want := uint8(math.Floor(float64(a*b)/255 + 0.5))
			if got := mulDiv255(uint8(a), uint8(b)); got != want {
				t.Fatalf("mulDiv255(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestNearestUpscaleDuplicatesPixels(t *testing.T) {
	// A paletted image is resized with NEAREST whatever the filter: 112×112 → 224×224 repeats
	// every index twice in each direction.
	pal := make(color.Palette, 256)
	for i := range pal {
		pal[i] = color.RGBA{uint8(i), uint8(255 - i), uint8(i * 3), 255}
	}
	img := image.NewPaletted(image.Rect(0, 0, 112, 112), pal)
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	out, err := ResizeCrop(img, OpenAI(224))
	if err != nil {
		t.Fatal(err)
	}
	for y := range 224 {
		for x := range 224 {
			want := pal[img.ColorIndexAt(x/2, y/2)].(color.RGBA)
			if got := out.RGBAAt(x, y); got != want {
				t.Fatalf("pixel (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestTranslucentPixelsArePremultipliedAroundResize(t *testing.T) {
	// A fully transparent red half next to an opaque blue half: Pillow resizes in premultiplied
	// alpha, so no red bleeds into the blue side of the boundary, and convert("RGB") then drops
	// alpha (transparent pixels keep their un-premultiplied colour, here black after resize).
	img := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	for y := range 64 {
		for x := range 64 {
			c := color.NRGBA{255, 0, 0, 0}
			if x >= 32 {
				c = color.NRGBA{0, 0, 255, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	out, err := ResizeCrop(img, OpenAI(32))
	if err != nil {
		t.Fatal(err)
	}
	for y := range 32 {
		for x := range 32 {
			if c := out.RGBAAt(x, y); c.R != 0 {
				t.Fatalf("pixel (%d,%d) = %v: red leaked through premultiplied alpha", x, y, c)
			}
		}
	}
	if c := out.RGBAAt(31, 10); c.B != 255 {
		t.Errorf("right edge = %v, want pure blue", c)
	}
}

func TestSixteenBitGrayClipsLikePillow(t *testing.T) {
	// Pillow's convert("RGB") from "I;16" clips at 255 instead of scaling.
	img := image.NewGray16(image.Rect(0, 0, 8, 8))
	for i := range 64 {
		img.SetGray16(i%8, i/8, color.Gray16{Y: uint16(i * 10)})
	}
	out, err := ResizeCrop(img, OpenAI(8))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		want := uint8(min(i*10, 255))
		if got := out.RGBAAt(i%8, i/8); got.R != want || got.G != want || got.B != want {
			t.Fatalf("pixel %d = %v, want gray %d", i, got, want)
		}
	}
}

func TestErrNoPixelsIsWrapped(t *testing.T) {
	_, err := ResizeCrop(image.NewGray(image.Rect(3, 3, 3, 9)), OpenAI(8))
	if !errors.Is(err, errNoPixels) {
		t.Fatalf("error %v does not wrap errNoPixels", err)
	}
}
