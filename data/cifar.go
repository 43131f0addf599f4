package data

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// CIFAR is CIFAR-10 or CIFAR-100: 32×32 RGB images with labels.
type CIFAR struct {
	classes       []string
	coarseClasses []string // CIFAR-100 superclasses; nil for CIFAR-10
	labels        []uint8
	coarse        []uint8
	pixels        []byte // n*3072: per image, the 1024 red, then green, then blue values, row-major
}

const cifarImageBytes = 3 * 32 * 32

// cifarLayout describes one of the four published archives.
type cifarLayout struct {
	dir       string // top folder inside the archive
	python    bool
	hundred   bool
	train     []string // member files of the training split
	test      []string
	meta      []string // label-name members
	numFine   int
	numCoarse int
}

var cifarLayouts = []cifarLayout{
	{dir: "cifar-10-batches-bin", train: []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"},
		test: []string{"test_batch.bin"}, meta: []string{"batches.meta.txt"}, numFine: 10},
	{dir: "cifar-10-batches-py", python: true, train: []string{"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5"},
		test: []string{"test_batch"}, meta: []string{"batches.meta"}, numFine: 10},
	{dir: "cifar-100-binary", hundred: true, train: []string{"train.bin"}, test: []string{"test.bin"},
		meta: []string{"fine_label_names.txt", "coarse_label_names.txt"}, numFine: 100, numCoarse: 20},
	{dir: "cifar-100-python", python: true, hundred: true, train: []string{"train"}, test: []string{"test"},
		meta: []string{"meta"}, numFine: 100, numCoarse: 20},
}

func (l cifarLayout) name() string {
	n, f := "CIFAR-10", "binary"
	if l.hundred {
		n = "CIFAR-100"
	}
	if l.python {
		f = "python"
	}
	return n + " (" + f + " version)"
}

// LoadCIFAR reads a split of CIFAR-10 or CIFAR-100 from path, which is one of the published archives
// (cifar-10-binary.tar.gz, cifar-10-python.tar.gz, cifar-100-binary.tar.gz, cifar-100-python.tar.gz),
// the folder it extracts to (e.g. cifar-10-batches-bin), or a folder containing that folder. The
// version and format are recognised from the file names. Truncated files, labels out of range and
// label/image count mismatches are errors naming the file.
func LoadCIFAR(path string, split Split) (*CIFAR, error) {
	if err := split.validate(); err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	var files map[string][]byte
	var layout cifarLayout
	if st.IsDir() {
		layout, files, err = readCIFARDir(path, split)
	} else {
		layout, files, err = readCIFARArchive(path, split)
	}
	if err != nil {
		return nil, err
	}
	c := &CIFAR{}
	if err := c.parseMeta(layout, files); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	members := layout.train
	if split == Test {
		members = layout.test
	}
	for _, m := range members {
		if layout.python {
			err = c.addPickleBatch(layout, m, files[m])
		} else {
			err = c.addBinaryBatch(layout, m, files[m])
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return c, nil
}

// needed lists the members a split needs.
func (l cifarLayout) needed(split Split) []string {
	m := slices.Clone(l.meta)
	if split == Train {
		return append(m, l.train...)
	}
	return append(m, l.test...)
}

// readCIFARArchive reads the members a split needs from a .tar.gz (or .tar) archive.
func readCIFARArchive(p string, split Split) (cifarLayout, map[string][]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return cifarLayout{}, nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return cifarLayout{}, nil, fmt.Errorf("%s: %w", p, err)
		}
		defer zr.Close()
		r = zr
	}
	tr := tar.NewReader(r)
	var layout *cifarLayout
	files := map[string][]byte{}
	var seen []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cifarLayout{}, nil, fmt.Errorf("%s: not a complete tar archive (truncated download?): %w", p, err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if h.Typeflag != tar.TypeReg || dir == "" {
			continue
		}
		seen = append(seen, name)
		if layout == nil {
			for i := range cifarLayouts {
				if cifarLayouts[i].dir == dir {
					layout = &cifarLayouts[i]
				}
			}
		}
		if layout == nil || dir != layout.dir || !slices.Contains(layout.needed(split), base) {
			continue
		}
		if h.Size > 400<<20 {
			return cifarLayout{}, nil, fmt.Errorf("%s: member %s has %d bytes, more than any CIFAR file", p, name, h.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return cifarLayout{}, nil, fmt.Errorf("%s: reading member %s (truncated download?): %w", p, name, err)
		}
		files[base] = b
	}
	if layout == nil {
		if len(seen) > 5 {
			seen = append(seen[:5], "...")
		}
		return cifarLayout{}, nil, fmt.Errorf("%s: no CIFAR folder (cifar-10-batches-bin, cifar-10-batches-py, cifar-100-binary, cifar-100-python) in the archive; it holds %v", p, seen)
	}
	for _, m := range layout.needed(split) {
		if _, ok := files[m]; !ok {
			return cifarLayout{}, nil, fmt.Errorf("%s: %s archive lacks %s/%s (truncated download?)", p, layout.name(), layout.dir, m)
		}
	}
	return *layout, files, nil
}

// readCIFARDir reads the members a split needs from an extracted folder.
func readCIFARDir(p string, split Split) (cifarLayout, map[string][]byte, error) {
	for _, l := range cifarLayouts {
		for _, dir := range []string{filepath.Join(p, l.dir), p} {
			if dir == p && filepath.Base(p) != l.dir {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, l.meta[0])); err != nil {
				continue
			}
			files := map[string][]byte{}
			for _, m := range l.needed(split) {
				b, err := os.ReadFile(filepath.Join(dir, m))
				if err != nil {
					return cifarLayout{}, nil, fmt.Errorf("%s folder %s: %w", l.name(), dir, err)
				}
				files[m] = b
			}
			return l, files, nil
		}
	}
	return cifarLayout{}, nil, fmt.Errorf("%s holds no CIFAR folder (cifar-10-batches-bin, cifar-10-batches-py, cifar-100-binary, cifar-100-python)", p)
}

