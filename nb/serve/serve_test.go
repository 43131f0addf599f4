package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	api "github.com/clipkit/clipkit/cliplib/serve"
	"github.com/clipkit/clipkit/internal/clipxtest"
)

// clipx builds ./cmd/clipx once into a temporary directory (slow: skipped with -short).
func clipx(t *testing.T) string { return clipxtest.Binary(t) }

// testOptions gives each test its own cache (state files, logs) and the tiny random model on
// simplego.
func testOptions(t *testing.T) Options {
	t.Helper()
	bin := clipx(t)
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	return Options{Model: "tiny-vit", RandomWeights: true, Clipx: bin, Idle: 2 * time.Minute,
		StartTimeout: time.Minute, Notices: io.Discard}
}

func attach(t *testing.T, opt Options) *Client {
	t.Helper()
	c, err := Attach(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(c) })
	return c
}

// stop shuts the server down and waits for its process to end (it writes its caches and removes
// its state file on the way out).
func stop(c *Client) {
	c.Shutdown()
	for i := 0; i < 200 && pidAlive(c.PID()); i++ {
		time.Sleep(50 * time.Millisecond)
	}
}

func writePNG(t *testing.T, dir string, i int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 24, 24))
	for y := range 24 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{uint8(80 * i), uint8(10 * x), uint8(10 * y), 255})
		}
	}
	p := filepath.Join(dir, fmt.Sprintf("p%d.png", i))
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAttachStartsOneServerAndAttaches(t *testing.T) {
	opt := testOptions(t)
	// Two cells attaching at once start one server.
	var wg sync.WaitGroup
	clients := make([]*Client, 2)
	errs := make([]error, 2)
	for i := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); clients[i], errs[i] = Attach(opt) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { stop(clients[0]) })
	if clients[0].PID() != clients[1].PID() {
		t.Fatalf("concurrent Attach started two servers: pids %d and %d", clients[0].PID(), clients[1].PID())
	}
	c := attach(t, opt)
	if c.PID() != clients[0].PID() {
		t.Fatalf("second Attach started pid %d instead of attaching to %d", c.PID(), clients[0].PID())
	}
	if c.PID() == os.Getpid() || c.BrowserBase() != fmt.Sprintf("proxy/%d/", c.Port()) {
		t.Fatalf("client %+v", c.State())
	}
	// The server runs in its own process group (it survives the cell program's group).
	if pgid, err := syscall.Getpgid(c.PID()); err != nil || pgid != c.PID() {
		t.Errorf("server pgid %d (%v), want its own group %d", pgid, err, c.PID())
	}
	h, err := c.Health()
	if err != nil || h.PID != c.PID() || h.Model != "tiny-vit" {
		t.Fatalf("health %+v %v", h, err)
	}
	// A round trip through every kind of call.
	dir := t.TempDir()
	paths := []string{writePNG(t, dir, 0), writePNG(t, dir, 1), writePNG(t, dir, 2)}
	rel, _ := filepath.Rel(mustGetwd(t), paths[0])
	if embs, err := c.EncodeImages([]string{rel}); err != nil || len(embs) != 1 || len(embs[0]) != h.EmbedDim {
		t.Fatalf("EncodeImages with a relative path: %v", err)
	}
	if embs, err := c.EncodeTexts([]string{"a", "b"}); err != nil || len(embs) != 2 {
		t.Fatalf("EncodeTexts: %v", err)
	}
	g, err := c.Gallery("photos", paths, []int{0, 1, 0})
	if err != nil || g.N != 3 {
		t.Fatalf("Gallery: %+v %v", g, err)
	}
	z, err := c.ZeroShot(ZeroShotRequest{Gallery: g.ID, Classes: []string{"red", "blue"}})
	if err != nil || len(z.Probs) != 3 || z.Accuracy == nil {
		t.Fatalf("ZeroShot: %+v %v", z, err)
	}
	s, err := c.Search(SearchRequest{Gallery: g.ID, ImagePath: paths[2], K: 2})
	if err != nil || len(s.Hits) != 2 || s.Hits[0].Index != 2 {
		t.Fatalf("Search: %+v %v", s, err)
	}
	if _, err := c.ZeroShot(ZeroShotRequest{Gallery: g.ID}); err == nil || !strings.Contains(err.Error(), "classes: empty list") {
		t.Errorf("bad request error %v does not carry the server's message", err)
	}
}

