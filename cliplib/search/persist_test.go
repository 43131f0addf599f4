package search

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// builtIndexes returns an Exact and an HNSW index over the same items, with
// a few items removed (so tombstones and holes are persisted too).
func builtIndexes(t *testing.T) (map[string]Index, []Item) {
	t.Helper()
	d := 24
	items := makeItems(t, 600, d, 21)
	idx := newIndexes(t, d)
	for _, x := range idx {
		if err := x.Add(items...); err != nil {
			t.Fatal(err)
		}
		if err := x.Remove(items[3].ID, items[50].ID); err != nil {
			t.Fatal(err)
		}
	}
	return idx, items
}

func TestSaveLoadRoundTripGivesIdenticalResults(t *testing.T) {
	idx, items := builtIndexes(t)
	qs := makeQueries(t, 10, 24, 21)
	dir := t.TempDir()
	for kind, x := range idx {
		path := filepath.Join(dir, kind+".idx")
		if err := x.Save(path); err != nil {
			t.Fatal(err)
		}
		// Saving again over an existing file replaces it.
		if err := x.Save(path); err != nil {
			t.Fatal(err)
		}
		y, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		if y.Len() != x.Len() || y.Dim() != x.Dim() {
			t.Fatalf("%s: loaded Len/Dim %d/%d, want %d/%d", kind, y.Len(), y.Dim(), x.Len(), x.Dim())
		}
		want, _ := x.SearchBatch(qs, 10)
		got, _ := y.SearchBatch(qs, 10)
		for i := range want {
			for j := range want[i] {
				if got[i][j].ID != want[i][j].ID || got[i][j].Score != want[i][j].Score ||
					got[i][j].Metadata["path"] != want[i][j].Metadata["path"] {
					t.Fatalf("%s: q%d rank %d: loaded %+v, original %+v", kind, i, j, got[i][j], want[i][j])
				}
			}
		}
		if _, _, ok := y.Get(items[3].ID); ok {
			t.Errorf("%s: removed item came back after load", kind)
		}
		if _, m, ok := y.Get(items[4].ID); !ok || m["path"] != items[4].Metadata["path"] {
			t.Errorf("%s: metadata of item 4 after load: %v %v", kind, m, ok)
		}
		// The loaded index stays writable.
		if err := y.Add(Item{ID: 1, Vector: items[0].Vector}); err != nil {
			t.Errorf("%s: Add after Load: %v", kind, err)
		}
	}
	if _, err := LoadHNSW(filepath.Join(dir, "exact.idx")); err == nil {
		t.Error("LoadHNSW accepted an Exact file")
	}
	if _, err := LoadExact(filepath.Join(dir, "exact.idx")); err != nil {
		t.Error(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestLoadRejectsDamagedOrForeignFiles(t *testing.T) {
	idx, _ := builtIndexes(t)
	dir := t.TempDir()
	for kind, x := range idx {
		path := filepath.Join(dir, kind+".idx")
		if err := x.Save(path); err != nil {
			t.Fatal(err)
		}
		orig, _ := os.ReadFile(path)
		mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), orig...)) }
		cases := map[string][]byte{
			"empty":          {},
			"header only":    orig[:headerSize],
			"truncated":      orig[:len(orig)-7],
			"trailing bytes": append(append([]byte(nil), orig...), 0),
			"foreign":        []byte("PK\x03\x04 this is a zip file, not an index, padded to be long enough......"),
			"payload bit flip": mutate(func(b []byte) []byte {
				b[headerSize+len(b)/2] ^= 0x10
				return b
			}),
			"last byte flip": mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
			"header dim changed": mutate(func(b []byte) []byte {
				binary.LittleEndian.PutUint32(b[16:], 25)
				return b
			}),
			"newer version with valid header crc": mutate(func(b []byte) []byte {
				binary.LittleEndian.PutUint32(b[8:], formatVersion+1)
				binary.LittleEndian.PutUint32(b[56:], crc32c(b[:56]))
				return b
			}),
			"huge count with valid header crc": mutate(func(b []byte) []byte {
				binary.LittleEndian.PutUint64(b[24:], 1<<40)
				binary.LittleEndian.PutUint32(b[56:], crc32c(b[:56]))
				return b
			}),
		}
		for name, data := range cases {
			bad := filepath.Join(dir, "bad")
			if err := os.WriteFile(bad, data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := Load(bad)
			if !errors.Is(err, ErrBadFile) {
				t.Errorf("%s/%s: Load returned (%v, %v), want ErrBadFile", kind, name, got, err)
			}
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrBadFile) {
		t.Errorf("missing file: got %v, want a not-found error", err)
	}
	if err := idx["exact"].Save(filepath.Join(dir, "no", "such", "dir", "x.idx")); err == nil {
		t.Error("Save into a missing directory succeeded")
	}
}
