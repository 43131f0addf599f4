package data

import (
	"bytes"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// checkCIFARItems checks every item of c against the batches it was made from.
func checkCIFARItems(t *testing.T, c *CIFAR, batches []cifarBatch, hundred bool) {
	t.Helper()
	i := 0
	for _, b := range batches {
		for k := range b.n {
			img, label, err := c.Item(i)
			if err != nil {
				t.Fatal(err)
			}
			if label != b.label(k) || c.Label(i) != label {
				t.Fatalf("item %d: label %d, want %d", i, label, b.label(k))
			}
			if hundred && c.CoarseLabel(i) != b.coarse(k) {
				t.Fatalf("item %d: coarse label %d, want %d", i, c.CoarseLabel(i), b.coarse(k))
			}
			rgba := img.(*image.RGBA)
			want := testPixels(k, b.seed)
			for _, p := range []image.Point{{0, 0}, {31, 0}, {5, 17}, {31, 31}} {
				j := p.Y*32 + p.X
				got := rgba.RGBAAt(p.X, p.Y)
				if got.R != want[j] || got.G != want[1024+j] || got.B != want[2048+j] || got.A != 255 {
					t.Fatalf("item %d pixel %v = %v, want planes (%d, %d, %d)", i, p, got, want[j], want[1024+j], want[2048+j])
				}
			}
			i++
		}
	}
	if i != c.Len() {
		t.Fatalf("%d items, want %d", c.Len(), i)
	}
}

func TestLoadCIFARAllFourArchiveFormats(t *testing.T) {
	for _, tc := range []struct {
		archive         string
		hundred, python bool
	}{
		{"cifar-10-binary.tar.gz", false, false},
		{"cifar-10-python.tar.gz", false, true},
		{"cifar-100-binary.tar.gz", true, false},
		{"cifar-100-python.tar.gz", true, true},
	} {
		t.Run(tc.archive, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), tc.archive)
			writeTarGz(t, p, cifarMembers(tc.hundred, tc.python))
			train, test := cifar10Train(), []cifarBatch{cifar10Test}
			classes := cifar10Names
			if tc.hundred {
				train, test, classes = []cifarBatch{cifar100Train}, []cifarBatch{cifar100Test}, namesOf("class", 100)
			}
			c, err := LoadCIFAR(p, Train)
			if err != nil {
				t.Fatal(err)
			}
			checkCIFARItems(t, c, train, tc.hundred)
			if !slices.Equal(c.Classes(), classes) {
				t.Errorf("classes %v", c.Classes())
			}
			if tc.hundred && !slices.Equal(c.CoarseClasses(), namesOf("super", 20)) {
				t.Errorf("coarse classes %v", c.CoarseClasses())
			}
			if !tc.hundred && (c.CoarseClasses() != nil || c.CoarseLabel(0) != -1) {
				t.Error("CIFAR-10 has coarse labels")
			}
			c, err = LoadCIFAR(p, Test)
			if err != nil {
				t.Fatal(err)
			}
			checkCIFARItems(t, c, test, tc.hundred)
		})
	}
}

