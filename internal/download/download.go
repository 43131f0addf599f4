package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// Request is one file to fetch.
type Request struct {
	// URL to GET (http or https). Redirects are followed; Go's client drops the Authorization header
	// when a redirect leaves the original host.
	URL string
	// Dest is the final path of the file. Its directory is created.
	Dest string
	// Expect is what the file must be (see Expect).
	Expect Expect
	// Header holds extra request headers (e.g. Authorization).
	Header http.Header
	// Name is how messages call the file; default: the base name of Dest.
	Name string
	// PartialPath receives the bytes until the file is verified; default Dest+".partial".
	PartialPath string
	// LockPath is the lock file serialising downloads of Dest; default Dest+".lock".
	LockPath string
	// AuthHint is added to 401/403 errors, e.g. "set HF_TOKEN to a token that can read this repo".
	AuthHint string
}

func (r *Request) fill() error {
	if r.URL == "" || r.Dest == "" {
		return fmt.Errorf("download: request needs a URL and a destination (got URL %q, Dest %q)", r.URL, r.Dest)
	}
	if !strings.HasPrefix(r.URL, "https://") && !strings.HasPrefix(r.URL, "http://") {
		return fmt.Errorf("download: %q is not an http(s) URL", r.URL)
	}
	if err := r.Expect.Validate(); err != nil {
		return fmt.Errorf("download %s: %w", r.URL, err)
	}
	if r.Name == "" {
		r.Name = filepath.Base(r.Dest)
	}
	if r.PartialPath == "" {
		r.PartialPath = r.Dest + ".partial"
	}
	if r.LockPath == "" {
		r.LockPath = r.Dest + ".lock"
	}
	return nil
}

// Result describes a fetched file.
type Result struct {
	// Path of the verified file (Request.Dest).
	Path string
	// Cached is true when no transfer was needed.
	Cached bool
	// Downloaded is the number of bytes received by this call.
	Downloaded int64
}

// Client fetches files. The zero value works: online, default HTTP client, 5 attempts, silent.
type Client struct {
	// HTTP is the client to use; nil means one with connection and header timeouts (no overall
	// timeout, since files can be large: stalls are caught by StallTimeout instead).
	HTTP *http.Client
	// Offline forbids network access: only verified cached files are returned.
	Offline bool
	// OfflineReason names what turned offline mode on, for messages (e.g. "CLIPKIT_OFFLINE=1").
	OfflineReason string
	// MaxAttempts is the number of tries for transient failures (default 5).
	MaxAttempts int
	// Backoff is the delay before the first retry, doubled after each (default 1s, at most 30s).
	Backoff time.Duration
	// StallTimeout aborts (and retries) a transfer that receives nothing for this long (default 60s).
	StallTimeout time.Duration
	// Progress receives a progress bar (when it is a terminal) or log lines; nil is silent.
	Progress io.Writer
	// NoBar forces log lines even on a terminal.
	NoBar bool
	// StampDir holds verification stamps (see the package doc); "" disables them, so every cached
	// file is hashed on every Fetch.
	StampDir string
	// UserAgent is sent with every request; default "clipkit-download".
	UserAgent string
}

var defaultHTTP = func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ResponseHeaderTimeout = 60 * time.Second
	t.TLSHandshakeTimeout = 30 * time.Second
	return &http.Client{Transport: t}
}()

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

func (c *Client) maxAttempts() int {
	if c.MaxAttempts > 0 {
		return c.MaxAttempts
	}
	return 5
}

