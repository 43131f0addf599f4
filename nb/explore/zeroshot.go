package explore

import (
	"path/filepath"

	"github.com/clipkit/clipkit/nb/notebook"
)

// DemoClasses has one class per captioned demo photo, in the order of Demo (data.DemoCaptions): the
// intended class of demo photo i is DemoClasses[i].
var DemoClasses = []string{"page of text", "cat", "astronaut", "rocket", "motorcycle", "cameraman", "horse", "cup of coffee"}

// Distractors are extra classes no demo photo belongs to: they make the demo task harder than 1-of-8.
var Distractors = []string{"dog", "car", "building", "flower", "person", "bird"}

// DemoClassSet returns every class notebook 02 scores photos against: DemoClasses then Distractors,
// in a new slice.
func DemoClassSet() []string { return append(append([]string{}, DemoClasses...), Distractors...) }

// DemoPhotos returns the demo photos first, each with its intended class index into DemoClasses,
// then the other sample photos (truth -1); in smoke mode only the demo photos. With a folder of your
// own photos ($CLIPKIT_IMAGES without the demo photos) no photo has an intended class (all -1).
func DemoPhotos() (files []string, truth []int, err error) {
	demo, _, canonical, err := Demo()
	if err != nil {
		return nil, nil, err
	}
	files = append(files, demo...)
	for i := range demo {
		truth = append(truth, -1)
		if canonical {
			truth[i] = i
		}
	}
	if notebook.Smoke() {
		return files, truth, nil
	}
	all, err := SampleImages(0)
	if err != nil {
		return nil, nil, err
	}
	files, truth = appendOthers(files, truth, all)
	return files, truth, nil
}

// appendOthers appends to files (truth -1 each) the paths of others whose base name is not yet in
// files.
func appendOthers(files []string, truth []int, others []string) ([]string, []int) {
	seen := map[string]bool{}
	for _, f := range files {
		seen[filepath.Base(f)] = true
	}
	for _, f := range others {
		if !seen[filepath.Base(f)] {
			seen[filepath.Base(f)] = true
			files = append(files, f)
			truth = append(truth, -1)
		}
	}
	return files, truth
}

// Intended counts the leading entries of truth that are a class (>= 0): the photos DemoPhotos
// returns with an intended class come first.
func Intended(truth []int) int {
	n := 0
	for n < len(truth) && truth[n] >= 0 {
		n++
	}
	return n
}
