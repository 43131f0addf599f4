// Package ingest embeds a collection of files into a search.Store, split
// deterministically into N shards so that N machines (or processes) each
// embed one shard into the same store: resumable per shard, with progress
// and throughput, and optionally exporting every embedding to files other
// tools read (.npy vectors + Parquet metadata, the layout clip-retrieval
// writes), so a collection embedded once can be loaded into any store.
//
// # Sharding
//
// A file belongs to shard FNV-1a-64(key) mod N, where key is its path
// relative to the collection root: every machine computes the same split
// from the same file list, whatever the mount point, and adding files
// moves no existing file to another shard.
//
// # IDs and idempotence
//
// An item's ID is the first 8 bytes (big-endian) of the SHA-256 of the
// file's content, so re-running an ingest (after a crash, on another
// machine, with files renamed) upserts the same IDs and adds nothing twice;
// byte-identical files collapse into one item.
//
// # Resume
//
// Each shard records its progress in a checkpoint file (JSON, replaced
// atomically) after every part of PartFiles files has been upserted (and
// exported). A restarted run with the same file list continues after the
// last recorded part; a run whose shard file list changed starts over (the
// upserts make that safe, only slower).
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/clipkit/clipkit/cliplib/search"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/internal/readlimit"
)

// File is one file of a collection.
type File struct {
	// Path is where to read the file.
	Path string
	// Key is the file's name within the collection (its path relative to the
	// root, with '/' separators); it decides the shard and is stored as "key".
	Key string
}

// Files lists paths relative to root as Files (Key = relative path).
func Files(root string, paths []string) ([]File, error) {
	out := make([]File, len(paths))
	for i, p := range paths {
		rel, err := filepath.Rel(root, p)
		if err != nil || strings.HasPrefix(rel, "..") {
			return nil, fmt.Errorf("ingest: %s is not under the collection root %s", p, root)
		}
		out[i] = File{Path: p, Key: filepath.ToSlash(rel)}
	}
	return out, nil
}

// Shard returns the files of shard i of n (0 ≤ i < n), in the input order.
func Shard(files []File, i, n int) ([]File, error) {
	if n < 1 || i < 0 || i >= n {
		return nil, fmt.Errorf("ingest: shard %d/%d: want 0 <= i < N", i, n)
	}
	var out []File
	for _, f := range files {
		if ShardOf(f.Key, n) == i {
			out = append(out, f)
		}
	}
	return out, nil
}

// ShardOf is the shard of a key among n shards.
func ShardOf(key string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(key))
	return int(h.Sum64() % uint64(n))
}

// ParseShard parses "i/N" (0 ≤ i < N ≤ 65536).
func ParseShard(s string) (i, n int, err error) {
	a, b, ok := strings.Cut(s, "/")
	if ok {
		i, err = strconv.Atoi(a)
		if err == nil {
			n, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || n < 1 || n > 65536 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("ingest: shard %q: want i/N with 0 <= i < N <= 65536 (e.g. 0/4 for the first of 4)", s)
	}
	return i, n, nil
}

// ContentID hashes a file's content: the item ID (first 8 bytes of the
// SHA-256, big-endian) and the hex SHA-256.
func ContentID(path string) (uint64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return 0, "", fmt.Errorf("reading %s: %w", path, err)
	}
	sum := h.Sum(nil)
	return binary.BigEndian.Uint64(sum[:8]), hex.EncodeToString(sum), nil
}

// Embedder embeds files (same order, one vector each). An error fails the
// whole call; Run then retries file by file to find the bad ones.
type Embedder func(paths []string) ([][]float32, error)

// Options configure Run.
type Options struct {
	// Shard and Shards select this run's part (0 ≤ Shard < Shards; Shards 0 = 1).
	Shard, Shards int
	// Batch is the number of files per Embedder call (default 32).
	Batch int
	// PartFiles is the number of files per part: the unit of upsert,
	// export and checkpoint (default 1024).
	PartFiles int
	// Checkpoint is the shard's progress file ("" = no resume).
	Checkpoint string
	// ExportDir, if set, receives one .npy + .parquet pair per part.
	ExportDir string
	// SkipBad skips files that cannot be read or embedded (listed in
	// Stats.Skipped) instead of failing.
	SkipBad bool
	// Metadata, if set, adds entries to each file's metadata (e.g. caption
	// and label from a captions file); it may return nil.
	Metadata func(f File) map[string]string
	// Progress, if set, is called after every part.
	Progress func(p Progress)
}