func (c *Client) backoff(attempt int) time.Duration {
	d := c.Backoff
	if d <= 0 {
		d = time.Second
	}
	for i := 1; i < attempt && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

func (c *Client) stallTimeout() time.Duration {
	if c.StallTimeout > 0 {
		return c.StallTimeout
	}
	return 60 * time.Second
}

// OfflineFromEnv reports whether the environment asks for offline mode, and which variable did:
// CLIPKIT_OFFLINE or HF_HUB_OFFLINE set to 1, true, yes or on (any case).
func OfflineFromEnv() (bool, string) {
	for _, k := range []string{"CLIPKIT_OFFLINE", "HF_HUB_OFFLINE"} {
		switch strings.ToLower(strings.TrimSpace(os.Getenv(k))) {
		case "1", "true", "yes", "on":
			return true, k + "=" + os.Getenv(k)
		}
	}
	return false, ""
}

// Fetch makes r.Dest a verified copy of r.URL and returns its path. See the package doc for the
// guarantees.
func (c *Client) Fetch(ctx context.Context, r Request) (Result, error) {
	if err := r.fill(); err != nil {
		return Result{}, err
	}
	res := Result{Path: r.Dest}
	// Fast path: a valid cached file, without taking the lock.
	problem := c.check(r.Dest, r.Expect, false)
	if problem == nil {
		res.Cached = true
		return res, nil
	}
	if !IsMissing(problem) && !errors.Is(problem, ErrMismatch) {
		return res, fmt.Errorf("checking cached %s: %w", r.Dest, problem)
	}
	if c.Offline {
		oe := &OfflineError{Name: r.Name, Path: r.Dest, Reason: c.OfflineReason}
		if oe.Reason == "" {
			oe.Reason = "offline option"
		}
		if !IsMissing(problem) {
			oe.Problem = problem
		}
		return res, oe
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	for _, p := range []string{r.Dest, r.PartialPath, r.LockPath} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return res, fmt.Errorf("download %s: %w", r.Name, err)
		}
	}
	unlock, err := c.lock(ctx, &r)
	if err != nil {
		return res, err
	}
	defer unlock()

	// Someone else may have finished while we waited for the lock.
	problem = c.check(r.Dest, r.Expect, false)
	if problem == nil {
		res.Cached = true
		return res, nil
	}
	if errors.Is(problem, ErrMismatch) {
		c.logf("%s: cached copy is corrupt (%v); fetching it again", r.Name, problem)
		if err := os.Remove(r.Dest); err != nil {
			return res, fmt.Errorf("removing corrupt %s: %w", r.Dest, err)
		}
	} else if !IsMissing(problem) {
		return res, fmt.Errorf("checking cached %s: %w", r.Dest, problem)
	}

	n, d, err := c.download(ctx, &r)
	res.Downloaded = n
	if err != nil {
		return res, err
	}
	if err := os.Rename(r.PartialPath, r.Dest); err != nil {
		return res, fmt.Errorf("download %s: moving verified file into place: %w", r.Name, err)
	}
	// Record the verified digests for the file's final path (a rename keeps size and modification
	// time), so that the next Fetch need not hash it again.
	if abs, err := filepath.Abs(r.Dest); err == nil {
		if st, err := os.Stat(abs); err == nil && st.Size() == d.Size {
			c.writeStamp(abs, st, d)
		}
	}
	return res, nil
}

// lock takes r.LockPath, waiting (and saying so) while another goroutine or process holds it.
func (c *Client) lock(ctx context.Context, r *Request) (func(), error) {
	fl := flock.New(r.LockPath)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("download %s: locking %s: %w", r.Name, r.LockPath, err)
	}
	if !ok {
		c.logf("%s: waiting for another download of the same file (lock %s)", r.Name, r.LockPath)
		ok, err = fl.TryLockContext(ctx, 100*time.Millisecond)
		if err != nil || !ok {
			if err == nil {
				err = ctx.Err()
			}
			return nil, fmt.Errorf("download %s: waiting for lock %s: %w", r.Name, r.LockPath, err)
		}
	}
	return func() { _ = fl.Unlock() }, nil
}

