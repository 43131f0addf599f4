package checkpoint

import (
	"bytes"
	"strings"
	"testing"
)

// Fuzz targets. Run one for a while with, e.g.
//
//	go test -run=^$ -fuzz=FuzzReadSafetensors -fuzztime=5m ./cliplib/checkpoint/
//
// Inputs that once failed are kept in testdata/fuzz/<FuzzName>/ and run by plain `go test`.

// checkBounded asserts the invariants of any successful read: valid tensors, and a number of
// elements bounded by the input size (factor is the most elements one input byte may yield).
func checkBounded(t *testing.T, sd StateDict, inputLen, factor int) {
	t.Helper()
	total := 0
	for k, v := range sd {
		if err := v.Validate(); err != nil {
			t.Fatalf("tensor %q is invalid: %v", k, err)
		}
		total += v.NumElements()
	}
	if total > factor*inputLen+1024 {
		t.Fatalf("%d elements from %d input bytes", total, inputLen)
	}
}

func FuzzReadSafetensors(f *testing.F) {
	for _, n := range []string{"st_f32.safetensors", "st_f16.safetensors", "st_bf16.safetensors", "st_dtypes.safetensors"} {
		f.Add(readFixtureBytes(f, n))
	}
	f.Add(safetensorsBytes(`{"__metadata__":{"a":"b"},"x":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4)))
	// A name over MaxTensorName, and a NaN value (0x7fc00000).
	f.Add(safetensorsBytes(`{"`+strings.Repeat("n", MaxTensorName+1)+`":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)))
	f.Add(safetensorsBytes(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, []byte{0, 0, 0xc0, 0x7f}))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, _, err := ReadSafetensorsFrom(bytes.NewReader(data), int64(len(data)), "fuzz.safetensors")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.safetensors") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// Non-overlapping tensors inside the file: at most one element per byte.
		checkBounded(t, sd, len(data), 1)
		for name := range sd {
			if len(name) > MaxTensorName {
				t.Fatalf("accepted a %d-byte tensor name", len(name))
			}
		}
		if err := sd.CheckFinite(); err != nil && len(err.Error()) > 400 {
			t.Fatalf("CheckFinite error of %d bytes", len(err.Error()))
		}
	})
}

// FuzzReadTorchZip feeds whole files (zip archives and anything else) to the format sniffer and
// the torch readers.
func FuzzReadTorchZip(f *testing.F) {
	for _, n := range []string{"torch_save.pt", "torch_save_checkpoint.pt", "script_nested.pt", "evil_os_system.pt", "evil_eval.pt", "torch_module.pt", "legacy.pt"} {
		f.Add(readFixtureBytes(f, n))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ReadFrom(bytes.NewReader(data), int64(len(data)), "fuzz.pt")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.pt") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkBounded(t, file.Tensors, len(data), viewBudgetPerElem)
	})
}

// FuzzTorchPickle fuzzes data.pkl inside otherwise valid archives (the zip CRC would reject most
// in-place mutations of a whole archive before the unpickler saw them). script selects the
// TorchScript fixture (allowlist in TorchScript mode) instead of the torch.save one.
func FuzzTorchPickle(f *testing.F) {
	bases := map[bool][]archiveEntry{
		false: archiveEntries(f, readFixtureBytes(f, "torch_save.pt")),
		true:  archiveEntries(f, readFixtureBytes(f, "script_nested.pt")),
	}
	pickleOf := func(entries []archiveEntry) []byte {
		for _, e := range entries {
			if strings.HasSuffix(e.name, "/data.pkl") {
				return e.data
			}
		}
		f.Fatal("no data.pkl")
		return nil
	}
	f.Add(pickleOf(bases[false]), false)
	f.Add(pickleOf(bases[true]), true)
	for _, n := range []string{"evil_os_system.pt", "evil_eval.pt", "evil_in_state_dict.pt", "torch_save_checkpoint.pt"} {
		f.Add(pickleOf(archiveEntries(f, readFixtureBytes(f, n))), false)
	}
	f.Fuzz(func(t *testing.T, pkl []byte, script bool) {
		base := bases[script]
		entries := make([]archiveEntry, len(base))
		copy(entries, base)
		for i := range entries {
			if strings.HasSuffix(entries[i].name, "/data.pkl") {
				entries[i].data = pkl
			}
		}
		arch := makeArchive(t, entries)
		sd, _, err := readTorchBytes(arch, "fuzz.pt")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.pt") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		checkBounded(t, sd, len(arch), viewBudgetPerElem)
	})
}