func mustGetwd(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

func TestCrashIsReportedAndAttachRestarts(t *testing.T) {
	opt := testOptions(t)
	c := attach(t, opt)
	old := c.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100 && pidAlive(old); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	_, err := c.Health()
	if !errors.Is(err, ErrServerDied) || !strings.Contains(err.Error(), fmt.Sprint(old)) || !strings.Contains(err.Error(), "The end of its log") {
		t.Fatalf("call to a killed server: %v; want ErrServerDied naming pid %d with its log", err, old)
	}
	// The log holds the ready line, with both tokens: a message a cell shows must hold neither.
	if strings.Contains(err.Error(), c.Token()) || strings.Contains(err.Error(), c.BrowserToken()) || !strings.Contains(err.Error(), `"token":"(hidden)"`) {
		t.Errorf("the crash message quotes a token (or not the ready line): %v", err)
	}
	var notices strings.Builder
	opt.Notices = &notices
	c2 := attach(t, opt)
	if c2.PID() == old || !strings.Contains(c2.PreviousCrash, fmt.Sprintf("pid %d", old)) || !strings.Contains(notices.String(), "died") ||
		strings.Contains(c2.PreviousCrash, c.Token()) {
		t.Fatalf("Attach after kill -9: pid %d (old %d), PreviousCrash %q, notices %q", c2.PID(), old, c2.PreviousCrash, notices.String())
	}
	if _, err := c2.Health(); err != nil {
		t.Fatal(err)
	}
}

func TestIdleExitRemovesTheStateFile(t *testing.T) {
	opt := testOptions(t)
	opt.Idle = time.Second
	c := attach(t, opt)
	state := api.StatePath(opt.Model, opt.Backend, opt.Precision, opt.RandomWeights)
	if _, err := os.Stat(state); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && pidAlive(c.PID()) {
		time.Sleep(100 * time.Millisecond)
	}
	if pidAlive(c.PID()) {
		t.Fatal("server still running 30 s after a 1 s idle timeout")
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file after idle exit: %v", err)
	}
	if b, _ := os.ReadFile(c.LogPath()); !strings.Contains(string(b), "stopping: idle") {
		t.Errorf("log does not say it stopped when idle:\n%s", b)
	}
	if _, err := c.Health(); !errors.Is(err, ErrServerDied) || !strings.Contains(err.Error(), "exited (idle)") {
		t.Errorf("call after the idle exit: %v; want ErrServerDied saying it exited when idle", err)
	}
}

func TestStaleStateFileAndFailedStart(t *testing.T) {
	opt := testOptions(t)
	// A state file naming a process that no longer exists.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	state := api.StatePath(opt.Model, opt.Backend, opt.Precision, opt.RandomWeights)
	os.MkdirAll(filepath.Dir(state), 0o700)
	os.WriteFile(state, []byte(fmt.Sprintf(`{"url":"http://127.0.0.1:1","port":1,"token":"x","pid":%d,"model":"tiny-vit"}`, dead)), 0o600)
	c := attach(t, opt)
	if c.PID() == dead || !strings.Contains(c.PreviousCrash, fmt.Sprintf("pid %d", dead)) {
		t.Fatalf("stale state: pid %d, PreviousCrash %q", c.PID(), c.PreviousCrash)
	}
	// A server that cannot start is reported with its log.
	opt.Model = "no-such-model-xyz"
	opt.RandomWeights = false
	_, err := Attach(opt)
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "no-such-model-xyz") {
		t.Fatalf("failed start: %v", err)
	}
}

