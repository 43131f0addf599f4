package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// tarMember is one file of a test archive.
type tarMember struct {
	name string
	data []byte
}

// writeTarGz writes members into a gzipped tar at path.
func writeTarGz(t *testing.T, path string, members []tarMember) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	dirs := map[string]bool{}
	for _, m := range members {
		if d := filepath.Dir(m.name); d != "." && !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(m.data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testImage is one CIFAR test image: pixel byte j (planar R, G, B) is (7*k + 3*j + seed) % 256, the
// same rule as tools/reference/make_cifar_pickle_fixtures.py.
func testPixels(k, seed int) []byte {
	p := make([]byte, cifarImageBytes)
	for j := range p {
		p[j] = byte((7*k + 3*j + seed) % 256)
	}
	return p
}

// cifarBatch is a batch of n test images with labels (k+seed)%classes and coarse labels (k+seed)%20.
type cifarBatch struct {
	n, seed, classes int
}

func (b cifarBatch) label(k int) int  { return (k + b.seed) % b.classes }
func (b cifarBatch) coarse(k int) int { return (k + b.seed) % 20 }

// binary returns the batch in the binary version's record format.
func (b cifarBatch) binary(hundred bool) []byte {
	var out []byte
	for k := range b.n {
		if hundred {
			out = append(out, byte(b.coarse(k)))
		}
		out = append(out, byte(b.label(k)))
		out = append(out, testPixels(k, b.seed)...)
	}
	return out
}

// pickleWriter writes pickles exactly as Python 2's cPickle did at protocol 2 for the original CIFAR
// files: str values as (SHORT_)BINSTRING, numpy arrays through numpy.core.multiarray._reconstruct.
type pickleWriter struct{ bytes.Buffer }

func (w *pickleWriter) op(b ...byte) { w.Write(b) }

func (w *pickleWriter) str(s string) {
	if len(s) < 256 {
		w.op('U', byte(len(s)))
	} else {
		w.op('T')
		_ = binary.Write(w, binary.LittleEndian, int32(len(s)))
	}
	w.WriteString(s)
}

func (w *pickleWriter) int(n int) {
	switch {
	case n >= 0 && n < 256:
		w.op('K', byte(n))
	case n >= 0 && n < 65536:
		w.op('M', byte(n), byte(n>>8))
	default:
		w.op('J')
		_ = binary.Write(w, binary.LittleEndian, int32(n))
	}
}

func (w *pickleWriter) global(module, name string) { fmt.Fprintf(w, "c%s\n%s\n", module, name) }

func (w *pickleWriter) intList(v []int) {
	w.op(']', '(')
	for _, x := range v {
		w.int(x)
	}
	w.op('e')
}

func (w *pickleWriter) strList(v []string) {
	w.op(']', '(')
	for _, x := range v {
		w.str(x)
	}
	w.op('e')
}

// uint8Array writes a numpy uint8 array of the given shape.
func (w *pickleWriter) uint8Array(shape []int, data []byte) {
	w.global("numpy.core.multiarray", "_reconstruct")
	w.global("numpy", "ndarray")
	w.int(0)
	w.op(0x85) // TUPLE1
	w.str("b")
	w.op(0x87, 'R') // TUPLE3 REDUCE
	w.op('(')
	w.int(1)
	w.op('(')
	for _, d := range shape {
		w.int(d)
	}
	w.op('t')
	w.global("numpy", "dtype")
	w.str("u1")
	w.int(0)
	w.int(1)
	w.op(0x87, 'R')
	w.op('(')
	w.int(3)
	w.str("|")
	w.op('N', 'N', 'N')
	w.int(-1)
	w.int(-1)
	w.int(0)
	w.op('t', 'b') // dtype state, BUILD
	w.op(0x89)     // NEWFALSE: not Fortran order
	w.str(string(data))
	w.op('t', 'b')
}

// dict writes a dict whose values are written by the callbacks, in order.
func (w *pickleWriter) dict(items ...any) {
	w.op('}', '(')
	for i := 0; i < len(items); i += 2 {
		w.str(items[i].(string))
		items[i+1].(func())()
	}
	w.op('u')
}

func pickle2(body func(w *pickleWriter)) []byte {
	w := &pickleWriter{}
	w.op(0x80, 2)
	body(w)
	w.op('.')
	return w.Bytes()
}

// pickleBatch is a batch as the python version stores it.
func (b cifarBatch) pickle(hundred bool) []byte {
	var pixels []byte
	labels := make([]int, b.n)
	coarse := make([]int, b.n)
	names := make([]string, b.n)
	for k := range b.n {
		pixels = append(pixels, testPixels(k, b.seed)...)
		labels[k], coarse[k], names[k] = b.label(k), b.coarse(k), fmt.Sprintf("img%d.png", k)
	}
	return pickle2(func(w *pickleWriter) {
		items := []any{
			"batch_label", func() { w.str("testing batch 1 of 1") },
			"data", func() { w.uint8Array([]int{b.n, cifarImageBytes}, pixels) },
			"filenames", func() { w.strList(names) },
		}
		if hundred {
			items = append(items, "fine_labels", func() { w.intList(labels) }, "coarse_labels", func() { w.intList(coarse) })
		} else {
			items = append(items, "labels", func() { w.intList(labels) })
		}
		w.dict(items...)
	})
}

var cifar10Names = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

func namesOf(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

// cifar10Train are the training batches of the test archives (data_batch_b has b+1 images, seed 11b).
func cifar10Train() []cifarBatch {
	var out []cifarBatch
	for b := 1; b <= 5; b++ {
		out = append(out, cifarBatch{n: b + 1, seed: 11 * b, classes: 10})
	}
	return out
}

var (
	cifar10Test   = cifarBatch{n: 4, seed: 99, classes: 10}
	cifar100Train = cifarBatch{n: 6, seed: 11, classes: 100}
	cifar100Test  = cifarBatch{n: 4, seed: 99, classes: 100}
)

// cifarMembers returns the members of a test archive in one of the four published layouts.
func cifarMembers(hundred, python bool) []tarMember {
	var m []tarMember
	switch {
	case !hundred && !python:
		d := "cifar-10-batches-bin/"
		m = append(m, tarMember{d + "batches.meta.txt", []byte(fmt.Sprintf("%s\n\n", joinLines(cifar10Names)))})
		for i, b := range cifar10Train() {
			m = append(m, tarMember{fmt.Sprintf("%sdata_batch_%d.bin", d, i+1), b.binary(false)})
		}
		m = append(m, tarMember{d + "test_batch.bin", cifar10Test.binary(false)})
		m = append(m, tarMember{d + "readme.html", []byte("<html></html>")})
	case !hundred && python:
		d := "cifar-10-batches-py/"
		m = append(m, tarMember{d + "batches.meta", pickle2(func(w *pickleWriter) {
			w.dict("label_names", func() { w.strList(cifar10Names) }, "num_cases_per_batch", func() { w.int(10000) },
				"num_vis", func() { w.int(3072) })
		})})
		for i, b := range cifar10Train() {
			m = append(m, tarMember{fmt.Sprintf("%sdata_batch_%d", d, i+1), b.pickle(false)})
		}
		m = append(m, tarMember{d + "test_batch", cifar10Test.pickle(false)})
	case hundred && !python:
		d := "cifar-100-binary/"
		m = append(m, tarMember{d + "fine_label_names.txt", []byte(joinLines(namesOf("class", 100)))},
			tarMember{d + "coarse_label_names.txt", []byte(joinLines(namesOf("super", 20)))},
			tarMember{d + "train.bin", cifar100Train.binary(true)}, tarMember{d + "test.bin", cifar100Test.binary(true)})
	default:
		d := "cifar-100-python/"
		m = append(m, tarMember{d + "meta", pickle2(func(w *pickleWriter) {
			w.dict("fine_label_names", func() { w.strList(namesOf("class", 100)) },
				"coarse_label_names", func() { w.strList(namesOf("super", 20)) })
		})}, tarMember{d + "train", cifar100Train.pickle(true)}, tarMember{d + "test", cifar100Test.pickle(true)})
	}
	return m
}

func joinLines(s []string) string {
	var b bytes.Buffer
	for _, x := range s {
		b.WriteString(x)
		b.WriteByte('\n')
	}
	return b.String()
}
