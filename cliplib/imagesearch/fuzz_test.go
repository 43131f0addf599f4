package imagesearch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/search"
)

// FuzzLoadIndex feeds arbitrary bytes to LoadIndex as an image index file: it must return an
// error naming the file, or an index whose manifest matches its vectors; never panic or hang.
// Seeds: a valid one-file index, its truncations, and a file with a huge manifest length.
//
//	go test ./cliplib/imagesearch -run '^$' -fuzz FuzzLoadIndex -fuzztime 30s
func FuzzLoadIndex(f *testing.F) {
	e, _ := search.NewExact(4)
	e.Add(search.Item{ID: 1, Vector: []float32{1, 0, 0, 0}, Metadata: map[string]string{"path": "/a.png"}},
		search.Item{ID: 2, Vector: []float32{0, 1, 0, 0}})
	ix := &ImageIndex{Index: e, Manifest: Manifest{Format: ManifestFormat, Version: ManifestVersion, Model: "m", Kind: KindExact, Dim: 4}}
	p := filepath.Join(f.TempDir(), "seed.idx")
	if err := ix.Save(p); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(p)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(good[:20])
	huge := append([]byte(nil), good...)
	huge[8], huge[9], huge[10], huge[11] = 0xff, 0xff, 0xff, 0xff
	f.Add(huge)
	f.Add([]byte(indexFileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.idx")
		os.WriteFile(path, data, 0o644)
		got, err := LoadIndex(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), "fuzz.idx") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if got.Index.Len() != got.Manifest.Count || got.Index.Dim() != got.Manifest.Dim {
			t.Fatalf("manifest %+v over %d vectors of %d", got.Manifest, got.Index.Len(), got.Index.Dim())
		}
	})
}
