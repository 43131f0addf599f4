package widgets

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/nb/notebook"
)

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ImageFiles writes n in-memory images (a dataset's items, e.g. MNIST digits) as PNG files under
// notebook.CacheDir()/widgets/<name>/ and returns their paths, so that they can be registered as a gallery
// with the model server (which reads images from files). item(i) returns image i. Files already
// there are kept (the same name must mean the same images); each is written atomically.
func ImageFiles(name string, n int, item func(i int) (image.Image, error)) ([]string, error) {
	if n <= 0 {
		return nil, fmt.Errorf("widgets.ImageFiles(%q): no images (n = %d)", name, n)
	}
	safe := unsafeName.ReplaceAllString(name, "_")
	if safe == "" || safe == "." || safe == ".." {
		return nil, fmt.Errorf("widgets.ImageFiles: name %q has no usable characters (want letters, digits, '.', '_' or '-')", name)
	}
	root, err := notebook.CacheDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, "widgets", safe)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("widgets.ImageFiles(%q): %w", name, err)
	}
	paths := make([]string, n)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("%06d.png", i))
		paths[i] = p
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			continue
		}
		img, err := item(i)
		if err != nil {
			return nil, fmt.Errorf("widgets.ImageFiles(%q): image %d: %w", name, i, err)
		}
		if img == nil {
			return nil, fmt.Errorf("widgets.ImageFiles(%q): image %d is nil", name, i)
		}
		if err := atomicfile.Write(p, 0o644, func(w io.Writer) error { return png.Encode(w, img) }); err != nil {
			return nil, fmt.Errorf("widgets.ImageFiles(%q): writing image %d: %w", name, i, err)
		}
	}
	return paths, nil
}
