package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteReplacesOrLeavesTheOldFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.idx")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name  string
		write func(w io.Writer) error
		want  string
		err   bool
	}{
		{"failing writer keeps the old file", func(w io.Writer) error { w.Write([]byte("half")); return boom }, "old", true},
		{"success replaces", func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }, "new", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(p, 0o644, tc.write)
			if (err != nil) != tc.err {
				t.Fatalf("Write error = %v, want error %v", err, tc.err)
			}
			b, _ := os.ReadFile(p)
			if string(b) != tc.want {
				t.Errorf("file holds %q, want %q", b, tc.want)
			}
			if m, _ := filepath.Glob(filepath.Join(dir, ".out.idx.tmp*")); len(m) != 0 {
				t.Errorf("temporary files left behind: %v", m)
			}
		})
	}
}

func TestRemoveStaleDeletesOnlyThisPathsTempFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a[1].idx") // glob metacharacters in the name must not matter
	for _, n := range []string{".a[1].idx.tmp123", ".a[1].idx.tmp", ".b.idx.tmp9", "a[1].idx"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644)
	}
	os.MkdirAll(filepath.Join(dir, ".a[1].idx.tmp77", "sub"), 0o755)
	n, err := RemoveStale(p)
	if err != nil || n != 3 {
		t.Fatalf("RemoveStale = %d, %v; want 3 removed", n, err)
	}
	for _, keep := range []string{".b.idx.tmp9", "a[1].idx"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s was removed: %v", keep, err)
		}
	}
}

func TestLockExcludesASecondWriter(t *testing.T) {
	p := filepath.Join(t.TempDir(), "out.idx")
	unlock, err := Lock(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(p, 100*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock error = %v, want ErrLocked", err)
	}
	unlock()
	unlock2, err := Lock(p, 0)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	unlock2()
}

func TestCheckWritableFailsEarly(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		ok   bool
	}{
		{"writable dir", filepath.Join(dir, "x.idx"), true},
		{"missing dir", filepath.Join(dir, "nope", "x.idx"), false},
		{"a directory", dir, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckWritable(tc.path); (err == nil) != tc.ok {
				t.Errorf("CheckWritable(%s) = %v, want ok=%v", tc.path, err, tc.ok)
			}
		})
	}
}

func TestWriteBytesAndWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	if err := WriteBytes(p, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "hello" {
		t.Errorf("WriteBytes wrote %q", b)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	// WriteFile gives the temporary file itself: a header written last with WriteAt.
	err := WriteFile(p, 0o644, func(f *os.File) error {
		if _, err := f.Write([]byte("....payload")); err != nil {
			return err
		}
		_, err := f.WriteAt([]byte("HEAD"), 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "HEADpayload" {
		t.Errorf("WriteFile wrote %q", b)
	}
	// Into a missing directory: an error naming the path, nothing written.
	missing := filepath.Join(dir, "no", "such", "f.bin")
	if err := WriteBytes(missing, []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("WriteBytes into a missing directory: %v", err)
	}
}
