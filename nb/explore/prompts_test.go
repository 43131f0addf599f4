package explore

import (
	"context"
	"slices"
	"testing"

	"github.com/clipkit/clipkit/cliplib"
)

func TestMNISTStrategies(t *testing.T) {
	for _, st := range MNISTStrategies {
		if len(st.Classes) != 10 || len(st.Templates) == 0 {
			t.Errorf("%s: %d classes, %d templates", st.Name, len(st.Classes), len(st.Templates))
		}
	}
	if !slices.Equal(MNISTStrategies[MNISTPaper].Templates, cliplib.MNISTTemplates) {
		t.Errorf("MNISTPaper = %d is %q", MNISTPaper, MNISTStrategies[MNISTPaper].Name)
	}
}

func TestLabelsAtAndAccuracies(t *testing.T) {
	ds := &Labelled{Name: "toy", Labels: []int{3, 1, 4, 1, 5}}
	tests := []struct {
		idx     []int
		want    []int
		wantErr bool
	}{
		{nil, []int{}, false},
		{[]int{4, 0, 1}, []int{5, 3, 1}, false},
		{[]int{5}, nil, true},
		{[]int{-1}, nil, true},
	}
	for _, tt := range tests {
		got, err := ds.LabelsAt(tt.idx)
		if (err != nil) != tt.wantErr || (!tt.wantErr && !slices.Equal(got, tt.want)) {
			t.Errorf("LabelsAt(%v) = %v, %v; want %v (error %v)", tt.idx, got, err, tt.want, tt.wantErr)
		}
	}
	if got := Accuracies([]ZeroShotRun{{Acc: 0.5}, {Acc: 0.25}}); !slices.Equal(got, []float64{0.5, 0.25}) {
		t.Errorf("Accuracies = %v", got)
	}
}

func TestCompareStrategiesMatchesZeroShotRuns(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv(EnvModel, "")
	t.Setenv(EnvPerClass, "")
	ds, err := CIFAR10(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	idx, _, err := ds.Sample(1000, 50, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, want, err := s.ZeroShotRuns("test", ds, idx, cliplib.PhotoTemplate)
	if err != nil {
		t.Fatal(err)
	}
	sts := []PromptStrategy{{"photo", ds.Classes(), cliplib.PhotoTemplate}}
	truth, runs, err := s.CompareStrategies("test", ds, idx, sts)
	if err != nil || len(truth) != len(idx) || len(runs) != 1 {
		t.Fatalf("CompareStrategies: %d labels, %d runs, %v", len(truth), len(runs), err)
	}
	if !slices.Equal(runs[0].Pred, want[0].Pred) || runs[0].Acc != want[0].Acc {
		t.Errorf("run %+v, want %+v", runs[0], want[0])
	}
	if _, _, err := s.CompareStrategies("test", ds, idx, []PromptStrategy{{"short", Digits[:3], []string{"{}"}}}); err == nil {
		t.Error("3 class names for 10 classes: no error")
	}
}
