package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	api "github.com/clipkit/clipkit/cliplib/serve"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/nb/notebook"
)

// Options select the server Attach starts or attaches to: one per (Model, Backend, Precision,
// RandomWeights).
type Options struct {
	// Model is a registry name or checkpoint path (default $CLIP_MODEL, else ViT-B/32).
	Model string
	// Backend is the GoMLX backend (default $GOMLX_BACKEND, else the fastest installed).
	Backend string
	// Precision is f32 (default), bf16 or f16.
	Precision string
	// RandomWeights serves deterministic random weights (smoke runs, timing).
	RandomWeights bool
	// Idle is how long a started server waits without requests before it exits (default 30m).
	Idle time.Duration
	// Clipx is the clipx binary to start. Default: $CLIPKIT_CLIPX, else ./cmd/clipx of the
	// repository checkout built into <cache>/serve/bin (rebuilt when stale), else clipx on PATH.
	Clipx string
	// StartTimeout bounds the wait for a started server's ready line (default 5m: loading
	// includes fetching weights into the cache the first time).
	StartTimeout time.Duration
	// Notices receives one-line notices: a server started, a dead one replaced (default os.Stderr).
	Notices io.Writer
}

func (o *Options) defaults() {
	if o.Model == "" {
		o.Model = os.Getenv("CLIP_MODEL")
	}
	if o.Model == "" {
		o.Model = "ViT-B/32"
	}
	if o.Precision == "" {
		o.Precision = "f32"
	}
	if o.Idle == 0 {
		o.Idle = 30 * time.Minute
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 5 * time.Minute
	}
	if o.Notices == nil {
		o.Notices = os.Stderr
	}
}

// Attach returns a client of the live server for opt, starting one if there is none. It holds a
// lock on the state file meanwhile, so two cells (or processes) attaching at once start one
// server. A server that died without cleaning up (crash, kill -9) is reported in
// Client.PreviousCrash and on opt.Notices, with the end of its log, and replaced.
func Attach(opt Options) (*Client, error) {
	opt.defaults()
	statePath := api.StatePath(opt.Model, opt.Backend, opt.Precision, opt.RandomWeights)
	if err := os.MkdirAll(filepath.Dir(statePath), 0o700); err != nil {
		return nil, fmt.Errorf("serve.Attach: %w", err)
	}
	unlock, err := atomicfile.Lock(statePath, opt.StartTimeout+time.Minute)
	if err != nil {
		return nil, fmt.Errorf("serve.Attach: another process is starting the server and did not finish: %w", err)
	}
	defer unlock()

	c, crash, err := probe(statePath)
	if err != nil {
		return nil, err
	}
	if c != nil {
		return c, nil
	}
	if crash != "" {
		fmt.Fprintf(opt.Notices, "serve: %s\n", crash)
	}
	c, err = start(opt, statePath)
	if err != nil {
		if crash != "" {
			err = fmt.Errorf("%w\n(before that: %s)", err, crash)
		}
		return nil, err
	}
	c.PreviousCrash = crash
	fmt.Fprintf(opt.Notices, "serve: started %s on %s (%s, pid %d, idle exit after %v; log %s)\n",
		c.st.Model, c.st.Backend, c.st.Precision, c.st.PID, opt.Idle, c.logf)
	return c, nil
}

// probe reads the state file: a client of the live server it names, or nothing (and a
// description of the dead server it named, whose state file it removes).
func probe(statePath string) (*Client, string, error) {
	b, err := os.ReadFile(statePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("serve.Attach: reading the state file: %w", err)
	}
	var st api.State
	if err := json.Unmarshal(b, &st); err != nil || st.PID <= 0 || st.URL == "" || st.Token == "" {
		os.Remove(statePath)
		return nil, fmt.Sprintf("ignored the unreadable state file %s (%.100q)", statePath, b), nil
	}
	c := newClient(st)
	if pidAlive(st.PID) {
		var lastErr error
		for try := 0; try < 3; try++ {
			h, err := c.healthQuick()
			if err == nil && h.PID == st.PID && st.BrowserToken == "" {
				// An older clipx serve, without a browser token: panels would have to put its full
				// token into cell outputs. Stop it (its token allows that) and start a new one.
				_ = c.Shutdown()
				for i := 0; i < 100 && pidAlive(st.PID); i++ {
					time.Sleep(50 * time.Millisecond)
				}
				if pidAlive(st.PID) {
					terminate(st.PID)
				}
				os.Remove(statePath)
				return nil, fmt.Sprintf("the model server pid %d (%s) is an older clipx serve without a browser token (live panels would "+
					"have to show its full token); stopped it, starting a new one", st.PID, st.URL), nil
			}
			if err == nil && h.PID == st.PID {
				return c, "", nil
			}
			if err == nil {
				err = fmt.Errorf("/healthz answered pid %d, not %d", h.PID, st.PID)
			}
			lastErr = err
			time.Sleep(300 * time.Millisecond)
		}
		// Alive but not answering: ours by its state file, so stop it and start a new one.
		terminate(st.PID)
		os.Remove(statePath)
		return nil, fmt.Sprintf("the model server pid %d (%s) was running but did not answer (%v); stopped it. %s",
			st.PID, st.URL, lastErr, logTail(st.Log)), nil
	}
	os.Remove(statePath)
	return nil, fmt.Sprintf("the model server pid %d (%s on %s) died without cleaning up (crashed or killed); starting a new one. %s",
		st.PID, st.Model, st.Backend, logTail(st.Log)), nil
}

