package eval

import "testing"

func TestPublishedMain(t *testing.T) {
	all, err := PublishedNumbers()
	if err != nil {
		t.Fatal(err)
	}
	var want Published
	for _, p := range all {
		if p.Metric == "main" {
			want = p
			break
		}
	}
	if want.Model == "" {
		t.Fatal("no main metric in published.csv")
	}
	tests := []struct {
		model, dataset string
		ok             bool
	}{
		{want.Model, want.Dataset, true},
		{want.Model, "no-such-dataset", false},
		{"no-such-model", want.Dataset, false},
	}
	for _, tt := range tests {
		p, ok, err := PublishedMain(tt.model, tt.dataset)
		if err != nil || ok != tt.ok || (ok && p != want) {
			t.Errorf("PublishedMain(%s, %s) = %+v, %v, %v; want ok=%v", tt.model, tt.dataset, p, ok, err, tt.ok)
		}
	}
}
