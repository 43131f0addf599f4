package main

import (
	"strings"
	"testing"
)

func TestSynopsisTakesTheFirstSentence(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"Package cliplib is the facade. It loads models.", "The facade."},
		{"Package vit builds the tower:\n\n - one\n", "Builds the tower."},
		{"Command clipx runs   headless what\nthe notebooks do. More.", "Runs headless what the notebooks do."},
		{"Package x holds a | b. Rest.", `Holds a \| b.`},
		{"", ""},
	} {
		if got := synopsis(tc.doc); got != tc.want {
			t.Errorf("synopsis(%q) = %q, want %q", tc.doc, got, tc.want)
		}
	}
}

func TestSpliceReplacesOnlyBetweenTheMarkers(t *testing.T) {
	readme := "intro\n" + BeginMarker + "\nold table\n" + EndMarker + "\noutro\n"
	got, err := Splice(readme, BeginMarker+"\nnew\n"+EndMarker)
	if err != nil {
		t.Fatal(err)
	}
	if want := "intro\n" + BeginMarker + "\nnew\n" + EndMarker + "\noutro\n"; got != want {
		t.Errorf("Splice = %q, want %q", got, want)
	}
	if _, err := Splice("no markers here", "x"); err == nil || !strings.Contains(err.Error(), "markers") {
		t.Errorf("Splice without markers: err = %v, want one naming the markers", err)
	}
}

func TestSectionListsPackagesAndTheFacadeEdges(t *testing.T) {
	pkgs := []Package{
		{Path: "cliplib", Synopsis: "The facade.", Imports: []string{"cliplib/encoder"}, Lines: 10},
		{Path: "cliplib/encoder", Synopsis: "Runs towers.", Lines: 5},
		{Path: "cmd/clipx", Synopsis: "The CLI.", Imports: []string{"cliplib", "cliplib/encoder"}, Lines: 7},
	}
	s := Section(pkgs, true)
	for _, want := range []string{
		"| `cliplib/encoder` | 5 | Runs towers. |",
		"| all 3 packages | 22 |",
		`cliplib["cliplib"] --> cliplib_encoder["cliplib/encoder"]`,
		`cmd_clipx["cmd/clipx"] --> cliplib["cliplib"]`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Section lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, `cmd_clipx["cmd/clipx"] --> cliplib_encoder`) {
		t.Errorf("Section draws an edge that does not touch the facade:\n%s", s)
	}
	if strings.Contains(Section(pkgs, false), "| 5 |") {
		t.Error("Section without lines still shows line counts")
	}
}

func TestListSkipsTestHelpersAndTools(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list over the whole module")
	}
	pkgs, err := List("../../..")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.Path] = true
		if strings.HasPrefix(p.Path, "tools/") || strings.HasSuffix(p.Path, "test") {
			t.Errorf("List kept %s", p.Path)
		}
		if p.Synopsis == "" {
			t.Errorf("%s has no package doc", p.Path)
		}
	}
	for _, want := range []string{"cliplib", "cliplib/encoder", "cmd/clipx"} {
		if !seen[want] {
			t.Errorf("List lacks %s", want)
		}
	}
}
