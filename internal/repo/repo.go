// Package repo finds the root of the clipkit checkout: the nearest directory, from a starting
// directory upwards, whose go.mod declares module ModulePath. Programs run from inside the
// repository (tests, notebooks, clipx report) use it to find testdata/, notebooks/ and the
// shared/ folder beside the checkout.
package repo

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is the module path that identifies the repository's go.mod.
const ModulePath = "github.com/clipkit/clipkit"

// Root returns the repository root above the working directory (see RootFrom).
func Root() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return RootFrom(wd)
}

// RootFrom returns the nearest directory, from start upwards, whose go.mod declares
// ModulePath. Another module's go.mod does not stop the search. The error names start.
func RootFrom(start string) (string, error) {
	start, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for dir := start; ; dir = filepath.Dir(dir) {
		if IsRoot(dir) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod of module %s in %s or any directory above it", ModulePath, start)
		}
	}
}

// IsRoot reports whether dir/go.mod declares module ModulePath (its first module directive,
// quoted or not).
func IsRoot(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`) == ModulePath
		}
	}
	return false
}
