package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSearchIndexThenQueryFindsTheQueryImage(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	dir := t.TempDir()
	for i := range 5 {
		img := image.NewRGBA(image.Rect(0, 0, 40, 40))
		for y := range 40 {
			for x := range 40 {
				img.Set(x, y, color.RGBA{uint8(x * (i + 1) * 5), uint8(y * 6), uint8(60 * i), 255})
			}
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("p%d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
	}
	idx := filepath.Join(t.TempDir(), "photos.idx")
	out, err := capture(t, &searchOut, func() error {
		return runSearch([]string{"index", "--model", "tiny-vit", "--random-weights", "--images", dir, "--out", idx, "--kind", "hnsw"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"count":5`) || !strings.Contains(out, `"kind":"hnsw"`) {
		t.Errorf("index summary: %s", out)
	}
	query := filepath.Join(dir, "p3.png")
	out, err = capture(t, &searchOut, func() error {
		return runSearch([]string{"query", "--index", idx, "--text", "a gradient", "--image", query, "-k", "2"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Model   string `json:"model"`
		Results []struct {
			Kind string `json:"kind"`
			Hits []struct {
				Path  string  `json:"path"`
				Score float32 `json:"score"`
			} `json:"hits"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if res.Model != "tiny-vit" || len(res.Results) != 2 || len(res.Results[0].Hits) != 2 || res.Results[1].Kind != "image" {
		t.Fatalf("results: %s", out)
	}
	if top := res.Results[1].Hits[0]; top.Path != query || top.Score < 0.9999 {
		t.Errorf("image query: top hit %+v, want %s itself", top, query)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"query", "--index", idx}, "--text or --image"},
		{[]string{"query", "--index", idx + ".missing", "--text", "x"}, "no such file"},
		{[]string{"index", "--images", dir}, "--out"},
		{[]string{"nope"}, "unknown search sub-command"},
	} {
		if _, err := capture(t, &searchOut, func() error { return runSearch(tc.args) }); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}
