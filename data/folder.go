package data

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/clipkit/clipkit/cliplib/preprocess"
	"github.com/clipkit/clipkit/internal/readlimit"
)

// ImageExtensions are the file extensions LoadFolder treats as images (lower case), with a decoder
// registered by this package.
var ImageExtensions = []string{".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp"}

// Folder is a dataset of image files: class per sub-folder, captioned, or unlabeled.
type Folder struct {
	root     string
	paths    []string // absolute or root-joined paths
	labels   []int
	classes  []string
	captions []string // nil unless captioned
}

// FolderOptions tune LoadFolder.
type FolderOptions struct {
	// Captions is a CSV or JSONL file pairing image files with captions (see LoadFolder). Default: the
	// folder's captions.csv or captions.jsonl, if there is one.
	Captions string
	// NoCaptions ignores captions files even when present.
	NoCaptions bool
}

// LoadFolder reads a folder of images, in one of three layouts:
//
//   - Captioned: a captions file (FolderOptions.Captions, or captions.csv / captions.jsonl in dir)
//     lists the images and their captions. CSV files need a header naming a file column ("file",
//     "filename", "image" or "path") and a caption column ("caption", "text", "label" or "class");
//     JSONL files hold one object per line with the same keys. File names are relative to dir. Items
//     come in file order; Classes() are the distinct captions (in order of first use) and an item's
//     label is the index of its caption, so a zero-shot classifier over Classes() does caption
//     retrieval.
//   - Class per sub-folder: every sub-folder with images is a class (sorted by name); images may be
//     nested deeper inside a class folder. Images directly in dir are then an error.
//   - Flat: images directly in dir, no captions: labels are -1 and Classes() is empty.
//
// Files whose extension is not in ImageExtensions and hidden files are skipped; images are only
// decoded by Item.
func LoadFolder(dir string, opts FolderOptions) (*Folder, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a folder", dir)
	}
	capPath := opts.Captions
	if capPath == "" && !opts.NoCaptions {
		for _, n := range []string{"captions.csv", "captions.jsonl"} {
			if _, err := os.Stat(filepath.Join(dir, n)); err == nil {
				capPath = filepath.Join(dir, n)
				break
			}
		}
	}
	if capPath != "" && !opts.NoCaptions {
		return loadCaptioned(dir, capPath)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	f := &Folder{root: dir}
	var rootImages []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(dir, name)
		if e.IsDir() {
			imgs, _, err := imagesUnder(full)
			if err != nil {
				return nil, err
			}
			if len(imgs) == 0 {
				continue
			}
			label := len(f.classes)
			f.classes = append(f.classes, name)
			for _, p := range imgs {
				f.paths = append(f.paths, p)
				f.labels = append(f.labels, label)
			}
		} else if isImageFile(name) {
			rootImages = append(rootImages, full)
		}
	}
	switch {
	case len(f.classes) > 0 && len(rootImages) > 0:
		return nil, fmt.Errorf("%s mixes class folders (%s, ...) with images directly inside (%s, ...); move the images into a class folder, or add a captions file",
			dir, f.classes[0], filepath.Base(rootImages[0]))
	case len(f.classes) == 0 && len(rootImages) == 0:
		return nil, fmt.Errorf("%s holds no images (extensions %v)", dir, ImageExtensions)
	case len(f.classes) == 0:
		f.paths = rootImages
		f.labels = make([]int, len(rootImages))
		for i := range f.labels {
			f.labels[i] = -1
		}
	}
	return f, nil
}

func isImageFile(name string) bool {
	return !strings.HasPrefix(name, ".") && slices.Contains(ImageExtensions, strings.ToLower(filepath.Ext(name)))
}

// ImageFiles lists the image files (ImageExtensions, not hidden) under dir, recursively and
// skipping hidden folders, sorted by path. dir may be a symbolic link to a folder; links to
// files that do not exist are left out (see ImageFilesReport). It is an error for dir to hold none.
func ImageFiles(dir string) ([]string, error) {
	files, _, err := ImageFilesReport(dir)
	return files, err
}

