package explore

import (
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/clipkit/clipkit/data"
	"github.com/clipkit/clipkit/internal/atomicfile"
)

// Gallery is a folder of dataset images written as PNG files, one sub-folder per class: the
// real-image collection that the search notebook indexes.
type Gallery struct {
	Dir     string
	Files   []string // in the order of the indices given to WriteGallery
	Labels  []int    // the label of each file
	Classes []string // the dataset's class names
}

// unsafeName matches what a class folder name may not hold.
var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ClassFolder is the folder name of class k in a gallery: its index and its name made safe for a
// file name ("03-three"), so the label can be read back from a path (GalleryLabel).
func ClassFolder(k int, name string) string {
	return fmt.Sprintf("%02d-%s", k, strings.Trim(unsafeName.ReplaceAllString(name, "_"), "_"))
}

// WriteGallery writes the items idx of ds as PNG files under dir/<ClassFolder>/<index>.png. Each
// file is written atomically; a file already there is kept (the gallery is built once and reused:
// the images of a dataset do not change). Items must be labelled.
func WriteGallery(ds data.Dataset, idx []int, dir string) (*Gallery, error) {
	classes := ds.Classes()
	if len(classes) == 0 {
		return nil, fmt.Errorf("explore.WriteGallery: the dataset has no classes (a gallery needs labels)")
	}
	g := &Gallery{Dir: dir, Classes: classes}
	made := map[int]bool{}
	for _, i := range idx {
		if i < 0 || i >= ds.Len() {
			return nil, fmt.Errorf("explore.WriteGallery: item %d is not in [0, %d)", i, ds.Len())
		}
		img, label, err := ds.Item(i)
		if err != nil {
			return nil, fmt.Errorf("explore.WriteGallery: item %d: %w", i, err)
		}
		if label < 0 || label >= len(classes) {
			return nil, fmt.Errorf("explore.WriteGallery: item %d has label %d, want one of the %d classes", i, label, len(classes))
		}
		sub := filepath.Join(dir, ClassFolder(label, classes[label]))
		if !made[label] {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return nil, fmt.Errorf("explore.WriteGallery: %w", err)
			}
			made[label] = true
		}
		path := filepath.Join(sub, fmt.Sprintf("%05d.png", i))
		if _, err := os.Stat(path); err != nil {
			if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
				return nil, fmt.Errorf("explore.WriteGallery: %w", err)
			}
		}
		g.Files = append(g.Files, path)
		g.Labels = append(g.Labels, label)
	}
	return g, nil
}

// GalleryLabel reads the label of a gallery file back from its class folder (ClassFolder); -1
// when the path is not in a class folder.
func GalleryLabel(path string) int {
	var k int
	var rest string
	if n, _ := fmt.Sscanf(filepath.Base(filepath.Dir(path)), "%d-%s", &k, &rest); n != 2 || k < 0 {
		return -1
	}
	return k
}
