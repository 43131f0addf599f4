package checkpoint

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/x448/float16"
)

// Size returns the number of bytes one element of type d takes in a file, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// IsInt reports whether d is an integer or boolean type (kept in Tensor.Ints).
func (d DType) IsInt() bool {
	switch d {
	case I64, I32, I16, I8, U8, Bool:
		return true
	}
	return false
}

// ParseDType returns the DType spelled s in safetensors' notation ("F32", "BF16", "I64", "BOOL", ...).
func ParseDType(s string) (DType, error) {
	d := DType(s)
	if d.Size() == 0 {
		return "", fmt.Errorf("unsupported dtype %q (want one of F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)", s)
	}
	return d, nil
}

// f16Table maps every IEEE binary16 bit pattern to its float32 value. It is built once from
// x448/float16, whose conversion is exact for all 65536 patterns (NaNs become quiet NaNs with
// the payload kept, like the F16C instruction torch uses); a table makes the hot loop a lookup.
var (
	f16Table     *[1 << 16]float32
	f16TableOnce sync.Once
)

func f16ToF32Table() *[1 << 16]float32 {
	f16TableOnce.Do(func() {
		t := new([1 << 16]float32)
		for i := range t {
			t[i] = float16.Frombits(uint16(i)).Float32()
		}
		f16Table = t
	})
	return f16Table
}

// F16ToF32 converts an IEEE binary16 bit pattern to float32 exactly.
func F16ToF32(bits uint16) float32 { return f16ToF32Table()[bits] }

// BF16ToF32 converts a bfloat16 bit pattern to float32 exactly (bfloat16 is the top half of a float32).
func BF16ToF32(bits uint16) float32 { return math.Float32frombits(uint32(bits) << 16) }

// F32ToF16 rounds f to the nearest IEEE binary16 value (ties to even) and returns its bits.
func F32ToF16(f float32) uint16 { return float16.Fromfloat32(f).Bits() }

// F32ToBF16 rounds f to the nearest bfloat16 value (ties to even) and returns its bits, the way
// tensor.bfloat16() does in torch 2.15 on CPU, where every NaN becomes 0xFFFF (its vectorised
// kernel's choice; the scalar c10 path would give 0x7FC0). Written by hand: it is three lines and
// no small library reproduces torch's NaN handling.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return 0xffff
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// decodeFloats converts len(dst) elements of type dt from little-endian bytes src into dst.
// len(src) must be len(dst)*dt.Size() and dt must be a floating type.
func decodeFloats(dst []float32, src []byte, dt DType) {
	switch dt {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F16:
		t := f16ToF32Table()
		for i := range dst {
			dst[i] = t[binary.LittleEndian.Uint16(src[2*i:])]
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	default:
		panic(fmt.Sprintf("checkpoint: decodeFloats called with %s", dt))
	}
}

// decodeInts converts len(dst) elements of integer type dt from little-endian bytes src into dst.
// Booleans become 0 or 1.
func decodeInts(dst []int64, src []byte, dt DType) {
	switch dt {
	case I64:
		for i := range dst {
			dst[i] = int64(binary.LittleEndian.Uint64(src[8*i:]))
		}
	case I32:
		for i := range dst {
			dst[i] = int64(int32(binary.LittleEndian.Uint32(src[4*i:])))
		}
	case I16:
		for i := range dst {
			dst[i] = int64(int16(binary.LittleEndian.Uint16(src[2*i:])))
		}
	case I8:
		for i := range dst {
			dst[i] = int64(int8(src[i]))
		}
	case U8:
		for i := range dst {
			dst[i] = int64(src[i])
		}
	case Bool:
		for i := range dst {
			if src[i] != 0 {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	default:
		panic(fmt.Sprintf("checkpoint: decodeInts called with %s", dt))
	}
}

// newTensorFor allocates a tensor of the given file dtype and shape with room for n elements.
func newTensorFor(dt DType, shape []int, n int) *Tensor {
	t := &Tensor{Shape: shape, DType: dt}
	if dt.IsFloat() {
		t.Data = make([]float32, n)
	} else {
		t.Ints = make([]int64, n)
	}
	return t
}

// decodeInto converts the elements of src (type t.DType) into t.Data or t.Ints starting at element at.
func decodeInto(t *Tensor, at int, src []byte) {
	n := len(src) / t.DType.Size()
	if t.DType.IsFloat() {
		decodeFloats(t.Data[at:at+n], src, t.DType)
	} else {
		decodeInts(t.Ints[at:at+n], src, t.DType)
	}
}

// numElements multiplies dims, failing on a negative dimension or when the product exceeds limit.
func numElements(dims []int64, limit int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, dims)
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > limit/d {
			return 0, fmt.Errorf("shape %v has more elements than the %d the data can hold", dims, limit)
		}
		n *= d
	}
	if n > limit {
		return 0, fmt.Errorf("shape %v has more elements than the %d the data can hold", dims, limit)
	}
	return n, nil
}
