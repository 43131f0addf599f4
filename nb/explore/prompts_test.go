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
	s, ds, idx := smokeCIFAR(t)
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

func TestDistinctTemplatesAndFamilies(t *testing.T) {
	tests := []struct {
		families []TemplateFamily
		want     []string
	}{
		{nil, nil},
		{[]TemplateFamily{{"a", []string{"x {}", "y {}"}}, {"b", []string{"y {}", "z {}"}}}, []string{"x {}", "y {}", "z {}"}},
	}
	for _, tt := range tests {
		if got := DistinctTemplates(tt.families); !slices.Equal(got, tt.want) {
			t.Errorf("DistinctTemplates = %q, want %q", got, tt.want)
		}
	}
	if !slices.Equal(TemplateFamilies[CIFARFamily].Templates, cliplib.CIFARTemplates) {
		t.Errorf("CIFARFamily = %d is %q", CIFARFamily, TemplateFamilies[CIFARFamily].Name)
	}
}

func TestRankTemplatesAndSampleFiles(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("CLIP_SMOKE", "1")
	t.Setenv(EnvModel, "")
	t.Setenv(EnvPerClass, "")
	ds, err := CIFAR10(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := ds.PerClassSample()
	if err != nil || len(idx) == 0 || len(idx) > 2*len(ds.Classes()) {
		t.Fatalf("PerClassSample: %d items, %v", len(idx), err)
	}
	s, err := OpenLocal()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	families := []TemplateFamily{{"photo", cliplib.PhotoTemplate}, {"two", []string{cliplib.PhotoTemplate[0], "a sketch of a {}."}}}
	r, err := s.RankTemplates(ds, idx, families)
	if err != nil {
		t.Fatal(err)
	}
	if r.N != len(idx) || len(r.FamilyAcc) != 2 || len(r.Singles) != 2 || len(r.SingleAcc) != 2 || r.FamilyAcc[0] != r.SingleAcc[0] {
		t.Errorf("ranking %+v", r)
	}
	_, runs, err := s.ZeroShotRuns("test", ds, idx, cliplib.PhotoTemplate)
	if err != nil || runs[0].Acc != r.FamilyAcc[0] {
		t.Errorf("family accuracy %v, ZeroShotRuns %v (%v)", r.FamilyAcc[0], runs, err)
	}
	files, labels, err := ds.SampleFiles(idx[:3])
	if want, _ := ds.LabelsAt(idx[:3]); err != nil || len(files) != 3 || !slices.Equal(labels, want) {
		t.Errorf("SampleFiles: %v %v %v", files, labels, err)
	}
	if _, _, err := ds.SampleFiles([]int{-1}); err == nil {
		t.Error("SampleFiles(-1): no error")
	}
}
