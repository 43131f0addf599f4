package checkpoint

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestReadTorchSaveMatchesTorch(t *testing.T) {
	exp := loadExpected(t)
	for _, name := range []string{"torch_save.pt", "torch_save_p4.pt", "torch_save_checkpoint.pt"} {
		t.Run(name, func(t *testing.T) {
			sd, format, err := ReadTorch(fixture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			if format != FormatTorchZip {
				t.Errorf("format %s, want %s", format, FormatTorchZip)
			}
			// torch_save.pt covers fp32/fp16/bf16/f64/int storages, a transposed view sharing a's
			// storage, an offset row and a strided column of one fp16 storage, a 3-D permutation,
			// a Parameter and a nested dict; its non-tensor values are skipped. The checkpoint
			// fixture keeps only its "state_dict" entry; the p4 fixture uses pickle protocol 4
			// (FRAME, MEMOIZE, STACK_GLOBAL).
			checkStateDict(t, sd, exp.Fixtures[name].Tensors)
		})
	}
}

func TestReadTorchScriptKeysEqualStateDict(t *testing.T) {
	exp := loadExpected(t)
	for _, tc := range []struct {
		file string
		want map[string]expectedTensor
	}{
		// torch.jit.script of a nested module: ModuleList children, a buffer, an fp16 parameter,
		// an int attribute and a plain tensor attribute that is not in state_dict().
		{"script_nested.pt", exp.Fixtures["script_nested.pt"].Tensors},
		// torch.jit.trace_module of a tiny open_clip CLIP with OpenAI-style fp16 matrices.
		{"openclip_tiny/traced.pt", exp.TinyCLIP.TracedStateDict},
	} {
		t.Run(tc.file, func(t *testing.T) {
			sd, format, err := ReadTorch(fixture(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if format != FormatTorchScript {
				t.Errorf("format %s, want %s", format, FormatTorchScript)
			}
			checkStateDict(t, sd, tc.want)
		})
	}
}

func TestReadTorchOpenCLIPBinMatchesTorch(t *testing.T) {
	exp := loadExpected(t)
	sd, format, err := ReadTorch(fixture(t, "openclip_tiny/open_clip_pytorch_model.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if format != FormatTorchZip {
		t.Errorf("format %s", format)
	}
	want := map[string]expectedTensor{}
	for k, v := range exp.TinyCLIP.OpenAI {
		v.DType = exp.TinyCLIP.BinDTypes[k] // the .bin stores OpenAI-style fp16 matrices
		want[k] = v
	}
	checkStateDict(t, sd, want)
}

// Malicious pickles are refused by the allowlist and nothing they name runs.
func TestMaliciousPicklesAreRefused(t *testing.T) {
	exp := loadExpected(t)
	if _, err := os.Stat(exp.PwnMarker); err == nil {
		t.Fatalf("marker %s exists before the test; remove it", exp.PwnMarker)
	}
	for _, tc := range []struct {
		file, global string
	}{
		{"evil_os_system.pt", "os.system"},
		{"evil_eval.pt", "builtins.eval"},
		{"evil_in_state_dict.pt", "posix.system"},
		{"torch_module.pt", "torch.nn.modules.linear.Linear"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := fixture(t, tc.file)
			sd, _, err := ReadFile(path)
			if sd != nil {
				t.Error("got tensors from a refused file")
			}
			var unsafe *UnsafePickleError
			if !errors.As(err, &unsafe) || !errors.Is(err, ErrUnsafePickle) {
				t.Fatalf("error %v is not an UnsafePickleError", err)
			}
			if unsafe.Global != tc.global {
				t.Errorf("refused global %q, want %q", unsafe.Global, tc.global)
			}
			errContains(t, err, "refusing to load "+path, "pickle references "+tc.global, "not a tensor type")
		})
	}
	if _, err := os.Stat(exp.PwnMarker); err == nil {
		t.Errorf("marker %s was created: a pickle payload ran", exp.PwnMarker)
	}
}

// The __torch__ classes of a TorchScript data.pkl are refused in a plain torch.save archive.
func TestTorchScriptClassesRefusedOutsideTorchScript(t *testing.T) {
	arch := readFixtureBytes(t, "script_nested.pt")
	drop := map[string][]byte{}
	for _, e := range archiveEntries(t, arch) {
		if strings.HasSuffix(e.name, "/constants.pkl") || strings.Contains(e.name, "/code/") {
			drop[e.name] = nil
		}
	}
	plain := rewriteArchive(t, arch, drop)
	_, _, err := readTorchBytes(plain, "plain.pt")
	var unsafe *UnsafePickleError
	if !errors.As(err, &unsafe) || !strings.HasPrefix(unsafe.Global, "__torch__") {
		t.Fatalf("error %v, want an UnsafePickleError for a __torch__ class", err)
	}
	errContains(t, err, "TorchScript classes are only accepted in TorchScript archives")
}

// Without class code, a TorchScript archive keeps every tensor attribute (here also the plain
// tensor attribute inner.note, which state_dict() would not list).
func TestTorchScriptWithoutCodeKeepsAllTensorAttributes(t *testing.T) {
	arch := readFixtureBytes(t, "script_nested.pt")
	drop := map[string][]byte{}
	for _, e := range archiveEntries(t, arch) {
		if strings.Contains(e.name, "/code/") {
			drop[e.name] = nil
		}
	}
	sd, format, err := readTorchBytes(rewriteArchive(t, arch, drop), "nocode.pt")
	if err != nil {
		t.Fatal(err)
	}
	if format != FormatTorchScript {
		t.Errorf("format %s", format)
	}
	want := loadExpected(t).Fixtures["script_nested.pt"].Tensors
	for k := range want {
		if sd[k] == nil {
			t.Errorf("missing %s", k)
		}
	}
	if n := sd["inner.note"]; n == nil || !equalInts(n.Shape, []int{2}) || n.Data[0] != 1 {
		t.Errorf("inner.note = %v, want the ones(2) attribute", n)
	}
}

func TestReadTorchLegacyFormatIsRejected(t *testing.T) {
	path := fixture(t, "legacy.pt")
	_, _, err := ReadFile(path)
	if !errors.Is(err, ErrLegacyTorch) {
		t.Fatalf("error %v, want ErrLegacyTorch", err)
	}
	errContains(t, err, path, "legacy torch.save format is not supported; re-save with torch>=1.6")
}

func TestReadTorchViews(t *testing.T) {
	f32 := func(n int) map[string][]byte { return map[string][]byte{"0": storageBytes(n)} }
	for _, tc := range []struct {
		name     string
		views    []viewSpec
		storages map[string][]byte
		want     map[string][]float32 // expected data per tensor, when no error
		wantErr  []string
	}{
		{
			name: "offset and transposed views of one storage",
			views: []viewSpec{
				{name: "m", storageType: "FloatStorage", key: "0", numel: 8, offset: 2, shape: []int64{2, 3}, stride: []int64{3, 1}},
				{name: "mt", storageType: "FloatStorage", key: "0", numel: 8, offset: 2, shape: []int64{3, 2}, stride: []int64{1, 3}},
				{name: "s", storageType: "FloatStorage", key: "0", numel: 8, offset: 7, shape: []int64{}, stride: []int64{}},
			},
			storages: f32(8),
			want: map[string][]float32{
				"m":  {2, 3, 4, 5, 6, 7},
				"mt": {2, 5, 3, 6, 4, 7},
				"s":  {7},
			},
		},
		{
			name:     "view past the end of its storage",
			views:    []viewSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, offset: 1, shape: []int64{4}, stride: []int64{1}}},
			storages: f32(4),
			wantErr:  []string{`"w"`, "reaches past"},
		},
		{
			name:     "broadcast view with more elements than its storage",
			views:    []viewSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 1, shape: []int64{1 << 40}, stride: []int64{0}}},
			storages: f32(1),
			wantErr:  []string{`"w"`, "more elements"},
		},
		{
			name:     "negative stride",
			views:    []viewSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, offset: 3, shape: []int64{2}, stride: []int64{-1}}},
			storages: f32(4),
			wantErr:  []string{`"w"`, "negative stride"},
		},
		{
			name:     "negative offset",
			views:    []viewSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 4, offset: -1, shape: []int64{2}, stride: []int64{1}}},
			storages: f32(4),
			wantErr:  []string{`"w"`, "negative storage offset"},
		},
		{
			name:     "storage record shorter than numel",
			views:    []viewSpec{{name: "w", storageType: "FloatStorage", key: "0", numel: 1 << 40, shape: []int64{1}, stride: []int64{1}}},
			storages: f32(4),
			wantErr:  []string{`storage "0"`, "record data/0 has 16"},
		},
		{
			name:     "missing storage record",
			views:    []viewSpec{{name: "w", storageType: "FloatStorage", key: "7", numel: 1, shape: []int64{1}, stride: []int64{1}}},
			storages: f32(4),
			wantErr:  []string{"data/7 is missing"},
		},
		{
			name:     "unknown storage type",
			views:    []viewSpec{{name: "w", storageType: "ComplexFloatStorage", key: "0", numel: 2, shape: []int64{1}, stride: []int64{1}}},
			storages: f32(4),
			wantErr:  []string{"refusing to load", "torch.ComplexFloatStorage"},
		},
		{
			name: "one storage typed two ways",
			views: []viewSpec{
				{name: "a", storageType: "FloatStorage", key: "0", numel: 4, shape: []int64{4}, stride: []int64{1}},
				{name: "b", storageType: "IntStorage", key: "0", numel: 4, shape: []int64{4}, stride: []int64{1}},
			},
			storages: f32(4),
			wantErr:  []string{`storage "0"`, "F32", "I32"},
		},
		{
			name: "overlapping views beyond the materialisation budget",
			views: func() []viewSpec {
				var v []viewSpec
				for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
					v = append(v, viewSpec{name: n, storageType: "FloatStorage", key: "0", numel: 1024, shape: []int64{1024}, stride: []int64{1}})
				}
				return v
			}(),
			storages: f32(1024),
			wantErr:  []string{"overlapping views"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arch := torchArchiveWith(t, tensorPickle(tc.views), tc.storages)
			sd, _, err := readTorchBytes(arch, "views.pt")
			if tc.wantErr != nil {
				errContains(t, err, append(tc.wantErr, "views.pt")...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tc.want {
				got := sd[k]
				if got == nil || len(got.Data) != len(want) {
					t.Errorf("%s = %v, want %v", k, got, want)
					continue
				}
				for i := range want {
					if got.Data[i] != want[i] {
						t.Errorf("%s = %v, want %v", k, got.Data, want)
						break
					}
				}
			}
		})
	}
}

