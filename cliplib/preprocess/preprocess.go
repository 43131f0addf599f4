// Package preprocess decodes images and turns them into the input tensors of CLIP and MobileCLIP
// image towers, reproducing the reference Python pipeline (torchvision transforms on Pillow images)
// pixel for pixel.
//
// The reference is OpenAI's `_transform(n_px)`:
//
//	Resize(n_px, BICUBIC)  # on the PIL image: shortest side -> n_px, long side int(n_px*long/short)
//	CenterCrop(n_px)       # torchvision offsets: round((H-n_px)/2) with round-half-to-even
//	convert("RGB")
//	ToTensor()             # uint8 -> float32 / 255, HWC -> CHW
//	Normalize(mean, std)
//
// MobileCLIP uses the same steps with bilinear resampling and no normalisation (mean 0, std 1);
// both are presets of [Config] ([OpenAI], [MobileCLIP]).
//
// Exactness: the resampler is Pillow's separable two-pass convolution with 22-bit fixed-point
// weights and a uint8 intermediate (libImaging/Resample.c), and the colour-mode rules are Pillow's:
// paletted ("P") and bilevel ("1") images are resized with nearest neighbour whatever filter is
// asked, "RGBA"/"LA" images are resized in premultiplied alpha and converted back, convert("RGB")
// drops alpha without compositing, 16-bit grayscale ("I;16") is clipped to 255, CMYK uses
// Pillow's cmyk2rgb. [Decode] records the mode Pillow would open a file in, and converts JPEG and
// lossy WebP colour the way libjpeg-turbo and libwebp do (fancy chroma upsampling, their
// fixed-point YCbCr tables). With that, PNG, GIF, BMP, TIFF and WebP inputs give the reference's
// uint8 crop bit for bit; JPEG differs only through the IDCT (Go's is not libjpeg-turbo's
// jidctint), by at most a few levels in a small fraction of samples. The parity test in this
// package measures both against fixtures made by tools/reference/make_preprocess_fixtures.py.
//
// Like the reference, nothing applies EXIF orientation or ICC profiles. HuggingFace's
// CLIPImageProcessor converts to RGB before resizing; this package always follows OpenAI's order
// and offers only HF's crop rounding ([CropFloor]).
//
// Everything here is pure Go (no GoMLX): the output is a plain []float32 in [N,3,S,S] layout.
package preprocess

import (
	"errors"
	"fmt"
	"image"
	"math"
	"runtime"
	"sync"
)

// Interpolation selects the resampling filter of the resize step.
type Interpolation int

const (
	// Bicubic is Pillow's BICUBIC filter: Keys cubic with a = -0.5, support 2 (scaled when downsampling).
	Bicubic Interpolation = iota
	// Bilinear is Pillow's BILINEAR filter: triangle, support 1 (scaled when downsampling).
	Bilinear
)

// String returns the filter name.
func (i Interpolation) String() string {
	switch i {
	case Bicubic:
		return "bicubic"
	case Bilinear:
		return "bilinear"
	}
	return fmt.Sprintf("Interpolation(%d)", int(i))
}

// CropRounding selects how the center-crop offset is rounded when (side - Size) is odd.
type CropRounding int

const (
	// CropTorchVision is torchvision's CenterCrop: int(round((side-Size)/2)) with Python's
	// round-half-to-even (e.g. an excess of 35 gives offset 18, of 33 gives 16).
	CropTorchVision CropRounding = iota
	// CropFloor is HuggingFace's center_crop: (side-Size)//2.
	CropFloor
)

// String returns the rounding rule name.
func (c CropRounding) String() string {
	switch c {
	case CropTorchVision:
		return "torchvision"
	case CropFloor:
		return "floor"
	}
	return fmt.Sprintf("CropRounding(%d)", int(c))
}

// Config describes the preprocessing of one model: resize the shortest side to Size with
// Interpolation, center-crop Size×Size, convert to RGB, scale to [0,1] and normalise each channel
// as (x - Mean[c]) / Std[c]. Mean and Std are in R, G, B order, in [0,1] pixel units.
type Config struct {
	// Size is the output side in pixels (the model's input resolution, e.g. 224, 256, 336).
	Size int
	// Interpolation is the resize filter.
	Interpolation Interpolation
	// Mean and Std are the per-channel normalisation (R, G, B); Std must be non-zero.
	Mean, Std [3]float32
	// CropRounding selects the center-crop offset rounding.
	CropRounding CropRounding
}

// OpenAIMean and OpenAIStd are the CLIP normalisation constants (R, G, B).
var (
	OpenAIMean = [3]float32{0.48145466, 0.4578275, 0.40821073}
	OpenAIStd  = [3]float32{0.26862954, 0.26130258, 0.27577711}
)

// OpenAI returns OpenAI CLIP's preprocessing at the given resolution: bicubic resize, torchvision
// center crop, OpenAI mean/std.
func OpenAI(size int) Config {
	return Config{Size: size, Interpolation: Bicubic, Mean: OpenAIMean, Std: OpenAIStd}
}

// MobileCLIP returns MobileCLIP's preprocessing (v1 S0/S1/S2/B and MobileCLIP2-S0/S2/B): bilinear
// resize, torchvision center crop, no normalisation (mean 0, std 1), so the tensor is RGB in [0,1].
// Use size 256 for the MCi encoders and 224 for B. (MobileCLIP2-S3/S4/L-14 use OpenAI mean/std:
// set Mean and Std on the returned Config.)
func MobileCLIP(size int) Config {
	return Config{Size: size, Interpolation: Bilinear, Std: [3]float32{1, 1, 1}}
}

// MaxSize is the largest Config.Size accepted.
const MaxSize = 4096

