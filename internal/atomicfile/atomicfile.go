// Package atomicfile replaces files so that readers, and a crash or kill at any moment, see either
// the old file or the new one, never a mix: the new content goes to a temporary file in the same
// directory, is fsynced, renamed over the destination, and the directory is fsynced.
//
// Temporary files are named "." + base + ".tmp*" (the pattern package search uses too), so
// RemoveStale can delete what killed writers left behind; do that only while holding Lock, when
// no live writer can own them.
package atomicfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/gofrs/flock"
)

// TempPattern returns the os.CreateTemp pattern of path's temporary files.
func TempPattern(path string) string { return "." + filepath.Base(path) + ".tmp*" }

// Write replaces path with what write produces. On any error (from write or the file system) the
// temporary file is removed and path is left as it was. perm is the file's mode.
func Write(path string, perm os.FileMode, write func(w io.Writer) error) error {
	return WriteFile(path, perm, func(f *os.File) error { return write(f) })
}

// WriteBytes replaces path with data, as os.WriteFile writes it but atomically (see Write).
func WriteBytes(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFile is Write for writers that need the temporary file itself (to seek, or WriteAt a
// header once the payload is written). write must not close f.
func WriteFile(path string, perm os.FileMode, write func(f *os.File) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("writing %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable (best effort: not every platform can fsync a directory).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// LockPath is the lock file of path: path + ".lock".
func LockPath(path string) string { return path + ".lock" }

// ErrLocked is wrapped by Lock's error when another writer holds the lock past the wait.
var ErrLocked = errors.New("another writer holds the lock")

// Lock takes the exclusive writer lock of path (an advisory lock on LockPath(path), released by
// the operating system if the process dies), waiting up to wait for another writer to finish.
// It returns the function that releases the lock.
func Lock(path string, wait time.Duration) (unlock func(), err error) {
	fl := flock.New(LockPath(path))
	ok, err := fl.TryLock()
	if err == nil && !ok && wait > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		ok, err = fl.TryLockContext(ctx, 50*time.Millisecond)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("locking %s: %w (lock file %s)", path, ErrLocked, LockPath(path))
	}
	return func() { _ = fl.Unlock() }, nil
}

// RemoveStale deletes path's temporary files and directories (see TempPattern) and returns how
// many it removed. Call it only while holding Lock(path).
func RemoveStale(path string) (int, error) {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), globEscape(TempPattern(path))))
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range matches {
		st, err := os.Lstat(m)
		switch {
		case err != nil:
		case st.Mode().IsRegular() && os.Remove(m) == nil:
			n++
		case st.IsDir() && os.RemoveAll(m) == nil:
			n++
		}
	}
	return n, nil
}

// globEscape escapes the glob metacharacters of a pattern built from a file name, keeping the
// final "*".
func globEscape(pattern string) string {
	var b []byte
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if (c == '*' && i < len(pattern)-1) || c == '?' || c == '[' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return string(b)
}

// CheckWritable reports early whether a file can be created beside path (in its directory), by
// creating and removing a temporary file there, so that a long job fails before its work rather
// than after it.
func CheckWritable(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("cannot write %s: it is a directory", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), TempPattern(path))
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