func TestReadTorchRejectsDamagedArchives(t *testing.T) {
	good := readFixtureBytes(t, "torch_save.pt")
	var pklName, storageName string
	for _, e := range archiveEntries(t, good) {
		switch {
		case strings.HasSuffix(e.name, "/data.pkl"):
			pklName = e.name
		case strings.HasSuffix(e.name, "/data/0"):
			storageName = e.name
		}
	}
	prefix := strings.TrimSuffix(pklName, "data.pkl")
	deflated := archiveEntries(t, good)
	for i := range deflated {
		if deflated[i].name == storageName {
			deflated[i].deflate = true
		}
	}
	pkl := archiveEntries(t, good)[0].data
	for _, tc := range []struct {
		name    string
		archive []byte
		want    []string
	}{
		{"big-endian byteorder", rewriteArchive(t, good, map[string][]byte{prefix + "byteorder": []byte("big")}), []string{"only little-endian"}},
		{"no data.pkl", rewriteArchive(t, good, map[string][]byte{pklName: nil}), []string{"no data.pkl"}},
		{"two data.pkl", rewriteArchive(t, good, map[string][]byte{"other/data.pkl": pkl}), []string{"2 data.pkl records"}},
		{"missing storage", rewriteArchive(t, good, map[string][]byte{storageName: nil}), []string{"data/0 is missing"}},
		{"compressed storage", makeArchive(t, deflated), []string{"compressed"}},
		{"truncated pickle", rewriteArchive(t, good, map[string][]byte{pklName: pkl[:len(pkl)/2]}), []string{"data.pkl"}},
		{"pickle without STOP", rewriteArchive(t, good, map[string][]byte{pklName: pkl[:len(pkl)-1]}), []string{"STOP"}},
		{"bad opcode", rewriteArchive(t, good, map[string][]byte{pklName: []byte("\x80\x02\xff.")}), []string{"opcode 0xff"}},
		{"oversized BINBYTES8", rewriteArchive(t, good, map[string][]byte{pklName: []byte("\x80\x02\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.")}), []string{"remain"}},
		{"single tensor", torchArchiveWith(t, func() []byte {
			p := tensorPickle([]viewSpec{{name: "x", storageType: "FloatStorage", key: "0", numel: 1, shape: []int64{1}, stride: []int64{1}}})
			// turn {"x": T} into just T: drop EMPTY_DICT, MARK, key and SETITEMS
			p = bytes.Replace(p, []byte("}(X\x01\x00\x00\x00x"), nil, 1)
			return append(p[:len(p)-2], '.')
		}(), map[string][]byte{"0": storageBytes(1)}), []string{"single tensor"}},
		{"list at top", torchArchiveWith(t, []byte("\x80\x02]."), nil), []string{"want a dict of tensors"}},
		// 5 MB of EMPTY_LIST would make gopickle allocate hundreds of MB (more again from a
		// deflated record): refused by the cost estimate before unpickling.
		{"allocation bomb", torchArchiveWith(t, append(append([]byte("\x80\x02"), bytes.Repeat([]byte("]"), 5<<20)...), '.'), nil), []string{"would need more than"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd, _, err := readTorchBytes(tc.archive, "damaged.pt")
			if sd != nil {
				t.Error("got tensors along with an error")
			}
			errContains(t, err, append(tc.want, "damaged.pt")...)
		})
	}
}

