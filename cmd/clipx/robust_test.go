package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// TestSearchIndexChecksOutBeforeEncoding: an --out that cannot be written, or that another
// run is writing, fails at once with an error about --out, before any image is encoded
// (before, it was reported by the save after every image had been encoded).
func TestSearchIndexChecksOutBeforeEncoding(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	images := t.TempDir()
	writePNG(t, filepath.Join(images, "a.png"))
	locked := filepath.Join(t.TempDir(), "busy.idx")
	unlock, err := atomicfile.Lock(locked, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, tc := range []struct{ name, out, want string }{
		{"missing folder", filepath.Join(t.TempDir(), "no", "such", "dir", "x.idx"), "no such file"},
		{"a directory", t.TempDir(), "is a directory"},
		{"locked by another writer", locked, "another writer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := capture(t, &searchOut, func() error {
				return runSearch([]string{"index", "--model", "tiny-vit", "--random-weights", "--images", images, "--out", tc.out})
			})
			if err == nil || !strings.HasPrefix(err.Error(), "--out: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want an --out error containing %q", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v: the check must come before encoding", d)
			}
		})
	}
}

func writePNG(t *testing.T, p string) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
}

// TestDataInfoRefusesAnImageBomb: `clipx data info DIR` on a folder whose PNG header claims
// 100000×100000 pixels fails with an error instead of the runtime dying out of memory.
func TestDataInfoRefusesAnImageBomb(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1)))
	b := buf.Bytes()
	binary.BigEndian.PutUint32(b[16:], 100000)
	binary.BigEndian.PutUint32(b[20:], 100000)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	os.WriteFile(filepath.Join(dir, "bomb.png"), b, 0o644)
	if code, _ := runCapture(t, "", "data", "info", dir); code == 0 {
		t.Fatal("data info accepted a 100000×100000 image")
	}
}

// TestTokenizeAndEmbedAgreeOnInvalidUTF8: both commands refuse text that is not UTF-8, naming it.
func TestTokenizeAndEmbedAgreeOnInvalidUTF8(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	if code, _ := runCapture(t, "ok\nbad \xff\xfe text\n", "tokenize"); code == 0 {
		t.Error("tokenize accepted invalid UTF-8")
	}
	err := clipx("embed", "--weights", "tiny-vit", "--random-weights", "--text", "bad \xff\xfe text")
	if err == nil || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("embed: error %v, want one saying the text is not valid UTF-8", err)
	}
}

// TestReadLineIsBounded: clipx tokenize reads at most maxTokenizeLine bytes of one line.
func TestReadLineIsBounded(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
		err  error
	}{
		{"short\nnext", 10, "short\n", nil},
		{strings.Repeat("x", 9000) + "\n", 8192, "", errLineTooLong},
		{strings.Repeat("y", 5000), 8192, strings.Repeat("y", 5000), io.EOF},
	} {
		got, err := readLine(bufio.NewReaderSize(strings.NewReader(tc.in), 16), tc.max)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("readLine(%.10q…, %d) = %.10q…, %v; want %.10q…, %v", tc.in, tc.max, got, err, tc.want, tc.err)
		}
	}
}

// TestBenchSearchCreatesTheDumpFolder: --dump and --save name folders that need not exist yet.
func TestBenchSearchCreatesTheDumpFolder(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "new", "dump")
	code, _ := runCapture(t, "", "bench", "search", "--quiet", "--sizes", "200", "--dim", "16", "--queries", "5",
		"--exact-queries", "2", "--batch", "4", "--M", "8", "--efc", "16", "--ef", "8", "--bandwidth-mib", "1",
		"--out", filepath.Join(t.TempDir(), "r.json"), "--dump", dump)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	if m, _ := filepath.Glob(filepath.Join(dump, "*.f32")); len(m) == 0 {
		t.Error("nothing dumped")
	}
}
