package data

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/clipkit/clipkit/internal/repo"
)

// ModulePath is the project's Go module path, used to recognise the repository root.
const ModulePath = repo.ModulePath

// DemoCaptions pairs eight of the sample photos with the captions of the classic CLIP demo, as listed
// in shared/data/clip_test_images/README.md.
var DemoCaptions = []CaptionPair{
	{"page.png", "a page of text about segmentation"},
	{"chelsea.png", "a facial photo of a tabby cat"},
	{"astronaut.png", "a portrait of an astronaut with the American flag"},
	{"rocket.jpg", "a rocket standing on a launchpad"},
	{"motorcycle_right.png", "a red motorcycle standing in a garage"},
	{"camera.png", "a person looking at a camera on a tripod"},
	{"horse.png", "a black-and-white silhouette of a horse"},
	{"coffee.png", "a cup of coffee on a saucer"},
}

// DemoImagesDir returns the folder of images that demos and notebooks use: $CLIPKIT_IMAGES when set
// (point it at your own folder), otherwise the sample photos in shared/data/clip_test_images beside
// the repository root: the repository root is found by walking up from the working directory to the
// folder whose go.mod declares ModulePath, and shared/ is looked for beside it, then beside each of
// its parents (git worktrees live one level deeper than the main checkout).
func DemoImagesDir() (string, error) {
	if d := os.Getenv("CLIPKIT_IMAGES"); d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return "", fmt.Errorf("CLIPKIT_IMAGES=%s is not a folder", d)
		}
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("no CLIPKIT_IMAGES and %w", err)
	}
	first := ""
	for dir := filepath.Dir(root); ; dir = filepath.Dir(dir) {
		d := filepath.Join(dir, "shared", "data", "clip_test_images")
		if first == "" {
			first = d
		}
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, nil
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	return "", fmt.Errorf("the sample photos are not at %s (nor beside any parent folder); set CLIPKIT_IMAGES to a folder of images", first)
}

// RepoRoot walks up from the working directory to the folder whose go.mod declares ModulePath
// (repo.Root).
func RepoRoot() (string, error) {
	root, err := repo.Root()
	if err != nil {
		return "", fmt.Errorf("the working directory is not inside the %s repository: %w", ModulePath, err)
	}
	return root, nil
}

// LoadDemo returns the demo image set. With CLIPKIT_IMAGES set it is LoadFolder of that folder (class
// sub-folders, a captions.csv/captions.jsonl, or a flat folder); otherwise the eight sample photos
// that have captions (DemoCaptions), as a captioned Folder.
func LoadDemo() (*Folder, error) {
	dir, err := DemoImagesDir()
	if err != nil {
		return nil, err
	}
	if os.Getenv("CLIPKIT_IMAGES") != "" {
		return LoadFolder(dir, FolderOptions{})
	}
	return FolderFromCaptions(dir, DemoCaptions)
}

// LoadOrFetchDemo returns the captioned demo photos: those of LoadDemo when a local folder is
// found ($CLIPKIT_IMAGES, or shared/data/clip_test_images beside the repository), otherwise the
// same 8 files downloaded from scikit-image's data set into the cache and verified by checksum.
func LoadOrFetchDemo(ctx context.Context, opts Options) (*Folder, error) {
	if _, err := DemoImagesDir(); err == nil {
		return LoadDemo()
	}
	ds, err := Load(ctx, "clip-demo-photos", Test, opts)
	if err != nil {
		return nil, fmt.Errorf("no local demo photos (set CLIPKIT_IMAGES to a folder) and %w", err)
	}
	return ds.(*Folder), nil
}
