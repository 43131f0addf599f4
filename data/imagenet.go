package data

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/clipkit/clipkit/internal/readlimit"
)

// ImageNet devkit file names read by LoadImageNetVal.
const (
	// ImageNetValGroundTruth lists, one per line, the ILSVRC2012_ID of validation image n (line n,
	// image ILSVRC2012_val_0000000n.JPEG); it ships in ILSVRC2012_devkit_t12/data/.
	ImageNetValGroundTruth = "ILSVRC2012_validation_ground_truth.txt"
	// ImageNetClassMap maps ILSVRC2012_IDs to WordNet ids: lines "n02119789 1 kit_fox"; it ships
	// in the ILSVRC 2015+ devkit (ILSVRC2015/devkit/data/map_clsloc.txt).
	ImageNetClassMap = "map_clsloc.txt"
)

var (
	wnidRe        = regexp.MustCompile(`^n[0-9]{8}$`)
	imagenetValRe = regexp.MustCompile(`^ILSVRC2012_val_([0-9]{8})\.(?i:jpe?g|png)$`)
)

// ImageNet is the ImageNet-1k validation set (or any set of images labelled by WordNet id). Labels
// index the WordNet ids in sorted order, which is the standard class order of torchvision and of
// the CLIP paper's class names.
type ImageNet struct {
	paths  []string
	labels []int
	wnids  []string
}

// ImageNetOptions tune LoadImageNetVal.
type ImageNetOptions struct {
	// Devkit is a folder holding ImageNetValGroundTruth and/or ImageNetClassMap (directly or in its
	// data/ sub-folder). Default: look in the image folder and its parent.
	Devkit string
}

// LoadImageNetVal reads the ImageNet validation set in one of its two published layouts:
//
//   - flat, as the ILSVRC2012_img_val.tar archive unpacks: ILSVRC2012_val_00000001.JPEG … in dir,
//     labelled by the devkit's ImageNetValGroundTruth (ILSVRC2012_IDs) and ImageNetClassMap
//     (ILSVRC2012_ID → WordNet id);
//   - one sub-folder per WordNet id (dir/n01440764/*.JPEG), as torchvision's ImageNet and most
//     re-packagings lay it out. Classes are the sub-folders, or, with a class map found, all
//     WordNet ids of the map (so a subset of folders keeps the standard labels).
//
// Classes() are the WordNet ids, sorted.
func LoadImageNetVal(dir string, opts ImageNetOptions) (*ImageNet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("imagenet: %w", err)
	}
	var flat []string
	var folders []string
	for _, e := range entries {
		switch {
		case e.IsDir() && wnidRe.MatchString(e.Name()):
			folders = append(folders, e.Name())
		case !e.IsDir() && imagenetValRe.MatchString(e.Name()):
			flat = append(flat, e.Name())
		}
	}
	search := []string{dir, filepath.Dir(filepath.Clean(dir))}
	if opts.Devkit != "" {
		search = []string{opts.Devkit}
	}
	mapPath := findIn(search, ImageNetClassMap)
	var idToWnid map[int]string
	var allWnids []string
	if mapPath != "" {
		if idToWnid, allWnids, err = readClassMap(mapPath); err != nil {
			return nil, err
		}
	}
	switch {
	case len(folders) > 0 && len(flat) > 0:
		return nil, fmt.Errorf("imagenet: %s mixes WordNet-id folders (%s, ...) with flat validation images (%s, ...); use one layout", dir, folders[0], flat[0])
	case len(folders) > 0:
		return imagenetFolders(dir, folders, allWnids, mapPath)
	case len(flat) > 0:
		if mapPath == "" {
			return nil, fmt.Errorf("imagenet: %s holds flat validation images but no %s was found in %v (give the devkit folder)", dir, ImageNetClassMap, search)
		}
		gtPath := findIn(search, ImageNetValGroundTruth)
		if gtPath == "" {
			return nil, fmt.Errorf("imagenet: %s holds flat validation images but no %s was found in %v (give the devkit folder)", dir, ImageNetValGroundTruth, search)
		}
		return imagenetFlat(dir, flat, gtPath, idToWnid, allWnids)
	default:
		return nil, fmt.Errorf("imagenet: %s holds neither WordNet-id folders (n01440764/) nor validation images (ILSVRC2012_val_00000001.JPEG)", dir)
	}
}

func findIn(dirs []string, name string) string {
	for _, d := range dirs {
		for _, p := range []string{filepath.Join(d, name), filepath.Join(d, "data", name)} {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p
			}
		}
	}
	return ""
}