// parseMeta reads the label names.
func (c *CIFAR) parseMeta(l cifarLayout, files map[string][]byte) error {
	var err error
	if l.python {
		v, perr := unpickle(files[l.meta[0]])
		if perr != nil {
			return fmt.Errorf("%s/%s: %w", l.dir, l.meta[0], perr)
		}
		d, derr := asDict(v, l.dir+"/"+l.meta[0])
		if derr != nil {
			return derr
		}
		if l.hundred {
			if c.classes, err = d.stringList("fine_label_names"); err != nil {
				return err
			}
			if c.coarseClasses, err = d.stringList("coarse_label_names"); err != nil {
				return err
			}
		} else if c.classes, err = d.stringList("label_names"); err != nil {
			return err
		}
	} else {
		c.classes = textLines(files[l.meta[0]])
		if l.hundred {
			c.coarseClasses = textLines(files[l.meta[1]])
		}
	}
	if len(c.classes) != l.numFine {
		return fmt.Errorf("%s/%s names %d classes, %s has %d", l.dir, l.meta[0], len(c.classes), l.name(), l.numFine)
	}
	if l.hundred && len(c.coarseClasses) != l.numCoarse {
		return fmt.Errorf("%s: %d coarse classes, %s has %d", l.dir, len(c.coarseClasses), l.name(), l.numCoarse)
	}
	return nil
}

