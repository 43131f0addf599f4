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
	"time"
)

// classFolder writes n small PNGs into two class sub-folders (cat/, dog/).
func classFolder(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		class := []string{"cat", "dog"}[i%2]
		os.MkdirAll(filepath.Join(dir, class), 0o755)
		img := image.NewRGBA(image.Rect(0, 0, 32, 32))
		for y := range 32 {
			for x := range 32 {
				img.Set(x, y, color.RGBA{uint8(x * (i + 1) * 7), uint8(y*5 + i*11), uint8(40 * i), 255})
			}
		}
		f, err := os.Create(filepath.Join(dir, class, fmt.Sprintf("p%02d.png", i)))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, img)
		f.Close()
	}
	return dir
}

type embedSummary struct {
	StoreCount int      `json:"store_count"`
	Files      int      `json:"files"`
	Embedded   int      `json:"embedded"`
	Resumed    int      `json:"resumed"`
	Parts      []string `json:"parts"`
	Dim        int      `json:"dim"`
}

type queryOut struct {
	Results []struct {
		Hits []struct {
			ID       uint64            `json:"id"`
			Path     string            `json:"path"`
			Metadata map[string]string `json:"metadata"`
		} `json:"hits"`
	} `json:"results"`
}

// storeURLs are the stores the CLI test runs against: an in-process index
// file always, and Milvus when a test server is named.
func storeURLs(t *testing.T) map[string]string {
	urls := map[string]string{"file": filepath.Join(t.TempDir(), "photos.idx")}
	if addr := os.Getenv("CLIPKIT_MILVUS_ADDR"); addr != "" {
		urls["milvus"] = fmt.Sprintf("milvus://%s/clipx_test_%d", addr, time.Now().UnixNano()%1e9)
	}
	return urls
}

func TestSearchEmbedShardsQueryFilterLoadDelete(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	dir := classFolder(t, 10)
	model := []string{"--model", "tiny-vit", "--random-weights"}
	for kind, u := range storeURLs(t) {
		t.Run(kind, func(t *testing.T) {
			export := t.TempDir()
			total := 0
			for i := range 2 { // two "machines"
				cp := filepath.Join(t.TempDir(), "cp.json")
				args := append([]string{"embed", "--images", dir, "--store", u, "--shard", fmt.Sprintf("%d/2", i), "--checkpoint", cp,
					"--export", export, "--part", "3"}, model...)
				out, err := capture(t, &searchOut, func() error { return runSearch(args) })
				if err != nil {
					t.Fatal(err)
				}
				var s embedSummary
				if err := json.Unmarshal([]byte(out), &s); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				total += s.Embedded
				if i == 1 && s.StoreCount != 10 {
					t.Errorf("after both shards the store holds %d, want 10: %s", s.StoreCount, out)
				}
				// The same shard again: resumed from its checkpoint, nothing embedded.
				out, err = capture(t, &searchOut, func() error { return runSearch(args) })
				if err != nil {
					t.Fatal(err)
				}
				json.Unmarshal([]byte(out), &s)
				if s.Embedded != 0 || s.Resumed != s.Files {
					t.Errorf("re-running shard %d: %s", i, out)
				}
			}
			if total != 10 {
				t.Errorf("the two shards embedded %d files, want 10", total)
			}
			query := filepath.Join(dir, "dog", "p03.png")
			out, err := capture(t, &searchOut, func() error {
				return runSearch(append([]string{"query", "--store", u, "--image", query, "--filter", "label=cat", "-k", "3"}, model...))
			})
			if err != nil {
				t.Fatal(err)
			}
			var q queryOut
			if err := json.Unmarshal([]byte(out), &q); err != nil || len(q.Results) != 1 || len(q.Results[0].Hits) != 3 {
				t.Fatalf("filtered query: %v %s", err, out)
			}
			for _, h := range q.Results[0].Hits {
				if h.Metadata["label"] != "cat" || !strings.Contains(h.Path, "/cat/") {
					t.Errorf("filter label=cat returned %s (%v)", h.Path, h.Metadata)
				}
			}
			out, err = capture(t, &searchOut, func() error {
				return runSearch(append([]string{"query", "--store", u, "--image", query, "-k", "1"}, model...))
			})
			if err != nil {
				t.Fatal(err)
			}
			json.Unmarshal([]byte(out), &q)
			if q.Results[0].Hits[0].Path != query {
				t.Fatalf("unfiltered query by an indexed image: top hit %+v, want %s", q.Results[0].Hits[0], query)
			}
			id := q.Results[0].Hits[0].ID
			// A query by another model is refused, not answered with meaningless hits.
			_, err = capture(t, &searchOut, func() error {
				return runSearch([]string{"query", "--store", u, "--image", query, "--model", "tiny-vit", "--random-weights", "--precision", "bf16"})
			})
			if err == nil || !strings.Contains(err.Error(), "same model") {
				t.Errorf("query by another model: %v", err)
			}
			out, err = capture(t, &searchOut, func() error {
				return runSearch([]string{"delete", "--store", u, "--dim", "64", "--id", fmt.Sprint(id)})
			})
			if err != nil || !strings.Contains(out, `"store_count":9`) {
				t.Fatalf("delete: %v %s", err, out)
			}
			// The export loads into another store: all 10.
			other := filepath.Join(t.TempDir(), "from-export.idx")
			out, err = capture(t, &searchOut, func() error {
				return runSearch([]string{"load", "--store", other, "--from", export, "--dim", "64"})
			})
			if err != nil || !strings.Contains(out, `"store_count":10`) {
				t.Fatalf("load: %v %s", err, out)
			}
		})
	}
}

func TestSearchStoreCommandsRejectBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.idx")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"embed", "--images", "x"}, "--images and --store are required"},
		{[]string{"embed", "--images", "x", "--store", missing, "--shard", "2/2"}, "want i/N"},
		{[]string{"embed", "--images", t.TempDir(), "--store", missing, "--model", "tiny-vit", "--random-weights"}, "no image files"},
		{[]string{"query", "--store", missing, "--text", "a", "--filter", "bad"}, "not key=value"},
		{[]string{"query", "--store", missing, "--text", "a", "--model", "tiny-vit", "--random-weights"}, "does not exist"},
		{[]string{"query", "--store", "nosuch://h/c", "--text", "a", "--model", "tiny-vit", "--random-weights"}, `scheme "nosuch"`},
		{[]string{"delete", "--store", missing, "--dim", "4", "--id", "x"}, "want an unsigned integer"},
		{[]string{"delete", "--store", missing, "--dim", "4", "--id", "1"}, "does not exist"},
		{[]string{"load", "--store", missing, "--from", t.TempDir(), "--dim", "4"}, "no exported parts"},
	}
	for _, c := range cases {
		_, err := capture(t, &searchOut, func() error { return runSearch(c.args) })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("search %q: error %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a failed command created the store file")
	}
}

// TestSearchQueryRoutesEveryStoreForm: --store in any form sends search query to the store
// query (which reports the missing store), else it queries an index file.
func TestSearchQueryRoutesEveryStoreForm(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	missing := filepath.Join(t.TempDir(), "X")
	model := []string{"--model", "tiny-vit", "--random-weights", "--text", "a"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append([]string{"query", "--store", missing}, model...), "does not exist"},
		{append([]string{"query", "-store", missing}, model...), "does not exist"},
		{append([]string{"query", "--store=" + missing}, model...), "does not exist"},
		{append([]string{"query", "-store=" + missing}, model...), "does not exist"},
		{[]string{"query", "--index", missing, "--text", "a"}, missing},
	} {
		_, err := capture(t, &searchOut, func() error { return runSearch(tc.args) })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("search %q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
