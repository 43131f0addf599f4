package download

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipkit/clipkit/internal/download/downloadtest"
)

// payload returns n pseudo-random bytes (deterministic per seed).
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func md5hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

// testClient is quick to retry and logs into buf.
func testClient(t *testing.T, buf *bytes.Buffer) *Client {
	c := &Client{Backoff: time.Millisecond, StallTimeout: 5 * time.Second, StampDir: filepath.Join(t.TempDir(), "stamps")}
	if buf != nil {
		c.Progress = buf
	}
	return c
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchVerifiesEachKindOfExpectation(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(300_000, 1)
	srv.AddFile("/f.bin", content)
	for _, tc := range []struct {
		name   string
		expect Expect
	}{
		{"sha256", Expect{SHA256: downloadtest.SHA256(content)}},
		{"md5", Expect{MD5: md5hex(content)}},
		{"git-sha1", Expect{GitSHA1: downloadtest.GitSHA1(content)}},
		{"size only", Expect{Size: int64(len(content))}},
		{"server size only", Expect{}},
		{"all", Expect{Size: int64(len(content)), SHA256: downloadtest.SHA256(content), MD5: md5hex(content)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(t, nil)
			dest := filepath.Join(t.TempDir(), "f.bin")
			res, err := c.Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: dest, Expect: tc.expect})
			if err != nil {
				t.Fatal(err)
			}
			if res.Cached || res.Downloaded != int64(len(content)) || !bytes.Equal(mustRead(t, dest), content) {
				t.Fatalf("got %+v, content equal %v", res, bytes.Equal(mustRead(t, dest), content))
			}
			for _, p := range []string{dest + ".partial"} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s left behind", p)
				}
			}
			before := srv.Count("GET", "/f.bin")
			res, err = c.Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: dest, Expect: tc.expect})
			if err != nil || !res.Cached {
				t.Fatalf("second fetch: %+v, %v; want cached", res, err)
			}
			if got := srv.Count("GET", "/f.bin"); got != before {
				t.Errorf("second fetch made %d requests, want none", got-before)
			}
		})
	}
}

func TestFetchResumesAfterServerDropsConnection(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(1_000_000, 2)
	srv.AddFile("/big.bin", content)
	srv.DropAfter("/big.bin", 300_000, 200_000) // two drops, then a clean transfer
	var log bytes.Buffer
	c := testClient(t, &log)
	dest := filepath.Join(t.TempDir(), "big.bin")
	res, err := c.Fetch(context.Background(), Request{URL: srv.URL + "/big.bin", Dest: dest,
		Expect: Expect{SHA256: downloadtest.SHA256(content)}})
	if err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}
	if !bytes.Equal(mustRead(t, dest), content) {
		t.Fatal("content differs")
	}
	var ranges []string
	for _, r := range srv.Requests() {
		ranges = append(ranges, r.Range)
	}
	want := []string{"", "bytes=300000-", "bytes=500000-"}
	if strings.Join(ranges, ",") != strings.Join(want, ",") {
		t.Errorf("Range headers %q, want %q", ranges, want)
	}
	if res.Downloaded != int64(len(content)) {
		t.Errorf("Downloaded %d bytes in total, want %d (no byte fetched twice)", res.Downloaded, len(content))
	}
	if !strings.Contains(log.String(), "resuming at") || !strings.Contains(log.String(), "retrying") {
		t.Errorf("log does not report the retry and resume:\n%s", log.String())
	}
}

func TestFetchResumesWithIfRangeWhenNoChecksumIsKnown(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(500_000, 11)
	srv.AddFile("/f.bin", content)
	srv.DropAfter("/f.bin", 200_000)
	dest := filepath.Join(t.TempDir(), "f.bin")
	if _, err := testClient(t, nil).Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: dest}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, dest), content) {
		t.Fatal("content differs")
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || reqs[1].Range != "bytes=200000-" || reqs[1].IfRange == "" {
		t.Fatalf("requests %+v, want a resume with Range and If-Range", reqs)
	}
}

func TestFetchStartsOverWhenTheFileChangedBetweenAttempts(t *testing.T) {
	srv := downloadtest.New(t)
	oldContent, newContent := payload(300_000, 12), payload(300_000, 13)
	srv.AddFile("/f.bin", oldContent)
	srv.DropAfter("/f.bin", 100_000)
	srv.OnRequest(func(n int, r downloadtest.Req) {
		if n == 2 {
			srv.AddFile("/f.bin", newContent) // the file changes on the server after the drop
		}
	})
	dest := filepath.Join(t.TempDir(), "f.bin")
	if _, err := testClient(t, nil).Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: dest}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, dest), newContent) {
		t.Fatal("the result splices two versions of the file")
	}
}

