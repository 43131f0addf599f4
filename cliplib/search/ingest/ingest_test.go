package ingest_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/ingest"
)

const dim = 16

// collection writes n small files with distinct contents under a temp root.
func collection(t *testing.T, n int) (string, []ingest.File) {
	t.Helper()
	root := t.TempDir()
	var paths []string
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("d%d", i%3), fmt.Sprintf("f%04d.bin", i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("content %d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	files, err := ingest.Files(root, paths)
	if err != nil {
		t.Fatal(err)
	}
	return root, files
}

// fakeEmbed derives a vector from each file's bytes (deterministic, like a
// model), counting the files it embeds; it fails on files containing "bad".
type fakeEmbed struct {
	calls, files int
	failAfter    int // fail every call after this many calls (0 = never)
}

func (f *fakeEmbed) embed(paths []string) ([][]float32, error) {
	f.calls++
	if f.failAfter > 0 && f.calls > f.failAfter {
		return nil, errors.New("embedder crashed")
	}
	out := make([][]float32, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if strings.Contains(string(b), "bad") {
			return nil, fmt.Errorf("%s: cannot decode", p)
		}
		h := sha256.Sum256(b)
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(h[j]) - 127.5
		}
		out[i] = v
	}
	f.files += len(paths)
	return out, nil
}

func newStore(t *testing.T) *search.LocalStore {
	s, err := search.NewLocalStore(search.StoreOptions{Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestShardsAreDisjointCompleteAndStable(t *testing.T) {
	_, files := collection(t, 500)
	for _, n := range []int{1, 2, 3, 7} {
		seen := map[string]int{}
		for i := range n {
			part, err := ingest.Shard(files, i, n)
			if err != nil {
				t.Fatal(err)
			}
			if n > 1 && (len(part) < 500/n/2 || len(part) > 2*500/n) {
				t.Errorf("shard %d/%d has %d of 500 files: badly balanced", i, n, len(part))
			}
			for _, f := range part {
				seen[f.Key]++
			}
		}
		if len(seen) != 500 {
			t.Errorf("%d shards cover %d of 500 files", n, len(seen))
		}
		for k, c := range seen {
			if c != 1 {
				t.Errorf("%d shards: %s is in %d shards", n, k, c)
			}
		}
	}
	// Adding files moves no existing file to another shard (a split into
	// contiguous ranges of the sorted list would move most of them).
	before := map[string]int{}
	for i := range 4 {
		part, _ := ingest.Shard(files[:250], i, 4)
		for _, f := range part {
			before[f.Key] = i
		}
	}
	for i := range 4 {
		part, _ := ingest.Shard(files, i, 4)
		for _, f := range part {
			if b, ok := before[f.Key]; ok && b != i {
				t.Fatalf("%s moved from shard %d to %d when files were added", f.Key, b, i)
			}
		}
	}
	if _, err := ingest.Shard(files, 4, 4); err == nil {
		t.Error("shard 4/4 accepted")
	}
}

func TestParseShard(t *testing.T) {
	cases := []struct {
		in      string
		i, n    int
		wantErr bool
	}{
		{"0/1", 0, 1, false}, {"3/4", 3, 4, false}, {"4/4", 0, 0, true}, {"-1/4", 0, 0, true},
		{"1", 0, 0, true}, {"a/b", 0, 0, true}, {"0/0", 0, 0, true}, {"0/70000", 0, 0, true},
	}
	for _, c := range cases {
		i, n, err := ingest.ParseShard(c.in)
		if (err != nil) != c.wantErr || i != c.i || n != c.n {
			t.Errorf("ParseShard(%q) = %d, %d, %v", c.in, i, n, err)
		}
	}
}

func TestShardedRunsFillOneStoreOnce(t *testing.T) {
	_, files := collection(t, 300)
	s := newStore(t)
	ctx := context.Background()
	total := 0
	for i := range 3 {
		fe := &fakeEmbed{}
		st, err := ingest.Run(ctx, s, files, fe.embed, ingest.Options{Shard: i, Shards: 3, Batch: 8, PartFiles: 40})
		if err != nil {
			t.Fatal(err)
		}
		total += st.Embedded
	}
	if n, _ := s.Count(ctx); n != 300 || total != 300 {
		t.Fatalf("3 shards embedded %d files, store holds %d; want 300", total, n)
	}
	// Re-running a shard (no checkpoint) adds nothing twice.
	if _, err := ingest.Run(ctx, s, files, (&fakeEmbed{}).embed, ingest.Options{Shard: 1, Shards: 3}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Count(ctx); n != 300 {
		t.Fatalf("after re-running shard 1 the store holds %d, want 300", n)
	}
}

func TestResumeAfterCrashContinuesFromCheckpoint(t *testing.T) {
	_, files := collection(t, 200)
	s := newStore(t)
	ctx := context.Background()
	cp := filepath.Join(t.TempDir(), "shard0.json")
	opt := ingest.Options{Shard: 0, Shards: 1, Batch: 10, PartFiles: 50, Checkpoint: cp}
	crash := &fakeEmbed{failAfter: 12} // parts of 5 batches: the third part fails
	if _, err := ingest.Run(ctx, s, files, crash.embed, opt); err == nil || !strings.Contains(err.Error(), "embedder crashed") {
		t.Fatalf("crashing run: %v", err)
	}
	if n, _ := s.Count(ctx); n != 100 {
		t.Fatalf("after the crash the store holds %d, want the 100 of the 2 finished parts", n)
	}
	var progress []ingest.Progress
	opt.Progress = func(p ingest.Progress) { progress = append(progress, p) }
	fe := &fakeEmbed{}
	st, err := ingest.Run(ctx, s, files, fe.embed, opt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Resumed != 100 || fe.files != 100 || st.Embedded != 100 {
		t.Errorf("resumed run: resumed %d, embedded %d files (%d by the embedder); want 100, 100, 100", st.Resumed, st.Embedded, fe.files)
	}
	if n, _ := s.Count(ctx); n != 200 {
		t.Fatalf("after resuming the store holds %d, want 200", n)
	}
	if len(progress) != 2 || progress[1].Done != 200 || progress[1].Total != 200 || progress[1].FilesPerSec <= 0 {
		t.Errorf("progress reports %+v", progress)
	}
	// A finished shard does nothing when run again.
	fe = &fakeEmbed{}
	if _, err := ingest.Run(ctx, s, files, fe.embed, opt); err != nil || fe.files != 0 {
		t.Errorf("re-running a finished shard embedded %d files (%v)", fe.files, err)
	}
	// A changed file list starts the shard over (upserts keep that safe).
	fe = &fakeEmbed{}
	st, err = ingest.Run(ctx, s, files[:150], fe.embed, opt)
	if err != nil || st.Resumed != 0 || fe.files != 150 {
		t.Errorf("changed file list: resumed %d, embedded %d files (%v); want 0, 150", st.Resumed, fe.files, err)
	}
	if n, _ := s.Count(ctx); n != 200 {
		t.Errorf("after starting over the store holds %d, want 200", n)
	}
	// A checkpoint of another shard is refused.
	opt.Shards, opt.Shard = 2, 1
	if _, err := ingest.Run(ctx, s, files, fe.embed, opt); err == nil || !strings.Contains(err.Error(), "belongs to shard 0/1") {
		t.Errorf("foreign checkpoint: %v", err)
	}
	os.WriteFile(cp, []byte("{not json"), 0o644)
	opt.Shards, opt.Shard = 1, 0
	if _, err := ingest.Run(ctx, s, files, fe.embed, opt); err == nil || !strings.Contains(err.Error(), "not a clipkit ingest checkpoint") {
		t.Errorf("corrupt checkpoint: %v", err)
	}
}

func TestSkipBadFilesAndIdenticalContent(t *testing.T) {
	root, files := collection(t, 20)
	os.WriteFile(files[3].Path, []byte("bad bytes"), 0o644)
	dup := filepath.Join(root, "copy.bin")
	b, _ := os.ReadFile(files[5].Path)
	os.WriteFile(dup, b, 0o644)
	more, _ := ingest.Files(root, []string{dup, filepath.Join(root, "missing.bin")})
	files = append(files, more...)
	s := newStore(t)
	ctx := context.Background()
	if _, err := ingest.Run(ctx, s, files, (&fakeEmbed{}).embed, ingest.Options{Batch: 4}); err == nil {
		t.Fatal("bad file accepted without SkipBad")
	}
	st, err := ingest.Run(ctx, s, files, (&fakeEmbed{}).embed, ingest.Options{Batch: 4, SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Skipped) != 2 {
		t.Errorf("skipped %q, want the undecodable and the missing file", st.Skipped)
	}
	if n, _ := s.Count(ctx); n != 19 {
		t.Errorf("store holds %d, want 19 (20 files, 1 bad, the copy is the same item as its original)", n)
	}
}

func TestExportRoundTripsIntoAnotherStore(t *testing.T) {
	_, files := collection(t, 90)
	s := newStore(t)
	ctx := context.Background()
	dir := t.TempDir()
	st, err := ingest.Run(ctx, s, files, (&fakeEmbed{}).embed, ingest.Options{PartFiles: 40, ExportDir: dir,
		Metadata: func(f ingest.File) map[string]string { return map[string]string{"caption": "a photo of " + f.Key} }})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Parts) != 3 {
		t.Fatalf("parts %v, want 3 (90 files by 40)", st.Parts)
	}
	other := newStore(t)
	n, err := ingest.LoadExport(ctx, other, dir)
	if err != nil || n != 90 {
		t.Fatalf("LoadExport: %d, %v", n, err)
	}
	ex := s.Index()
	for _, id := range []int{0, 45, 89} {
		want := files[id]
		fid, _, _ := ingest.ContentID(want.Path)
		v1, m1, ok1 := ex.Get(fid)
		v2, m2, ok2 := other.Index().Get(fid)
		if !ok1 || !ok2 {
			t.Fatalf("%s missing (%v, %v)", want.Key, ok1, ok2)
		}
		for j := range v1 {
			if math.Abs(float64(v1[j]-v2[j])) > 1e-6 {
				t.Fatalf("%s: vectors differ after export", want.Key)
			}
		}
		if m1["caption"] != m2["caption"] || m2["key"] != want.Key || m2["sha256"] == "" || m2["shard"] != "0/1" {
			t.Errorf("%s: metadata %v after export, %v before", want.Key, m2, m1)
		}
	}
	// A .npy whose .parquet is missing, or a foreign file, is an error naming it.
	os.Remove(filepath.Join(dir, st.Parts[0]+ingest.ParquetSuffix))
	if _, err := ingest.LoadExport(ctx, newStore(t), dir); err == nil || !strings.Contains(err.Error(), st.Parts[0]) {
		t.Errorf("missing parquet: %v", err)
	}
	os.WriteFile(filepath.Join(dir, st.Parts[1]+ingest.NPYSuffix), []byte("not numpy"), 0o644)
	if _, err := ingest.ReadPart(dir, st.Parts[1]); err == nil || !strings.Contains(err.Error(), "not a .npy file") {
		t.Errorf("corrupt npy: %v", err)
	}
	if _, err := ingest.LoadExport(ctx, newStore(t), t.TempDir()); err == nil || !strings.Contains(err.Error(), "no exported parts") {
		t.Errorf("empty dir: %v", err)
	}
}
