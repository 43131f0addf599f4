package weights

// Hugging Face hub files, in the hub's cache layout (shared with Python's huggingface_hub and with
// go-huggingface):
//
//	<HFCacheDir>/models--<org>--<name>/refs/<revision>          the commit a branch or tag resolved to
//	<HFCacheDir>/models--<org>--<name>/blobs/<etag>             file contents, named by their ETag
//	<HFCacheDir>/models--<org>--<name>/snapshots/<commit>/<file> -> ../../blobs/<etag>
//	<HFCacheDir>/.locks/models--<org>--<name>/<etag>.lock       download locks
//	<HFCacheDir>/models--<org>--<name>/blobs/<etag>.incomplete  partial downloads
//
// Why the transfers do not go through go-huggingface's Repo.DownloadFiles (v0.3.1): it cannot resume,
// verifies nothing (and its downloader returns nil when a connection drops mid-body, because it wraps
// a nil error, so a truncated file would be accepted), does not read HF_HOME or HF_TOKEN, takes no
// context, and prints progress on standard output. We use the hub package for what it does right
// (cache location, header names, the cache's folder naming, repository listings for error messages)
// and the shared downloader for the transfers, keeping the same layout; like huggingface_hub, the
// ETag is the blob's name, and it is also the file's sha256 (LFS files) or git blob id (small files),
// which the downloader verifies.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/go-huggingface/hub"

	"github.com/clipkit/clipkit/internal/download"

	"github.com/clipkit/clipkit/internal/atomicfile"
)

// hfRepoDir is the repository's folder in the hub cache, named as go-huggingface and
// huggingface_hub name it ("models--org--name").
func hfRepoDir(cache, repo string) string {
	return filepath.Join(cache, strings.Join(append([]string{string(hub.RepoTypeModel)}, strings.Split(repo, "/")...), hub.RepoIdSeparator))
}

// hfMeta is what the hub says about one file at one revision.
type hfMeta struct {
	commit string
	etag   string
	size   int64
}

// expect is what the file must be: the ETag is the sha256 of LFS files and the git blob id of others.
func (m hfMeta) expect() download.Expect {
	e := download.Expect{Size: m.size}
	switch {
	case download.IsHex(m.etag, 64):
		e.SHA256 = m.etag
	case download.IsHex(m.etag, 40):
		e.GitSHA1 = m.etag
	}
	return e
}

// normalizeETag strips the weak marker and quotes, like huggingface_hub.
func normalizeETag(s string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(s), "W/"), `"`)
}

func resolveURL(endpoint, repo, rev, file string) string {
	return endpoint + "/" + repo + "/resolve/" + url.PathEscape(rev) + "/" + file
}

func hfAuthHint(token string) string {
	if token == "" {
		return "the repository may be gated or private (or may not exist): accept its terms on the Hub and set HF_TOKEN (or run huggingface-cli login)"
	}
	return "the token in HF_TOKEN (or the login token file) was sent but does not grant access to this repository: check that the repository exists and that you accepted its terms"
}