func TestFetchResumesPartialFileLeftByEarlierRun(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(200_000, 3)
	srv.AddFile("/f.bin", content)
	dest := filepath.Join(t.TempDir(), "f.bin")
	if err := os.WriteFile(dest+".partial", content[:123_456], 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := testClient(t, nil).Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: dest,
		Expect: Expect{MD5: md5hex(content)}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != int64(len(content)-123_456) || !bytes.Equal(mustRead(t, dest), content) {
		t.Fatalf("downloaded %d bytes; content equal %v", res.Downloaded, bytes.Equal(mustRead(t, dest), content))
	}
	if reqs := srv.Requests(); len(reqs) != 1 || reqs[0].Range != "bytes=123456-" {
		t.Errorf("requests %+v, want one GET with Range bytes=123456-", reqs)
	}
}

func TestFetchStartsOverWhenResumedPiecesFailVerification(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(100_000, 4)
	srv.AddFile("/f.bin", content)
	dest := filepath.Join(t.TempDir(), "f.bin")
	stale := payload(40_000, 99) // a partial file from another version of the file
	if err := os.WriteFile(dest+".partial", stale, 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	_, err := testClient(t, &log).Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: dest,
		Expect: Expect{SHA256: downloadtest.SHA256(content)}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, dest), content) {
		t.Fatal("content differs")
	}
	if n := srv.Count("GET", "/f.bin"); n != 2 {
		t.Errorf("%d GETs, want 2 (resume, then start over)", n)
	}
	if !strings.Contains(log.String(), "failed verification") {
		t.Errorf("log does not say why it started over:\n%s", log.String())
	}
}

func TestFetchDetectsCorruptCachedFileAndFetchesAgain(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(50_000, 5)
	srv.AddFile("/f.bin", content)
	for _, stamps := range []bool{true, false} {
		t.Run(map[bool]string{true: "with stamps", false: "without stamps"}[stamps], func(t *testing.T) {
			var log bytes.Buffer
			c := testClient(t, &log)
			if !stamps {
				c.StampDir = ""
			}
			dest := filepath.Join(t.TempDir(), "f.bin")
			req := Request{URL: srv.URL + "/f.bin", Dest: dest, Expect: Expect{SHA256: downloadtest.SHA256(content)}}
			if _, err := c.Fetch(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			// Flip one byte, same size; make sure the modification time moves.
			bad := bytes.Clone(content)
			bad[len(bad)/2] ^= 0xff
			if err := os.WriteFile(dest, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			future := time.Now().Add(time.Minute)
			if err := os.Chtimes(dest, future, future); err != nil {
				t.Fatal(err)
			}
			if err := c.Check(dest, req.Expect); !errors.Is(err, ErrMismatch) {
				t.Fatalf("Check of corrupt file: %v, want ErrMismatch", err)
			}
			res, err := c.Fetch(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Cached || !bytes.Equal(mustRead(t, dest), content) {
				t.Fatalf("corrupt cache was used: %+v", res)
			}
			if !strings.Contains(log.String(), "corrupt") {
				t.Errorf("log does not mention the corrupt copy:\n%s", log.String())
			}
		})
	}
}

func TestFetchReportsHTTPErrorsClearly(t *testing.T) {
	srv := downloadtest.New(t)
	srv.AddFile("/private/f.bin", []byte("secret"))
	srv.RequireToken("good")
	for _, tc := range []struct {
		name, path string
		is         error
		contains   []string
	}{
		{"404 names the URL", "/missing.bin", ErrNotFound, []string{srv.URL + "/missing.bin", "404", "no file at this URL"}},
		{"401 gives the hint", "/private/f.bin", ErrUnauthorized, []string{"401", "Invalid credentials", "set HF_TOKEN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "f.bin")
			before := len(srv.Requests())
			_, err := testClient(t, nil).Fetch(context.Background(), Request{URL: srv.URL + tc.path, Dest: dest,
				AuthHint: "set HF_TOKEN"})
			if !errors.Is(err, tc.is) {
				t.Fatalf("error %v, want %v", err, tc.is)
			}
			for _, s := range tc.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if n := len(srv.Requests()) - before; n != 1 {
				t.Errorf("%d requests, want 1 (no retry of a permanent error)", n)
			}
			if _, err := os.Stat(dest); !os.IsNotExist(err) {
				t.Error("destination exists after an error")
			}
		})
	}
}

func TestFetchRetriesServerErrorsThenGivesUp(t *testing.T) {
	srv := downloadtest.New(t)
	srv.AddFile("/f.bin", []byte("x"))
	srv.SetStatus("/f.bin", 503)
	c := testClient(t, nil)
	c.MaxAttempts = 3
	_, err := c.Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: filepath.Join(t.TempDir(), "f.bin")})
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Fatalf("error %v, want a 503 after 3 attempts", err)
	}
	if n := srv.Count("GET", "/f.bin"); n != 3 {
		t.Errorf("%d GETs, want 3", n)
	}
}

