package checkpoint

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/clipkit/clipkit/internal/parallel"
)

// MaxTensorName is the longest tensor name accepted, in bytes (real names are under 100). A
// longer one is refused, and errors quote at most its first 64 bytes.
const MaxTensorName = 1024

// shortName quotes name for an error message, cut to 64 bytes with its full length noted.
func shortName(name string) string {
	if len(name) <= 64 {
		return fmt.Sprintf("%q", name)
	}
	return fmt.Sprintf("%q… (%d bytes)", name[:64], len(name))
}

// checkName refuses a tensor name over MaxTensorName bytes.
func checkName(name string) error {
	if len(name) > MaxTensorName {
		return fmt.Errorf("tensor name %s is over the %d-byte limit", shortName(name), MaxTensorName)
	}
	return nil
}

// CheckFinite returns an error naming the first tensor (in name order) that holds a NaN, or an
// infinity outside an attention mask, with the index and value of the first such element. Model
// weights must be finite: one NaN makes every embedding NaN. Attention masks ("attn_mask"
// buffers, as in OpenAI's TorchScript files) hold -inf by design.
func (sd StateDict) CheckFinite() error {
	names := make([]string, 0, len(sd))
	for n := range sd {
		names = append(names, n)
	}
	sort.Strings(names)
	// One pass over every weight at load: the tensors are checked on every core, and the error
	// of the first bad tensor in name order is returned, as a sequential check would.
	errs := make([]error, len(names))
	parallel.For(len(names), func(k int) { errs[k] = checkFiniteTensor(names[k], sd[names[k]]) })
	return firstError(errs)
}

// checkFiniteTensor is CheckFinite for one tensor.
func checkFiniteTensor(n string, t *Tensor) error {
	mask := strings.HasSuffix(n, "attn_mask")
	for i, x := range t.Data {
		// Exponent bits all ones: ±Inf (mantissa 0) or NaN. One test per value on the bits.
		if b := math.Float32bits(x); b&0x7f800000 == 0x7f800000 && (!mask || b&0x007fffff != 0) {
			return fmt.Errorf("tensor %s %v holds the non-finite value %v at flat index %d", shortName(n), t.Shape, x, i)
		}
	}
	return nil
}
