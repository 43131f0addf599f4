// Package clipxtest builds the clipx command once per test process for the tests that start real
// `clipx serve` processes (nb/serve, nb/explore).
package clipxtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/clipkit/clipkit/internal/repo"
)

var (
	once sync.Once
	path string
	err  error
)

// Binary returns the path of a clipx built from this checkout into a temporary folder, building it
// on the first call of the process. It skips the test under -short (building and starting clipx
// takes seconds) and fails it when the build fails.
func Binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and starts clipx serve; skipped with -short")
	}
	once.Do(func() {
		root, rerr := repo.Root()
		if rerr != nil {
			err = rerr
			return
		}
		dir, derr := os.MkdirTemp("", "clipxtest")
		if derr != nil {
			err = derr
			return
		}
		path = filepath.Join(dir, "clipx")
		cmd := exec.Command("go", "build", "-o", path, "./cmd/clipx")
		cmd.Dir = root
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build ./cmd/clipx: %v\n%s", berr, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}
