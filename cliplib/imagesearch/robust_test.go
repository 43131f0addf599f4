package imagesearch

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/search"

	"github.com/clipkit/clipkit/cliplib/internal/testutil"
)

// TestConcurrentSavesNeverPairAManifestWithAnotherIndex proves that index and manifest are
// published as one unit: two writers saving different indexes to the same path, many times over,
// always leave a file whose manifest describes the vectors it holds (before, the manifest of one
// writer could end up beside the other's index file with a matching hash).
func TestConcurrentSavesNeverPairAManifestWithAnotherIndex(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	a, err := IndexImages(m, testutil.WriteImages(t, t.TempDir(), 0, 3), IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := IndexImages(m, testutil.WriteImages(t, t.TempDir(), 0, 5), IndexOptions{Kind: KindHNSW})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "same.idx")
	for round := range 15 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, ix := range []*ImageIndex{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each writer saves its own copy of the manifest, as two processes would.
				cp := *ix
				errs[i] = cp.Save(path)
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		back, err := LoadIndex(path)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if back.Manifest.Count != back.Index.Len() || (back.Manifest.Kind == KindExact) != (back.Index.Len() == 3) {
			t.Fatalf("round %d: manifest (kind %s, count %d) over an index of %d vectors", round, back.Manifest.Kind,
				back.Manifest.Count, back.Index.Len())
		}
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".same.idx.tmp*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// failingIndex is an index whose Save fails after writing part of a file, as a killed or
// out-of-space writer would.
type failingIndex struct{ search.Index }

func (f failingIndex) Save(path string) error {
	os.WriteFile(path, []byte("partial"), 0o644)
	return errors.New("disk full")
}

// TestSaveKeepsThePreviousIndexAndCleansStaleTempFiles proves that a failed save leaves the
// previous good index loadable and no temporary file behind, and that temporary files of killed
// writers are removed by the next save.
func TestSaveKeepsThePreviousIndexAndCleansStaleTempFiles(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	ix, err := IndexImages(m, testutil.WriteImages(t, t.TempDir(), 0, 3), IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "p.idx")
	// Left by killed writers: a temp file, a temp directory, and an old-layout manifest.
	os.WriteFile(filepath.Join(dir, ".p.idx.tmp12345"), []byte("junk"), 0o644)
	os.MkdirAll(filepath.Join(dir, ".p.idx.tmp999", "x"), 0o755)
	os.WriteFile(ManifestPath(path), []byte(`{"format":"clipkit-image-index"}`), 0o644)
	if err := ix.Save(path); err != nil {
		t.Fatal(err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".p.idx.tmp*"))
	if _, err := os.Stat(ManifestPath(path)); len(left) != 0 || !os.IsNotExist(err) {
		t.Fatalf("after Save: temp files %v, old manifest err %v", left, err)
	}
	bad := &ImageIndex{Manifest: ix.Manifest, Index: failingIndex{ix.Index}}
	if err := bad.Save(path); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("failing Save error = %v", err)
	}
	back, err := LoadIndex(path)
	if err != nil || back.Index.Len() != 3 {
		t.Fatalf("previous index after a failed save: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".p.idx.tmp*")); len(left) != 0 {
		t.Errorf("failed Save left %v", left)
	}
}

// TestLoadIndexRefusesBadFilesBeforeReadingThem covers corrupted, truncated, foreign and special
// files: each is an error naming the file, and a FIFO in the index's place does not hang.
func TestLoadIndexRefusesBadFilesBeforeReadingThem(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	ix, err := IndexImages(m, testutil.WriteImages(t, t.TempDir(), 0, 3), IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.idx")
	if err := ix.Save(good); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	flip := bytes.Clone(data)
	flip[len(flip)-10] ^= 0xff
	bigManifest := bytes.Clone(data)
	bigManifest[8], bigManifest[9], bigManifest[10], bigManifest[11] = 0xff, 0xff, 0xff, 0x7f
	// The same manifest over another index: the old two-file layout with b's data under a's manifest.
	man, _ := json.Marshal(ix.Manifest)
	for _, tc := range []struct {
		name  string
		setup func(p string)
		want  string
	}{
		{"flipped index byte", func(p string) { os.WriteFile(p, flip, 0o644) }, "corrupted or replaced"},
		{"truncated", func(p string) { os.WriteFile(p, data[:len(data)-1], 0o644) }, "truncated or appended"},
		{"appended", func(p string) { os.WriteFile(p, append(bytes.Clone(data), 0), 0o644) }, "truncated or appended"},
		{"huge manifest length", func(p string) { os.WriteFile(p, bigManifest, 0o644) }, "over the 1048576-byte limit"},
		{"foreign file", func(p string) { os.WriteFile(p, []byte("GIF89a not an index at all"), 0o644) }, "not a clipkit image index"},
		{"empty", func(p string) { os.WriteFile(p, nil, 0o644) }, "too short"},
		{"directory", func(p string) { os.Mkdir(p, 0o755) }, "not a regular file"},
		{"fifo", func(p string) {
			if err := mkfifo(p); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, "not a regular file"},
		{"legacy layout, other index", func(p string) {
			other := filepath.Join(t.TempDir(), "o.idx")
			ix.Index.Save(other)
			raw, _ := os.ReadFile(other)
			os.WriteFile(p, append(raw, 0), 0o644)
			os.WriteFile(ManifestPath(p), man, 0o644)
		}, "is not the file its manifest describes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.idx")
			tc.setup(p)
			done := make(chan error, 1)
			go func() { _, err := LoadIndex(p); done <- err }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
					t.Fatalf("LoadIndex error = %v, want one naming %s and containing %q", err, p, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("LoadIndex hangs")
			}
		})
	}
}

// TestLoadIndexReadsTheOlderTwoFileLayout keeps indexes written before the one-file layout
// (the search file at path, its manifest at ManifestPath(path)) readable.
func TestLoadIndexReadsTheOlderTwoFileLayout(t *testing.T) {
	m := load(t, "tiny-vit", tinyOptions(t.TempDir()))
	ix, err := IndexImages(m, testutil.WriteImages(t, t.TempDir(), 0, 3), IndexOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "old.idx")
	if err := ix.Index.Save(p); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	man := ix.Manifest
	man.IndexBytes, man.IndexSHA256 = int64(len(raw)), fmt.Sprintf("%x", sha256.Sum256(raw))
	b, _ := json.Marshal(man)
	os.WriteFile(ManifestPath(p), b, 0o644)
	back, err := LoadIndex(p)
	if err != nil || back.Index.Len() != 3 {
		t.Fatalf("LoadIndex of the two-file layout: %v", err)
	}
}

// TestIndexingRefusesNonFiniteEmbeddings: an image whose embedding is not finite (as a model with
// broken weights computes it) stops IndexImages with an error naming the image and the model,
// instead of the bare "item 3 (id 3)" of search.Index.Add.
func TestIndexingRefusesNonFiniteEmbeddings(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    []float32
		want string
	}{
		{"finite", []float32{1, 0, -2}, ""},
		{"NaN", []float32{1, float32(math.NaN()), 0}, "non-finite value NaN at 1"},
		{"-Inf", []float32{float32(math.Inf(-1))}, "non-finite value -Inf at 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkEmbedding("/photos/cat.png", tc.v, "ViT-B/32")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "/photos/cat.png") ||
				!strings.Contains(err.Error(), "ViT-B/32") {
				t.Fatalf("error %v, want one naming the image, the model and %q", err, tc.want)
			}
		})
	}
}
