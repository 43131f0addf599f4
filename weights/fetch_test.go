package weights

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clipkit/clipkit/internal/download"
	"github.com/clipkit/clipkit/internal/download/downloadtest"
)

const testCommit = "0123456789abcdef0123456789abcdef01234567"

func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// testEnv isolates a test from the user's environment and caches, and points at srv.
func testEnv(t *testing.T, srv *downloadtest.Server) (Options, *bytes.Buffer) {
	for _, k := range []string{"CLIPKIT_OFFLINE", "HF_HUB_OFFLINE", "HF_TOKEN", "HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT",
		"CLIPKIT_CACHE", "CLIPKIT_OPENAI_ENDPOINT"} {
		t.Setenv(k, "")
	}
	t.Setenv("HF_TOKEN_PATH", filepath.Join(t.TempDir(), "no-token"))
	var log bytes.Buffer
	return Options{CacheDir: t.TempDir(), HFCacheDir: t.TempDir(), HFEndpoint: srv.URL, OpenAIEndpoint: srv.URL,
		Progress: &log, Retries: 4, RetryBackoff: time.Millisecond}, &log
}

// hfTestRepo serves org/clip-test with a config (small, git blob ETag) and weights (LFS).
func hfTestRepo(srv *downloadtest.Server, gated bool) (Entry, map[string][]byte) {
	files := map[string][]byte{
		"open_clip_config.json":       []byte(`{"model_cfg": {"embed_dim": 512}}`),
		"open_clip_model.safetensors": randomBytes(400_000, 1),
		"README.md":                   []byte("# test"),
	}
	srv.AddHFRepo("org/clip-test", testCommit, files, []string{"open_clip_model.safetensors"}, gated)
	e := Entry{Name: "test/hf", Arch: "ViT-B/32", Format: FormatSafetensorsOpenCLIP,
		Source:  Source{HFRepo: "org/clip-test", Revision: "main", Files: []string{"open_clip_config.json", "open_clip_model.safetensors"}},
		Weights: "open_clip_model.safetensors", Config: "open_clip_config.json",
		Activation: ActivationGELU, Preprocess: PreprocessOpenAI, ImageSize: 224, Cite: "test"}
	return e, files
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFetchOpenAIOriginalFromContentAddressedURL(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	content := randomBytes(100_000, 2)
	p := srv.AddOpenAIFile("ViT-B-32.pt", content)
	e, _ := Lookup("ViT-B/32")
	e.Name = "test/openai"
	e.Source.SHA256 = downloadtest.SHA256(content)
	e.Source.URL = DefaultOpenAIEndpoint + p // rewritten to opts.OpenAIEndpoint
	loc, err := FetchEntry(context.Background(), e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(opts.CacheDir, "weights", "openai", "ViT-B-32.pt"); loc.WeightsPath != want {
		t.Errorf("weights at %s, want %s", loc.WeightsPath, want)
	}
	if !bytes.Equal(mustRead(t, loc.WeightsPath), content) || loc.ConfigPath != "" || loc.Commit != "" {
		t.Errorf("unexpected %+v", loc)
	}
	st, err := Verify("ViT-B/32", opts) // the real entry expects the real sha256: our file is not it
	if err != nil || len(st) != 1 || st[0].State != StateCorrupt {
		t.Errorf("Verify of a file with another sha256: %+v, %v", st, err)
	}
	st, err = VerifyEntry(e, opts)
	if err != nil || len(st) != 1 || st[0].State != StateOK {
		t.Errorf("VerifyEntry: %+v, %v", st, err)
	}
}

func TestFetchRealRegistryEntryIsCheckedAgainstTheSHA256InItsURL(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	e, _ := Lookup("RN50")
	// Serve other bytes at the entry's real path: verification must reject them.
	srv.AddFile(strings.TrimPrefix(e.Source.URL, DefaultOpenAIEndpoint), []byte("not the real RN50"))
	_, err := Fetch(context.Background(), "RN50", opts)
	if !errors.Is(err, download.ErrMismatch) || !strings.Contains(err.Error(), e.Source.SHA256) {
		t.Fatalf("error %v, want a sha256 mismatch naming %s", err, e.Source.SHA256)
	}
	if _, err := os.Stat(filepath.Join(opts.CacheDir, "weights", "openai", "RN50.pt")); !os.IsNotExist(err) {
		t.Error("rejected file is in the cache")
	}
}

func TestFetchHFRepoIntoHubCacheLayout(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	e, files := hfTestRepo(srv, false)
	loc, err := FetchEntry(context.Background(), e, opts)
	if err != nil {
		t.Fatal(err)
	}
	repoDir := filepath.Join(opts.HFCacheDir, "models--org--clip-test")
	if loc.Commit != testCommit || loc.Dir != filepath.Join(repoDir, "snapshots", testCommit) {
		t.Errorf("commit %q, dir %q", loc.Commit, loc.Dir)
	}
	for name, p := range loc.Files {
		if !bytes.Equal(mustRead(t, p), files[name]) {
			t.Errorf("%s: content differs", name)
		}
	}
	if loc.WeightsPath != loc.Files["open_clip_model.safetensors"] || loc.ConfigPath != loc.Files["open_clip_config.json"] {
		t.Errorf("paths %+v", loc)
	}
	// Snapshot entries are relative links to blobs named by their ETag, as huggingface_hub makes them.
	link, err := os.Readlink(loc.WeightsPath)
	if want := "../../blobs/" + downloadtest.SHA256(files["open_clip_model.safetensors"]); err != nil || link != want {
		t.Errorf("weights link %q (%v), want %q", link, err, want)
	}
	link, _ = os.Readlink(loc.ConfigPath)
	if want := "../../blobs/" + downloadtest.GitSHA1(files["open_clip_config.json"]); link != want {
		t.Errorf("config link %q, want %q", link, want)
	}
	if ref := mustRead(t, filepath.Join(repoDir, "refs", "main")); string(ref) != testCommit {
		t.Errorf("refs/main = %q", ref)
	}
	// Downloads used the commit, not the branch, so that a moving branch cannot mix versions.
	for _, r := range srv.Requests() {
		if r.Method == "GET" && strings.Contains(r.Path, "/resolve/main/") {
			t.Errorf("GET by branch: %s", r.Path)
		}
	}
	// A second fetch downloads nothing.
	gets := srv.Count("GET", "/cdn/"+downloadtest.SHA256(files["open_clip_model.safetensors"]))
	if _, err := FetchEntry(context.Background(), e, opts); err != nil {
		t.Fatal(err)
	}
	if n := srv.Count("GET", "/cdn/"+downloadtest.SHA256(files["open_clip_model.safetensors"])); n != gets {
		t.Errorf("second fetch downloaded the weights again")
	}
	st, err := VerifyEntry(e, opts)
	if err != nil || len(st) != 2 || st[0].State != StateOK || st[1].State != StateOK {
		t.Errorf("VerifyEntry: %+v, %v", st, err)
	}
}

func TestFetchHFResumesInterruptedWeights(t *testing.T) {
	srv := downloadtest.New(t)
	opts, log := testEnv(t, srv)
	e, files := hfTestRepo(srv, false)
	cdn := "/cdn/" + downloadtest.SHA256(files["open_clip_model.safetensors"])
	srv.DropAfter(cdn, 150_000)
	loc, err := FetchEntry(context.Background(), e, opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if !bytes.Equal(mustRead(t, loc.WeightsPath), files["open_clip_model.safetensors"]) {
		t.Fatal("content differs")
	}
	var ranges []string
	for _, r := range srv.Requests() {
		if r.Path == cdn {
			ranges = append(ranges, r.Range)
		}
	}
	if strings.Join(ranges, ",") != ",bytes=150000-" {
		t.Errorf("CDN requests with ranges %q, want a full GET then bytes=150000-", ranges)
	}
}

func TestFetchHFReplacesCorruptBlob(t *testing.T) {
	srv := downloadtest.New(t)
	opts, log := testEnv(t, srv)
	e, files := hfTestRepo(srv, false)
	loc, err := FetchEntry(context.Background(), e, opts)
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := filepath.EvalSymlinks(loc.WeightsPath)
	bad := bytes.Clone(files["open_clip_model.safetensors"])
	bad[1000] ^= 1
	if err := os.WriteFile(blob, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	_ = os.Chtimes(blob, later, later)
	st, _ := VerifyEntry(e, opts)
	if st[1].State != StateCorrupt || !errors.Is(st[1].Err, download.ErrMismatch) {
		t.Fatalf("Verify of a corrupt blob: %+v", st[1])
	}
	loc, err = FetchEntry(context.Background(), e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, loc.WeightsPath), files["open_clip_model.safetensors"]) {
		t.Fatal("corrupt blob was kept")
	}
	if !strings.Contains(log.String(), "corrupt") {
		t.Errorf("log does not mention the corrupt blob:\n%s", log)
	}
}

func TestFetchHFMissingFileErrorNamesURLAndListsRepoFiles(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	e, _ := hfTestRepo(srv, false)
	e.Source.Files = []string{"open_clip_config.json", "model.safetensors"}
	e.Weights = "model.safetensors"
	_, err := FetchEntry(context.Background(), e, opts)
	if !errors.Is(err, download.ErrNotFound) {
		t.Fatalf("error %v, want not found", err)
	}
	for _, s := range []string{srv.URL + "/org/clip-test/resolve/main/model.safetensors", "404",
		"its files: README.md, open_clip_config.json, open_clip_model.safetensors"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestFetchHFGatedRepoNeedsToken(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	e, files := hfTestRepo(srv, true)
	srv.RequireToken("hf_secret")
	_, err := FetchEntry(context.Background(), e, opts)
	if !errors.Is(err, download.ErrUnauthorized) || !strings.Contains(err.Error(), "HF_TOKEN") || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("error %v, want 401 mentioning HF_TOKEN and the hub's message", err)
	}
	opts.HFToken = "wrong"
	if _, err = FetchEntry(context.Background(), e, opts); !errors.Is(err, download.ErrUnauthorized) || !strings.Contains(err.Error(), "does not grant access") {
		t.Fatalf("wrong token: %v", err)
	}
	t.Setenv("HF_TOKEN", "hf_secret") // read from the environment
	opts.HFToken = ""
	loc, err := FetchEntry(context.Background(), e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, loc.WeightsPath), files["open_clip_model.safetensors"]) {
		t.Fatal("content differs")
	}
}

func TestFetchHFTokenFromLoginFile(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	e, _ := hfTestRepo(srv, true)
	srv.RequireToken("hf_from_file")
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "token"), []byte("hf_from_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_HOME", home)
	if _, err := FetchEntry(context.Background(), e, opts); err != nil {
		t.Fatal(err)
	}
}

func TestFetchUnknownRepoIsAClearError(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	e, _ := hfTestRepo(srv, false)
	e.Source.HFRepo = "org/does-not-exist"
	_, err := FetchEntry(context.Background(), e, opts)
	if err == nil || !strings.Contains(err.Error(), "org/does-not-exist") || !strings.Contains(err.Error(), "may not exist") {
		t.Fatalf("error %v", err)
	}
}

func TestOfflineModeHF(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	e, _ := hfTestRepo(srv, false)

	t.Setenv("HF_HUB_OFFLINE", "1")
	_, err := FetchEntry(context.Background(), e, opts)
	if !errors.Is(err, download.ErrOffline) || !strings.Contains(err.Error(), "HF_HUB_OFFLINE=1") ||
		!strings.Contains(err.Error(), filepath.Join("refs", "main")) {
		t.Fatalf("offline fetch of nothing: %v", err)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("offline mode made %d requests", n)
	}

	t.Setenv("HF_HUB_OFFLINE", "")
	if _, err := FetchEntry(context.Background(), e, opts); err != nil {
		t.Fatal(err)
	}
	n := len(srv.Requests())
	t.Setenv("CLIPKIT_OFFLINE", "1")
	loc, err := FetchEntry(context.Background(), e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Requests()) != n || loc.Commit != testCommit {
		t.Fatalf("offline fetch of a cached repo: %d new requests, commit %q", len(srv.Requests())-n, loc.Commit)
	}

	// One file gone: offline mode names it.
	blob, _ := filepath.EvalSymlinks(loc.ConfigPath)
	if err := os.Remove(blob); err != nil {
		t.Fatal(err)
	}
	_, err = FetchEntry(context.Background(), e, opts)
	if !errors.Is(err, download.ErrOffline) || !strings.Contains(err.Error(), "open_clip_config.json") {
		t.Fatalf("offline fetch with a missing file: %v", err)
	}
	st, _ := VerifyEntry(e, opts)
	if st[0].State != StateMissing || st[1].State != StateOK {
		t.Errorf("Verify: %+v", st)
	}
}

func TestFetchFallsBackToCacheWhenHubIsUnreachable(t *testing.T) {
	srv := downloadtest.New(t)
	opts, log := testEnv(t, srv)
	e, files := hfTestRepo(srv, false)
	if _, err := FetchEntry(context.Background(), e, opts); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	loc, err := FetchEntry(context.Background(), e, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(mustRead(t, loc.WeightsPath), files["open_clip_model.safetensors"]) || !strings.Contains(log.String(), "using the cached snapshot") {
		t.Errorf("fallback: %+v\n%s", loc, log)
	}
}

func TestConcurrentHFFetchesDownloadOnce(t *testing.T) {
	srv := downloadtest.New(t)
	opts, _ := testEnv(t, srv)
	e, files := hfTestRepo(srv, false)
	cdn := "/cdn/" + downloadtest.SHA256(files["open_clip_model.safetensors"])
	srv.Delay(cdn, 200*time.Millisecond)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := opts
			o.Progress = nil
			o.Quiet = true
			_, errs[i] = FetchEntry(context.Background(), e, o)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Count("GET", cdn); n != 1 {
		t.Errorf("%d downloads of the weights for 3 concurrent fetches", n)
	}
}

func TestOptionsFromEnvironment(t *testing.T) {
	for _, k := range []string{"CLIPKIT_OFFLINE", "HF_HUB_OFFLINE", "HF_TOKEN", "HF_HUB_CACHE"} {
		t.Setenv(k, "")
	}
	t.Setenv("CLIPKIT_CACHE", "/tmp/ck")
	t.Setenv("HF_HOME", "/tmp/hfhome")
	t.Setenv("HF_ENDPOINT", "https://mirror.example/")
	t.Setenv("CLIPKIT_OPENAI_ENDPOINT", "https://oai.example")
	o := Options{}.withDefaults()
	if o.CacheDir != "/tmp/ck" || o.HFCacheDir != "/tmp/hfhome/hub" || o.HFEndpoint != "https://mirror.example" ||
		o.OpenAIEndpoint != "https://oai.example" || o.Offline || o.Progress != os.Stderr {
		t.Errorf("%+v", o)
	}
	t.Setenv("HF_HUB_CACHE", "/tmp/hubcache")
	if o := (Options{Quiet: true}).withDefaults(); o.HFCacheDir != "/tmp/hubcache" || o.Progress != nil {
		t.Errorf("%+v", o)
	}
	e, _ := Lookup("ViT-B/32")
	if got := sourceURL(o, e); !strings.HasPrefix(got, "https://oai.example/clip/models/40d3") {
		t.Errorf("rewritten URL %q", got)
	}
}