// Validate reports whether the config can be used.
func (c Config) Validate() error {
	if c.Size < 1 || c.Size > MaxSize {
		return fmt.Errorf("preprocess: Config.Size is %d, want 1..%d", c.Size, MaxSize)
	}
	if c.Interpolation != Bicubic && c.Interpolation != Bilinear {
		return fmt.Errorf("preprocess: unknown %v (want Bicubic or Bilinear)", c.Interpolation)
	}
	if c.CropRounding != CropTorchVision && c.CropRounding != CropFloor {
		return fmt.Errorf("preprocess: unknown %v (want CropTorchVision or CropFloor)", c.CropRounding)
	}
	for i, s := range c.Std {
		if s == 0 || math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("preprocess: Config.Std[%d] is %v, want a finite non-zero value", i, s)
		}
		if m := c.Mean[i]; math.IsNaN(float64(m)) || math.IsInf(float64(m), 0) {
			return fmt.Errorf("preprocess: Config.Mean[%d] is %v, want a finite value", i, m)
		}
	}
	return nil
}

// ResizedSize returns the size (width, height) torchvision's Resize(size) gives an image of
// w×h: the shortest side becomes size and the other int(size*long/short) (truncated).
func ResizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size*h) / float64(w))
	}
	return int(float64(size*w) / float64(h)), size
}

// CropOffset returns the offset of a centered window of length size in a side of length side
// (side >= size) under the rounding rule r.
func CropOffset(side, size int, r CropRounding) int {
	if r == CropFloor {
		return (side - size) / 2
	}
	return int(math.RoundToEven(float64(side-size) / 2))
}

// ResizeCrop runs the uint8 part of the pipeline (resize, center crop, convert to RGB) and returns
// the Size×Size crop as an opaque *image.RGBA (alpha 255). Its pixels are exactly the bytes that
// torchvision's ToTensor sees in the reference pipeline (for inputs whose decoding agrees, see the
// package doc). It is also a cheap way to make CLIP-sized thumbnails.
func ResizeCrop(img image.Image, cfg Config) (*image.RGBA, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, cfg.Size, cfg.Size))
	if err := resizeCropInto(out.Pix, img, cfg); err != nil {
		return nil, err
	}
	return out, nil
}

// Apply preprocesses one image and returns the normalised tensor in CHW layout: a []float32 of
// length 3·Size·Size (channel-major R, G, B planes; row-major within a plane).
func Apply(img image.Image, cfg Config) ([]float32, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out := make([]float32, 3*cfg.Size*cfg.Size)
	if err := applyInto(out, img, cfg, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyInto is [Apply] writing into dst, which must have length 3·Size·Size.
func ApplyInto(dst []float32, img image.Image, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if want := 3 * cfg.Size * cfg.Size; len(dst) != want {
		return fmt.Errorf("preprocess: ApplyInto destination has length %d, want 3·%d·%d = %d", len(dst), cfg.Size, cfg.Size, want)
	}
	return applyInto(dst, img, cfg, nil)
}

// Batch preprocesses imgs in parallel (one goroutine per CPU) and returns one flat []float32 of
// shape [len(imgs), 3, Size, Size]. The first failing image makes it return an error naming its
// index.
func Batch(imgs []image.Image, cfg Config) ([]float32, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	per := 3 * cfg.Size * cfg.Size
	out := make([]float32, len(imgs)*per)
	workers := min(runtime.GOMAXPROCS(0), len(imgs))
	errs := make([]error, len(imgs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rgb := make([]uint8, cfg.Size*cfg.Size*4)
			for i := range next {
				errs[i] = applyInto(out[i*per:(i+1)*per], imgs[i], cfg, rgb)
			}
		}()
	}
	for i := range imgs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("preprocess: batch image %d: %w", i, err)
		}
	}
	return out, nil
}

// applyInto runs the pipeline for one image into dst (len 3·S·S); scratch, if not nil, is a
// reusable S·S·4 buffer for the uint8 crop.
func applyInto(dst []float32, img image.Image, cfg Config, scratch []uint8) error {
	n := cfg.Size * cfg.Size
	if len(scratch) != 4*n {
		scratch = make([]uint8, 4*n)
	}
	if err := resizeCropInto(scratch, img, cfg); err != nil {
		return err
	}
	normalize(dst, scratch, cfg)
	return nil
}

// Normalize converts an RGBA byte crop (Size·Size·4 bytes, alpha ignored; e.g. the Pix of
// ResizeCrop's result) into the CHW tensor dst (3·Size·Size floats) exactly as torchvision's
// ToTensor + Normalize do in float32: (float32(v)/255 - mean) / std, one rounding per operation.
func Normalize(dst []float32, rgba []uint8, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	n := cfg.Size * cfg.Size
	if len(dst) != 3*n || len(rgba) != 4*n {
		return fmt.Errorf("preprocess: Normalize got %d floats and %d bytes, want 3·%d·%d = %d and 4·%d·%d = %d",
			len(dst), len(rgba), cfg.Size, cfg.Size, 3*n, cfg.Size, cfg.Size, 4*n)
	}
	normalize(dst, rgba, cfg)
	return nil
}

// normalize is Normalize without the checks.
func normalize(dst []float32, rgba []uint8, cfg Config) {
	n := cfg.Size * cfg.Size
	for c := range 3 {
		// Per-channel lookup table: 256 values, each computed with the reference's float32 ops.
		var lut [256]float32
		m, s := cfg.Mean[c], cfg.Std[c]
		for v := range 256 {
			x := float32(v) / 255
			lut[v] = float32(x-m) / s
		}
		plane := dst[c*n : (c+1)*n]
		for i := range plane {
			plane[i] = lut[rgba[4*i+c]]
		}
	}
}

// errNoPixels is returned for images with an empty bounds rectangle.
var errNoPixels = errors.New("image has no pixels")
