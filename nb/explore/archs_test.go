package explore

import (
	"slices"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/model"
	"github.com/clipkit/clipkit/cliplib/tokenizer"
)

func TestArchitectures(t *testing.T) {
	as, err := Architectures()
	if err != nil {
		t.Fatal(err)
	}
	if len(as) == 0 {
		t.Fatal("no architectures")
	}
	for i, a := range as {
		if TestArch(a.Cfg.Name) {
			t.Errorf("test configuration %s listed", a.Cfg.Name)
		}
		if i > 0 && a.Params.Total() < as[i-1].Params.Total() {
			t.Errorf("%s (%d) after %s (%d): not sorted", a.Cfg.Name, a.Params.Total(), as[i-1].Cfg.Name, as[i-1].Params.Total())
		}
		if row := ArchRow(a); len(row) != len(ArchHeader) || row[0] != a.Cfg.Name {
			t.Errorf("ArchRow(%s) = %q", a.Cfg.Name, row)
		}
	}
	tests := TestConfigs()
	if !slices.Contains(tests, "tiny-vit") || len(tests)+len(as) != len(model.Names()) {
		t.Errorf("TestConfigs = %v, with %d published of %d", tests, len(as), len(model.Names()))
	}
}

func TestArchRow(t *testing.T) {
	tests := []struct {
		name  string
		check func(row []string) bool
	}{
		{"ViT-B/32", func(r []string) bool {
			return r[3] == "32" && r[4] == "768 × 12" && r[5] == "50" && r[12] == "151277313"
		}},
		{"RN50", func(r []string) bool { return strings.HasPrefix(r[4], "stem ") && r[5] == "—" }},
	}
	for _, tt := range tests {
		cfg, err := model.Lookup(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParamCounts(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if row := ArchRow(Arch{Cfg: cfg, Params: p}); !tt.check(row) {
			t.Errorf("ArchRow(%s) = %q", tt.name, row)
		}
	}
}

func TestTokenPieces(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	got := TokenPieces(tok, "a cat")
	if len(got) != 4 || !strings.Contains(got[2], "cat") {
		t.Errorf("TokenPieces(a cat) = %q, want start, a, cat, end", got)
	}
}
