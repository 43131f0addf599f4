package weights

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/internal/download"
)

// Local is a fetched model: verified files on disk.
type Local struct {
	// Entry is the registry entry.
	Entry Entry
	// Dir is the directory that holds the files: the hub snapshot directory for Hugging Face sources
	// (files are symlinks into the hub's blobs/), the cache directory for URL sources.
	Dir string
	// Files maps each source file name (Source.Files, or the URL's base name) to its local path.
	Files map[string]string
	// WeightsPath is the local path of the weights file.
	WeightsPath string
	// ConfigPath is the local path of the configuration JSON, or "" when the entry has none.
	ConfigPath string
	// Commit is the commit a Hugging Face revision resolved to ("" for URL sources).
	Commit string
}

// urlCacheDir is where files fetched by URL live: <CacheDir>/weights/<host>/<URL path dir>.
func urlCacheDir(o Options, e Entry) string {
	if e.Format == FormatTorchScript {
		return filepath.Join(o.CacheDir, "weights", "openai")
	}
	u, _ := url.Parse(e.Source.URL)
	return filepath.Join(o.CacheDir, "weights", u.Host, filepath.FromSlash(path.Dir(u.Path)))
}

// sourceURL is the URL to fetch for a URL source, with the OpenAI host replaced by
// Options.OpenAIEndpoint.
func sourceURL(o Options, e Entry) string {
	if e.Format == FormatTorchScript && strings.HasPrefix(e.Source.URL, DefaultOpenAIEndpoint+"/") {
		return o.OpenAIEndpoint + strings.TrimPrefix(e.Source.URL, DefaultOpenAIEndpoint)
	}
	return e.Source.URL
}

// Fetch makes the named model's files available locally, downloading what the caches lack, and
// returns their paths. Downloads resume, are verified (see package download) and are safe to run
// concurrently; in offline mode only the caches are used and the error says what is missing.
func Fetch(ctx context.Context, name string, opts Options) (Local, error) {
	e, err := Lookup(name)
	if err != nil {
		return Local{}, err
	}
	return FetchEntry(ctx, e, opts)
}

// FetchEntry is Fetch for an entry that need not be in the registry (e.g. a user's own HF repo).
func FetchEntry(ctx context.Context, e Entry, opts Options) (Local, error) {
	if err := e.validate(); err != nil {
		return Local{}, fmt.Errorf("weights: entry %q: %w", e.Name, err)
	}
	o := opts.withDefaults()
	loc := Local{Entry: e}
	if e.Source.IsHF() {
		dir, commit, files, err := hfFetch(ctx, o, e.Source.HFRepo, e.Source.Revision, e.Source.Files)
		if err != nil {
			return Local{}, fmt.Errorf("weights %s: %w", e.Name, err)
		}
		loc.Dir, loc.Commit, loc.Files = dir, commit, files
	} else {
		dir := urlCacheDir(o, e)
		res, err := o.downloader().Fetch(ctx, download.Request{URL: sourceURL(o, e), Dest: filepath.Join(dir, e.Weights),
			Expect: e.expect(), Name: e.Weights})
		if err != nil {
			return Local{}, fmt.Errorf("weights %s: %w", e.Name, err)
		}
		loc.Dir, loc.Files = dir, map[string]string{e.Weights: res.Path}
	}
	loc.WeightsPath = loc.Files[e.Weights]
	if e.Config != "" {
		loc.ConfigPath = loc.Files[e.Config]
	}
	return loc, nil
}

// FileState is the state of one cached file.
type FileState string

// File states reported by Verify.
const (
	// StateOK: present and matching its checksum.
	StateOK FileState = "ok"
	// StateMissing: not in the cache.
	StateMissing FileState = "missing"
	// StateCorrupt: present but not matching its checksum (Fetch would download it again).
	StateCorrupt FileState = "corrupt"
	// StateUnverifiable: present, but there is nothing to check it against (a snapshot file that is
	// not a link to a hub blob).
	StateUnverifiable FileState = "unverifiable"
)

// FileStatus is the verification result of one file of a model.
type FileStatus struct {
	// File is the source file name.
	File string
	// Path is where the file is (or would be) cached.
	Path  string
	State FileState
	// Err explains a corrupt state or an I/O error.
	Err error
}

// Verify checks the named model's cached files without using the network, hashing every file.
// It returns one status per file; the error is only for unknown names and I/O failures.
func Verify(name string, opts Options) ([]FileStatus, error) {
	e, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return VerifyEntry(e, opts)
}

// VerifyEntry is Verify for an entry that need not be in the registry.
func VerifyEntry(e Entry, opts Options) ([]FileStatus, error) {
	if err := e.validate(); err != nil {
		return nil, fmt.Errorf("weights: entry %q: %w", e.Name, err)
	}
	o := opts.withDefaults()
	dl := o.downloader()
	if !e.Source.IsHF() {
		p := filepath.Join(urlCacheDir(o, e), e.Weights)
		return []FileStatus{status(e.Weights, p, dl.Check(p, e.expect()), !e.expect().IsZero())}, nil
	}
	repoDir := hfRepoDir(o.HFCacheDir, e.Source.HFRepo)
	commit := e.Source.Revision
	if !download.IsHex(commit, 40) {
		b, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(commit)))
		if err != nil {
			var out []FileStatus
			for _, f := range e.Source.Files {
				out = append(out, FileStatus{File: f, Path: filepath.Join(repoDir, "snapshots", "<"+commit+">", f), State: StateMissing})
			}
			return out, nil
		}
		commit = strings.TrimSpace(string(b))
	}
	var out []FileStatus
	for _, f := range e.Source.Files {
		snap := filepath.Join(repoDir, "snapshots", commit, filepath.FromSlash(f))
		blob, expect, err := snapshotBlob(snap)
		if err != nil {
			out = append(out, status(f, snap, err, true))
			continue
		}
		out = append(out, status(f, snap, dl.Check(blob, expect), !expect.IsZero()))
	}
	return out, nil
}

func status(file, p string, err error, verifiable bool) FileStatus {
	s := FileStatus{File: file, Path: p, State: StateOK}
	switch {
	case err == nil && !verifiable:
		s.State = StateUnverifiable
	case err == nil:
	case download.IsMissing(err):
		s.State = StateMissing
	case errors.Is(err, download.ErrMismatch):
		s.State, s.Err = StateCorrupt, err
	default:
		s.State, s.Err = StateCorrupt, err
	}
	return s
}
