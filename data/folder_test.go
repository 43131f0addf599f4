package data

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pngBytes is a w×h PNG filled with c.
func pngBytes(w, h int, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return b.Bytes()
}

func jpegBytes(w, h int) []byte {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, w, h)), nil)
	return b.Bytes()
}

func TestLoadFolderClassPerSubfolder(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "dog", "a.png"), pngBytes(3, 2, color.White))
	writeFile(t, filepath.Join(dir, "dog", "nested", "b.JPG"), jpegBytes(4, 4))
	writeFile(t, filepath.Join(dir, "cat", "c.png"), pngBytes(5, 5, color.Black))
	writeFile(t, filepath.Join(dir, "cat", "notes.txt"), []byte("not an image"))
	writeFile(t, filepath.Join(dir, "cat", ".hidden.png"), pngBytes(1, 1, color.Black))
	writeFile(t, filepath.Join(dir, "empty", "readme.md"), []byte("no images here"))
	writeFile(t, filepath.Join(dir, "LICENSE"), []byte("text at the root is fine"))
	f, err := LoadFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Classes(), []string{"cat", "dog"}) || f.Len() != 3 {
		t.Fatalf("classes %v, %d items", f.Classes(), f.Len())
	}
	wantFiles := []string{"cat/c.png", "dog/a.png", "dog/nested/b.JPG"}
	wantLabels := []int{0, 1, 1}
	for i := range f.Len() {
		rel, _ := filepath.Rel(dir, f.Path(i))
		img, label, err := f.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.ToSlash(rel) != wantFiles[i] || label != wantLabels[i] || f.Caption(i) != f.Classes()[label] {
			t.Errorf("item %d: %s label %d caption %q", i, rel, label, f.Caption(i))
		}
		if i == 2 && img.Bounds().Dx() != 4 {
			t.Errorf("decoded size %v", img.Bounds())
		}
	}
}

func TestLoadFolderFlatWithoutLabels(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.png"), pngBytes(2, 2, color.White))
	writeFile(t, filepath.Join(dir, "a.jpeg"), jpegBytes(2, 2))
	f, err := LoadFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 2 || len(f.Classes()) != 0 || f.Label(0) != -1 || f.Caption(0) != "" || filepath.Base(f.Path(0)) != "a.jpeg" {
		t.Fatalf("flat folder: %d items, classes %v, label %d", f.Len(), f.Classes(), f.Label(0))
	}
	if _, l, err := f.Item(1); err != nil || l != -1 {
		t.Fatalf("item: %d, %v", l, err)
	}
}

func TestLoadFolderWithCaptionFiles(t *testing.T) {
	for _, tc := range []struct{ file, content string }{
		{"captions.csv", "\ufefffilename,caption\nimgs/one.png,a white square\n\"two.png\",\"a black square, small\"\nthree.png,a white square\n"},
		{"captions.jsonl", `{"file": "imgs/one.png", "caption": "a white square"}` + "\n\n" +
			`{"image": "two.png", "text": "a black square, small"}` + "\n" + `{"path": "three.png", "caption": "a white square"}` + "\n"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "imgs", "one.png"), pngBytes(2, 2, color.White))
			writeFile(t, filepath.Join(dir, "two.png"), pngBytes(2, 2, color.Black))
			writeFile(t, filepath.Join(dir, "three.png"), pngBytes(2, 2, color.White))
			writeFile(t, filepath.Join(dir, "unlisted.png"), pngBytes(2, 2, color.White))
			writeFile(t, filepath.Join(dir, tc.file), []byte(tc.content))
			f, err := LoadFolder(dir, FolderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if f.Len() != 3 || !slices.Equal(f.Classes(), []string{"a white square", "a black square, small"}) {
				t.Fatalf("%d items, classes %q", f.Len(), f.Classes())
			}
			if f.Label(2) != 0 || f.Caption(1) != "a black square, small" || filepath.Base(f.Path(0)) != "one.png" {
				t.Errorf("labels/captions: %d %q %s", f.Label(2), f.Caption(1), f.Path(0))
			}
			// NoCaptions ignores the file: three images at the root plus imgs/ is a mixed layout.
			if _, err := LoadFolder(dir, FolderOptions{NoCaptions: true}); err == nil || !strings.Contains(err.Error(), "mixes class folders") {
				t.Errorf("NoCaptions: %v", err)
			}
		})
	}
}

