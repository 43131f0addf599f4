// Package notebook holds the conventions that clipkit's GoNB notebooks share: smoke mode, where
// the repository and the sample data are, and progress reporting for long loops. Live controls
// (text boxes, sliders, ... bound to the model server, leaving the kernel free) are in nb/widgets.
// It imports no GoMLX package.
//
// # Wiring a notebook to this repository
//
// Every notebook's first code cell makes GoNB build against the repository checkout (not a
// published copy of clipkit):
//
//	!*rm -f go.work && go work init && go work use . "${GONB_DIR}/.."
//	%goworkfix
//
// GONB_DIR is the directory of the notebook (notebooks/), whatever directory JupyterLab was
// started from, and also under `clipx report` (nbconvert runs the kernel in the notebook's
// directory), so "${GONB_DIR}/.." is always the repository root. `%goworkfix` turns the go.work
// `use` into a go.mod `replace`, which `go get` honours. WiringCell holds that text.
//
// # Smoke mode
//
// CLIP_SMOKE=1 in the environment of Jupyter or `clipx report` reaches every cell (GoNB passes its
// environment on). Notebooks then use a tiny model and a few samples (Pick), so CI can execute all
// of them in minutes.
package notebook

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/clipkit/clipkit/internal/repo"
)

// ModulePath is the Go module path of the clipkit repository.
const ModulePath = repo.ModulePath

// WiringCell is the text of the first code cell of every notebook: it points GoNB at the
// repository that contains the notebook (see the package documentation).
const WiringCell = "!*rm -f go.work && go work init && go work use . \"${GONB_DIR}/..\"\n%goworkfix"

// Environment variables read by this package.
const (
	// EnvSmoke set to 1/true/yes/on selects smoke mode.
	EnvSmoke = "CLIP_SMOKE"
	// EnvImages names a directory of sample images to use instead of ../shared/data/clip_test_images.
	EnvImages = "CLIPKIT_IMAGES"
)

// Smoke reports whether smoke mode is on (CLIP_SMOKE=1, true, yes or on).
func Smoke() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(EnvSmoke))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// Pick returns smoke in smoke mode and full otherwise, e.g. n := notebook.Pick(len(files), 3).
func Pick[T any](full, smoke T) T {
	if Smoke() {
		return smoke
	}
	return full
}

// InNotebook reports whether the program runs as a GoNB cell (so HTML output is displayed).
func InNotebook() bool { return gonbui.IsNotebook }

// RepoRoot returns the root of the clipkit checkout: the nearest directory, from $GONB_DIR (the
// notebook's directory in a cell) or else the working directory upwards, whose go.mod declares
// module github.com/clipkit/clipkit (repo.RootFrom).
func RepoRoot() (string, error) {
	start := os.Getenv("GONB_DIR")
	if start == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("notebook.RepoRoot: %w", err)
		}
		start = wd
	}
	root, err := repo.RootFrom(start)
	if err != nil {
		return "", fmt.Errorf("notebook.RepoRoot: %w", err)
	}
	return root, nil
}

// ImagesDir returns the directory of sample photos: $CLIPKIT_IMAGES, else the nearest
// shared/data/clip_test_images beside the repository root or beside one of its ancestors
// (<repo>/../shared/... in a normal checkout and in CI). It checks that the directory exists.
func ImagesDir() (string, error) {
	if dir := os.Getenv(EnvImages); dir != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return "", fmt.Errorf("notebook.ImagesDir: %s=%q is not a directory of PNG/JPEG images", EnvImages, dir)
		}
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("notebook.ImagesDir: %s is not set and the repository was not found: %w", EnvImages, err)
	}
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "data", "clip_test_images")
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand, nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("notebook.ImagesDir: no shared/data/clip_test_images beside %s or above it; set %s to a folder of PNG/JPEG images",
		root, EnvImages)
}

// ImageFiles lists the PNG, JPEG and GIF files directly in dir, sorted by name. It is an error
// for dir to have none.
func ImageFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("notebook.ImageFiles: %w", err)
	}
	var files []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg", ".gif":
			if !e.IsDir() {
				files = append(files, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("notebook.ImageFiles: no .png/.jpg/.jpeg/.gif files in %q", dir)
	}
	sort.Strings(files)
	return files, nil
}

// Lines splits text into its trimmed, non-empty lines (one class or prompt per line).
func Lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
