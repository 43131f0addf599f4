package search

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesNonFiniteStoredVectors: a file whose checksums are right but which stores a
// NaN or infinite vector (Add never stores one) is refused naming the id; before, an exact
// index loaded it and silently never returned that row.
func TestLoadRefusesNonFiniteStoredVectors(t *testing.T) {
	for _, tc := range []struct {
		name string
		val  float32
	}{{"NaN", float32(math.NaN())}, {"+Inf", float32(math.Inf(1))}, {"-Inf", float32(math.Inf(-1))}} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := NewExact(4)
			if err := e.Add(Item{ID: 7, Vector: []float32{1, 0, 0, 0}}, Item{ID: 9, Vector: []float32{0, 1, 0, 0}}); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "x.idx")
			if err := e.Save(p); err != nil {
				t.Fatal(err)
			}
			b, _ := os.ReadFile(p)
			// Payload: ids [2]uint64, then the vectors; poison row 1 (id 9), then fix both CRCs.
			off := headerSize + 2*8 + 4*4 + 4
			binary.LittleEndian.PutUint32(b[off:], math.Float32bits(tc.val))
			binary.LittleEndian.PutUint32(b[40:], crc32.Checksum(b[headerSize:], castagnoli))
			binary.LittleEndian.PutUint32(b[56:], crc32.Checksum(b[:56], castagnoli))
			os.WriteFile(p, b, 0o644)
			_, err := Load(p)
			if !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), "id 9") || !strings.Contains(err.Error(), "non-finite") {
				t.Fatalf("Load error = %v, want ErrBadFile naming id 9", err)
			}
		})
	}
}