// ImageFilesReport is ImageFiles that also returns what it left out: one line per dangling
// symbolic link, for the caller to show as a warning.
func ImageFilesReport(dir string) (files, skipped []string, err error) {
	files, skipped, err = imagesUnder(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("listing images in %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, skipped, fmt.Errorf("no image files (%s) in %s", strings.Join(ImageExtensions, " "), dir)
	}
	return files, skipped, nil
}

// imagesUnder lists the image files under dir, recursively, sorted, following dir itself when
// it is a symbolic link (paths keep the dir prefix given) and leaving out dangling links.
func imagesUnder(dir string) (out, skipped []string, err error) {
	root := dir
	if st, err := os.Lstat(dir); err == nil && st.Mode()&fs.ModeSymlink != 0 {
		if root, err = filepath.EvalSymlinks(dir); err != nil {
			return nil, nil, err
		}
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !isImageFile(d.Name()) {
			return nil
		}
		if root != dir {
			rel, _ := filepath.Rel(root, p)
			p = filepath.Join(dir, rel)
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if _, err := os.Stat(p); err != nil {
				skipped = append(skipped, fmt.Sprintf("%s: symbolic link to a missing file, left out", p))
				return nil
			}
		}
		out = append(out, p)
		return nil
	})
	sort.Strings(out)
	return out, skipped, err
}

var (
	fileKeys    = []string{"file", "filename", "image", "path"}
	captionKeys = []string{"caption", "text", "label", "class"}
)

// maxCaptionsFile bounds a captions file; only regular files are read.
const maxCaptionsFile = 256 << 20

// loadCaptioned reads a captions file (CSV or JSONL).
func loadCaptioned(dir, capPath string) (*Folder, error) {
	raw, err := readlimit.ReadFile(capPath, maxCaptionsFile)
	if err != nil {
		return nil, err
	}
	type row struct {
		line          int
		file, caption string
	}
	var rows []row
	switch strings.ToLower(filepath.Ext(capPath)) {
	case ".csv":
		r := csv.NewReader(strings.NewReader(string(raw)))
		r.FieldsPerRecord = -1
		header, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("%s: reading the CSV header: %w", capPath, err)
		}
		fi, ci := -1, -1
		for i, h := range header {
			h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
			if fi < 0 && slices.Contains(fileKeys, h) {
				fi = i
			} else if ci < 0 && slices.Contains(captionKeys, h) {
				ci = i
			}
		}
		if fi < 0 || ci < 0 {
			return nil, fmt.Errorf("%s: the header %q needs a file column (%s) and a caption column (%s)",
				capPath, header, strings.Join(fileKeys, "/"), strings.Join(captionKeys, "/"))
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", capPath, err)
			}
			line, _ := r.FieldPos(0)
			if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
				continue
			}
			if fi >= len(rec) || ci >= len(rec) {
				return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", capPath, line, len(rec), len(header))
			}
			rows = append(rows, row{line, rec[fi], rec[ci]})
		}
	case ".jsonl", ".ndjson":
		for i, line := range strings.Split(string(raw), "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			var obj map[string]any
			if err := json.Unmarshal([]byte(line), &obj); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", capPath, i+1, err)
			}
			get := func(keys []string) (string, bool) {
				for _, k := range keys {
					if v, ok := obj[k]; ok {
						s, isStr := v.(string)
						return s, isStr
					}
				}
				return "", false
			}
			file, ok1 := get(fileKeys)
			caption, ok2 := get(captionKeys)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s:%d: each line needs a string file (%s) and caption (%s)", capPath, i+1,
					strings.Join(fileKeys, "/"), strings.Join(captionKeys, "/"))
			}
			rows = append(rows, row{i + 1, file, caption})
		}
	default:
		return nil, fmt.Errorf("%s: captions must be a .csv or .jsonl file", capPath)
	}
	pairs := make([]CaptionPair, len(rows))
	where := make([]string, len(rows))
	for i, r := range rows {
		pairs[i] = CaptionPair{File: r.file, Caption: r.caption}
		where[i] = fmt.Sprintf("%s:%d", capPath, r.line)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s lists no images", capPath)
	}
	return buildCaptioned(dir, pairs, where)
}