// healthQuick is Health with a short timeout.
func (c *Client) healthQuick() (*Health, error) {
	hc := http.Client{Timeout: 2 * time.Second}
	resp, err := hc.Get(c.st.URL + "/healthz")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var h Health
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("/healthz: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&h); err != nil {
		return nil, fmt.Errorf("/healthz: %w", err)
	}
	return &h, nil
}

// start launches clipx serve detached (own session and process group, output to its log file)
// and waits for its state file.
func start(opt Options, statePath string) (*Client, error) {
	bin, err := clipxBinary(opt.Clipx, opt.Notices)
	if err != nil {
		return nil, err
	}
	logPath := strings.TrimSuffix(statePath, ".json") + ".log"
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("serve.Attach: log file: %w", err)
	}
	args := []string{"serve", "--model", opt.Model, "--precision", opt.Precision, "--idle", opt.Idle.String(),
		"--state", statePath, "--log", logPath}
	if opt.Backend != "" {
		args = append(args, "--backend", opt.Backend)
	}
	if opt.RandomWeights {
		args = append(args, "--random-weights")
	}
	fmt.Fprintf(logf, "%s: %s %s\n", time.Now().Format(time.RFC3339), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = filepath.Dir(statePath)
	cmd.SysProcAttr = detached()
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("serve.Attach: starting %s: %w", bin, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps it if it exits while this process lives
	deadline := time.After(opt.StartTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("serve.Attach: clipx serve (pid %d) exited before it was ready (%v). %s", pid, err, logTail(logPath))
		case <-deadline:
			terminate(pid)
			return nil, fmt.Errorf("serve.Attach: clipx serve (pid %d) was not ready after %v; stopped it. %s", pid, opt.StartTimeout, logTail(logPath))
		case <-tick.C:
			b, err := os.ReadFile(statePath)
			if err != nil {
				continue
			}
			var st api.State
			if json.Unmarshal(b, &st) != nil || st.PID != pid {
				continue
			}
			c := newClient(st)
			if st.Log == "" {
				c.logf = logPath
			}
			if _, err := c.healthQuick(); err != nil {
				return nil, fmt.Errorf("serve.Attach: clipx serve (pid %d) wrote its state but /healthz failed: %v. %s", pid, err, logTail(logPath))
			}
			return c, nil
		}
	}
}

// clipxBinary finds the clipx to start (see Options.Clipx).
func clipxBinary(explicit string, notices io.Writer) (string, error) {
	if explicit == "" {
		explicit = os.Getenv("CLIPKIT_CLIPX")
	}
	if explicit != "" {
		if _, err := os.Stat(explicit); err != nil {
			return "", fmt.Errorf("serve.Attach: clipx binary: %w", err)
		}
		return explicit, nil
	}
	if root, err := notebook.RepoRoot(); err == nil {
		out := filepath.Join(api.Dir(), "bin", "clipx")
		fmt.Fprintf(notices, "serve: go build ./cmd/clipx in %s (quick when nothing changed)\n", root)
		// go build is incremental: it relinks only when a source changed.
		cmd := exec.Command("go", "build", "-o", out, "./cmd/clipx")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("serve.Attach: building clipx in %s: %v\n%s", root, err, b)
		}
		return out, nil
	}
	p, err := exec.LookPath("clipx")
	if err != nil {
		return "", fmt.Errorf("serve.Attach: no clipx to start: not in a clipkit checkout, no clipx on PATH, and $CLIPKIT_CLIPX unset")
	}
	return p, nil
}

// tokenField matches the tokens of a server's ready line (which its log holds), so that logTail
// never copies them into an error message, which a notebook would show and save.
var tokenField = regexp.MustCompile(`("(?:browser_)?token"\s*:\s*)"[^"]*"`)

// logTail returns the last lines of a log file, for error messages, with the server's tokens
// replaced by "(hidden)".
func logTail(path string) string {
	if path == "" {
		return "(no log file)"
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(log %s: %v)", path, err)
	}
	defer f.Close()
	const max = 3000
	if st, err := f.Stat(); err == nil && st.Size() > max {
		f.Seek(st.Size()-max, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	tail := tokenField.ReplaceAllString(strings.Join(lines, "\n  "), `$1"(hidden)"`)
	return fmt.Sprintf("The end of its log %s:\n  %s", path, tail)
}
