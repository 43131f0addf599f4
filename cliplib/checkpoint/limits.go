package checkpoint

import (
	"fmt"
	"math"
	"sort"
	"strings"
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
	for _, n := range names {
		mask := strings.HasSuffix(n, "attn_mask")
		for i, x := range sd[n].Data {
			// Exponent bits all ones: ±Inf (mantissa 0) or NaN. One test per value on the bits
			// (this runs over every weight at load).
			if b := math.Float32bits(x); b&0x7f800000 == 0x7f800000 && (!mask || b&0x007fffff != 0) {
				return fmt.Errorf("tensor %s %v holds the non-finite value %v at flat index %d", shortName(n), sd[n].Shape, x, i)
			}
		}
	}
	return nil
}
