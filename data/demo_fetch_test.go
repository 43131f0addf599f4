package data

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// TestDemoPhotosFetchMatchesSharedFiles serves the shared sample photos as a mirror and fetches the
// clip-demo-photos dataset from it: the registered checksums and sizes must be those of the real
// files, and the dataset loads as the 8 captioned demo photos.
func TestDemoPhotosFetchMatchesSharedFiles(t *testing.T) {
	clearEnv(t)
	dir, err := DemoImagesDir()
	if err != nil {
		t.Skipf("no shared sample photos: %v", err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	opts := Options{CacheDir: t.TempDir(), Mirror: srv.URL, Quiet: true}
	ds, err := Load(context.Background(), "clip-demo-photos", Test, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := ds.(*Folder)
	if f.Len() != len(DemoCaptions) {
		t.Fatalf("%d photos, want %d", f.Len(), len(DemoCaptions))
	}
	for i, pair := range DemoCaptions {
		if filepath.Base(f.Path(i)) != pair.File || f.Caption(i) != pair.Caption {
			t.Errorf("item %d = %s %q, want %s %q", i, f.Path(i), f.Caption(i), pair.File, pair.Caption)
		}
	}
	// A corrupted mirror copy is refused, never used.
	bad := t.TempDir()
	for _, pair := range DemoCaptions {
		data, _ := os.ReadFile(filepath.Join(dir, pair.File))
		if pair.File == "horse.png" {
			data[len(data)/2] ^= 0xff
		}
		os.WriteFile(filepath.Join(bad, pair.File), data, 0o644)
	}
	srv2 := httptest.NewServer(http.FileServer(http.Dir(bad)))
	defer srv2.Close()
	opts = Options{CacheDir: t.TempDir(), Mirror: srv2.URL, Quiet: true, Retries: 1}
	if _, err := Load(context.Background(), "clip-demo-photos", Test, opts); err == nil {
		t.Fatal("a corrupted horse.png was accepted")
	}
}