// textLines returns the non-empty, trimmed lines of b.
func textLines(b []byte) []string {
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if s := strings.TrimSpace(line); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// addBinaryBatch appends the records of a binary batch: CIFAR-10 records are <label><3072 pixels>,
// CIFAR-100 records <coarse label><fine label><3072 pixels>.
func (c *CIFAR) addBinaryBatch(l cifarLayout, name string, b []byte) error {
	labelBytes := 1
	if l.hundred {
		labelBytes = 2
	}
	rec := labelBytes + cifarImageBytes
	if len(b) == 0 || len(b)%rec != 0 {
		return fmt.Errorf("%s/%s has %d bytes, not a whole number of %d-byte records (truncated, or not %s)", l.dir, name, len(b), rec, l.name())
	}
	n := len(b) / rec
	for i := range n {
		r := b[i*rec : (i+1)*rec]
		fine := r[labelBytes-1]
		if int(fine) >= l.numFine {
			return fmt.Errorf("%s/%s: record %d has label %d, %s labels are 0..%d", l.dir, name, i, fine, l.name(), l.numFine-1)
		}
		if l.hundred {
			if int(r[0]) >= l.numCoarse {
				return fmt.Errorf("%s/%s: record %d has coarse label %d, want 0..%d", l.dir, name, i, r[0], l.numCoarse-1)
			}
			c.coarse = append(c.coarse, r[0])
		}
		c.labels = append(c.labels, fine)
		c.pixels = append(c.pixels, r[labelBytes:]...)
	}
	return nil
}

// addPickleBatch appends a python-version batch: a dict with "data" (uint8 [n, 3072]) and "labels"
// (CIFAR-10) or "fine_labels" and "coarse_labels" (CIFAR-100).
func (c *CIFAR) addPickleBatch(l cifarLayout, name string, b []byte) error {
	file := l.dir + "/" + name
	v, err := unpickle(b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: %w (the pickle is truncated, or the file is not %s)", file, err, l.name())
	}
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	d, err := asDict(v, file)
	if err != nil {
		return err
	}
	pixels, n, err := d.uint8Matrix("data", cifarImageBytes)
	if err != nil {
		return err
	}
	fineKey := "labels"
	if l.hundred {
		fineKey = "fine_labels"
	}
	fine, err := d.intList(fineKey)
	if err != nil {
		return err
	}
	if len(fine) != n {
		return fmt.Errorf("%s: %d images but %d %s", file, n, len(fine), fineKey)
	}
	var coarse []int
	if l.hundred {
		if coarse, err = d.intList("coarse_labels"); err != nil {
			return err
		}
		if len(coarse) != n {
			return fmt.Errorf("%s: %d images but %d coarse_labels", file, n, len(coarse))
		}
	}
	for i := range n {
		if fine[i] < 0 || fine[i] >= l.numFine {
			return fmt.Errorf("%s: item %d has label %d, %s labels are 0..%d", file, i, fine[i], l.name(), l.numFine-1)
		}
		c.labels = append(c.labels, uint8(fine[i]))
		if l.hundred {
			if coarse[i] < 0 || coarse[i] >= l.numCoarse {
				return fmt.Errorf("%s: item %d has coarse label %d, want 0..%d", file, i, coarse[i], l.numCoarse-1)
			}
			c.coarse = append(c.coarse, uint8(coarse[i]))
		}
	}
	c.pixels = append(c.pixels, pixels...)
	return nil
}

// Len implements Dataset.
func (c *CIFAR) Len() int { return len(c.labels) }

// Classes implements Dataset (the fine classes for CIFAR-100).
func (c *CIFAR) Classes() []string { return slices.Clone(c.classes) }

// CoarseClasses are CIFAR-100's 20 superclasses (nil for CIFAR-10).
func (c *CIFAR) CoarseClasses() []string { return slices.Clone(c.coarseClasses) }

// Label returns item i's label without building the image; like Item it needs 0 <= i < Len()
// (it panics otherwise, as slice indexing does).
func (c *CIFAR) Label(i int) int { return int(c.labels[i]) }

// CoarseLabel returns item i's CIFAR-100 superclass, or -1 for CIFAR-10.
func (c *CIFAR) CoarseLabel(i int) int {
	if c.coarse == nil {
		return -1
	}
	return int(c.coarse[i])
}

// Item implements Dataset: a 32×32 *image.RGBA.
func (c *CIFAR) Item(i int) (image.Image, int, error) {
	if err := checkIndex(i, c.Len()); err != nil {
		return nil, 0, err
	}
	p := c.pixels[i*cifarImageBytes : (i+1)*cifarImageBytes]
	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for j := range 1024 {
		img.Pix[4*j] = p[j]
		img.Pix[4*j+1] = p[1024+j]
		img.Pix[4*j+2] = p[2048+j]
		img.Pix[4*j+3] = 255
	}
	return img, int(c.labels[i]), nil
}