// download fills r.PartialPath with a verified copy of r.URL, retrying transient failures, and
// returns the bytes received and the file's digests.
func (c *Client) download(ctx context.Context, r *Request) (int64, digests, error) {
	var total int64
	resumed, restarted := false, false
	validator := "" // the file's ETag or Last-Modified, once a response announced it
	for attempt := 1; ; attempt++ {
		out, err := c.attempt(ctx, r, validator)
		if out.validator != "" {
			validator = out.validator
		}
		total += out.received
		resumed = resumed || out.offset > 0
		if err == nil {
			exp := r.Expect
			if exp.Size == 0 && out.size > 0 {
				exp.Size = out.size // at least the size the server announced
			}
			d, herr := hashFile(r.PartialPath, exp)
			if herr != nil {
				return total, digests{}, fmt.Errorf("download %s: %w", r.Name, herr)
			}
			verr := d.compare(r.PartialPath, exp)
			if verr == nil {
				return total, d, nil
			}
			_ = os.Remove(r.PartialPath)
			if resumed && !restarted {
				// Pieces from different transfers may not belong together: start over once.
				c.logf("%s: resumed download failed verification (%v); downloading it again from the start", r.Name, verr)
				restarted, resumed = true, false
				continue
			}
			return total, digests{}, fmt.Errorf("download %s from %s: %w (the transfer was corrupted or the source changed)", r.Name, r.URL, verr)
		}
		if ctx.Err() != nil {
			return total, digests{}, fmt.Errorf("download %s: %w (partial file kept for resuming: %s)", r.Name, ctx.Err(), r.PartialPath)
		}
		if !isTransient(err) || attempt >= c.maxAttempts() {
			if isTransient(err) {
				err = fmt.Errorf("%w (gave up after %d attempts; partial file kept for resuming: %s)", err, attempt, r.PartialPath)
			}
			return total, digests{}, fmt.Errorf("download %s: %w", r.Name, err)
		}
		wait := c.backoff(attempt)
		if ra := out.retryAfter; ra > 0 && ra <= 60*time.Second {
			wait = ra
		}
		c.logf("%s: attempt %d of %d failed (%v); retrying in %v", r.Name, attempt, c.maxAttempts(), err, wait)
		select {
		case <-ctx.Done():
			return total, digests{}, fmt.Errorf("download %s: %w (partial file kept for resuming: %s)", r.Name, ctx.Err(), r.PartialPath)
		case <-time.After(wait):
		}
	}
}

// attemptResult describes one HTTP transfer.
type attemptResult struct {
	offset     int64 // where this transfer started in the file
	received   int64 // bytes received
	size       int64 // file size announced by the server, or 0
	retryAfter time.Duration
	validator  string // strong ETag or Last-Modified of the response, for If-Range
}

var errStalled = errors.New("transfer stalled")

