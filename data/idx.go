package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
)

// MNISTClasses are the MNIST label names.
var MNISTClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// FashionMNISTClasses are the Fashion-MNIST label names, from the dataset's README.
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
	"Sneaker", "Bag", "Ankle boot"}

// readIDX reads an IDX file of unsigned bytes (gzipped or not: detected from the content) and
// returns its dimensions and data. The file must hold exactly the announced number of bytes.
func readIDX(path string) ([]int, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var r io.Reader = br
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		defer zr.Close()
		r = zr
	}
	var head [4]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: too short for an IDX header: %w", path, err)
	}
	if head[0] != 0 || head[1] != 0 {
		return nil, nil, fmt.Errorf("%s: not an IDX file (magic %x, want 0000 then type and rank)", path, head)
	}
	if head[2] != 0x08 {
		return nil, nil, fmt.Errorf("%s: IDX element type 0x%02x, only unsigned bytes (0x08) are supported", path, head[2])
	}
	rank := int(head[3])
	if rank < 1 || rank > 4 {
		return nil, nil, fmt.Errorf("%s: IDX rank %d, want 1 to 4", path, rank)
	}
	dims := make([]int, rank)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(r, binary.BigEndian, &d); err != nil {
			return nil, nil, fmt.Errorf("%s: truncated IDX header: %w", path, err)
		}
		if d == 0 || d > 1<<24 {
			return nil, nil, fmt.Errorf("%s: IDX dimension %d is %d", path, i, d)
		}
		dims[i] = int(d)
		total *= int(d)
		if total > 1<<31 {
			return nil, nil, fmt.Errorf("%s: IDX data of %v elements is too large", path, dims)
		}
	}
	buf := make([]byte, total)
	n, err := io.ReadFull(r, buf)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: truncated: the header announces %v = %d bytes of data, the file has %d", path, dims, total, n)
		}
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if extra, _ := io.Copy(io.Discard, io.LimitReader(r, 1<<20)); extra > 0 {
		return nil, nil, fmt.Errorf("%s: %d unexpected bytes after the %v data the header announces", path, extra, dims)
	}
	return dims, buf, nil
}

// MNIST is an MNIST-format dataset (MNIST, Fashion-MNIST): 28×28 grayscale images and labels 0..9.
type MNIST struct {
	classes    []string
	rows, cols int
	pixels     []byte // n*rows*cols, row-major
	labels     []byte
}

// LoadMNISTFiles reads an MNIST-format pair of IDX files (gzipped or not). classes names the labels
// (MNISTClasses, FashionMNISTClasses); every label must be a valid index.
func LoadMNISTFiles(imagesPath, labelsPath string, classes []string) (*MNIST, error) {
	idims, pixels, err := readIDX(imagesPath)
	if err != nil {
		return nil, err
	}
	if len(idims) != 3 {
		return nil, fmt.Errorf("%s: images must be a rank-3 IDX file [n, rows, cols], got dims %v (is it a labels file?)", imagesPath, idims)
	}
	ldims, labels, err := readIDX(labelsPath)
	if err != nil {
		return nil, err
	}
	if len(ldims) != 1 {
		return nil, fmt.Errorf("%s: labels must be a rank-1 IDX file, got dims %v (is it an images file?)", labelsPath, ldims)
	}
	if idims[0] != ldims[0] {
		return nil, fmt.Errorf("%s has %d images but %s has %d labels", imagesPath, idims[0], labelsPath, ldims[0])
	}
	for i, l := range labels {
		if int(l) >= len(classes) {
			return nil, fmt.Errorf("%s: label %d of item %d is not in 0..%d", labelsPath, l, i, len(classes)-1)
		}
	}
	return &MNIST{classes: classes, rows: idims[1], cols: idims[2], pixels: pixels, labels: labels}, nil
}

// mnistFileNames are the canonical file names of a split.
func mnistFileNames(split Split) (images, labels string) {
	if split == Train {
		return "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
	}
	return "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
}

// findIDX returns dir/name.gz or dir/name, whichever exists.
func findIDX(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name+".gz"), filepath.Join(dir, name)} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("neither %s.gz nor %s is in %s", name, name, dir)
}

// LoadMNIST reads a split of MNIST from dir, which holds the canonical files
// (train-images-idx3-ubyte.gz, ..., gzipped or not).
func LoadMNIST(dir string, split Split) (*MNIST, error) {
	return loadMNISTDir(dir, split, MNISTClasses)
}

// LoadFashionMNIST reads a split of Fashion-MNIST from dir (same file names as MNIST).
func LoadFashionMNIST(dir string, split Split) (*MNIST, error) {
	return loadMNISTDir(dir, split, FashionMNISTClasses)
}

func loadMNISTDir(dir string, split Split, classes []string) (*MNIST, error) {
	if err := split.validate(); err != nil {
		return nil, err
	}
	in, ln := mnistFileNames(split)
	ip, err := findIDX(dir, in)
	if err != nil {
		return nil, err
	}
	lp, err := findIDX(dir, ln)
	if err != nil {
		return nil, err
	}
	return LoadMNISTFiles(ip, lp, classes)
}

// Len implements Dataset.
func (m *MNIST) Len() int { return len(m.labels) }

// Classes implements Dataset.
func (m *MNIST) Classes() []string { return append([]string(nil), m.classes...) }

// Label returns item i's label without decoding the image; i must be in [0, Len()) (it panics
// otherwise, as slice indexing does).
func (m *MNIST) Label(i int) int { return int(m.labels[i]) }

// Item implements Dataset: a *image.Gray of rows×cols (28×28) pixels, 0 = background.
func (m *MNIST) Item(i int) (image.Image, int, error) {
	if err := checkIndex(i, m.Len()); err != nil {
		return nil, 0, err
	}
	n := m.rows * m.cols
	img := image.NewGray(image.Rect(0, 0, m.cols, m.rows))
	copy(img.Pix, m.pixels[i*n:(i+1)*n])
	return img, int(m.labels[i]), nil
}

// Bytes returns item i's raw pixels (rows*cols bytes, row-major); do not modify them.
func (m *MNIST) Bytes(i int) []byte {
	n := m.rows * m.cols
	return m.pixels[i*n : (i+1)*n : (i+1)*n]
}