// Every prefix of a valid archive must fail cleanly (the zip directory is at the end).
func TestReadTorchTruncatedArchiveFails(t *testing.T) {
	for _, name := range []string{"torch_save.pt", "script_nested.pt"} {
		full := readFixtureBytes(t, name)
		step := max(1, len(full)/300)
		for cut := 0; cut < len(full); cut += step {
			b := full[:cut]
			_, err := ReadFrom(bytes.NewReader(b), int64(len(b)), "cut.pt")
			if err == nil {
				t.Fatalf("%s truncated to %d of %d bytes: no error", name, cut, len(full))
			}
			if !strings.Contains(err.Error(), "cut.pt") {
				t.Fatalf("%s truncated to %d bytes: error %q does not name the file", name, cut, err)
			}
		}
	}
}

// Corrupting the data.pkl bytes in place (keeping the zip intact) must never panic; the CRC
// check catches it.
func TestReadTorchCorruptedBytesFail(t *testing.T) {
	good := readFixtureBytes(t, "torch_save.pt")
	i := bytes.Index(good, []byte("\x80\x02}"))
	if i < 0 {
		t.Fatal("pickle not found in the archive")
	}
	bad := bytes.Clone(good)
	bad[i+3] ^= 0xff
	_, _, err := readTorchBytes(bad, "flipped.pt")
	errContains(t, err, "flipped.pt")
}