// attempt runs one GET, appending to the partial file from its current size. A resumed request
// carries If-Range with validator (when known), so that a server whose file changed sends it whole.
func (c *Client) attempt(ctx context.Context, r *Request, validator string) (out attemptResult, err error) {
	f, err := os.OpenFile(r.PartialPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return out, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return out, err
	}
	offset := st.Size()
	if want := r.Expect.Size; want > 0 && offset >= want {
		if offset == want {
			out.offset, out.size = offset, want
			return out, nil // complete already: verification decides
		}
		offset = 0 // longer than the file can be: start over
	}
	if offset > 0 && r.Expect.Size == 0 && !r.Expect.HasDigest() && validator == "" {
		offset = 0 // neither a checksum nor If-Range would catch a bad splice: do not resume
	}

	actx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(c.stallTimeout(), func() { cancel(errStalled) })
	defer stall.Stop()

	req, err := http.NewRequestWithContext(actx, http.MethodGet, r.URL, nil)
	if err != nil {
		return out, err
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "clipkit-download"
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept-Encoding", "identity")
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
		if validator != "" {
			req.Header.Set("If-Range", validator)
		}
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		if context.Cause(actx) == errStalled {
			return out, fmt.Errorf("GET %s: no response for %v: %w", r.URL, c.stallTimeout(), errStalled)
		}
		return out, err
	}
	defer resp.Body.Close()
	if et := resp.Header.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		out.validator = et
	} else if lm := resp.Header.Get("Last-Modified"); lm != "" {
		out.validator = lm
	}

	size := int64(-1)
	switch resp.StatusCode {
	case http.StatusOK:
		offset = 0
		size = resp.ContentLength
	case http.StatusPartialContent:
		start, total, perr := parseContentRange(resp.Header.Get("Content-Range"))
		if perr != nil || start != offset {
			// Not the piece we asked for: drop what we have and start over on the next attempt.
			_ = f.Truncate(0)
			return out, fmt.Errorf("GET %s: server answered range %q to a request for bytes=%d-", r.URL, resp.Header.Get("Content-Range"), offset)
		}
		size = total
	case http.StatusRequestedRangeNotSatisfiable:
		// Our partial file is as long as (or longer than) the remote file.
		_, total, _ := parseContentRange(resp.Header.Get("Content-Range"))
		if total == offset && offset > 0 {
			out.offset, out.size = offset, total
			return out, nil
		}
		_ = f.Truncate(0)
		return out, fmt.Errorf("GET %s: range bytes=%d- not satisfiable (remote size %d); restarting", r.URL, offset, total)
	default:
		he := &HTTPError{Method: http.MethodGet, URL: r.URL, StatusCode: resp.StatusCode, Message: errorMessage(resp)}
		if he.Is(ErrUnauthorized) {
			he.Hint = r.AuthHint
		}
		if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
			out.retryAfter = time.Duration(secs) * time.Second
		}
		return out, he
	}
	if err := f.Truncate(offset); err != nil {
		return out, err
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return out, err
	}
	out.offset = offset
	if size >= 0 {
		out.size = size
	}
	if r.Expect.Size > 0 && size >= 0 && size != r.Expect.Size {
		return out, &MismatchError{Path: r.URL, What: "size", Got: fmt.Sprintf("%d bytes (announced by the server)", size),
			Want: fmt.Sprintf("%d bytes", r.Expect.Size)}
	}

	prog := c.newProgress(r.Name, r.URL, offset, size)
	// Never write past the size expected (or, failing that, announced): a server that sends more
	// (a chunked body has no announced size) must not fill the disk.
	limit := size
	if r.Expect.Size > 0 {
		limit = r.Expect.Size
	}
	buf := make([]byte, 1<<20)
	var rerr error
	for {
		n, e := resp.Body.Read(buf)
		if limit >= 0 && offset+out.received+int64(n) > limit {
			err := &MismatchError{Path: r.URL, What: "size", Got: fmt.Sprintf("more than %d bytes (the server sent past the end)", limit),
				Want: fmt.Sprintf("%d bytes", limit)}
			prog.finish(err)
			return out, err
		}
		if n > 0 {
			stall.Reset(c.stallTimeout())
			if _, werr := f.Write(buf[:n]); werr != nil {
				prog.finish(werr)
				return out, werr
			}
			out.received += int64(n)
			prog.add(n)
		}
		if e == io.EOF {
			break
		}
		if e != nil {
			rerr = e
			break
		}
	}
	if rerr != nil {
		if context.Cause(actx) == errStalled {
			rerr = fmt.Errorf("no data for %v: %w", c.stallTimeout(), errStalled)
		}
		rerr = fmt.Errorf("GET %s: connection lost after %d bytes: %w", r.URL, offset+out.received, rerr)
		prog.finish(rerr)
		return out, rerr
	}
	if size >= 0 && offset+out.received != size {
		rerr = fmt.Errorf("GET %s: got %d of %d bytes: %w", r.URL, offset+out.received, size, io.ErrUnexpectedEOF)
		prog.finish(rerr)
		return out, rerr
	}
	if err := f.Sync(); err != nil {
		prog.finish(err)
		return out, err
	}
	prog.finish(nil)
	return out, nil
}

// parseContentRange parses "bytes START-END/TOTAL" or "bytes */TOTAL"; total is -1 when "*".
func parseContentRange(s string) (start, total int64, err error) {
	rest, ok := strings.CutPrefix(s, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("bad Content-Range %q", s)
		}
	}
	if rng == "*" {
		return 0, total, nil
	}
	a, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	if start, err = strconv.ParseInt(a, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("bad Content-Range %q", s)
	}
	return start, total, nil
}

// errorMessage extracts a short explanation from an error response.
func errorMessage(resp *http.Response) string {
	if m := resp.Header.Get("X-Error-Message"); m != "" {
		return m
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	msg := strings.TrimSpace(string(body))
	if strings.HasPrefix(msg, "<") || !isPrintable(msg) { // HTML pages and binary say nothing useful here
		return ""
	}
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// isTransient reports whether a failed attempt is worth retrying.
func isTransient(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.transient()
	}
	if errors.Is(err, errStalled) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrMismatch) {
		return false
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return false // local file system trouble: retrying will not help
	}
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return false
	}
	return true // connection refused/reset, unexpected EOF, TLS or protocol hiccups
}

// DefaultCacheDir is clipkit's cache for downloads and verification stamps: $CLIPKIT_CACHE, else the
// user cache dir + "/clipkit" (~/.cache/clipkit on Linux, ~/Library/Caches/clipkit on macOS).
func DefaultCacheDir() string {
	if v := os.Getenv("CLIPKIT_CACHE"); v != "" {
		return v
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "clipkit")
	}
	return filepath.Join(os.TempDir(), "clipkit-cache")
}