func TestFetchRejectsWrongChecksumOfFreshDownload(t *testing.T) {
	srv := downloadtest.New(t)
	srv.AddFile("/f.bin", []byte("the real content"))
	dest := filepath.Join(t.TempDir(), "f.bin")
	_, err := testClient(t, nil).Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: dest,
		Expect: Expect{SHA256: downloadtest.SHA256([]byte("other content"))}})
	var me *MismatchError
	if !errors.As(err, &me) || me.What != "sha256" {
		t.Fatalf("error %v, want a sha256 mismatch", err)
	}
	for _, p := range []string{dest, dest + ".partial"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s exists after a failed verification", p)
		}
	}
}

func TestFetchRejectsSizeAnnouncedDifferentFromExpected(t *testing.T) {
	srv := downloadtest.New(t)
	srv.AddFile("/f.bin", []byte("12345"))
	_, err := testClient(t, nil).Fetch(context.Background(), Request{URL: srv.URL + "/f.bin",
		Dest: filepath.Join(t.TempDir(), "f.bin"), Expect: Expect{Size: 6}})
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "size") {
		t.Fatalf("error %v, want a size mismatch", err)
	}
}

func TestOfflineModeUsesOnlyTheCacheAndSaysWhatIsMissing(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(10_000, 6)
	srv.AddFile("/f.bin", content)
	dir := t.TempDir()
	req := Request{URL: srv.URL + "/f.bin", Dest: filepath.Join(dir, "f.bin"), Expect: Expect{SHA256: downloadtest.SHA256(content)}}
	off := testClient(t, nil)
	off.Offline, off.OfflineReason = true, "CLIPKIT_OFFLINE=1"

	_, err := off.Fetch(context.Background(), req)
	var oe *OfflineError
	if !errors.As(err, &oe) || !errors.Is(err, ErrOffline) {
		t.Fatalf("error %v, want an OfflineError", err)
	}
	for _, s := range []string{"CLIPKIT_OFFLINE=1", "f.bin", "not in the cache", req.Dest} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("offline error %q does not mention %q", err, s)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("offline mode made %d requests", n)
	}

	on := testClient(t, nil)
	on.StampDir = off.StampDir
	if _, err := on.Fetch(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	n := len(srv.Requests())
	res, err := off.Fetch(context.Background(), req)
	if err != nil || !res.Cached {
		t.Fatalf("offline fetch of a cached file: %+v, %v", res, err)
	}
	if len(srv.Requests()) != n {
		t.Fatal("offline fetch of a cached file touched the network")
	}

	// A corrupt cached file is not used offline either.
	if err := os.WriteFile(req.Dest, payload(10_000, 7), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = off.Fetch(context.Background(), req)
	if !errors.Is(err, ErrOffline) || !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "unusable") {
		t.Fatalf("offline fetch of a corrupt file: %v, want offline + mismatch", err)
	}
}

func TestConcurrentFetchesOfOneFileDownloadOnce(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(2_000_000, 8)
	srv.AddFile("/f.bin", content)
	srv.Delay("/f.bin", 200*time.Millisecond)
	dest := filepath.Join(t.TempDir(), "f.bin")
	stamps := filepath.Join(t.TempDir(), "stamps")
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate clients, like separate processes sharing a cache.
			c := &Client{Backoff: time.Millisecond, StampDir: stamps}
			_, errs[i] = c.Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: dest,
				Expect: Expect{SHA256: downloadtest.SHA256(content)}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("fetch %d: %v", i, err)
		}
	}
	if !bytes.Equal(mustRead(t, dest), content) {
		t.Fatal("content differs")
	}
	if got := srv.Count("GET", "/f.bin"); got != 1 {
		t.Errorf("%d GETs for %d concurrent fetches, want 1", got, n)
	}
}

