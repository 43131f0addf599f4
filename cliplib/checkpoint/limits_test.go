package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestLongTensorNamesAreRefusedAndNotEchoed: a safetensors header naming a tensor with a
// multi-megabyte name is refused with an error of bounded length (before, the whole name was
// echoed into the error).
func TestLongTensorNamesAreRefusedAndNotEchoed(t *testing.T) {
	for _, n := range []int{MaxTensorName + 1, 8 << 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			name := strings.Repeat("x", n)
			header := fmt.Sprintf(`{%q:{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, name)
			var b bytes.Buffer
			binary.Write(&b, binary.LittleEndian, uint64(len(header)))
			b.WriteString(header)
			b.Write([]byte{0, 0, 0, 0})
			_, _, err := ReadSafetensorsFrom(bytes.NewReader(b.Bytes()), int64(b.Len()), "long.safetensors")
			if err == nil || !strings.Contains(err.Error(), "byte limit") {
				t.Fatalf("error %v, want the name-length limit", err)
			}
			if len(err.Error()) > 500 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestCheckFiniteNamesTheTensor(t *testing.T) {
	for _, tc := range []struct {
		name string
		sd   StateDict
		want string
	}{
		{"finite", StateDict{"a": {Shape: []int{2}, DType: F32, Data: []float32{1, 2}}}, ""},
		{"nan", StateDict{"a": {Shape: []int{2}, DType: F32, Data: []float32{1, 2}},
			"b.weight": {Shape: []int{2}, DType: F32, Data: []float32{1, float32(math.NaN())}}}, `"b.weight" [2] holds the non-finite value NaN at flat index 1`},
		{"mask -inf is fine", StateDict{"transformer.attn_mask": {Shape: []int{1}, DType: F32, Data: []float32{float32(math.Inf(-1))}}}, ""},
		{"mask NaN", StateDict{"attn_mask": {Shape: []int{1}, DType: F32, Data: []float32{float32(math.NaN())}}}, `"attn_mask" [1] holds the non-finite value NaN`},
		{"two bad: the first by name", StateDict{"z": {Shape: []int{1}, DType: F32, Data: []float32{float32(math.NaN())}},
			"m": {Shape: []int{3}, DType: F32, Data: []float32{0, 0, 0}},
			"b": {Shape: []int{2}, DType: F32, Data: []float32{0, float32(math.Inf(1))}}}, `"b" [2] holds the non-finite value +Inf at flat index 1`},
		{"inf", StateDict{"c": {Shape: []int{1}, DType: F16, Data: []float32{float32(math.Inf(-1))}}}, `"c" [1] holds the non-finite value -Inf`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sd.CheckFinite()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