// readClassMap reads map_clsloc.txt: "wnid id name" per line.
func readClassMap(path string) (map[int]string, []string, error) {
	b, err := readlimit.ReadFile(path, 1<<20)
	if err != nil {
		return nil, nil, fmt.Errorf("imagenet: %w", err)
	}
	idTo := map[int]string{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 || !wnidRe.MatchString(f[0]) {
			return nil, nil, fmt.Errorf("imagenet: %s line %d: want \"<wnid> <id> <name>\", got %q", path, line, sc.Text())
		}
		id, err := strconv.Atoi(f[1])
		if err != nil || id < 1 {
			return nil, nil, fmt.Errorf("imagenet: %s line %d: id %q is not a positive integer", path, line, f[1])
		}
		if _, dup := idTo[id]; dup || seen[f[0]] {
			return nil, nil, fmt.Errorf("imagenet: %s line %d: id %d or WordNet id %s repeated", path, line, id, f[0])
		}
		idTo[id] = f[0]
		seen[f[0]] = true
	}
	if len(idTo) == 0 {
		return nil, nil, fmt.Errorf("imagenet: %s is empty", path)
	}
	wnids := make([]string, 0, len(seen))
	for w := range seen {
		wnids = append(wnids, w)
	}
	sort.Strings(wnids)
	return idTo, wnids, nil
}

func imagenetFolders(dir string, folders, allWnids []string, mapPath string) (*ImageNet, error) {
	sort.Strings(folders)
	wnids := folders
	if allWnids != nil {
		for _, f := range folders {
			if _, ok := slices.BinarySearch(allWnids, f); !ok {
				return nil, fmt.Errorf("imagenet: folder %s is not a class of %s", filepath.Join(dir, f), mapPath)
			}
		}
		wnids = allWnids
	}
	in := &ImageNet{wnids: wnids}
	for _, f := range folders {
		label, _ := slices.BinarySearch(wnids, f)
		imgs, _, err := imagesUnder(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("imagenet: %w", err)
		}
		for _, p := range imgs {
			in.paths = append(in.paths, p)
			in.labels = append(in.labels, label)
		}
	}
	if len(in.paths) == 0 {
		return nil, fmt.Errorf("imagenet: the class folders of %s hold no images", dir)
	}
	return in, nil
}

func imagenetFlat(dir string, files []string, gtPath string, idToWnid map[int]string, wnids []string) (*ImageNet, error) {
	b, err := readlimit.ReadFile(gtPath, 4<<20)
	if err != nil {
		return nil, fmt.Errorf("imagenet: %w", err)
	}
	var gt []int
	for i, f := range strings.Fields(string(b)) {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("imagenet: %s entry %d: %q is not an integer", gtPath, i+1, f)
		}
		if _, ok := idToWnid[id]; !ok {
			return nil, fmt.Errorf("imagenet: %s entry %d: ILSVRC2012_ID %d is not in the class map", gtPath, i+1, id)
		}
		gt = append(gt, id)
	}
	sort.Strings(files)
	in := &ImageNet{wnids: wnids}
	for _, f := range files {
		n, _ := strconv.Atoi(imagenetValRe.FindStringSubmatch(f)[1])
		if n < 1 || n > len(gt) {
			return nil, fmt.Errorf("imagenet: %s: image number %d has no line in %s (%d lines)", filepath.Join(dir, f), n, gtPath, len(gt))
		}
		label, _ := slices.BinarySearch(wnids, idToWnid[gt[n-1]])
		in.paths = append(in.paths, filepath.Join(dir, f))
		in.labels = append(in.labels, label)
	}
	return in, nil
}

// Len implements Dataset.
func (in *ImageNet) Len() int { return len(in.paths) }

// Classes implements Dataset: the WordNet ids, sorted.
func (in *ImageNet) Classes() []string { return slices.Clone(in.wnids) }

// Label is item i's label without decoding the image.
func (in *ImageNet) Label(i int) int { return in.labels[i] }

// Path implements Pathed.
func (in *ImageNet) Path(i int) string { return in.paths[i] }

// Item implements Dataset: the decoded file and its label.
func (in *ImageNet) Item(i int) (image.Image, int, error) {
	if err := checkIndex(i, in.Len()); err != nil {
		return nil, 0, err
	}
	img, err := decodeImageFile(in.paths[i])
	if err != nil {
		return nil, 0, err
	}
	return img, in.labels[i], nil
}
