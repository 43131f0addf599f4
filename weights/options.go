package weights

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/go-huggingface/hub"

	"github.com/clipkit/clipkit/internal/download"
)

// DefaultOpenAIEndpoint is the host of the OpenAI CLIP URLs; CLIPKIT_OPENAI_ENDPOINT overrides it.
const DefaultOpenAIEndpoint = "https://openaipublic.azureedge.net"

// DefaultHFEndpoint is the Hugging Face hub; HF_ENDPOINT overrides it.
const DefaultHFEndpoint = "https://huggingface.co"

// Options control where files go and how they are fetched. The zero value means: the defaults and
// the environment variables below, online, progress on standard error.
type Options struct {
	// CacheDir holds files fetched by URL (the OpenAI originals) and verification stamps.
	// Default: $CLIPKIT_CACHE, else the user cache dir + "/clipkit" (~/.cache/clipkit on Linux).
	CacheDir string
	// HFCacheDir is the Hugging Face hub cache (shared with Python's huggingface_hub).
	// Default: $HF_HUB_CACHE, else $HF_HOME/hub, else go-huggingface's hub.DefaultCacheDir()
	// ($XDG_CACHE_HOME/huggingface/hub or ~/.cache/huggingface/hub).
	HFCacheDir string
	// HFEndpoint is the hub's base URL. Default: $HF_ENDPOINT, else DefaultHFEndpoint.
	HFEndpoint string
	// HFToken authenticates with the hub (gated or private repos). Default: $HF_TOKEN, else the
	// token file written by `huggingface-cli login` ($HF_TOKEN_PATH, else $HF_HOME/token).
	HFToken string
	// OpenAIEndpoint replaces the scheme and host of the OpenAI URLs.
	// Default: $CLIPKIT_OPENAI_ENDPOINT, else DefaultOpenAIEndpoint.
	OpenAIEndpoint string
	// Offline uses only the caches and never touches the network. Also on when CLIPKIT_OFFLINE or
	// HF_HUB_OFFLINE is 1/true/yes/on.
	Offline bool
	// Quiet turns progress output off.
	Quiet bool
	// Progress receives progress bars (on a terminal) or log lines; default os.Stderr.
	Progress io.Writer
	// HTTPClient is used for every request; nil means the downloader's default.
	HTTPClient *http.Client
	// Retries is the number of attempts for transient failures (default 5); RetryBackoff the first
	// delay between them (default 1s, doubling).
	Retries      int
	RetryBackoff time.Duration

	offlineReason string
}

// withDefaults fills unset fields from the environment and the defaults.
func (o Options) withDefaults() Options {
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir()
	}
	if o.HFCacheDir == "" {
		o.HFCacheDir = DefaultHFCacheDir()
	}
	if o.HFEndpoint == "" {
		o.HFEndpoint = envOr("HF_ENDPOINT", DefaultHFEndpoint)
	}
	o.HFEndpoint = strings.TrimRight(o.HFEndpoint, "/")
	if o.HFToken == "" {
		o.HFToken = hfTokenFromEnv()
	}
	if o.OpenAIEndpoint == "" {
		o.OpenAIEndpoint = envOr("CLIPKIT_OPENAI_ENDPOINT", DefaultOpenAIEndpoint)
	}
	o.OpenAIEndpoint = strings.TrimRight(o.OpenAIEndpoint, "/")
	if o.Offline {
		o.offlineReason = "offline option"
	} else if on, why := download.OfflineFromEnv(); on {
		o.Offline, o.offlineReason = true, why
	}
	if o.Progress == nil && !o.Quiet {
		o.Progress = os.Stderr
	}
	if o.Quiet {
		o.Progress = nil
	}
	return o
}

// downloader returns the shared downloader configured by o (after withDefaults).
func (o Options) downloader() *download.Client {
	return &download.Client{
		HTTP:          o.HTTPClient,
		Offline:       o.Offline,
		OfflineReason: o.offlineReason,
		MaxAttempts:   o.Retries,
		Backoff:       o.RetryBackoff,
		Progress:      o.Progress,
		StampDir:      filepath.Join(o.CacheDir, "stamps"),
		UserAgent:     "clipkit-weights",
	}
}

func envOr(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}

// DefaultCacheDir is clipkit's cache: $CLIPKIT_CACHE, else the user cache dir + "/clipkit"
// (~/.cache/clipkit on Linux, ~/Library/Caches/clipkit on macOS).
func DefaultCacheDir() string { return download.DefaultCacheDir() }

// DefaultHFCacheDir is the Hugging Face hub cache, resolved like Python's huggingface_hub:
// $HF_HUB_CACHE, else $HF_HOME/hub, else go-huggingface's default ($XDG_CACHE_HOME/huggingface/hub
// or ~/.cache/huggingface/hub).
func DefaultHFCacheDir() string {
	if v := os.Getenv("HF_HUB_CACHE"); v != "" {
		return v
	}
	if v := os.Getenv("HF_HOME"); v != "" {
		return filepath.Join(v, "hub")
	}
	return hub.DefaultCacheDir()
}

// hfTokenFromEnv returns $HF_TOKEN, else the content of the login token file, else "".
func hfTokenFromEnv() string {
	if v := strings.TrimSpace(os.Getenv("HF_TOKEN")); v != "" {
		return v
	}
	p := os.Getenv("HF_TOKEN_PATH")
	if p == "" {
		home := os.Getenv("HF_HOME")
		if home == "" {
			home = filepath.Dir(hub.DefaultCacheDir()) // ~/.cache/huggingface
		}
		p = filepath.Join(home, "token")
	}
	if b, err := os.ReadFile(p); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}
