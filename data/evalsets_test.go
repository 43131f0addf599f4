package data

import (
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/data/datatest"
)

func TestLoadImageNetValLabelsBySortedWordNetID(t *testing.T) {
	labels := []int{999, 0, 500, 3}
	t.Run("flat+devkit", func(t *testing.T) {
		root := t.TempDir()
		val := filepath.Join(root, "val")
		if err := datatest.ImageNetFlat(val, len(labels), nil); err != nil {
			t.Fatal(err)
		}
		if err := datatest.ImageNetDevkit(filepath.Join(root, "devkit"), 1000, labels); err != nil {
			t.Fatal(err)
		}
		in, err := LoadImageNetVal(val, ImageNetOptions{Devkit: filepath.Join(root, "devkit")})
		if err != nil {
			t.Fatal(err)
		}
		if in.Len() != 4 || len(in.Classes()) != 1000 || in.Classes()[0] != datatest.WNID(0) {
			t.Fatalf("len %d classes %d first %q", in.Len(), len(in.Classes()), in.Classes()[0])
		}
		for i, want := range labels {
			img, l, err := in.Item(i)
			if err != nil || l != want || img.Bounds().Dx() != 8 {
				t.Errorf("item %d: label %d (want %d), err %v", i, l, want, err)
			}
		}
	})
	t.Run("wnid folders with class map", func(t *testing.T) {
		root := t.TempDir()
		for _, k := range []int{7, 2} {
			p := filepath.Join(root, "val", datatest.WNID(k), "a.png")
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, datatest.PNG(4, 4, color.White), 0o644)
		}
		if err := datatest.ImageNetDevkit(root, 10, nil); err != nil {
			t.Fatal(err)
		}
		in, err := LoadImageNetVal(filepath.Join(root, "val"), ImageNetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := []int{in.Label(0), in.Label(1)}; !slices.Equal(got, []int{2, 7}) || len(in.Classes()) != 10 {
			t.Errorf("labels %v classes %d, want [2 7] and 10", got, len(in.Classes()))
		}
	})
}

func TestLoadImageNetValRefusesBrokenLayouts(t *testing.T) {
	cases := []struct {
		name  string
		setup func(root string)
		want  string
	}{
		{"no images", func(root string) { os.MkdirAll(filepath.Join(root, "val"), 0o755) }, "neither"},
		{"flat without devkit", func(root string) { datatest.ImageNetFlat(filepath.Join(root, "val"), 1, nil) }, "map_clsloc.txt"},
		{"image past the ground truth", func(root string) {
			datatest.ImageNetFlat(filepath.Join(root, "val"), 2, nil)
			datatest.ImageNetDevkit(filepath.Join(root, "val"), 5, []int{1})
		}, "has no line"},
		{"bad class map", func(root string) {
			datatest.ImageNetFlat(filepath.Join(root, "val"), 1, nil)
			os.WriteFile(filepath.Join(root, "val", "map_clsloc.txt"), []byte("kit_fox 1 x\n"), 0o644)
		}, "want \"<wnid>"},
		{"unknown id in ground truth", func(root string) {
			datatest.ImageNetFlat(filepath.Join(root, "val"), 1, nil)
			datatest.ImageNetDevkit(filepath.Join(root, "val"), 5, []int{1})
			os.WriteFile(filepath.Join(root, "val", "data", "ILSVRC2012_validation_ground_truth.txt"), []byte("77\n"), 0o644)
		}, "not in the class map"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			c.setup(root)
			_, err := LoadImageNetVal(filepath.Join(root, "val"), ImageNetOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
		})
	}
}

var captionedItems = []datatest.Captioned{
	{File: "a.jpg", Colour: color.White, Captions: []string{"a white square", "white"}, Split: "test"},
	{File: "b.jpg", Colour: color.Black, Captions: []string{"a black square"}, Split: "train"},
	{File: "c.jpg", Colour: datatest.Colour(3), Captions: []string{"a green one", "green", "leaf"}, Split: "test"},
}

func TestLoadKarpathyKeepsTheSplitAndAllCaptions(t *testing.T) {
	for _, sub := range []string{"", "val2014"} {
		root := t.TempDir()
		js := filepath.Join(root, "dataset.json")
		if err := datatest.Karpathy(js, filepath.Join(root, "images"), sub, captionedItems); err != nil {
			t.Fatal(err)
		}
		cs, err := LoadKarpathy(js, filepath.Join(root, "images"), "test")
		if err != nil {
			t.Fatal(err)
		}
		if cs.Len() != 2 || !slices.Equal(cs.Captions(1), []string{"a green one", "green", "leaf"}) || filepath.Base(cs.Path(0)) != "a.jpg" {
			t.Fatalf("sub %q: len %d captions %v", sub, cs.Len(), cs.Captions(1))
		}
		if _, l, err := cs.Item(0); err != nil || l != -1 {
			t.Fatalf("item: %d %v", l, err)
		}
		if _, err := LoadKarpathy(js, filepath.Join(root, "images"), "restval"); err == nil || !strings.Contains(err.Error(), "splits present: [test train]") {
			t.Errorf("missing split: %v", err)
		}
		os.Remove(filepath.Join(root, "images", sub, "c.jpg"))
		if _, err := LoadKarpathy(js, filepath.Join(root, "images"), "test"); err == nil || !strings.Contains(err.Error(), "c.jpg") {
			t.Errorf("missing image: %v", err)
		}
	}
}