// TestAttachReplacesAServerWithoutBrowserToken checks that a live server whose state file has no
// browser token (an older clipx serve) is stopped and replaced, so that panels never need to show
// a full token; and that the client's browser token is the server's scoped one.
func TestAttachReplacesAServerWithoutBrowserToken(t *testing.T) {
	opt := testOptions(t)
	c := attach(t, opt)
	if len(c.BrowserToken()) != 32 || c.BrowserToken() == c.Token() {
		t.Fatalf("browser token %q: want 32 hex digits, not the full token", c.BrowserToken())
	}
	if p := c.ThumbnailPath("g1", 0, 64); !strings.Contains(p, "token="+c.BrowserToken()) || strings.Contains(p, c.Token()) {
		t.Errorf("ThumbnailPath %q: want the browser token, not the full one", p)
	}
	old := c.State()
	old.BrowserToken = ""
	b, _ := json.Marshal(old)
	state := api.StatePath(opt.Model, opt.Backend, opt.Precision, opt.RandomWeights)
	if err := os.WriteFile(state, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c2 := attach(t, opt)
	if c2.PID() == old.PID || c2.BrowserToken() == "" || !strings.Contains(c2.PreviousCrash, "without a browser token") {
		t.Fatalf("after a state without browser token: pid %d (old %d), browser token %q, notice %q", c2.PID(), old.PID, c2.BrowserToken(), c2.PreviousCrash)
	}
	if pidAlive(old.PID) {
		t.Errorf("the old server pid %d is still running", old.PID)
	}
}

// TestServerOutlivesTheCellProgram runs Attach in a child process (as a GoNB cell program does),
// in its own process group, then kills that whole group with SIGKILL: the server it started must
// keep running and answer the next Attach.
func TestServerOutlivesTheCellProgram(t *testing.T) {
	if os.Getenv("CLIPKIT_SERVE_CELL") == "1" {
		return // in the child: only TestCellProgram runs
	}
	opt := testOptions(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCellProgram$", "-test.v")
	cmd.Env = append(os.Environ(), "CLIPKIT_SERVE_CELL=1", "CLIPKIT_CLIPX="+opt.Clipx)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	deadline := time.Now().Add(time.Minute)
	pid := 0
	for pid == 0 && time.Now().Before(deadline) {
		b := make([]byte, 512)
		n, err := out.Read(b)
		buf = append(buf, b[:n]...)
		if i := strings.Index(string(buf), "server pid "); i >= 0 {
			fmt.Sscanf(string(buf[i:]), "server pid %d", &pid)
		}
		if err != nil {
			break
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		t.Fatalf("the cell program did not report a server pid: %s", buf)
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the cell program's whole group
	cmd.Wait()
	time.Sleep(300 * time.Millisecond)
	if !pidAlive(pid) {
		t.Fatalf("the server (pid %d) died with its cell program's process group", pid)
	}
	c := attach(t, opt)
	if c.PID() != pid {
		t.Fatalf("next Attach: pid %d, want the surviving server %d", c.PID(), pid)
	}
}

// TestCellProgram is the child of TestServerOutlivesTheCellProgram: it attaches, prints the
// server's pid and waits to be killed.
func TestCellProgram(t *testing.T) {
	if os.Getenv("CLIPKIT_SERVE_CELL") != "1" {
		t.Skip("run by TestServerOutlivesTheCellProgram")
	}
	c, err := Attach(Options{Model: "tiny-vit", RandomWeights: true, Idle: 2 * time.Minute, Notices: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("server pid %d\n", c.PID())
	time.Sleep(time.Minute)
}

func TestAttachNotebookRemembersAFallbackToRandomWeights(t *testing.T) {
	t.Setenv("CLIPKIT_CACHE", t.TempDir())
	t.Setenv("GOMLX_BACKEND", "go")
	t.Setenv("CLIP_SMOKE", "")
	t.Setenv(EnvServeIdle, "")
	// A stand-in for Attach: the trained weights cannot be loaded, random weights can.
	var trainedTries int
	attachServer = func(opt Options) (*Client, error) {
		if !opt.RandomWeights {
			trainedTries++
			return nil, fmt.Errorf("serve.Attach: clipx serve exited before it was ready.\n  weights ViT-B/32: download: no such host")
		}
		return newClient(State{PID: 4242, Model: opt.Model, RandomWeights: true}), nil
	}
	t.Cleanup(func() { attachServer = Attach })
	marker := fallbackPath(Options{Model: "ViT-B/32", Precision: "f32"})
	for _, tc := range []struct {
		name      string
		markerAge time.Duration // < 0: no marker
		wantTries int
	}{
		{"first attach tries the trained weights", -1, 1},
		{"recent fallback: no second failed start", 0, 0},
		{"old fallback: the trained weights are tried again", FallbackRetry + time.Minute, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.markerAge > 0 {
				b, _ := json.Marshal(fallback{Reason: "old", Time: time.Now().Add(-tc.markerAge)})
				os.WriteFile(marker, b, 0o600)
			}
			trainedTries = 0
			c, reason, err := AttachNotebook("ViT-B/32", "")
			if err != nil {
				t.Fatal(err)
			}
			if trainedTries != tc.wantTries || c.PID() != 4242 || reason != "weights ViT-B/32: download: no such host" {
				t.Errorf("trained weights tried %d times (want %d), pid %d, reason %q", trainedTries, tc.wantTries, c.PID(), reason)
			}
		})
	}
	t.Setenv("CLIP_SMOKE", "1") // smoke mode asks for random weights: no fallback to report
	if c, reason, err := AttachNotebook("ViT-B/32", ""); err != nil || reason != "" || !c.State().RandomWeights {
		t.Errorf("smoke mode: reason %q, err %v", reason, err)
	}
}
