// Package readlimit reads whole files that a user names (vocabularies, caption lists) without
// the two ways a plain os.ReadFile goes wrong on a hostile path: a named pipe or device blocks or
// never ends, and a huge file is read into memory whole.
package readlimit

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by ReadFile's error for a file over its limit.
var ErrTooLarge = errors.New("file too large")

// ReadFile reads the regular file at path, of at most max bytes.
func ReadFile(path string, max int64) ([]byte, error) {
	// Stat before opening: opening a named pipe blocks until a writer appears.
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s: %w: %d bytes, over the %d-byte limit", path, ErrTooLarge, st.Size(), max)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w: grew past the %d-byte limit while being read", path, ErrTooLarge, max)
	}
	return b, nil
}
