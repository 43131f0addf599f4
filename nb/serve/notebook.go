package serve

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	api "github.com/clipkit/clipkit/cliplib/serve"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/clipkit/clipkit/nb/notebook"
)

// Environment variables read by AttachNotebook.
const (
	// EnvPrecision is the compute precision the notebooks use: f32 (default), bf16 or f16.
	EnvPrecision = "CLIP_PRECISION"
	// EnvServeIdle is how long a model server started by a notebook waits without requests before
	// it exits (a Go duration, default 30m); CI sets it short so that no server outlives the run long.
	EnvServeIdle = "CLIPKIT_SERVE_IDLE"
)

// FallbackRetry is how long AttachNotebook remembers that a model's trained weights could not be
// loaded: within it, cells attach to the random-weights server at once instead of paying a failed
// server start each; after it, the trained weights are tried again.
const FallbackRetry = 10 * time.Minute

// SettingError is the error of NotebookOptions (and so of AttachNotebook) for a bad environment
// setting: something for the user to fix, not a server that failed to start.
type SettingError struct{ msg string }

// Error implements error.
func (e *SettingError) Error() string { return e.msg }

// attachServer is Attach; tests replace it.
var attachServer = Attach

// NotebookOptions are the Options every notebook cell and widget attaches with, for model and
// precision ("" is f32): backend $GOMLX_BACKEND (else the fastest installed), idle exit after
// $CLIPKIT_SERVE_IDLE (default 30m), random weights in smoke mode (tiny test models have none
// trained). A bad setting is a *SettingError.
func NotebookOptions(model, precision string) (Options, error) {
	opt := Options{Model: model, Backend: os.Getenv("GOMLX_BACKEND"), Precision: precision, RandomWeights: notebook.Smoke()}
	if v := os.Getenv(EnvServeIdle); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Options{}, &SettingError{fmt.Sprintf("%s=%q: want a positive Go duration such as 30m or 90s", EnvServeIdle, v)}
		}
		opt.Idle = d
	}
	return opt, nil
}

// AttachNotebook returns a client of the notebooks' model server for model and precision
// (NotebookOptions), starting `clipx serve` on first use. When the trained weights cannot be
// loaded (no network, nothing in the cache) it falls back to a server with deterministic random
// weights and returns why in randomReason (empty otherwise, and in smoke mode, where random
// weights are asked for); the reason is remembered for FallbackRetry, so later cells do not start
// a doomed server again. The caller says so in the cell.
func AttachNotebook(model, precision string) (c *Client, randomReason string, err error) {
	opt, err := NotebookOptions(model, precision)
	if err != nil {
		return nil, "", err
	}
	if opt.RandomWeights {
		c, err := attachServer(opt)
		return c, "", err
	}
	opt.defaults()
	marker := fallbackPath(opt)
	if reason := recentFallback(marker, opt); reason != "" {
		ropt := opt
		ropt.RandomWeights = true
		c, err := attachServer(ropt)
		return c, reason, err
	}
	c, err = attachServer(opt)
	if err == nil {
		return c, "", nil
	}
	ropt := opt
	ropt.RandomWeights = true
	c, err2 := attachServer(ropt)
	if err2 != nil {
		return nil, "", fmt.Errorf("%w\n(and with random weights: %v)", err, err2)
	}
	reason := lastLine(err.Error())
	if b, err := json.Marshal(fallback{Reason: reason, Time: time.Now()}); err == nil && os.MkdirAll(filepath.Dir(marker), 0o700) == nil {
		_ = atomicfile.WriteBytes(marker, b, 0o600) // a lost marker only costs the next cell a retry
	}
	return c, reason, nil
}

// fallback is the content of a fallback marker file.
type fallback struct {
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
}

// fallbackPath is the marker of opt's trained-weights server failing: beside its state file.
func fallbackPath(opt Options) string {
	return strings.TrimSuffix(api.StatePath(opt.Model, opt.Backend, opt.Precision, false), ".json") + ".fallback"
}

// recentFallback returns the reason of a fallback to random weights recorded less than
// FallbackRetry ago, unless a trained-weights server is running now (weights fetched since).
func recentFallback(marker string, opt Options) string {
	b, err := os.ReadFile(marker)
	if err != nil {
		return ""
	}
	var f fallback
	if json.Unmarshal(b, &f) != nil || f.Reason == "" || time.Since(f.Time) > FallbackRetry || time.Since(f.Time) < 0 {
		return ""
	}
	if st, err := os.ReadFile(api.StatePath(opt.Model, opt.Backend, opt.Precision, false)); err == nil {
		var s api.State
		if json.Unmarshal(st, &s) == nil && s.PID > 0 && pidAlive(s.PID) {
			return ""
		}
	}
	return f.Reason
}

// lastLine returns the last non-blank line of a server's start error (its log's last line, e.g.
// "weights ViT-B/32: download ..."), cut to 400 bytes.
func lastLine(s string) string {
	last := ""
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			last = l
		}
	}
	if len(last) > 400 {
		last = last[:400] + "..."
	}
	return last
}

// FirstLine returns the first non-blank line of an error message, cut to 400 bytes: the summary
// notebooks show in a cell (the whole message goes to stderr).
func FirstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			if len(l) > 400 {
				l = l[:400] + "..."
			}
			return l
		}
	}
	return ""
}
