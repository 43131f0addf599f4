package explore

import (
	"slices"
	"testing"
)

func TestRelevantIn(t *testing.T) {
	tests := []struct {
		name            string
		gallery, wanted []string
		extra           int
		want            []int
	}{
		{"all found", []string{"g/a.jpg", "g/b.png"}, []string{"d/b.png", "d/a.jpg"}, 0, []int{1, 0}},
		{"missing and extra", []string{"g/a.jpg"}, []string{"d/a.jpg", "d/c.jpg"}, 2, []int{0, -1, -1, -1}},
		{"last of equal names", []string{"g/a.jpg", "h/a.jpg"}, []string{"a.jpg"}, 0, []int{1}},
		{"empty gallery", nil, []string{"a.jpg"}, -3, []int{-1}},
	}
	for _, tt := range tests {
		if got := RelevantIn(tt.gallery, tt.wanted, tt.extra); !slices.Equal(got, tt.want) {
			t.Errorf("%s: RelevantIn = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSearchGalleryInSmokeModeIsTheDemo(t *testing.T) {
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv("CLIPKIT_IMAGES", "")
	demo, _, _, err := Demo()
	if err != nil {
		t.Skipf("no sample photos here: %v", err)
	}
	got, err := SearchGallery()
	if err != nil || !slices.Equal(got, demo) {
		t.Errorf("SearchGallery = %v, %v; want the demo photos %v", got, err, demo)
	}
}
