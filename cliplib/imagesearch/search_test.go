package imagesearch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/internal/testutil"
)

func TestImageIndexFindsEachImageAndRoundTrips(t *testing.T) {
	for _, kind := range []string{KindExact, KindHNSW} {
		t.Run(kind, func(t *testing.T) {
			m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
			dir := t.TempDir()
			files := testutil.WriteImages(t, dir, 0, 7)
			os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
			nested := testutil.WriteImages(t, filepath.Join(dir, "sub"), 7, 1)
			os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644)
			var progress []int
			ix, err := IndexFolder(m, dir, IndexOptions{Kind: kind, Chunk: 3, Progress: func(done, total int) {
				progress = append(progress, done)
			}})
			if err != nil {
				t.Fatal(err)
			}
			if ix.Index.Len() != 8 || ix.Manifest.Count != 8 || ix.Manifest.Kind != kind || !ix.Manifest.RandomWeights {
				t.Fatalf("index of %d items, manifest %+v", ix.Index.Len(), ix.Manifest)
			}
			if got := len(progress); got != 3 || progress[2] != 8 {
				t.Errorf("progress %v, want 3 chunks ending at 8", progress)
			}
			for _, f := range append(files, nested...) {
				hits, err := SearchImageFile(m, ix, f, 3)
				if err != nil {
					t.Fatal(err)
				}
				if len(hits) != 3 || hits[0].Path != f || hits[0].Rank != 1 || hits[0].Score < 0.9999 {
					t.Fatalf("query by %s: top hit %+v, want the image itself with score 1", f, hits[0])
				}
				if hits[1].Score > hits[0].Score || hits[2].Score > hits[1].Score {
					t.Errorf("hits not sorted: %+v", hits)
				}
			}
			hits, err := SearchText(m, ix, "a colourful gradient", 20)
			if err != nil || len(hits) != 8 {
				t.Fatalf("text query: %d hits, %v (want all 8 when k exceeds the count)", len(hits), err)
			}
			path := filepath.Join(t.TempDir(), "photos.idx")
			if err := ix.Save(path); err != nil {
				t.Fatal(err)
			}
			back, err := LoadIndex(path)
			if err != nil {
				t.Fatal(err)
			}
			again, err := SearchText(m, back, "a colourful gradient", 20)
			if err != nil {
				t.Fatal(err)
			}
			for i := range hits {
				if again[i].Path != hits[i].Path || again[i].Score != hits[i].Score {
					t.Fatalf("after Save/Load hit %d is %+v, was %+v", i, again[i], hits[i])
				}
			}
			if back.Manifest.Root != ix.Manifest.Root || back.Manifest.Identity != m.Identity().String() {
				t.Errorf("manifest after load %+v", back.Manifest)
			}
		})
	}
}

func TestImageIndexRefusesAnotherModelAndForeignFiles(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	dir := t.TempDir()
	testutil.WriteImages(t, dir, 0, 3)
	ix, err := IndexFolder(m, dir, IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	opt := tinyOptions(t.TempDir())
	opt.Precision = "bf16"
	other := load(t, "tiny-vit", opt)
	if _, err := SearchText(other, ix, "a cat", 1); err == nil || !strings.Contains(err.Error(), "same model") {
		t.Errorf("query with another model: %v", err)
	}
	if _, err := SearchText(m, ix, "  ", 1); err == nil {
		t.Error("empty query accepted")
	}
	if _, err := SearchText(m, ix, "a cat", 0); err == nil {
		t.Error("k = 0 accepted")
	}

	out := t.TempDir()
	a, b := filepath.Join(out, "a.idx"), filepath.Join(out, "b.idx")
	if err := ix.Save(a); err != nil {
		t.Fatal(err)
	}
	ix2, err := IndexImages(m, testutil.WriteImages(t, t.TempDir(), 0, 2), IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix2.Save(b); err != nil {
		t.Fatal(err)
	}
	// One file: no manifest beside it.
	if _, err := os.Stat(ManifestPath(a)); !os.IsNotExist(err) {
		t.Errorf("Save left a separate manifest %s (err %v)", ManifestPath(a), err)
	}
	if _, err := LoadIndex(filepath.Join(out, "missing.idx")); err == nil || !strings.Contains(err.Error(), "missing.idx") {
		t.Errorf("missing index: %v", err)
	}
}

func TestIndexingBadInput(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	dir := t.TempDir()
	files := testutil.WriteImages(t, dir, 0, 3)
	bad := filepath.Join(dir, "broken.png")
	os.WriteFile(bad, []byte("\x89PNG but not really"), 0o644)
	if _, err := IndexFolder(m, dir, IndexOptions{}); err == nil || !strings.Contains(err.Error(), "broken.png") {
		t.Errorf("a corrupt image without SkipBad: %v", err)
	}
	ix, err := IndexFolder(m, dir, IndexOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Index.Len() != len(files) || len(ix.Skipped) != 1 || !strings.Contains(ix.Skipped[0], "broken.png") {
		t.Errorf("SkipBad: %d indexed, skipped %q", ix.Index.Len(), ix.Skipped)
	}
	if _, err := IndexFolder(m, t.TempDir(), IndexOptions{}); err == nil || !strings.Contains(err.Error(), "no image files") {
		t.Errorf("empty folder: %v", err)
	}
	if _, err := IndexImages(m, files, IndexOptions{Kind: "lsh"}); err == nil || !strings.Contains(err.Error(), "unknown index kind") {
		t.Errorf("unknown kind: %v", err)
	}
}