func TestLoadCOCOCaptionsGroupsCaptionsByImage(t *testing.T) {
	root := t.TempDir()
	js := filepath.Join(root, "annotations", "captions_val2017.json")
	if err := datatest.COCOCaptions(js, filepath.Join(root, "val2017"), captionedItems); err != nil {
		t.Fatal(err)
	}
	cs, err := LoadCOCOCaptions(js, filepath.Join(root, "val2017"))
	if err != nil {
		t.Fatal(err)
	}
	if cs.Len() != 3 || !slices.Equal(cs.Captions(0), []string{"a white square", "white"}) || !slices.Equal(cs.Captions(2), []string{"a green one", "green", "leaf"}) {
		t.Fatalf("len %d, captions %v %v", cs.Len(), cs.Captions(0), cs.Captions(2))
	}
	for _, bad := range []string{`{"images": 3}`, `{"images": [{"id": 1, "file_name": "x.jpg"}], "annotations": [{"image_id": 2, "caption": "c"}]}`, `not json`} {
		os.WriteFile(js, []byte(bad), 0o644)
		if _, err := LoadCOCOCaptions(js, root); err == nil || !strings.Contains(err.Error(), js) {
			t.Errorf("%s: err %v, want one naming the file", bad, err)
		}
	}
}

func TestLoadWebDatasetIndexesShards(t *testing.T) {
	t.Run("classification", func(t *testing.T) {
		dir := t.TempDir()
		var samples []datatest.WDSSample
		for i := range 5 {
			samples = append(samples, datatest.WDSSample{Colour: datatest.Colour(i), Label: i % 3})
		}
		if err := datatest.WebDataset(dir, "test", samples, 2, []string{"cat", "dog", "car"}, []string{"a photo of a {c}."}, false); err != nil {
			t.Fatal(err)
		}
		w, err := LoadWebDataset(dir, "test")
		if err != nil {
			t.Fatal(err)
		}
		if w.Len() != 5 || !slices.Equal(w.Classes(), []string{"cat", "dog", "car"}) || !slices.Equal(w.Templates(), []string{"a photo of a {}."}) || w.Retrieval() {
			t.Fatalf("len %d classes %v templates %v", w.Len(), w.Classes(), w.Templates())
		}
		for i := range 5 {
			img, l, err := w.Item(i)
			if err != nil || l != i%3 {
				t.Fatalf("item %d: label %d err %v", i, l, err)
			}
			r, g, b, _ := img.At(3, 3).RGBA()
			c := datatest.Colour(i)
			if uint8(r>>8) != c.R || uint8(g>>8) != c.G || uint8(b>>8) != c.B {
				t.Errorf("item %d: pixel %v, want %v (wrong offset?)", i, img.At(3, 3), c)
			}
		}
	})
	t.Run("retrieval", func(t *testing.T) {
		dir := t.TempDir()
		samples := []datatest.WDSSample{{Colour: color.White, Captions: []string{"one", "two"}}, {Colour: color.Black, Captions: []string{"three"}}}
		if err := datatest.WebDataset(dir, "test", samples, 0, nil, nil, true); err != nil {
			t.Fatal(err)
		}
		w, err := LoadWebDataset(filepath.Join(dir, "test"), "ignored")
		if err != nil {
			t.Fatal(err)
		}
		if !w.Retrieval() || !slices.Equal(w.Captions(0), []string{"one", "two"}) || w.Label(1) != -1 {
			t.Fatalf("retrieval %v captions %v", w.Retrieval(), w.Captions(0))
		}
	})
	t.Run("errors", func(t *testing.T) {
		dir := t.TempDir()
		if err := datatest.WebDataset(dir, "test", []datatest.WDSSample{{Colour: color.White, Label: 4}}, 0, []string{"a", "b"}, nil, false); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadWebDataset(dir, "test"); err == nil || !strings.Contains(err.Error(), "class 4, but classnames.txt names 2") {
			t.Errorf("label out of range: %v", err)
		}
		os.WriteFile(filepath.Join(dir, "test", "0.tar"), []byte("garbage that is not a tar file at all"), 0o644)
		if _, err := LoadWebDataset(dir, "test"); err == nil || !strings.Contains(err.Error(), "0.tar") {
			t.Errorf("garbage shard: %v", err)
		}
		if _, err := LoadWebDataset(filepath.Join(dir, "nope"), "test"); err == nil {
			t.Error("missing folder accepted")
		}
	})
}