// CaptionPair is an image file (relative to its folder) and its caption.
type CaptionPair struct {
	File, Caption string
}

// FolderFromCaptions makes a captioned Folder dataset from pairs, as LoadFolder does from a captions
// file: items in order, Classes() the distinct captions.
func FolderFromCaptions(dir string, pairs []CaptionPair) (*Folder, error) {
	if len(pairs) == 0 {
		return nil, fmt.Errorf("no images for %s", dir)
	}
	where := make([]string, len(pairs))
	for i := range pairs {
		where[i] = fmt.Sprintf("caption %d", i)
	}
	return buildCaptioned(dir, pairs, where)
}

// buildCaptioned validates pairs (where[i] locates pair i for messages) and builds the dataset.
func buildCaptioned(dir string, pairs []CaptionPair, where []string) (*Folder, error) {
	f := &Folder{root: dir}
	seen := map[string]string{}
	classIndex := map[string]int{}
	for i, r := range pairs {
		name := strings.TrimSpace(r.File)
		caption := strings.TrimSpace(r.Caption)
		clean := filepath.Clean(filepath.FromSlash(name))
		if name == "" || filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
			return nil, fmt.Errorf("%s: file %q must be a path inside %s", where[i], name, dir)
		}
		if caption == "" {
			return nil, fmt.Errorf("%s: empty caption for %s", where[i], name)
		}
		if prev, dup := seen[clean]; dup {
			return nil, fmt.Errorf("%s: %s is already listed at %s", where[i], name, prev)
		}
		seen[clean] = where[i]
		full := filepath.Join(dir, clean)
		if st, err := os.Stat(full); err != nil || st.IsDir() {
			return nil, fmt.Errorf("%s: image %s does not exist in %s", where[i], name, dir)
		}
		k, ok := classIndex[caption]
		if !ok {
			k = len(f.classes)
			classIndex[caption] = k
			f.classes = append(f.classes, caption)
		}
		f.paths = append(f.paths, full)
		f.labels = append(f.labels, k)
		f.captions = append(f.captions, caption)
	}
	return f, nil
}

// Len implements Dataset.
func (f *Folder) Len() int { return len(f.paths) }

// Classes implements Dataset: class folder names, distinct captions, or empty.
func (f *Folder) Classes() []string { return slices.Clone(f.classes) }

// Label returns item i's label without decoding the image; i must be in [0, Len()) (it panics
// otherwise, as slice indexing does).
func (f *Folder) Label(i int) int { return f.labels[i] }

// Path implements Pathed (i in [0, Len())).
func (f *Folder) Path(i int) string { return f.paths[i] }

// Caption implements Captioned: the item's caption, or its class name for class folders, or "".
func (f *Folder) Caption(i int) string {
	switch {
	case f.captions != nil:
		return f.captions[i]
	case f.labels[i] >= 0:
		return f.classes[f.labels[i]]
	}
	return ""
}

// Root is the folder the dataset was loaded from.
func (f *Folder) Root() string { return f.root }

// Item implements Dataset: the decoded file.
func (f *Folder) Item(i int) (image.Image, int, error) {
	if err := checkIndex(i, f.Len()); err != nil {
		return nil, 0, err
	}
	img, err := decodeImageFile(f.paths[i])
	if err != nil {
		return nil, 0, err
	}
	return img, f.labels[i], nil
}

// decodeImageFile decodes an image file through the project's guarded decoder
// (preprocess.DecodeFile: size limits checked from the header before any pixel memory is
// allocated, decoder panics recovered), naming the file in errors.
func decodeImageFile(p string) (image.Image, error) {
	img, _, err := preprocess.DecodeFile(p)
	return img, err
}
