package notebook

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// SaveJSON writes v as indented JSON to path (its folder created), replacing the file atomically:
// how a cell hands measurements to later cells (each cell is a new process) or leaves a report
// for other tools.
func SaveJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("notebook.SaveJSON(%s): %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("notebook.SaveJSON: %w", err)
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(b); return err })
}

// LoadJSON reads into v the JSON that SaveJSON wrote to path. A missing file gets an error that
// says to run the cells above first (the ones that save it).
func LoadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: run the cells above first", err)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("notebook.LoadJSON(%s): %w", path, err)
	}
	return nil
}