// Progress reports a running shard.
type Progress struct {
	Shard, Shards int
	// Done is the number of files of the shard handled (embedded or
	// skipped), including those of a resumed earlier run; Total is the
	// shard's file count.
	Done, Total int
	// Resumed is how many files an earlier run had done.
	Resumed int
	// Elapsed is the time of this run; FilesPerSec its throughput.
	Elapsed     time.Duration
	FilesPerSec float64
}

// String is the progress line clipx prints.
func (p Progress) String() string {
	return fmt.Sprintf("shard %d/%d: %d/%d files (%.1f%%), %.1f files/s, %s elapsed", p.Shard, p.Shards, p.Done, p.Total,
		100*float64(p.Done)/float64(max(p.Total, 1)), p.FilesPerSec, p.Elapsed.Truncate(time.Second))
}

// Stats summarises a run.
type Stats struct {
	Shard, Shards int `json:"-"`
	// Files is the shard's file count; Embedded the files embedded by this
	// run; Resumed the files an earlier run had done; Skipped the bad files.
	Files    int      `json:"files"`
	Embedded int      `json:"embedded"`
	Resumed  int      `json:"resumed"`
	Skipped  []string `json:"skipped,omitempty"`
	// Parts lists the exported part files (base names), if exporting.
	Parts   []string `json:"parts,omitempty"`
	Seconds float64  `json:"seconds"`
	// FilesPerSec is this run's throughput (embedded + skipped files per second).
	FilesPerSec float64 `json:"files_per_sec"`
}

// checkpoint is the JSON progress file of a shard.
type checkpoint struct {
	Format string `json:"format"`
	Shard  int    `json:"shard"`
	Shards int    `json:"shards"`
	// ListSHA256 identifies the shard's file list (keys in order).
	ListSHA256 string `json:"list_sha256"`
	PartFiles  int    `json:"part_files"`
	Done       int    `json:"done"`
	Total      int    `json:"total"`
}

const checkpointFormat = "clipkit-ingest-checkpoint-1"

