// Package datatest writes small data sets in the published layouts the data package reads
// (ImageNet validation folder and devkit files, COCO captions JSON, Karpathy split JSON,
// webdataset shards), for tests of the loaders and of the evaluations built on them.
package datatest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// PNG encodes a w×h image filled with c.
func PNG(w, h int, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // encoding an in-memory RGBA image cannot fail
	}
	return b.Bytes()
}

// Colour is a distinct colour for index i (for telling images apart in tests).
func Colour(i int) color.RGBA {
	return color.RGBA{uint8(40 * (i % 6)), uint8(255 - 30*(i%8)), uint8(17 * (i % 15)), 255}
}

func write(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// WNID is a made-up WordNet id for class k (sorted like k).
func WNID(k int) string { return fmt.Sprintf("n%08d", 1000+k) }

// ImageNetDevkit writes devkit files for nClasses classes into dir: map_clsloc.txt, whose
// ILSVRC2012_IDs run in reverse class order (id 1 is the last WordNet id, as the real ids do not
// follow the sorted order), and ILSVRC2012_validation_ground_truth.txt for images of the given
// labels (label = index in sorted WordNet ids).
func ImageNetDevkit(dir string, nClasses int, labels []int) error {
	var m, gt strings.Builder
	for k := range nClasses {
		fmt.Fprintf(&m, "%s %d class_%d\n", WNID(nClasses-1-k), k+1, nClasses-1-k)
	}
	for _, l := range labels {
		fmt.Fprintf(&gt, "%d\n", nClasses-l)
	}
	if err := write(filepath.Join(dir, "data", "map_clsloc.txt"), []byte(m.String())); err != nil {
		return err
	}
	return write(filepath.Join(dir, "data", "ILSVRC2012_validation_ground_truth.txt"), []byte(gt.String()))
}

// ImageNetFlat writes n validation images ILSVRC2012_val_0000000k.JPEG (PNG data, which the
// decoder sniffs) into dir; image k has colour colours[k-1], or Colour(k-1) when colours is nil.
func ImageNetFlat(dir string, n int, colours []color.Color) error {
	for i := range n {
		var c color.Color = Colour(i)
		if colours != nil {
			c = colours[i]
		}
		if err := write(filepath.Join(dir, fmt.Sprintf("ILSVRC2012_val_%08d.JPEG", i+1)), PNG(8, 8, c)); err != nil {
			return err
		}
	}
	return nil
}

// Captioned is an image with captions.
type Captioned struct {
	File     string
	Colour   color.Color
	Captions []string
	Split    string // Karpathy split ("test", "val", ...)
}

// Karpathy writes a Karpathy split file (dataset_flickr30k.json layout; with sub non-empty every
// image gets "filepath": sub, as in dataset_coco.json) and the images under imageRoot.
func Karpathy(jsonPath, imageRoot, sub string, items []Captioned) error {
	type sent struct {
		Raw    string   `json:"raw"`
		Tokens []string `json:"tokens"`
	}
	type img struct {
		FilePath  string `json:"filepath,omitempty"`
		FileName  string `json:"filename"`
		Split     string `json:"split"`
		ImgID     int    `json:"imgid"`
		Sentences []sent `json:"sentences"`
	}
	var out struct {
		Images  []img  `json:"images"`
		Dataset string `json:"dataset"`
	}
	out.Dataset = "flickr30k"
	for i, it := range items {
		var ss []sent
		for _, c := range it.Captions {
			ss = append(ss, sent{Raw: c, Tokens: strings.Fields(strings.ToLower(c))})
		}
		out.Images = append(out.Images, img{FilePath: sub, FileName: it.File, Split: it.Split, ImgID: i, Sentences: ss})
		if err := write(filepath.Join(imageRoot, sub, it.File), PNG(8, 8, it.Colour)); err != nil {
			return err
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return write(jsonPath, b)
}

// COCOCaptions writes a COCO captions annotation file and the images into imageDir. Image ids
// start at 100 and captions are listed interleaved across images, as the real file does.
func COCOCaptions(jsonPath, imageDir string, items []Captioned) error {
	type im struct {
		ID       int    `json:"id"`
		FileName string `json:"file_name"`
		Width    int    `json:"width"`
		Height   int    `json:"height"`
	}
	type ann struct {
		ImageID int    `json:"image_id"`
		ID      int    `json:"id"`
		Caption string `json:"caption"`
	}
	var out struct {
		Info        map[string]string `json:"info"`
		Images      []im              `json:"images"`
		Annotations []ann             `json:"annotations"`
	}
	out.Info = map[string]string{"description": "clipkit test set"}
	maxCaps := 0
	for i, it := range items {
		out.Images = append(out.Images, im{ID: 100 + i, FileName: it.File, Width: 8, Height: 8})
		maxCaps = max(maxCaps, len(it.Captions))
		if err := write(filepath.Join(imageDir, it.File), PNG(8, 8, it.Colour)); err != nil {
			return err
		}
	}
	for c := range maxCaps {
		for i, it := range items {
			if c < len(it.Captions) {
				out.Annotations = append(out.Annotations, ann{ImageID: 100 + i, ID: len(out.Annotations) + 1, Caption: it.Captions[c]})
			}
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return write(jsonPath, b)
}

// WDSSample is one webdataset sample: an image and a class (Label >= 0) or captions.
type WDSSample struct {
	Colour   color.Color
	Label    int
	Captions []string
}

// WebDataset writes dir/<split>/0.tar, 1.tar, ... with perShard samples each (keys s0000000,
// ...; PNG images; .cls or .txt), nshards.txt, and, when given, classnames.txt,
// zeroshot_classification_templates.txt and dataset_type.txt ("retrieval" when retrieval).
func WebDataset(dir, split string, samples []WDSSample, perShard int, classes, templates []string, retrieval bool) error {
	if perShard < 1 {
		perShard = len(samples)
	}
	nShards := 0
	for start := 0; start < len(samples); start += perShard {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		for i := start; i < min(start+perShard, len(samples)); i++ {
			s := samples[i]
			key := fmt.Sprintf("s%07d", i)
			members := [][2]string{{key + ".png", string(PNG(8, 8, s.Colour))}}
			if s.Captions != nil {
				members = append(members, [2]string{key + ".txt", strings.Join(s.Captions, "\n")})
			} else {
				members = append(members, [2]string{key + ".cls", strconv.Itoa(s.Label)})
			}
			for _, m := range members {
				if err := tw.WriteHeader(&tar.Header{Name: m[0], Mode: 0o644, Size: int64(len(m[1])), Typeflag: tar.TypeReg}); err != nil {
					return err
				}
				if _, err := tw.Write([]byte(m[1])); err != nil {
					return err
				}
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if err := write(filepath.Join(dir, split, strconv.Itoa(nShards)+".tar"), b.Bytes()); err != nil {
			return err
		}
		nShards++
	}
	if err := write(filepath.Join(dir, split, "nshards.txt"), []byte(strconv.Itoa(nShards)+"\n")); err != nil {
		return err
	}
	if classes != nil {
		if err := write(filepath.Join(dir, "classnames.txt"), []byte(strings.Join(classes, "\n")+"\n")); err != nil {
			return err
		}
	}
	if templates != nil {
		if err := write(filepath.Join(dir, "zeroshot_classification_templates.txt"), []byte(strings.Join(templates, "\n")+"\n")); err != nil {
			return err
		}
	}
	if retrieval {
		return write(filepath.Join(dir, "dataset_type.txt"), []byte("retrieval\n"))
	}
	return nil
}
