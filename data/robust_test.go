package data

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/cliplib/preprocess"
)

// pngClaiming returns a small valid PNG (with pixel data) whose IHDR claims w×h pixels: a
// decompression bomb for any decoder that allocates from the header.
func pngClaiming(w, h uint32) []byte {
	b := pngBytes(1, 1, color.White)
	// The IHDR chunk follows the 8-byte signature: length(4) "IHDR"(4) data(13) crc(4).
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// TestFolderItemRefusesImageBombs proves that a folder data set decodes through the guarded
// decoder: a tiny PNG whose header claims 100000×100000 pixels is refused with an error naming
// the file (before, Folder.Item allocated from the header and the runtime died out of memory).
func TestFolderItemRefusesImageBombs(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h uint32
	}{
		{"huge square", 100000, 100000},
		{"one side too long", 1 << 20, 1},
		{"too many pixels", 16000, 16000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "bomb.png")
			writeFile(t, p, pngClaiming(tc.w, tc.h))
			f, err := LoadFolder(dir, FolderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = f.Item(0)
			if !errors.Is(err, preprocess.ErrTooLarge) {
				t.Fatalf("Item(0) error = %v, want preprocess.ErrTooLarge", err)
			}
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name the file %s", err, p)
			}
		})
	}
}

// TestImageFilesFollowsASymlinkedRootAndLeavesOutDanglingLinks: a --images root that is a
// symbolic link to a folder is listed (before, it held "no images"), and a link to a missing
// file is reported as skipped instead of failing the decode later.
func TestImageFilesFollowsASymlinkedRootAndLeavesOutDanglingLinks(t *testing.T) {
	real := t.TempDir()
	writeFile(t, filepath.Join(real, "a.png"), pngBytes(2, 2, color.White))
	writeFile(t, filepath.Join(real, "sub", "b.png"), pngBytes(2, 2, color.White))
	if err := os.Symlink(filepath.Join(real, "gone.png"), filepath.Join(real, "dangling.png")); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	link := filepath.Join(t.TempDir(), "photos")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dir string }{{"real folder", real}, {"symlinked root", link}} {
		t.Run(tc.name, func(t *testing.T) {
			files, skipped, err := ImageFilesReport(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{filepath.Join(tc.dir, "a.png"), filepath.Join(tc.dir, "sub", "b.png")}
			if !slices.Equal(files, want) {
				t.Errorf("files %v, want %v", files, want)
			}
			if len(skipped) != 1 || !strings.Contains(skipped[0], "dangling.png") {
				t.Errorf("skipped %v, want the dangling link", skipped)
			}
		})
	}
}
