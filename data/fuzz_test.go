package data

import (
	"path/filepath"
	"testing"
)

// FuzzCIFARBatches feeds arbitrary bytes to the batch parsers of both formats: they must return an
// error or a dataset, never panic. Seeds: valid batches; run longer with go test -fuzz=FuzzCIFARBatches.
func FuzzCIFARBatches(f *testing.F) {
	f.Add(cifar10Test.pickle(false), false)
	f.Add(cifar100Test.pickle(true), true)
	f.Add(cifar10Test.binary(false), false)
	f.Add(cifar100Test.binary(true), true)
	f.Fuzz(func(t *testing.T, b []byte, hundred bool) {
		for _, l := range cifarLayouts {
			if l.hundred != hundred {
				continue
			}
			c := &CIFAR{}
			var err error
			if l.python {
				err = c.addPickleBatch(l, "batch", b)
			} else {
				err = c.addBinaryBatch(l, "batch", b)
			}
			if err == nil {
				for i := range c.Len() {
					if _, _, err := c.Item(i); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}

// FuzzIDX feeds arbitrary bytes to the IDX reader.
func FuzzIDX(f *testing.F) {
	f.Add(idxBytes([]int{2, 2, 2}, make([]byte, 8)))
	f.Add(gz(idxBytes([]int{3}, []byte{1, 2, 3})))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "f.idx")
		writeFile(t, p, b)
		_, _, _ = readIDX(p)
	})
}
