package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/clipkit/clipkit/internal/download"
)

// Options control Fetch and Load. The zero value means: defaults and environment, online, progress
// on standard error.
type Options struct {
	// CacheDir is clipkit's cache; files go to <CacheDir>/data/<dataset>/.
	// Default: $CLIPKIT_CACHE, else ~/.cache/clipkit (the user cache dir).
	CacheDir string
	// Mirror replaces each file's URL by Mirror + "/" + file name. Default: $CLIPKIT_DATA_MIRROR.
	Mirror string
	// Offline uses only the cache and the providers; also on when CLIPKIT_OFFLINE or HF_HUB_OFFLINE
	// is 1/true/yes/on.
	Offline bool
	// NoProviders ignores local copies from other packages (GoMNIST, Debian) and downloads.
	NoProviders bool
	// Quiet turns progress output off; Progress receives it (default os.Stderr).
	Quiet    bool
	Progress io.Writer
	// HTTPClient is used for downloads; nil means the downloader's default.
	HTTPClient *http.Client
	// Retries is the number of attempts for transient failures (default 5); RetryBackoff the first
	// delay between them (default 1s, doubling).
	Retries      int
	RetryBackoff time.Duration
}

func (o Options) withDefaults() (Options, *download.Client) {
	if o.CacheDir == "" {
		o.CacheDir = download.DefaultCacheDir()
	}
	if o.Mirror == "" {
		o.Mirror = os.Getenv("CLIPKIT_DATA_MIRROR")
	}
	o.Mirror = strings.TrimRight(o.Mirror, "/")
	reason := ""
	if o.Offline {
		reason = "offline option"
	} else if on, why := download.OfflineFromEnv(); on {
		o.Offline, reason = true, why
	}
	if o.Quiet {
		o.Progress = nil
	} else if o.Progress == nil {
		o.Progress = os.Stderr
	}
	return o, &download.Client{HTTP: o.HTTPClient, Offline: o.Offline, OfflineReason: reason, MaxAttempts: o.Retries,
		Backoff: o.RetryBackoff, Progress: o.Progress, StampDir: filepath.Join(o.CacheDir, "stamps"), UserAgent: "clipkit-data"}
}

// Local is a fetched dataset.
type Local struct {
	Source Source
	// Files maps each file name to its verified local path.
	Files map[string]string
	// Origin says, per file, where it came from: a provider's name, "cache" or "download".
	Origin map[string]string
}

// Fetch makes the named dataset's files available and verified (by their published MD5), and returns
// their paths. Files a provider already installed and that match their published checksums are used
// in place (MNIST from the Go module cache, Fashion-MNIST from Debian's package); others are
// downloaded into <CacheDir>/data/<name>/ by the shared downloader (resumable, verified, locked).
// Offline, only the cache and providers are used and the error names what is missing.
func Fetch(ctx context.Context, name string, opts Options) (Local, error) {
	src, err := LookupSource(name)
	if err != nil {
		return Local{}, err
	}
	return FetchSource(ctx, src, opts)
}

// FetchSource is Fetch for a Source that need not be one of Sources() (e.g. a private mirror's).
func FetchSource(ctx context.Context, src Source, opts Options) (Local, error) {
	if err := src.validate(); err != nil {
		return Local{}, err
	}
	o, dl := opts.withDefaults()
	loc := Local{Source: src, Files: map[string]string{}, Origin: map[string]string{}}
	for _, f := range src.Files {
		if p, from := fromProvider(src, f, dl, o); p != "" {
			loc.Files[f.Name], loc.Origin[f.Name] = p, from
			continue
		}
		url := f.URL
		if o.Mirror != "" {
			url = o.Mirror + "/" + f.Name
		}
		res, err := dl.Fetch(ctx, download.Request{URL: url, Dest: filepath.Join(o.CacheDir, "data", src.Name, f.Name),
			Expect: download.Expect{MD5: f.MD5, Size: f.Size}, Name: src.Name + "/" + f.Name})
		if err != nil {
			return Local{}, fmt.Errorf("data %s: %w", src.Name, err)
		}
		loc.Files[f.Name] = res.Path
		loc.Origin[f.Name] = map[bool]string{true: "cache", false: "download"}[res.Cached]
	}
	return loc, nil
}

// fromProvider returns the path of a provider's verified copy of f, and the provider's name.
func fromProvider(src Source, f File, dl *download.Client, o Options) (string, string) {
	if o.NoProviders {
		return "", ""
	}
	for _, p := range src.Providers {
		dir := p.Dir()
		sum := p.MD5[f.Name]
		if dir == "" || sum == "" {
			continue
		}
		path := filepath.Join(dir, f.Name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		// Only reads the file (trusting a current stamp); nothing is written to dir.
		err := dl.CheckCached(path, download.Expect{MD5: sum})
		if err == nil {
			return path, p.Name
		}
		if errors.Is(err, download.ErrMismatch) && o.Progress != nil {
			fmt.Fprintf(o.Progress, "data: %s from %s does not match the checksum its publisher gives (%v); not using it\n", f.Name, p.Name, err)
		}
	}
	return "", ""
}

// Load fetches (when needed) and opens a split of a named dataset (see Sources).
func Load(ctx context.Context, name string, split Split, opts Options) (Dataset, error) {
	src, err := LookupSource(name)
	if err != nil {
		return nil, err
	}
	return LoadSource(ctx, src, split, opts)
}

// LoadSource is Load for a Source that need not be one of Sources().
func LoadSource(ctx context.Context, src Source, split Split, opts Options) (Dataset, error) {
	if err := split.validate(); err != nil {
		return nil, err
	}
	loc, err := FetchSource(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	switch loc.Source.Loader {
	case "cifar":
		return LoadCIFAR(loc.Files[loc.Source.Files[0].Name], split)
	case "mnist", "fashion-mnist":
		in, ln := mnistFileNames(split)
		classes := MNISTClasses
		if loc.Source.Loader == "fashion-mnist" {
			classes = FashionMNISTClasses
		}
		return LoadMNISTFiles(loc.Files[in+".gz"], loc.Files[ln+".gz"], classes)
	case "demo":
		return FolderFromCaptions(filepath.Dir(loc.Files[loc.Source.Files[0].Name]), DemoCaptions)
	}
	return nil, fmt.Errorf("data %s: no loader %q", src.Name, loc.Source.Loader)
}
