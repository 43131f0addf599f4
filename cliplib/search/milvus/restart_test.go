package milvus_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/cliplib/search/ingest"
	"github.com/clipkit/clipkit/cliplib/search/milvus"
	"github.com/clipkit/clipkit/cliplib/search/milvus/milvustest"
)

// hashEmbed is a deterministic stand-in for the model: a vector from the file's bytes.
func hashEmbed(dim int) ingest.Embedder {
	return func(paths []string) ([][]float32, error) {
		out := make([][]float32, len(paths))
		for i, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			h := sha256.Sum256(b)
			v := make([]float32, dim)
			for j := range v {
				v[j] = float32(h[j%32]) - 127.5 + float32(j)
			}
			out[i] = v
		}
		return out, nil
	}
}

// TestServerCrashMidIngestResumeLosesNothingDuplicatesNothing runs its own
// server (so it can kill it): an ingest of 600 files in parts of 100 is cut
// by a SIGKILL of the whole server during the third part; the run fails with
// an error, the server restarts on the same data, and the resumed run (same
// checkpoint) finishes. The collection then holds exactly 600 items (Milvus
// does not enforce unique primary keys, so a duplicate would show in the
// count) and every file is found by its own vector.
func TestServerCrashMidIngestResumeLosesNothingDuplicatesNothing(t *testing.T) {
	bin, err := milvustest.Command()
	if err != nil {
		t.Skipf("needs a milvus-server command to kill and restart: %v", err)
	}
	t.Parallel() // mostly waiting (retries, ports in TIME_WAIT, recovery): overlaps the other server tests
	srv, err := milvustest.Start(bin, t.TempDir(), 3*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	const dim, n = 24, 600
	root := t.TempDir()
	var paths []string
	for i := range n {
		p := filepath.Join(root, fmt.Sprintf("img%04d.jpg", i))
		os.WriteFile(p, []byte(fmt.Sprintf("image bytes %d", i)), 0o644)
		paths = append(paths, p)
	}
	files, _ := ingest.Files(root, paths)
	u := "milvus://" + srv.Addr + "/restart_test?timeout=5s&retries=2"
	open := func() search.Store {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		s, err := search.OpenStore(ctx, u, search.StoreOptions{Dim: dim})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cp := filepath.Join(t.TempDir(), "shard.json")
	embed := hashEmbed(dim)
	calls := 0
	crashing := func(p []string) ([][]float32, error) {
		calls++
		if calls == 5 { // first batch of the third part (batches of 50, parts of 100)
			srv.Kill()
		}
		return embed(p)
	}
	s := open()
	opt := ingest.Options{Batch: 50, PartFiles: 100, Checkpoint: cp}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	st, err := ingest.Run(ctx, s, files, crashing, opt)
	if err == nil {
		t.Fatal("ingest went on although the server was killed")
	}
	t.Logf("ingest failed after %s once the server died: %v", time.Since(start).Round(time.Millisecond), err)
	if st.Embedded != 200 {
		t.Fatalf("before the crash %d files were stored, want 200 (2 parts)", st.Embedded)
	}
	s.Close()
	if err := srv.Restart(false, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	st, err = ingest.Run(ctx, s, files, embed, opt)
	if err != nil {
		t.Fatal(err)
	}
	if st.Resumed != 200 || st.Embedded != 400 {
		t.Errorf("resumed run: resumed %d, embedded %d; want 200, 400", st.Resumed, st.Embedded)
	}
	if err := s.(*milvus.Store).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Count(ctx); err != nil || c != n {
		t.Fatalf("after crash and resume the collection holds %d items (%v), want %d", c, err, n)
	}
	for _, i := range []int{0, 150, 250, 599} {
		v, _ := embed([]string{paths[i]})
		res, err := s.Search(ctx, v[0], 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Metadata["path"] != paths[i] {
			t.Errorf("file %d not found by its own vector: %+v", i, res)
		}
	}
}
