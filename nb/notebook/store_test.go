package notebook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoadJSON(t *testing.T) {
	type rec struct {
		Name string
		Vals []float64
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "m.json")
	if err := SaveJSON(path, rec{"a", []float64{1, 2.5}}); err != nil {
		t.Fatal(err)
	}
	var got rec
	if err := LoadJSON(path, &got); err != nil || got.Name != "a" || len(got.Vals) != 2 || got.Vals[1] != 2.5 {
		t.Fatalf("LoadJSON = %+v, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "none.json"), "run the cells above first"},
		{"damaged", filepath.Join(dir, "bad.json"), "bad.json"},
	}
	for _, tt := range tests {
		if err := LoadJSON(tt.path, &got); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: LoadJSON error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if err := SaveJSON(path, func() {}); err == nil {
		t.Error("SaveJSON of a func: no error")
	}
}
