package notebook

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSmokeAndPick(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want bool
	}{{"", false}, {"0", false}, {"1", true}, {"true", true}, {" YES ", true}, {"no", false}} {
		t.Setenv(EnvSmoke, tc.env)
		if got := Smoke(); got != tc.want {
			t.Errorf("CLIP_SMOKE=%q: Smoke() = %v, want %v", tc.env, got, tc.want)
		}
		if got, want := Pick(20, 3), map[bool]int{true: 3, false: 20}[tc.want]; got != want {
			t.Errorf("CLIP_SMOKE=%q: Pick(20, 3) = %d, want %d", tc.env, got, want)
		}
	}
}

func TestLines(t *testing.T) {
	got := Lines("  a cat \n\n\tdog\n  \n")
	if strings.Join(got, "|") != "a cat|dog" {
		t.Errorf("Lines = %q", got)
	}
}

// fakeRepo makes <tmp>/repo with a clipkit go.mod and <tmp>/shared/data/clip_test_images.
func fakeRepo(t *testing.T) (root, images string) {
	t.Helper()
	tmp := t.TempDir()
	root = filepath.Join(tmp, "repo")
	images = filepath.Join(tmp, "shared", "data", "clip_test_images")
	for _, d := range []string{filepath.Join(root, "notebooks"), images} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module "+ModulePath+"\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root, images
}

func TestRepoRootFromNotebookDir(t *testing.T) {
	root, _ := fakeRepo(t)
	t.Setenv("GONB_DIR", filepath.Join(root, "notebooks"))
	got, err := RepoRoot()
	if err != nil || got != root {
		t.Fatalf("RepoRoot() = %q, %v; want %q", got, err, root)
	}
	// Another module's go.mod is not the repository.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "go.mod"), []byte("module example.com/other\n"), 0o644)
	t.Setenv("GONB_DIR", other)
	if _, err := RepoRoot(); err == nil {
		t.Fatal("RepoRoot() under another module: want an error")
	}
}

func TestImagesDirAndFiles(t *testing.T) {
	root, images := fakeRepo(t)
	t.Setenv("GONB_DIR", filepath.Join(root, "notebooks"))
	t.Setenv(EnvImages, "")
	got, err := ImagesDir()
	if err != nil || got != images {
		t.Fatalf("ImagesDir() = %q, %v; want %q", got, err, images)
	}
	if _, err := ImageFiles(images); err == nil {
		t.Error("ImageFiles of an empty dir: want an error")
	}
	for _, n := range []string{"b.PNG", "a.jpg", "notes.txt"} {
		os.WriteFile(filepath.Join(images, n), []byte("x"), 0o644)
	}
	files, err := ImageFiles(images)
	if err != nil || len(files) != 2 || filepath.Base(files[0]) != "a.jpg" || filepath.Base(files[1]) != "b.PNG" {
		t.Errorf("ImageFiles = %q, %v; want [a.jpg b.PNG]", files, err)
	}
	t.Setenv(EnvImages, filepath.Join(root, "missing"))
	if _, err := ImagesDir(); err == nil || !strings.Contains(err.Error(), EnvImages) {
		t.Errorf("ImagesDir with a bad %s: got %v", EnvImages, err)
	}
}

func TestProgressOnStderr(t *testing.T) {
	now := time.Unix(0, 0)
	var out bytes.Buffer
	p := &Progress{label: "Encoding", total: 4, out: &out, now: func() time.Time { return now }}
	p.start = now
	p.show(true)
	now = now.Add(time.Second)
	p.Add(1) // within StderrEvery of the first line: not shown
	now = now.Add(2 * time.Second)
	p.Add(1)
	now = now.Add(time.Second)
	p.Add(2) // last step: always shown
	p.Done()
	p.Done() // idempotent
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{
		"Encoding: 0/4 (0%) in 0s",
		"Encoding: 2/4 (50%) in 3s, 0.667/s, about 3s left",
		"Encoding: 4/4 (100%) in 4s, 1/s",
		"Encoding: 4/4 (100%) in 4s, 1/s",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("progress lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// TestProgressNeverPassesItsTotal: adding whole chunks for a short last chunk (as notebook 15
// did, showing "24/20 (120%)") or setting a running count stays within [0, total].
func TestProgressNeverPassesItsTotal(t *testing.T) {
	for _, tc := range []struct {
		name string
		step func(p *Progress)
		want string
	}{
		{"add past total", func(p *Progress) { p.Add(8); p.Add(8); p.Add(8) }, "Indexing: 20/20 (100%)"},
		{"set running count", func(p *Progress) { p.Set(8); p.Set(16); p.Set(20) }, "Indexing: 20/20 (100%)"},
		{"set past total", func(p *Progress) { p.Set(31) }, "Indexing: 20/20 (100%)"},
		{"set negative", func(p *Progress) { p.Set(-3) }, "Indexing: 0/20 (0%)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(0, 0)
			p := &Progress{label: "Indexing", total: 20, out: io.Discard, now: func() time.Time { return now }}
			p.start = now
			tc.step(p)
			if got := p.Status(); !strings.HasPrefix(got, tc.want) {
				t.Errorf("status %q, want prefix %q", got, tc.want)
			}
		})
	}
}

func TestTrackVisitsAllAndStopsOnBreak(t *testing.T) {
	var seen []string
	for i, s := range Track("t", []string{"a", "b", "c"}) {
		if i == 2 {
			break
		}
		seen = append(seen, s)
	}
	if strings.Join(seen, "") != "ab" {
		t.Errorf("Track visited %q", seen)
	}
}

func TestCachedComputesOnceAndRecoversFromCorruption(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvCache, dir)
	type stat struct{ N int }
	calls := 0
	fn := func() (stat, error) { calls++; return stat{N: 42}, nil }
	for range 2 {
		v, err := Cached("k", fn)
		if err != nil || v.N != 42 {
			t.Fatalf("Cached = %v, %v", v, err)
		}
	}
	if calls != 1 {
		t.Errorf("fn called %d times, want 1", calls)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "notebook", "*.gob"))
	if len(entries) != 1 {
		t.Fatalf("cache files: %v", entries)
	}
	os.WriteFile(entries[0], []byte("garbage"), 0o644)
	if v, err := Cached("k", fn); err != nil || v.N != 42 || calls != 2 {
		t.Errorf("after corruption: %v, %v, calls=%d; want recomputed 42", v, err, calls)
	}
	if _, err := Cached("other", func() (stat, error) { return stat{}, errors.New("boom") }); err == nil || err.Error() != "boom" {
		t.Errorf("fn error not returned: %v", err)
	}
	if _, err := Cached("", fn); err == nil {
		t.Error("empty key: want an error")
	}
}