// hfHead asks the hub for a file's metadata. Like huggingface_hub it follows redirects only while
// they stay on the hub (relative Location); the redirect of an LFS file to its CDN is not followed.
func hfHead(ctx context.Context, o Options, repo, rev, file string) (hfMeta, error) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		c.CheckRedirect = client.CheckRedirect
		client = &c
	}
	if client.Timeout == 0 {
		client.Timeout = 60 * time.Second
	}
	u := resolveURL(o.HFEndpoint, repo, rev, file)
	for hop := 0; ; hop++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return hfMeta{}, err
		}
		req.Header.Set("Accept-Encoding", "identity")
		req.Header.Set("User-Agent", "clipkit-weights")
		if o.HFToken != "" {
			req.Header.Set("Authorization", "Bearer "+o.HFToken)
		}
		resp, err := client.Do(req)
		if err != nil {
			return hfMeta{}, err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err == nil && loc.Host == "" && loc.Path != "" && hop < 5 {
				next, _ := url.Parse(u)
				u = next.ResolveReference(loc).String()
				continue
			}
		} else if resp.StatusCode != http.StatusOK {
			he := &download.HTTPError{Method: http.MethodHead, URL: u, StatusCode: resp.StatusCode,
				Message: resp.Header.Get("X-Error-Message")}
			if he.Is(download.ErrUnauthorized) {
				he.Hint = hfAuthHint(o.HFToken)
			}
			return hfMeta{}, he
		}
		m := hfMeta{commit: resp.Header.Get(hub.HeaderXRepoCommit), etag: normalizeETag(resp.Header.Get(hub.HeaderXLinkedETag))}
		if m.etag == "" {
			m.etag = normalizeETag(resp.Header.Get("ETag"))
		}
		if s := resp.Header.Get(hub.HeaderXLinkedSize); s != "" {
			m.size, _ = strconv.ParseInt(s, 10, 64)
		} else if resp.StatusCode == http.StatusOK && resp.ContentLength > 0 {
			m.size = resp.ContentLength
		}
		if m.commit == "" || m.etag == "" {
			return hfMeta{}, fmt.Errorf("HEAD %s: the answer has no %s or ETag header; is %s a Hugging Face hub (check HF_ENDPOINT)?",
				u, hub.HeaderXRepoCommit, o.HFEndpoint)
		}
		if strings.ContainsAny(m.etag, `/\`) || m.etag == "." || m.etag == ".." || !download.IsHex(m.commit, 40) {
			return hfMeta{}, fmt.Errorf("HEAD %s: unusable commit %q or ETag %q", u, m.commit, m.etag)
		}
		return m, nil
	}
}

// hfFetch makes the given files of repo@rev available in the hub cache and returns the snapshot
// directory, the commit, and each file's path (a symlink into blobs/).
func hfFetch(ctx context.Context, o Options, repo, rev string, files []string) (string, string, map[string]string, error) {
	if o.Offline {
		return hfCached(o, repo, rev, files, false)
	}
	repoDir := hfRepoDir(o.HFCacheDir, repo)
	dl := o.downloader()
	paths := map[string]string{}
	var commit string
	for _, file := range files {
		m, err := hfHead(ctx, o, repo, rev, file)
		if err != nil {
			var he *download.HTTPError
			if errors.As(err, &he) || ctx.Err() != nil {
				if errors.Is(err, download.ErrNotFound) {
					err = fmt.Errorf("%w%s", err, hfListingHint(o, repo, rev, file))
				}
				return "", "", nil, fmt.Errorf("hf://%s@%s: %s: %w", repo, rev, file, err)
			}
			// The hub is unreachable: like huggingface_hub, fall back to a complete cached snapshot.
			dir, c, p, cerr := hfCached(o, repo, rev, files, false)
			if cerr != nil {
				return "", "", nil, fmt.Errorf("hf://%s@%s: cannot reach the hub (%v) and the cache cannot stand in: %w", repo, rev, err, cerr)
			}
			if o.Progress != nil {
				fmt.Fprintf(o.Progress, "weights: cannot reach %s (%v); using the cached snapshot %s\n", o.HFEndpoint, err, c)
			}
			return dir, c, p, nil
		}
		if commit == "" {
			commit = m.commit
		} else if m.commit != commit {
			return "", "", nil, fmt.Errorf("hf://%s@%s: the revision moved while fetching (commit %s, then %s); try again", repo, rev, commit, m.commit)
		}
		blob := filepath.Join(repoDir, "blobs", m.etag)
		_, err = dl.Fetch(ctx, download.Request{
			URL:         resolveURL(o.HFEndpoint, repo, m.commit, file),
			Dest:        blob,
			PartialPath: blob + ".incomplete",
			LockPath:    filepath.Join(o.HFCacheDir, ".locks", filepath.Base(repoDir), m.etag+".lock"),
			Expect:      m.expect(),
			Header:      authHeader(o.HFToken),
			Name:        repo + "/" + file,
			AuthHint:    hfAuthHint(o.HFToken),
		})
		if err != nil {
			return "", "", nil, fmt.Errorf("hf://%s@%s: %w", repo, rev, err)
		}
		snap := filepath.Join(repoDir, "snapshots", m.commit, filepath.FromSlash(file))
		if err := linkBlob(snap, blob); err != nil {
			return "", "", nil, err
		}
		paths[file] = snap
	}
	if rev != commit {
		ref := filepath.Join(repoDir, "refs", filepath.FromSlash(rev))
		if err := writeFileAtomic(ref, []byte(commit)); err != nil {
			return "", "", nil, fmt.Errorf("recording %s -> %s: %w", rev, commit, err)
		}
	}
	return filepath.Join(repoDir, "snapshots", commit), commit, paths, nil
}

// hfCached resolves files of repo@rev from the cache alone. With rehash it hashes every blob (Verify);
// otherwise verification stamps are trusted.
func hfCached(o Options, repo, rev string, files []string, rehash bool) (string, string, map[string]string, error) {
	repoDir := hfRepoDir(o.HFCacheDir, repo)
	commit := rev
	if !download.IsHex(rev, 40) {
		b, err := os.ReadFile(filepath.Join(repoDir, "refs", filepath.FromSlash(rev)))
		if err != nil {
			return "", "", nil, &download.OfflineError{Name: "hf://" + repo + "@" + rev, Path: filepath.Join(repoDir, "refs", rev),
				Reason: o.offlineReasonOr("hub unreachable")}
		}
		commit = strings.TrimSpace(string(b))
	}
	snapDir := filepath.Join(repoDir, "snapshots", commit)
	dl := o.downloader()
	dl.Offline = true
	if dl.OfflineReason == "" {
		dl.OfflineReason = "hub unreachable"
	}
	paths := map[string]string{}
	for _, file := range files {
		snap := filepath.Join(snapDir, filepath.FromSlash(file))
		blob, expect, err := snapshotBlob(snap)
		if err != nil {
			return "", "", nil, &download.OfflineError{Name: repo + "/" + file, Path: snap, Reason: dl.OfflineReason}
		}
		if rehash {
			err = dl.Check(blob, expect)
		} else {
			_, err = dl.Fetch(context.Background(), download.Request{URL: resolveURL(o.HFEndpoint, repo, commit, file),
				Dest: blob, Expect: expect, Name: repo + "/" + file})
		}
		if err != nil {
			return "", "", nil, err
		}
		paths[file] = snap
	}
	return snapDir, commit, paths, nil
}

func (o Options) offlineReasonOr(def string) string {
	if o.offlineReason != "" {
		return o.offlineReason
	}
	return def
}

// snapshotBlob returns the blob a snapshot entry points to and what it must be, from the blob's
// name (its ETag). A snapshot entry that is a plain file (copied caches) has nothing to check.
func snapshotBlob(snap string) (string, download.Expect, error) {
	if _, err := os.Stat(snap); err != nil {
		return "", download.Expect{}, err
	}
	target, err := filepath.EvalSymlinks(snap)
	if err != nil {
		return "", download.Expect{}, err
	}
	if filepath.Base(filepath.Dir(target)) != "blobs" {
		return target, download.Expect{}, nil
	}
	return target, hfMeta{etag: filepath.Base(target)}.expect(), nil
}

// linkBlob points the snapshot entry snap at blob with a relative symlink, as huggingface_hub does.
func linkBlob(snap, blob string) error {
	if err := os.MkdirAll(filepath.Dir(snap), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(snap), blob)
	if err != nil {
		rel = blob
	}
	if cur, err := os.Readlink(snap); err == nil && cur == rel {
		return nil
	}
	tmp := tmpName(snap)
	if err := os.Symlink(rel, tmp); err != nil {
		return fmt.Errorf("linking %s to %s: %w", snap, blob, err)
	}
	if err := os.Rename(tmp, snap); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("linking %s to %s: %w", snap, blob, err)
	}
	return nil
}

func writeFileAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(p, data, 0o644)
}

// tmpName is a name beside p that no other goroutine or process uses.
func tmpName(p string) string {
	return p + ".tmp" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatUint(rand.Uint64(), 36)
}

func authHeader(token string) http.Header {
	if token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + token}}
}

// hfListingHint asks the hub (through go-huggingface) which files repo@rev has, for a 404 message.
// It is best effort: a short timeout, and "" when the listing cannot be had.
func hfListingHint(o Options, repo, rev, missing string) string {
	type result struct {
		names []string
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		// go-huggingface writes the listing under <cache>/models--org--name/info/; keep it out of the
		// user's hub cache.
		tmp, err := os.MkdirTemp("", "clipkit-hf-info")
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer os.RemoveAll(tmp)
		r := hub.New(repo).WithEndpoint(o.HFEndpoint).WithRevision(rev).WithAuth(o.HFToken).WithCacheDir(tmp)
		r.Verbosity = 0
		var names []string
		for name, err := range r.IterFileNames() {
			if err != nil {
				ch <- result{err: err}
				return
			}
			names = append(names, name)
		}
		ch <- result{names: names}
	}()
	select {
	case res := <-ch:
		if res.err != nil || len(res.names) == 0 {
			return ""
		}
		sort.Strings(res.names)
		return fmt.Sprintf(" (repository %s at %s has no %q; its files: %s)", repo, rev, missing, strings.Join(res.names, ", "))
	case <-time.After(10 * time.Second):
		return ""
	}
}