func TestLoadFolderRejectsBadInput(t *testing.T) {
	mk := func(t *testing.T, captions string, name string) string {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a.png"), pngBytes(2, 2, color.White))
		if captions != "" {
			writeFile(t, filepath.Join(dir, name), []byte(captions))
		}
		return dir
	}
	for _, tc := range []struct {
		name, captions, file string
		want                 []string
	}{
		{"missing image", "file,caption\na.png,x\nb.png,y\n", "captions.csv", []string{"captions.csv:3", "b.png does not exist"}},
		{"duplicate", "file,caption\na.png,x\na.png,y\n", "captions.csv", []string{"captions.csv:3", "already listed"}},
		{"escaping path", "file,caption\n../a.png,x\n", "captions.csv", []string{"must be a path inside"}},
		{"absolute path", "file,caption\n/etc/passwd,x\n", "captions.csv", []string{"must be a path inside"}},
		{"empty caption", "file,caption\na.png,  \n", "captions.csv", []string{"empty caption"}},
		{"bad header", "name,description\na.png,x\n", "captions.csv", []string{"needs a file column"}},
		{"short row", "file,caption\na.png\n", "captions.csv", []string{"captions.csv:2", "1 fields"}},
		{"no rows", "file,caption\n", "captions.csv", []string{"lists no images"}},
		{"bad json", "{\"file\": \"a.png\", \"caption\": \n", "captions.jsonl", []string{"captions.jsonl:1"}},
		{"json without caption", "{\"file\": \"a.png\"}\n", "captions.jsonl", []string{"captions.jsonl:1", "needs a string file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFolder(mk(t, tc.captions, tc.file), FolderOptions{})
			if err == nil {
				t.Fatal("accepted")
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
	t.Run("explicit captions file of unknown type", func(t *testing.T) {
		dir := mk(t, "", "")
		p := writeFile(t, filepath.Join(t.TempDir(), "caps.txt"), []byte("a.png x"))
		if _, err := LoadFolder(dir, FolderOptions{Captions: p}); err == nil || !strings.Contains(err.Error(), ".csv or .jsonl") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("no images", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "x.txt"), []byte("x"))
		if _, err := LoadFolder(dir, FolderOptions{}); err == nil || !strings.Contains(err.Error(), "holds no images") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("not a folder", func(t *testing.T) {
		p := writeFile(t, filepath.Join(t.TempDir(), "f.png"), pngBytes(1, 1, color.White))
		if _, err := LoadFolder(p, FolderOptions{}); err == nil {
			t.Error("accepted a file")
		}
	})
	t.Run("undecodable image", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"))
		f, err := LoadFolder(dir, FolderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.Item(0); err == nil || !strings.Contains(err.Error(), "broken.png") {
			t.Errorf("got %v", err)
		}
	})
}

func TestDemoSetIsTheSharedSamplePhotos(t *testing.T) {
	t.Setenv("CLIPKIT_IMAGES", "")
	dir, err := DemoImagesDir()
	if err != nil {
		t.Skipf("shared sample photos not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "chelsea.png")); err != nil {
		t.Fatalf("%s does not hold the sample photos: %v", dir, err)
	}
	f, err := LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != len(DemoCaptions) || len(f.Classes()) != len(DemoCaptions) {
		t.Fatalf("%d items, %d classes", f.Len(), len(f.Classes()))
	}
	for i := range f.Len() {
		img, label, err := f.Item(i)
		if err != nil {
			t.Fatal(err)
		}
		if label != i || f.Caption(i) != DemoCaptions[i].Caption || img.Bounds().Empty() {
			t.Errorf("item %d: label %d caption %q bounds %v", i, label, f.Caption(i), img.Bounds())
		}
	}
	// The whole folder loads as a flat, unlabeled set of its 20 photos.
	all, err := LoadFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if all.Len() != 20 {
		t.Errorf("%d photos in %s, the README lists 20", all.Len(), dir)
	}
	for i := range all.Len() {
		if _, _, err := all.Item(i); err != nil {
			t.Error(err)
		}
	}
}

func TestDemoSetFollowsCLIPKIT_IMAGES(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "mine", "x.png"), pngBytes(2, 2, color.White))
	t.Setenv("CLIPKIT_IMAGES", dir)
	f, err := LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	if f.Root() != dir || !slices.Equal(f.Classes(), []string{"mine"}) {
		t.Errorf("root %s classes %v", f.Root(), f.Classes())
	}
	t.Setenv("CLIPKIT_IMAGES", filepath.Join(dir, "nope"))
	if _, err := DemoImagesDir(); err == nil || !strings.Contains(err.Error(), "CLIPKIT_IMAGES") {
		t.Errorf("got %v", err)
	}
}

func TestImageFilesListsImagesRecursivelySkippingHiddenOnes(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"b.PNG", "a.jpg", "sub/c.webp", "notes.txt", ".hidden.png", ".cache/d.png"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ImageFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a.jpg"), filepath.Join(dir, "b.PNG"), filepath.Join(dir, "sub/c.webp")}
	if !slices.Equal(got, want) {
		t.Errorf("ImageFiles = %v, want %v", got, want)
	}
	if _, err := ImageFiles(filepath.Join(dir, ".cache", "..", "sub", "..", "nothing-here")); err == nil {
		t.Error("missing folder accepted")
	}
	empty := t.TempDir()
	if _, err := ImageFiles(empty); err == nil || !strings.Contains(err.Error(), empty) {
		t.Errorf("empty folder: err %v, want one naming it", err)
	}
}