func TestFetchStopsOnContextCancellationAndKeepsPartial(t *testing.T) {
	srv := downloadtest.New(t)
	content := payload(100_000, 9)
	srv.AddFile("/f.bin", content)
	srv.DropAfter("/f.bin", 40_000) // the first transfer leaves a partial file
	srv.OnRequest(func(n int, _ downloadtest.Req) {
		if n == 2 {
			srv.Delay("/f.bin", 10*time.Second) // the retry hangs until the caller gives up
		}
	})
	dest := filepath.Join(t.TempDir(), "f.bin")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	req := Request{URL: srv.URL + "/f.bin", Dest: dest, Expect: Expect{SHA256: downloadtest.SHA256(content)}}
	_, err := testClient(t, nil).Fetch(ctx, req)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "partial file kept") {
		t.Fatalf("error %v, want the context's deadline and a kept partial file", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	if st, err := os.Stat(dest + ".partial"); err != nil || st.Size() != 40_000 {
		t.Fatalf("partial file: %v, %v", st, err)
	}
	// A later call resumes from it.
	srv.Delay("/f.bin", 0)
	if _, err := testClient(t, nil).Fetch(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if reqs := srv.Requests(); reqs[len(reqs)-1].Range != "bytes=40000-" {
		t.Errorf("last request %+v, want a resume at 40000", reqs[len(reqs)-1])
	}
}

func TestFetchRetriesStalledTransfer(t *testing.T) {
	srv := downloadtest.New(t)
	srv.AddFile("/f.bin", []byte("slow"))
	srv.Delay("/f.bin", 2*time.Second)
	c := testClient(t, nil)
	c.StallTimeout, c.MaxAttempts = 100*time.Millisecond, 2
	_, err := c.Fetch(context.Background(), Request{URL: srv.URL + "/f.bin", Dest: filepath.Join(t.TempDir(), "f.bin")})
	if !errors.Is(err, errStalled) || !strings.Contains(err.Error(), "gave up after 2 attempts") {
		t.Fatalf("error %v, want a stall after 2 attempts", err)
	}
}

func TestProgressLogLinesWhenNotATerminal(t *testing.T) {
	var log bytes.Buffer
	c := &Client{Progress: &log}
	p := c.newProgress("demo file", "https://example.com/f.bin", 0, 100_000)
	for range 10 {
		p.add(10_000)
	}
	p.finish(nil)
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	want := []string{"download: demo file: 100 kB from https://example.com/f.bin",
		"download: demo file: 25% (30 kB of 100 kB)", "download: demo file: 50% (50 kB of 100 kB)",
		"download: demo file: 75% (80 kB of 100 kB)", "download: demo file: received 100 kB in "}
	if len(lines) != len(want) {
		t.Fatalf("got %d log lines, want %d:\n%s", len(lines), len(want), log.String())
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}

	// Resuming past the half logs the resume, then only the quarters still ahead.
	log.Reset()
	p = c.newProgress("demo file", "https://example.com/f.bin", 60_000, 100_000)
	p.add(40_000)
	p.finish(nil)
	if s := log.String(); !strings.Contains(s, "resuming at 60 kB of 100 kB") || strings.Contains(s, "25%") ||
		strings.Contains(s, "50%") || !strings.Contains(s, "received 40 kB") {
		t.Errorf("unexpected resume log:\n%s", s)
	}

	// No writer: silent.
	(&Client{}).newProgress("x", "u", 0, 10).add(10)
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 0-99/100", 0, 100, true},
		{"bytes 40-99/100", 40, 100, true},
		{"bytes */100", 0, 100, true},
		{"bytes 5-9/*", 5, -1, true},
		{"", 0, 0, false},
		{"bytes 5-9", 0, 0, false},
		{"items 0-1/2", 0, 0, false},
	} {
		start, total, err := parseContentRange(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (start != tc.start || total != tc.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v", tc.in, start, total, err)
		}
	}
}

func TestExpectValidateRejectsMalformedDigests(t *testing.T) {
	for _, e := range []Expect{{SHA256: "abc"}, {MD5: strings.Repeat("G", 32)}, {GitSHA1: strings.Repeat("A", 40)}, {Size: -1}} {
		if e.Validate() == nil {
			t.Errorf("%+v validated", e)
		}
	}
	if err := (Expect{SHA256: strings.Repeat("a", 64), MD5: strings.Repeat("0", 32)}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestOfflineFromEnv(t *testing.T) {
	t.Setenv("CLIPKIT_OFFLINE", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	if on, _ := OfflineFromEnv(); on {
		t.Fatal("offline with nothing set")
	}
	t.Setenv("HF_HUB_OFFLINE", "1")
	if on, why := OfflineFromEnv(); !on || why != "HF_HUB_OFFLINE=1" {
		t.Fatalf("got %v %q", on, why)
	}
	t.Setenv("HF_HUB_OFFLINE", "0")
	t.Setenv("CLIPKIT_OFFLINE", "true")
	if on, why := OfflineFromEnv(); !on || why != "CLIPKIT_OFFLINE=true" {
		t.Fatalf("got %v %q", on, why)
	}
}
