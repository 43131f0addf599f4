package explore

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/preprocess"
)

// grays is a labelled dataset of small gray images (label i % 3 unless bad is set).
type grays struct {
	n       int
	classes []string
	bad     bool
}

func (g grays) Len() int          { return g.n }
func (g grays) Classes() []string { return g.classes }
func (g grays) Item(i int) (image.Image, int, error) {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	img.SetGray(i%8, 0, color.Gray{Y: uint8(30 * i)})
	if g.bad {
		return img, 7, nil
	}
	return img, i % 3, nil
}

func TestWriteGalleryWritesPNGsInClassFolders(t *testing.T) {
	dir := t.TempDir()
	ds := grays{n: 6, classes: []string{"zero", "one / two", "T-shirt/top"}}
	g, err := WriteGallery(ds, []int{0, 1, 2, 4}, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Files) != 4 || g.Labels[3] != 1 {
		t.Fatalf("gallery %+v", g)
	}
	for i, f := range g.Files {
		if GalleryLabel(f) != g.Labels[i] {
			t.Errorf("%s: label read back %d, want %d", f, GalleryLabel(f), g.Labels[i])
		}
		if _, _, err := preprocess.DecodeFile(f); err != nil {
			t.Errorf("%s does not decode: %v", f, err)
		}
	}
	if got := filepath.Base(filepath.Dir(g.Files[2])); got != "02-T-shirt_top" {
		t.Errorf("class folder %q, want 02-T-shirt_top", got)
	}
	// A second call keeps the files (same content, no rewrite).
	st, _ := os.Stat(g.Files[0])
	if _, err := WriteGallery(ds, []int{0}, dir); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(g.Files[0]); !st2.ModTime().Equal(st.ModTime()) {
		t.Error("an existing gallery file was rewritten")
	}
	for _, tc := range []struct {
		name string
		ds   grays
		idx  []int
		err  string
	}{
		{"out of range", ds, []int{6}, "not in [0, 6)"},
		{"bad label", grays{n: 2, classes: []string{"a"}, bad: true}, []int{0}, "label 7"},
		{"no classes", grays{n: 2}, []int{0}, "no classes"},
	} {
		if _, err := WriteGallery(tc.ds, tc.idx, t.TempDir()); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.err)
		}
	}
	if GalleryLabel("/x/photo.png") != -1 {
		t.Error("a path outside a class folder has a label")
	}
}