func TestLoadCIFARFromExtractedFolder(t *testing.T) {
	root := t.TempDir()
	for _, m := range cifarMembers(false, false) {
		p := filepath.Join(root, m.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, m.data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{root, filepath.Join(root, "cifar-10-batches-bin")} {
		c, err := LoadCIFAR(dir, Test)
		if err != nil {
			t.Fatal(err)
		}
		checkCIFARItems(t, c, []cifarBatch{cifar10Test}, false)
	}
	if _, err := LoadCIFAR(t.TempDir(), Test); err == nil || !strings.Contains(err.Error(), "no CIFAR folder") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestLoadCIFARPicklesWrittenByPythonAndNumpy(t *testing.T) {
	// Made by tools/reference/make_cifar_pickle_fixtures.py (Python 3, numpy 2; protocols 2 and 4),
	// with the same pixel and label rules as the Go-written archives.
	for _, tc := range []struct {
		file    string
		hundred bool
		train   []cifarBatch
		test    cifarBatch
	}{
		{"cifar-10-python-tiny.tar.gz", false, cifar10Train(), cifar10Test},
		{"cifar-100-python-tiny.tar.gz", true, []cifarBatch{cifar100Train}, cifar100Test},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p := filepath.Join("..", "testdata", "data", tc.file)
			c, err := LoadCIFAR(p, Train)
			if err != nil {
				t.Fatal(err)
			}
			checkCIFARItems(t, c, tc.train, tc.hundred)
			c, err = LoadCIFAR(p, Test)
			if err != nil {
				t.Fatal(err)
			}
			checkCIFARItems(t, c, []cifarBatch{tc.test}, tc.hundred)
			if tc.hundred && c.Classes()[7] != "class07" {
				t.Errorf("classes %v", c.Classes()[:8])
			}
		})
	}
}

// replaceMember returns members with one member's data replaced.
func replaceMember(members []tarMember, name string, data []byte) []tarMember {
	out := slices.Clone(members)
	for i := range out {
		if strings.HasSuffix(out[i].name, "/"+name) {
			out[i].data = data
		}
	}
	return out
}

func dropMember(members []tarMember, name string) []tarMember {
	return slices.DeleteFunc(slices.Clone(members), func(m tarMember) bool { return strings.HasSuffix(m.name, "/"+name) })
}

func TestLoadCIFARRejectsBrokenFiles(t *testing.T) {
	bin10, py10 := cifarMembers(false, false), cifarMembers(false, true)
	bin100, py100 := cifarMembers(true, false), cifarMembers(true, true)
	mislabeled := cifar10Test.binary(false)
	mislabeled[3073] = 10 // second record's label
	badCoarse := cifar100Test.binary(true)
	badCoarse[0] = 20
	wrongLabelCount := pickle2(func(w *pickleWriter) {
		w.dict("data", func() { w.uint8Array([]int{2, cifarImageBytes}, make([]byte, 2*cifarImageBytes)) },
			"labels", func() { w.intList([]int{1, 2, 3}) })
	})
	pickledBadLabel := pickle2(func(w *pickleWriter) {
		w.dict("data", func() { w.uint8Array([]int{1, cifarImageBytes}, make([]byte, cifarImageBytes)) },
			"labels", func() { w.intList([]int{12}) })
	})
	wrongShape := pickle2(func(w *pickleWriter) {
		w.dict("data", func() { w.uint8Array([]int{2, 1024}, make([]byte, 2048)) }, "labels", func() { w.intList([]int{1, 2}) })
	})
	sneaky := pickle2(func(w *pickleWriter) {
		w.global("os", "system")
		w.str("echo hi")
		w.op(0x85, 'R')
	})
	fullPickle := cifar10Test.pickle(false)
	// BINBYTES8 declaring 2^62 bytes: gopickle would try to allocate them.
	absurd := append([]byte{0x80, 4, 0x8e}, 0, 0, 0, 0, 0, 0, 0, 0x40)

	for _, tc := range []struct {
		name    string
		members []tarMember
		split   Split
		want    []string
	}{
		{"truncated binary batch", replaceMember(bin10, "test_batch.bin", cifar10Test.binary(false)[:5000]), Test,
			[]string{"test_batch.bin", "5000 bytes", "3073-byte records"}},
		{"CIFAR-10 label out of range", replaceMember(bin10, "test_batch.bin", mislabeled), Test,
			[]string{"test_batch.bin", "record 1 has label 10", "0..9"}},
		{"CIFAR-100 coarse label out of range", replaceMember(bin100, "test.bin", badCoarse), Test,
			[]string{"test.bin", "coarse label 20"}},
		{"CIFAR-100 records read as CIFAR-10", replaceMember(bin10, "test_batch.bin", cifar100Test.binary(true)), Test,
			[]string{"test_batch.bin", "not a whole number"}},
		{"missing training batch", dropMember(bin10, "data_batch_3.bin"), Train,
			[]string{"lacks cifar-10-batches-bin/data_batch_3.bin"}},
		{"nine class names", replaceMember(bin10, "batches.meta.txt", []byte(joinLines(cifar10Names[:9]))), Test,
			[]string{"names 9 classes", "has 10"}},
		{"truncated pickle", replaceMember(py10, "test_batch", fullPickle[:len(fullPickle)/2]), Test,
			[]string{"test_batch", "truncated"}},
		{"label and image counts differ", replaceMember(py10, "test_batch", wrongLabelCount), Test,
			[]string{"2 images but 3 labels"}},
		{"pickled label out of range", replaceMember(py10, "test_batch", pickledBadLabel), Test,
			[]string{"label 12"}},
		{"wrong array shape", replaceMember(py10, "test_batch", wrongShape), Test,
			[]string{"shape [2 1024]", "want uint8 [n, 3072]"}},
		{"pickle calling os.system", replaceMember(py10, "test_batch", sneaky), Test,
			[]string{"os.system", "never does"}},
		{"absurd length in a pickle", replaceMember(py10, "test_batch", absurd), Test,
			[]string{"test_batch", "malformed pickle"}},
		{"CIFAR-100 pickle without coarse labels", replaceMember(py100, "test", cifar10Test.pickle(false)), Test,
			[]string{"no key \"fine_labels\""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "archive.tar.gz")
			writeTarGz(t, p, tc.members)
			_, err := LoadCIFAR(p, tc.split)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestLoadCIFARRejectsTruncatedArchive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cifar-10-binary.tar.gz")
	writeTarGz(t, p, cifarMembers(false, false))
	b, _ := os.ReadFile(p)
	if err := os.WriteFile(p, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCIFAR(p, Test)
	if err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("error %v, want one saying the archive is truncated", err)
	}
	if err := os.WriteFile(p, []byte("not an archive at all, just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCIFAR(p, Test); err == nil {
		t.Fatal("text file accepted")
	}
	p2 := filepath.Join(t.TempDir(), "other.tar.gz")
	writeTarGz(t, p2, []tarMember{{"something/else.txt", []byte("x")}})
	if _, err := LoadCIFAR(p2, Test); err == nil || !strings.Contains(err.Error(), "no CIFAR folder") || !strings.Contains(err.Error(), "something/else.txt") {
		t.Fatalf("foreign archive: %v", err)
	}
}

func TestCIFARItemRangeAndSplitErrors(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.tar.gz")
	writeTarGz(t, p, cifarMembers(false, false))
	c, err := LoadCIFAR(p, Test)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{-1, c.Len()} {
		if _, _, err := c.Item(i); err == nil {
			t.Errorf("Item(%d) succeeded", i)
		}
	}
	if _, err := LoadCIFAR(p, "validation"); err == nil || !strings.Contains(err.Error(), "unknown split") {
		t.Errorf("bad split: %v", err)
	}
	counts, err := LabelCounts(c)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, 10)
	for k := range cifar10Test.n {
		want[cifar10Test.label(k)]++
	}
	if !slices.Equal(counts, want) {
		t.Errorf("LabelCounts %v, want %v", counts, want)
	}
}

func TestBinaryAndPythonVersionsGiveIdenticalItems(t *testing.T) {
	dir := t.TempDir()
	var sets [2]*CIFAR
	for i, python := range []bool{false, true} {
		p := filepath.Join(dir, fmt.Sprint(i)+".tar.gz")
		writeTarGz(t, p, cifarMembers(true, python))
		c, err := LoadCIFAR(p, Train)
		if err != nil {
			t.Fatal(err)
		}
		sets[i] = c
	}
	if !bytes.Equal(sets[0].pixels, sets[1].pixels) || !bytes.Equal(sets[0].labels, sets[1].labels) || !bytes.Equal(sets[0].coarse, sets[1].coarse) {
		t.Error("the two formats of the same data differ")
	}
}
