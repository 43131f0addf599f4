package checkpoint

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/clipkit/clipkit/internal/repo"
)

// fixtureDir returns testdata/checkpoint at the repository root (repo.Root).
func fixtureDir(tb testing.TB) string {
	tb.Helper()
	root, err := repo.Root()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(root, "testdata", "checkpoint")
}

func fixture(tb testing.TB, name string) string {
	tb.Helper()
	p := filepath.Join(fixtureDir(tb), filepath.FromSlash(name))
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("fixture missing (run tools/reference/make_checkpoint_fixtures.py): %v", err)
	}
	return p
}

func readFixtureBytes(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(fixture(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// expectedTensor is what torch reported for one tensor (see make_checkpoint_fixtures.py).
type expectedTensor struct {
	Shape   []int    `json:"shape"`
	DType   string   `json:"dtype"`
	F32Bits []uint32 `json:"f32bits"`
	SHA256  string   `json:"sha256"`
	Ints    []string `json:"ints"`
}

type expectedFixture struct {
	Metadata map[string]string         `json:"metadata"`
	Tensors  map[string]expectedTensor `json:"tensors"`
}

type expectedFile struct {
	Fixtures   map[string]expectedFixture `json:"fixtures"`
	F16AllSHA  string                     `json:"f16_all_patterns_f32_sha256"`
	BF16AllSHA string                     `json:"bf16_all_patterns_f32_sha256"`
	PwnMarker  string                     `json:"pwn_marker"`
	TinyCLIP   struct {
		OpenAI          map[string]expectedTensor `json:"openai"`
		BinDTypes       map[string]string         `json:"bin_dtypes"`
		TracedStateDict map[string]expectedTensor `json:"traced_state_dict"`
		HFKeys          []string                  `json:"hf_keys"`
	} `json:"tiny_clip"`
}

var (
	expectedOnce sync.Once
	expectedVal  expectedFile
	expectedErr  error
)

func loadExpected(tb testing.TB) *expectedFile {
	tb.Helper()
	expectedOnce.Do(func() {
		var b []byte
		b, expectedErr = os.ReadFile(filepath.Join(fixtureDir(tb), "expected.json"))
		if expectedErr == nil {
			expectedErr = json.Unmarshal(b, &expectedVal)
		}
	})
	if expectedErr != nil {
		tb.Fatalf("expected.json: %v", expectedErr)
	}
	return &expectedVal
}

// torchDTypes maps torch dtype names (as expected.json spells them) to file dtypes.
var torchDTypes = map[string]DType{
	"float32": F32, "float16": F16, "bfloat16": BF16, "float64": F64,
	"int64": I64, "int32": I32, "int16": I16, "int8": I8, "uint8": U8, "bool": Bool,
}

func f32SHA(data []float32) string {
	buf := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	s := sha256.Sum256(buf)
	return hex.EncodeToString(s[:])
}

// checkTensor compares t with what torch reported, bit-exactly.
func checkTensor(t *testing.T, name string, got *Tensor, want expectedTensor) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: missing", name)
		return
	}
	if err := got.Validate(); err != nil {
		t.Errorf("%s: invalid tensor: %v", name, err)
		return
	}
	if !equalInts(got.Shape, want.Shape) && !(len(got.Shape) == 0 && len(want.Shape) == 0) {
		t.Errorf("%s: shape %v, want %v", name, got.Shape, want.Shape)
		return
	}
	if want.DType != "" {
		if wd, ok := torchDTypes[want.DType]; !ok || wd != got.DType {
			t.Errorf("%s: dtype %s, torch says %s", name, got.DType, want.DType)
		}
	}
	if want.F32Bits != nil {
		for i, wb := range want.F32Bits {
			if gb := math.Float32bits(got.Data[i]); gb != wb {
				t.Errorf("%s[%d]: float32 bits %#08x (%g), torch gives %#08x (%g)", name, i, gb, got.Data[i], wb, math.Float32frombits(wb))
				return
			}
		}
	}
	if want.SHA256 != "" {
		if s := f32SHA(got.Data); s != want.SHA256 {
			t.Errorf("%s: float32 data digest %s, torch gives %s", name, s[:12], want.SHA256[:12])
		}
	}
	if want.Ints != nil {
		if len(got.Ints) != len(want.Ints) {
			t.Errorf("%s: %d ints, want %d", name, len(got.Ints), len(want.Ints))
			return
		}
		for i, ws := range want.Ints {
			w, _ := strconv.ParseInt(ws, 10, 64)
			if got.Ints[i] != w {
				t.Errorf("%s[%d] = %d, want %d", name, i, got.Ints[i], w)
				return
			}
		}
	}
}

// checkStateDict compares the whole state dict (same key set, every tensor).
func checkStateDict(t *testing.T, sd StateDict, want map[string]expectedTensor) {
	t.Helper()
	var missing, extra []string
	for k := range want {
		if _, ok := sd[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range sd {
		if _, ok := want[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("key sets differ: missing %v, unexpected %v", missing, extra)
	}
	for k, w := range want {
		if got, ok := sd[k]; ok {
			checkTensor(t, k, got, w)
		}
	}
}

// archiveEntry is one record for makeArchive.
type archiveEntry struct {
	name    string
	data    []byte
	deflate bool
}

// makeArchive writes a zip archive in memory with the given records, stored unless deflate is set.
func makeArchive(tb testing.TB, entries []archiveEntry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		method := zip.Store
		if e.deflate {
			method = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: method})
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			tb.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// archiveEntries reads all records of a zip archive.
func archiveEntries(tb testing.TB, archive []byte) []archiveEntry {
	tb.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		tb.Fatal(err)
	}
	var out []archiveEntry
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(rc); err != nil {
			tb.Fatal(err)
		}
		rc.Close()
		out = append(out, archiveEntry{name: f.Name, data: b.Bytes(), deflate: f.Method == zip.Deflate})
	}
	return out
}

// rewriteArchive copies archive, replacing (data != nil) or dropping (data == nil) records named
// in replace, and appending replacement records that were not present.
func rewriteArchive(tb testing.TB, archive []byte, replace map[string][]byte) []byte {
	tb.Helper()
	done := map[string]bool{}
	var out []archiveEntry
	for _, e := range archiveEntries(tb, archive) {
		if r, ok := replace[e.name]; ok {
			done[e.name] = true
			if r == nil {
				continue
			}
			e.data = r
		}
		out = append(out, e)
	}
	var names []string
	for n := range replace {
		if !done[n] && replace[n] != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, archiveEntry{name: n, data: replace[n]})
	}
	return makeArchive(tb, out)
}

// pickleBuilder writes protocol-2 pickles for crafted test inputs.
type pickleBuilder struct{ bytes.Buffer }

func (p *pickleBuilder) proto()                  { p.Write([]byte{0x80, 2}) }
func (p *pickleBuilder) global(mod, name string) { fmt.Fprintf(p, "c%s\n%s\n", mod, name) }
func (p *pickleBuilder) str(s string) {
	p.WriteByte('X')
	binary.Write(p, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
}
func (p *pickleBuilder) int(i int64) {
	if i >= math.MinInt32 && i <= math.MaxInt32 {
		p.WriteByte('J')
		binary.Write(p, binary.LittleEndian, int32(i))
		return
	}
	// LONG1 with 8 bytes, little-endian two's complement
	p.Write([]byte{0x8a, 8})
	binary.Write(p, binary.LittleEndian, i)
}
func (p *pickleBuilder) ints(xs []int64) {
	p.WriteByte('(')
	for _, x := range xs {
		p.int(x)
	}
	p.WriteByte('t')
}
func (p *pickleBuilder) op(b ...byte) { p.Write(b) }

// viewSpec is a tensor view for tensorPickle.
type viewSpec struct {
	name, storageType, key string
	numel, offset          int64
	shape, stride          []int64
}

// tensorPickle builds a data.pkl holding {name: _rebuild_tensor_v2(storage, offset, shape,
// stride, False, OrderedDict())} for each view, the way torch.save writes it.
func tensorPickle(views []viewSpec) []byte {
	var p pickleBuilder
	p.proto()
	p.op('}', '(')
	for _, v := range views {
		p.str(v.name)
		p.tensor(v)
	}
	p.op('u', '.')
	return p.Bytes()
}

// tensor writes the _rebuild_tensor_v2 call for v (its name is ignored).
func (p *pickleBuilder) tensor(v viewSpec) {
	p.global("torch._utils", "_rebuild_tensor_v2")
	p.op('(')
	// persistent id ('storage', torch.<Type>, key, 'cpu', numel)
	p.op('(')
	p.str("storage")
	p.global("torch", v.storageType)
	p.str(v.key)
	p.str("cpu")
	p.int(v.numel)
	p.op('t', 'Q')
	p.int(v.offset)
	p.ints(v.shape)
	p.ints(v.stride)
	p.op(0x89) // False
	p.global("collections", "OrderedDict")
	p.op(')', 'R')
	p.op('t', 'R')
}

// storageBytes returns n float32 values 0, 1, 2, ... as little-endian bytes.
func storageBytes(n int) []byte {
	b := make([]byte, 4*n)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(i)))
	}
	return b
}

// torchArchiveWith builds a torch.save-shaped archive "arch/..." with the given data.pkl and
// storage records (key -> bytes).
func torchArchiveWith(tb testing.TB, pkl []byte, storages map[string][]byte) []byte {
	tb.Helper()
	entries := []archiveEntry{{name: "arch/data.pkl", data: pkl}, {name: "arch/byteorder", data: []byte("little")}}
	keys := make([]string, 0, len(storages))
	for k := range storages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		entries = append(entries, archiveEntry{name: "arch/data/" + k, data: storages[k]})
	}
	entries = append(entries, archiveEntry{name: "arch/version", data: []byte("3\n")})
	return makeArchive(tb, entries)
}

// readTorchBytes reads an in-memory archive.
func readTorchBytes(b []byte, name string) (StateDict, Format, error) {
	return ReadTorchFrom(bytes.NewReader(b), int64(len(b)), name)
}

// errContains fails unless err is non-nil and contains every fragment.
func errContains(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("got no error, want one containing %q", fragments)
		return
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}
