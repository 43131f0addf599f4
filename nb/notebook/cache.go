package notebook

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// EnvCache is clipkit's cache root (also used for downloads); Cached stores values under
// $CLIPKIT_CACHE/notebook. Without it, <repo>/.cache/notebook is used (git-ignored).
const EnvCache = "CLIPKIT_CACHE"

// CacheDir returns the directory where Cached keeps values.
func CacheDir() (string, error) {
	if c := os.Getenv(EnvCache); c != "" {
		return filepath.Join(c, "notebook"), nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("notebook.CacheDir: %s is not set and the repository was not found: %w", EnvCache, err)
	}
	return filepath.Join(root, ".cache", "notebook"), nil
}

// Cached returns the value stored on disk under key, or computes it with fn and stores it. Each
// GoNB cell is a new process, so anything expensive that later cells need (decoded statistics,
// say) goes through here; model embeddings have their own cache in cliplib. Values are encoded
// with encoding/gob, so T's fields must be exported. Put everything that changes the result
// (file list, model name, smoke mode) into key. An unreadable entry is recomputed and replaced.
func Cached[T any](key string, fn func() (T, error)) (T, error) {
	var zero T
	if key == "" {
		return zero, fmt.Errorf("notebook.Cached: empty key")
	}
	dir, err := CacheDir()
	if err != nil {
		return zero, err
	}
	sum := sha256.Sum256([]byte(key))
	path := filepath.Join(dir, hex.EncodeToString(sum[:12])+".gob")
	if data, err := os.ReadFile(path); err == nil {
		var v T
		if gob.NewDecoder(bytes.NewReader(data)).Decode(&v) == nil {
			return v, nil
		}
	}
	v, err := fn()
	if err != nil {
		return zero, err
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(v); err != nil {
		return zero, fmt.Errorf("notebook.Cached(%q): encoding the value: %w", key, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return zero, fmt.Errorf("notebook.Cached(%q): %w", key, err)
	}
	if err := atomicfile.WriteBytes(path, buf.Bytes(), 0o600); err != nil {
		return zero, fmt.Errorf("notebook.Cached(%q): %w", key, err)
	}
	return v, nil
}
