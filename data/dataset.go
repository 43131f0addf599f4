package data

import (
	"fmt"
	"image"
)

// Dataset is an indexed collection of images, each with a label.
//
// Implementations in this package keep the (small) raw pixels or file names in memory and decode an
// image only when Item asks for it, so Item is cheap for CIFAR/MNIST and costs one file read and
// decode for folders. They are safe for concurrent use.
type Dataset interface {
	// Len is the number of items.
	Len() int
	// Classes are the label names: label k is Classes()[k]. Empty for unlabeled datasets.
	Classes() []string
	// Item returns image i (0 <= i < Len()) and its label, an index into Classes() or -1 when the
	// dataset has no labels. Images come as decoded (e.g. *image.Gray for MNIST, *image.RGBA for
	// CIFAR, whatever the file holds for folders); converting to RGB is the preprocessor's job.
	Item(i int) (image.Image, int, error)
}

// Captioned is implemented by datasets whose items have a caption (folders with a captions file).
type Captioned interface {
	// Caption of item i.
	Caption(i int) string
}

// Pathed is implemented by datasets whose items are files (folders).
type Pathed interface {
	// Path of item i's file.
	Path(i int) string
}

// Split selects the training or the test part of a dataset.
type Split string

// Splits of the datasets with canonical splits (CIFAR, MNIST, Fashion-MNIST).
const (
	Train Split = "train"
	Test  Split = "test"
)

func (s Split) validate() error {
	if s != Train && s != Test {
		return fmt.Errorf("unknown split %q (want %q or %q)", s, Train, Test)
	}
	return nil
}

func checkIndex(i, n int) error {
	if i < 0 || i >= n {
		return fmt.Errorf("item %d out of range [0, %d)", i, n)
	}
	return nil
}

// LabelCounts returns how many items of ds have each label (index = label); unlabeled items are not
// counted. It reads labels only where the dataset offers them cheaply (all datasets of this package
// do), otherwise it calls Item.
func LabelCounts(ds Dataset) ([]int, error) {
	counts := make([]int, len(ds.Classes()))
	type labeler interface{ Label(i int) int }
	lb, fast := ds.(labeler)
	for i := range ds.Len() {
		var l int
		if fast {
			l = lb.Label(i)
		} else {
			var err error
			if _, l, err = ds.Item(i); err != nil {
				return nil, err
			}
		}
		if l >= 0 && l < len(counts) {
			counts[l]++
		}
	}
	return counts, nil
}
