// Package checkpoint reads model weights from the file formats CLIP and MobileCLIP are published
// in, without Python and without executing anything a file names:
//
//   - safetensors (HF transformers model.safetensors, OpenCLIP open_clip_model.safetensors),
//   - PyTorch zip archives written by torch.save (open_clip_pytorch_model.bin, MobileCLIP .pt),
//   - TorchScript zip archives (OpenAI's original ViT-B-32.pt ... files).
//
// ReadFile detects the format from the content and returns a StateDict: tensors by their name in
// the file, floating tensors converted to float32 (fp16 and bf16 upcast exactly), integer and
// boolean tensors as int64. ReadSafetensors / ReadTorch (and their ...From variants over an
// io.ReaderAt) read one format; WriteSafetensors writes F32, F16 or BF16 files.
//
// ToOpenAI maps a state dict in OpenAI / open_clip or HF transformers naming onto the project's
// internal naming, which is OpenAI's (openai/CLIP clip/model.py, which open_clip keeps).
// DetectLayout names a state dict's layout: those generic two, or a layout with a tower family's
// own naming, which the family registers (RegisterLayout) and maps itself (MobileCLIP's:
// package cliplib/model/mobileclip).
//
// Safety: every size a file declares is checked against the file's real size before anything is
// allocated, so memory use is bounded by the input; pickles go through an allowlist of the few
// tensor-rebuilding globals torch writes (UnsafePickleError for anything else) and are never
// executed. Malformed input gives an error naming the file (and the tensor), never a panic.
package checkpoint

import (
	"fmt"
	"math"
)

// DType is the element type of a tensor as stored in the file, in safetensors' spelling.
type DType string

// Element types found in CLIP checkpoints.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == F64 || d == F32 || d == F16 || d == BF16 }

// Tensor is one tensor of a checkpoint. Floating tensors are converted to float32 in Data;
// integer and boolean tensors are kept in Ints. Shape is row-major; a scalar has an empty shape.
type Tensor struct {
	Shape []int
	DType DType     // the type stored in the file
	Data  []float32 // floating tensors, as float32
	Ints  []int64   // integer / bool tensors
}

// NumElements returns the product of the dimensions (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// isFloat reports whether the tensor's values live in Data (a floating DType, or no DType and no Ints).
func (t *Tensor) isFloat() bool { return t.DType.IsFloat() || (t.DType == "" && t.Ints == nil) }

// Validate checks that the shape has no negative dimension and that Data (floating DType) or
// Ints (integer/bool DType) holds exactly NumElements values. A tensor with an empty DType is
// treated as floating unless only Ints is set.
func (t *Tensor) Validate() error {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("negative dimension in shape %v", t.Shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return fmt.Errorf("shape %v overflows", t.Shape)
		}
		n *= d
	}
	switch {
	case t.DType != "" && t.DType.Size() == 0:
		return fmt.Errorf("unknown dtype %q", t.DType)
	case t.isFloat():
		if len(t.Data) != n || t.Ints != nil {
			return fmt.Errorf("%s tensor with shape %v needs %d values in Data (has %d) and no Ints (has %d)", t.DType, t.Shape, n, len(t.Data), len(t.Ints))
		}
	default:
		if len(t.Ints) != n || t.Data != nil {
			return fmt.Errorf("%s tensor with shape %v needs %d values in Ints (has %d) and no Data (has %d)", t.DType, t.Shape, n, len(t.Ints), len(t.Data))
		}
	}
	return nil
}

// String describes the tensor's type and shape.
func (t *Tensor) String() string { return fmt.Sprintf("%s%v", t.DType, t.Shape) }

// StateDict maps tensor names to tensors.
type StateDict map[string]*Tensor

// Format names a checkpoint file format.
type Format string

// Supported formats.
const (
	FormatSafetensors Format = "safetensors"
	FormatTorchZip    Format = "torch-zip"   // torch.save archive (pickle + raw storages)
	FormatTorchScript Format = "torchscript" // torch.jit.save archive
)