func listDigest(files []File) string {
	h := sha256.New()
	for _, f := range files {
		h.Write([]byte(f.Key))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Run embeds the files of shard opt.Shard of opt.Shards (files is the
// whole collection; every machine passes the same list) into store.
func Run(ctx context.Context, store search.Store, files []File, embed Embedder, opt Options) (*Stats, error) {
	if opt.Shards == 0 {
		opt.Shards = 1
	}
	if opt.Batch <= 0 {
		opt.Batch = 32
	}
	if opt.PartFiles <= 0 {
		opt.PartFiles = 1024
	}
	mine, err := Shard(files, opt.Shard, opt.Shards)
	if err != nil {
		return nil, err
	}
	st := &Stats{Shard: opt.Shard, Shards: opt.Shards, Files: len(mine)}
	cp := checkpoint{Format: checkpointFormat, Shard: opt.Shard, Shards: opt.Shards, ListSHA256: listDigest(mine), PartFiles: opt.PartFiles, Total: len(mine)}
	if opt.Checkpoint != "" {
		old, err := readCheckpoint(opt.Checkpoint)
		switch {
		case err != nil:
			return nil, err
		case old == nil:
		case old.Shard != cp.Shard || old.Shards != cp.Shards:
			return nil, fmt.Errorf("ingest: checkpoint %s belongs to shard %d/%d, this run is shard %d/%d", opt.Checkpoint, old.Shard, old.Shards, cp.Shard, cp.Shards)
		case old.ListSHA256 == cp.ListSHA256 && old.PartFiles == cp.PartFiles && old.Done <= len(mine):
			cp.Done = old.Done
		}
	}
	if opt.ExportDir != "" {
		if err := os.MkdirAll(opt.ExportDir, 0o755); err != nil {
			return nil, fmt.Errorf("ingest: export directory: %w", err)
		}
	}
	st.Resumed = cp.Done
	start := time.Now()
	report := func() {
		if opt.Progress == nil {
			return
		}
		el := time.Since(start)
		opt.Progress(Progress{Shard: opt.Shard, Shards: opt.Shards, Done: cp.Done, Total: len(mine), Resumed: st.Resumed, Elapsed: el,
			FilesPerSec: float64(cp.Done-st.Resumed) / max(el.Seconds(), 1e-9)})
	}
	for cp.Done < len(mine) {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		part := mine[cp.Done:min(cp.Done+opt.PartFiles, len(mine))]
		items, skipped, err := embedPart(part, embed, opt)
		if err != nil {
			return st, err
		}
		if len(items) > 0 {
			if err := store.Upsert(ctx, items...); err != nil {
				return st, fmt.Errorf("ingest: shard %d/%d, files %d..%d: %w", opt.Shard, opt.Shards, cp.Done, cp.Done+len(part)-1, err)
			}
			if opt.ExportDir != "" {
				name := fmt.Sprintf("shard%05dof%05d-part%06d", opt.Shard, opt.Shards, cp.Done/opt.PartFiles)
				if err := ExportPart(opt.ExportDir, name, items); err != nil {
					return st, err
				}
				st.Parts = append(st.Parts, name)
			}
		}
		st.Embedded += len(items)
		st.Skipped = append(st.Skipped, skipped...)
		cp.Done += len(part)
		if opt.Checkpoint != "" {
			if err := writeJSONAtomic(opt.Checkpoint, cp); err != nil {
				return st, fmt.Errorf("ingest: writing checkpoint: %w", err)
			}
		}
		report()
	}
	st.Seconds = time.Since(start).Seconds()
	st.FilesPerSec = float64(cp.Done-st.Resumed) / max(st.Seconds, 1e-9)
	return st, nil
}

// embedPart embeds the files of one part in batches; with SkipBad a failing
// batch is retried file by file and the bad files are skipped.
func embedPart(part []File, embed Embedder, opt Options) ([]search.Item, []string, error) {
	var items []search.Item
	var skipped []string
	type hashed struct {
		f   File
		id  uint64
		sha string
	}
	var ok []hashed
	for _, f := range part {
		id, sum, err := ContentID(f.Path)
		if err != nil {
			if !opt.SkipBad {
				return nil, nil, fmt.Errorf("ingest: %w", err)
			}
			skipped = append(skipped, err.Error())
			continue
		}
		ok = append(ok, hashed{f, id, sum})
	}
	seen := map[uint64]bool{}
	add := func(h hashed, v []float32) {
		if seen[h.id] { // byte-identical files: one item
			return
		}
		seen[h.id] = true
		m := map[string]string{"path": h.f.Path, "key": h.f.Key, "sha256": h.sha, "shard": fmt.Sprintf("%d/%d", opt.Shard, opt.Shards)}
		if opt.Metadata != nil {
			for k, v := range opt.Metadata(h.f) {
				m[k] = v
			}
		}
		items = append(items, search.Item{ID: h.id, Vector: v, Metadata: m})
	}
	for lo := 0; lo < len(ok); lo += opt.Batch {
		batch := ok[lo:min(lo+opt.Batch, len(ok))]
		paths := make([]string, len(batch))
		for i, h := range batch {
			paths[i] = h.f.Path
		}
		vecs, err := embed(paths)
		if err == nil && len(vecs) != len(batch) {
			err = fmt.Errorf("embedder returned %d vectors for %d files", len(vecs), len(batch))
		}
		if err == nil {
			for i, h := range batch {
				add(h, vecs[i])
			}
			continue
		}
		if !opt.SkipBad {
			return nil, nil, fmt.Errorf("ingest: embedding %s..: %w", paths[0], err)
		}
		for _, h := range batch {
			v, err := embed([]string{h.f.Path})
			if err != nil || len(v) != 1 {
				skipped = append(skipped, fmt.Sprintf("%s: %v", h.f.Path, err))
				continue
			}
			add(h, v[0])
		}
	}
	return items, skipped, nil
}

func readCheckpoint(path string) (*checkpoint, error) {
	b, err := readlimit.ReadFile(path, 64<<20)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: checkpoint: %w", err)
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil || cp.Format != checkpointFormat {
		return nil, fmt.Errorf("ingest: checkpoint %s is not a clipkit ingest checkpoint (%v); delete it to start the shard over", path, err)
	}
	return &cp, nil
}

// writeJSONAtomic writes v as JSON to path through a synced temporary file
// renamed over it.
func writeJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(path, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err })
}

// writeAtomic writes path (creating its folder) through internal/atomicfile: a synced temporary
// file renamed over it, so readers see the old or the new file.
func writeAtomic(path string, write func(w io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, write)
}
