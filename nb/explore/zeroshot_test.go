package explore

import (
	"slices"
	"testing"
)

func TestDemoClassSet(t *testing.T) {
	set := DemoClassSet()
	if len(set) != len(DemoClasses)+len(Distractors) || set[0] != DemoClasses[0] || set[len(DemoClasses)] != Distractors[0] {
		t.Errorf("DemoClassSet = %q", set)
	}
	set[0] = "changed"
	if DemoClasses[0] == "changed" {
		t.Error("DemoClassSet shares DemoClasses")
	}
}

func TestAppendOthersAndIntended(t *testing.T) {
	tests := []struct {
		name         string
		files        []string
		truth        []int
		others       []string
		wantFiles    []string
		wantIntended int
	}{
		{"no others", []string{"d/a.jpg"}, []int{0}, nil, []string{"d/a.jpg"}, 1},
		{"skips the demo photos", []string{"d/a.jpg", "d/b.jpg"}, []int{0, 1}, []string{"e/a.jpg", "e/c.png", "e/c.png"},
			[]string{"d/a.jpg", "d/b.jpg", "e/c.png"}, 2},
		{"own folder", []string{"d/x.jpg"}, []int{-1}, []string{"d/y.jpg"}, []string{"d/x.jpg", "d/y.jpg"}, 0},
	}
	for _, tt := range tests {
		files, truth := appendOthers(tt.files, tt.truth, tt.others)
		if !slices.Equal(files, tt.wantFiles) || len(truth) != len(files) {
			t.Errorf("%s: files %v truth %v, want files %v", tt.name, files, truth, tt.wantFiles)
		}
		if n := Intended(truth); n != tt.wantIntended {
			t.Errorf("%s: Intended(%v) = %d, want %d", tt.name, truth, n, tt.wantIntended)
		}
	}
}

func TestDemoPhotosInSmokeMode(t *testing.T) {
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv("CLIPKIT_IMAGES", "")
	files, truth, err := DemoPhotos()
	if err != nil {
		t.Skipf("no sample photos here: %v", err)
	}
	if len(files) != len(DemoClasses) || !slices.Equal(truth, Identity(len(DemoClasses))) {
		t.Errorf("smoke: %d files, truth %v", len(files), truth)
	}
}