// A pickle that shares one dict many times (a DAG) must not make the walk exponential.
func TestReadTorchSharedDictsStayBounded(t *testing.T) {
	var p pickleBuilder
	p.proto()
	p.op('}', '(')
	p.str("t")
	p.tensor(viewSpec{storageType: "FloatStorage", key: "0", numel: 1, shape: []int64{1}, stride: []int64{1}})
	p.op('u', 'q', 0, '0') // d0 = {"t": tensor}; memo[0] = d0; pop
	const levels = 40      // 2^40 paths if shared dicts were expanded
	for i := 1; i <= levels; i++ {
		p.op('}', '(')
		p.str("a")
		p.op('h', byte(i-1))
		p.str("b")
		p.op('h', byte(i-1))
		p.op('u', 'q', byte(i))
		if i < levels {
			p.op('0')
		}
	}
	p.op('.')
	arch := torchArchiveWith(t, p.Bytes(), map[string][]byte{"0": storageBytes(1)})
	done := make(chan error, 1)
	go func() {
		_, _, err := readTorchBytes(arch, "dag.pt")
		done <- err
	}()
	select {
	case err := <-done:
		errContains(t, err, "dag.pt", "shared references")
	case <-time.After(20 * time.Second):
		t.Fatal("reading a pickle of shared dicts did not finish")
	}
}
