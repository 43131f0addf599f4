package data

import (
	"encoding/json"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/clipkit/clipkit/internal/readlimit"
)

// MultiCaptioned is implemented by retrieval datasets, whose images have several reference
// captions (COCO and Flickr30k have five).
type MultiCaptioned interface {
	// Captions of item i.
	Captions(i int) []string
}

// MaxAnnotationBytes bounds the caption files LoadKarpathy and LoadCOCOCaptions read (Karpathy's
// dataset_coco.json is about 150 MB).
const MaxAnnotationBytes = 1 << 30

// CaptionSet is a retrieval dataset: image files, each with one or more captions. Items are
// unlabeled (label -1).
type CaptionSet struct {
	paths    []string
	captions [][]string
}

// karpathyFile is the layout of Karpathy's split files (dataset_coco.json, dataset_flickr30k.json).
type karpathyFile struct {
	Images []struct {
		FilePath  string `json:"filepath"`
		FileName  string `json:"filename"`
		Split     string `json:"split"`
		Sentences []struct {
			Raw string `json:"raw"`
		} `json:"sentences"`
	} `json:"images"`
}

// LoadKarpathy reads a Karpathy split file (dataset_coco.json, dataset_flickr30k.json: the
// splits every retrieval paper reports, "MS-COCO 5k" being the coco file's "test" split) and keeps
// the images of split ("test", "val", "train", "restval"). An image's path is
// imageRoot/filepath/filename (Flickr30k has no filepath). Every listed image must exist.
func LoadKarpathy(jsonPath, imageRoot, split string) (*CaptionSet, error) {
	b, err := readlimit.ReadFile(jsonPath, MaxAnnotationBytes)
	if err != nil {
		return nil, fmt.Errorf("karpathy split: %w", err)
	}
	var kf karpathyFile
	if err := json.Unmarshal(b, &kf); err != nil {
		return nil, fmt.Errorf("karpathy split %s: not the Karpathy JSON layout ({\"images\": [{\"filename\", \"split\", \"sentences\": [{\"raw\"}]}]}): %w", jsonPath, err)
	}
	cs := &CaptionSet{}
	splits := map[string]bool{}
	for i, im := range kf.Images {
		splits[im.Split] = true
		if im.Split != split {
			continue
		}
		if im.FileName == "" || strings.Contains(im.FileName, "..") || strings.Contains(im.FilePath, "..") {
			return nil, fmt.Errorf("karpathy split %s: image %d: bad file name %q/%q", jsonPath, i, im.FilePath, im.FileName)
		}
		var caps []string
		for _, s := range im.Sentences {
			if t := strings.TrimSpace(s.Raw); t != "" {
				caps = append(caps, t)
			}
		}
		if len(caps) == 0 {
			return nil, fmt.Errorf("karpathy split %s: image %d (%s) has no captions", jsonPath, i, im.FileName)
		}
		cs.paths = append(cs.paths, filepath.Join(imageRoot, im.FilePath, im.FileName))
		cs.captions = append(cs.captions, caps)
	}
	if len(cs.paths) == 0 {
		have := make([]string, 0, len(splits))
		for s := range splits {
			have = append(have, s)
		}
		slices.Sort(have)
		return nil, fmt.Errorf("karpathy split %s: no image in split %q (splits present: %v)", jsonPath, split, have)
	}
	return cs, cs.checkFiles(jsonPath)
}

// cocoCaptionsFile is the layout of COCO's captions_*.json annotation files.
type cocoCaptionsFile struct {
	Images []struct {
		ID       int64  `json:"id"`
		FileName string `json:"file_name"`
	} `json:"images"`
	Annotations []struct {
		ImageID int64  `json:"image_id"`
		Caption string `json:"caption"`
	} `json:"annotations"`
}

// LoadCOCOCaptions reads a COCO captions annotation file (annotations/captions_val2017.json,
// captions_val2014.json) with its images in imageDir. Images come in the file's order; those
// without a caption are left out. Every kept image must exist.
func LoadCOCOCaptions(jsonPath, imageDir string) (*CaptionSet, error) {
	b, err := readlimit.ReadFile(jsonPath, MaxAnnotationBytes)
	if err != nil {
		return nil, fmt.Errorf("coco captions: %w", err)
	}
	var cf cocoCaptionsFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return nil, fmt.Errorf("coco captions %s: not the COCO captions layout ({\"images\": [{\"id\", \"file_name\"}], \"annotations\": [{\"image_id\", \"caption\"}]}): %w", jsonPath, err)
	}
	byImage := map[int64][]string{}
	for _, a := range cf.Annotations {
		if t := strings.TrimSpace(a.Caption); t != "" {
			byImage[a.ImageID] = append(byImage[a.ImageID], t)
		}
	}
	cs := &CaptionSet{}
	seen := map[int64]bool{}
	for i, im := range cf.Images {
		if seen[im.ID] {
			return nil, fmt.Errorf("coco captions %s: image id %d listed twice", jsonPath, im.ID)
		}
		seen[im.ID] = true
		if im.FileName == "" || strings.Contains(im.FileName, "..") {
			return nil, fmt.Errorf("coco captions %s: image %d: bad file name %q", jsonPath, i, im.FileName)
		}
		if caps := byImage[im.ID]; len(caps) > 0 {
			cs.paths = append(cs.paths, filepath.Join(imageDir, im.FileName))
			cs.captions = append(cs.captions, caps)
		}
	}
	for id := range byImage {
		if !seen[id] {
			return nil, fmt.Errorf("coco captions %s: a caption names image id %d, which the file does not list", jsonPath, id)
		}
	}
	if len(cs.paths) == 0 {
		return nil, fmt.Errorf("coco captions %s: no captioned image", jsonPath)
	}
	return cs, cs.checkFiles(jsonPath)
}

func (cs *CaptionSet) checkFiles(from string) error {
	for _, p := range cs.paths {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("%s lists %s: %w", from, p, err)
		}
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s lists %s, which is not a regular file", from, p)
		}
	}
	return nil
}

// Len implements Dataset.
func (cs *CaptionSet) Len() int { return len(cs.paths) }

// Classes implements Dataset: none (retrieval sets are unlabeled).
func (cs *CaptionSet) Classes() []string { return nil }

// Label implements the fast label path of LabelCounts: always -1.
func (cs *CaptionSet) Label(int) int { return -1 }

// Path implements Pathed.
func (cs *CaptionSet) Path(i int) string { return cs.paths[i] }

// Captions implements MultiCaptioned.
func (cs *CaptionSet) Captions(i int) []string { return slices.Clone(cs.captions[i]) }

// Caption implements Captioned: the first caption.
func (cs *CaptionSet) Caption(i int) string { return cs.captions[i][0] }

// Item implements Dataset: the decoded file, label -1.
func (cs *CaptionSet) Item(i int) (image.Image, int, error) {
	if err := checkIndex(i, cs.Len()); err != nil {
		return nil, 0, err
	}
	img, err := decodeImageFile(cs.paths[i])
	if err != nil {
		return nil, 0, err
	}
	return img, -1, nil
}
