package checkpoint

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadSafetensorsMatchesTorchBitExactly(t *testing.T) {
	exp := loadExpected(t)
	for _, name := range []string{"st_f32.safetensors", "st_f16.safetensors", "st_bf16.safetensors", "st_dtypes.safetensors"} {
		t.Run(name, func(t *testing.T) {
			want, ok := exp.Fixtures[name]
			if !ok {
				t.Fatalf("expected.json has no entry for %s", name)
			}
			sd, meta, err := ReadSafetensorsFile(fixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			checkStateDict(t, sd, want.Tensors)
			if !reflect.DeepEqual(meta, want.Metadata) {
				t.Errorf("metadata %v, want %v", meta, want.Metadata)
			}
		})
	}
}

// The Go fp16/bf16 → fp32 conversion must equal torch's .float() for every bit pattern.
func TestHalfConversionsMatchTorchForAllBitPatterns(t *testing.T) {
	exp := loadExpected(t)
	f16 := make([]float32, 1<<16)
	bf16 := make([]float32, 1<<16)
	for i := range f16 {
		f16[i] = F16ToF32(uint16(i))
		bf16[i] = BF16ToF32(uint16(i))
	}
	if got := f32SHA(f16); got != exp.F16AllSHA {
		t.Errorf("fp16→fp32 over all 65536 patterns: digest %s, torch gives %s", got, exp.F16AllSHA)
	}
	if got := f32SHA(bf16); got != exp.BF16AllSHA {
		t.Errorf("bf16→fp32 over all 65536 patterns: digest %s, torch gives %s", got, exp.BF16AllSHA)
	}
}

// Writing the float32 fixture as F16 / BF16 must round exactly like torch's .half() / .bfloat16(),
// whose results are the st_f16 / st_bf16 fixtures.
func TestWriteSafetensorsRoundsLikeTorch(t *testing.T) {
	src, err := ReadSafetensors(fixture(t, "st_f32.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	exp := loadExpected(t)
	for _, tc := range []struct {
		dtype   DType
		fixture string
	}{{F32, "st_f32.safetensors"}, {F16, "st_f16.safetensors"}, {BF16, "st_bf16.safetensors"}} {
		t.Run(string(tc.dtype), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.safetensors")
			if err := WriteSafetensors(path, src, tc.dtype); err != nil {
				t.Fatal(err)
			}
			got, err := ReadSafetensors(path)
			if err != nil {
				t.Fatal(err)
			}
			checkStateDict(t, got, exp.Fixtures[tc.fixture].Tensors)
		})
	}
}

func TestWriteSafetensorsRoundTripsIntsAndMetadataDeterministically(t *testing.T) {
	sd, err := ReadSafetensors(fixture(t, "st_dtypes.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{"converted_by": "clipkit", "layout": "openai"}
	dir := t.TempDir()
	p1, p2 := filepath.Join(dir, "a.safetensors"), filepath.Join(dir, "b.safetensors")
	for _, p := range []string{p1, p2} {
		if err := WriteSafetensorsWithMetadata(p, sd, F32, meta); err != nil {
			t.Fatal(err)
		}
	}
	b1, _ := os.ReadFile(p1)
	b2, _ := os.ReadFile(p2)
	if !bytes.Equal(b1, b2) {
		t.Error("writing the same state dict twice gave different bytes")
	}
	got, gotMeta, err := ReadSafetensorsFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("metadata %v, want %v", gotMeta, meta)
	}
	for k, want := range sd {
		g := got[k]
		if g == nil {
			t.Errorf("%s missing after round trip", k)
			continue
		}
		wantDT := want.DType
		if wantDT.IsFloat() {
			wantDT = F32
		}
		if g.DType != wantDT || !reflect.DeepEqual(g.Ints, want.Ints) || !equalInts(g.Shape, want.Shape) {
			t.Errorf("%s: round trip gave %s %v, want %s %v", k, g, g.Ints, wantDT, want.Ints)
		}
	}
	// The data section starts 8-byte aligned, like the reference writer's output.
	if n := binary.LittleEndian.Uint64(b1); n%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", n)
	}
}

func TestWriteSafetensorsRejectsInvalidTensors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		sd    StateDict
		dtype DType
		want  string
	}{
		{"short data", StateDict{"w": {Shape: []int{2, 2}, DType: F32, Data: []float32{1, 2, 3}}}, F32, `"w"`},
		{"int out of range", StateDict{"i": {Shape: []int{1}, DType: I8, Ints: []int64{300}}}, F32, "does not fit I8"},
		{"bad output dtype", StateDict{"w": {Shape: []int{1}, DType: F32, Data: []float32{1}}}, I64, "F32, F16 or BF16"},
		{"reserved name", StateDict{"__metadata__": {Shape: []int{1}, DType: F32, Data: []float32{1}}}, F32, "reserved"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "x.safetensors")
			err := WriteSafetensors(path, tc.sd, tc.dtype)
			errContains(t, err, tc.want, path)
			if _, statErr := os.Stat(path); statErr == nil {
				t.Error("a failed write left a file behind")
			}
			left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
			if len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

// safetensorsBytes assembles a file from a raw header and data.
func safetensorsBytes(header string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(data)
	return b.Bytes()
}

func TestReadSafetensorsRejectsCorruptHeaders(t *testing.T) {
	data16 := make([]byte, 16)
	hugeLen := make([]byte, 16)
	binary.LittleEndian.PutUint64(hugeLen, 1<<40)
	pastEnd := make([]byte, 16)
	binary.LittleEndian.PutUint64(pastEnd, 9)
	copy(pastEnd[8:], "{}")
	for _, tc := range []struct {
		name string
		file []byte
		want []string
	}{
		{"too short", []byte{1, 2, 3}, []string{"too short"}},
		{"header length over limit", hugeLen, []string{"exceeds"}},
		{"header length past end", pastEnd, []string{"truncated"}},
		{"not json", safetensorsBytes("{nope", nil), []string{"not valid JSON"}},
		{"not an object", safetensorsBytes("[1,2]", nil), []string{"not a JSON object"}},
		{"unknown dtype", safetensorsBytes(`{"w":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}`, data16), []string{`"w"`, "unsupported dtype"}},
		{"size mismatch", safetensorsBytes(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, data16), []string{`"w"`, "needs 12 bytes"}},
		{"offsets past data", safetensorsBytes(`{"w":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}`, data16), []string{`"w"`, "run past"}},
		{"reversed offsets", safetensorsBytes(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, data16), []string{`"w"`, "invalid data_offsets"}},
		{"negative dim", safetensorsBytes(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, data16), []string{`"w"`, "negative"}},
		{"huge dims", safetensorsBytes(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, data16), []string{`"w"`, "more elements"}},
		{"fractional dim", safetensorsBytes(`{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, data16), []string{`"w"`}},
		{"missing shape", safetensorsBytes(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, data16), []string{`"w"`, "missing shape"}},
		{"overlap", safetensorsBytes(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, data16), []string{`"a"`, `"b"`, "overlap"}},
		{"duplicate name", safetensorsBytes(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, data16), []string{`"a"`, "twice"}},
		{"bad metadata", safetensorsBytes(`{"__metadata__":{"x":1}}`, nil), []string{"__metadata__"}},
		{"trailing bytes", safetensorsBytes(`{} {}`, nil), []string{"trailing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, _, err := ReadSafetensorsFrom(bytes.NewReader(tc.file), int64(len(tc.file)), "bad.safetensors")
			if sd != nil {
				t.Error("got tensors along with an error")
			}
			errContains(t, err, append(tc.want, "bad.safetensors")...)
		})
	}
}

func TestReadSafetensorsAcceptsPaddingEmptyTensorsAndHoles(t *testing.T) {
	data := make([]byte, 12)
	binary.LittleEndian.PutUint32(data[8:], math.Float32bits(1.5))
	hdr := `{"e":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}   `
	file := safetensorsBytes(hdr, data)
	sd, meta, err := ReadSafetensorsFrom(bytes.NewReader(file), int64(len(file)), "ok")
	if err != nil {
		t.Fatal(err)
	}
	if meta != nil {
		t.Errorf("metadata %v, want none", meta)
	}
	if e := sd["e"]; e == nil || e.NumElements() != 0 || !equalInts(e.Shape, []int{0, 4}) {
		t.Errorf("empty tensor: %v", e)
	}
	if x := sd["x"]; x == nil || len(x.Shape) != 0 || x.Data[0] != 1.5 {
		t.Errorf("scalar: %v", x)
	}
}

// Every prefix of a valid file must give an error that names the file, never a panic.
func TestReadSafetensorsTruncatedFileFails(t *testing.T) {
	full := readFixtureBytes(t, "st_f32.safetensors")
	for cut := 0; cut < len(full); cut++ {
		b := full[:cut]
		_, _, err := ReadSafetensorsFrom(bytes.NewReader(b), int64(len(b)), "cut.safetensors")
		if err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", cut, len(full))
		}
		if !strings.Contains(err.Error(), "cut.safetensors") {
			t.Fatalf("truncated to %d bytes: error %q does not name the file", cut, err)
		}
	}
}

func TestReadSafetensorsHeaderListsEntriesInDataOrder(t *testing.T) {
	b := readFixtureBytes(t, "st_f16.safetensors")
	h, err := ReadSafetensorsHeader(bytes.NewReader(b), int64(len(b)), "st_f16")
	if err != nil {
		t.Fatal(err)
	}
	exp := loadExpected(t).Fixtures["st_f16.safetensors"].Tensors
	if len(h.Entries) != len(exp) {
		t.Fatalf("%d entries, want %d", len(h.Entries), len(exp))
	}
	for i, e := range h.Entries {
		if i > 0 && e.Begin < h.Entries[i-1].End {
			t.Errorf("entry %s starts at %d before the previous one ends", e.Name, e.Begin)
		}
		if !equalInts(e.Shape, exp[e.Name].Shape) || e.DType != F16 {
			t.Errorf("%s: %s%v, want F16%v", e.Name, e.DType, e.Shape, exp[e.Name].Shape)
		}
	}
}
