package preprocess

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/clipkit/clipkit/internal/repo"
)

// TestEveryImageDecodeGoesThroughTheGuardedDecoder scans the module's Go sources (tests
// excluded) for direct calls to the standard and x/image decoders. Only this package may call
// them, behind its header size check and panic recovery; anywhere else, a hostile header can
// make the runtime die out of memory (as data.Folder did).
func TestEveryImageDecodeGoesThroughTheGuardedDecoder(t *testing.T) {
	root, err := repo.Root()
	if err != nil {
		t.Skipf("module root not found: %v", err)
	}
	self, _ := filepath.Abs(".")
	call := regexp.MustCompile(`\b(image|png|jpeg|gif|webp|bmp|tiff)\.(Decode|DecodeAll|DecodeConfig)\(`)
	var found []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "node_modules" || n == "testdata" || p == self) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if call.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "//") {
				rel, _ := filepath.Rel(root, p)
				found = append(found, fmt.Sprintf("%s:%d: %s", rel, i+1, strings.TrimSpace(line)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) > 0 {
		t.Errorf("image decoders called outside cliplib/preprocess (use preprocess.DecodeFile/DecodeBytes/DecodeConfigBytes):\n%s",
			strings.Join(found, "\n"))
	}
}
