// Package serve is clipkit's model server: an http.Handler over a loaded *cliplib.Model that
// notebooks, their browser widgets (through jupyter-server-proxy) and Go programs share, so that
// the model is loaded and compiled once. `clipx serve` runs it; package nb/serve starts or
// attaches to it. The API is documented in docs/serve.md.
//
// Security model: the server binds loopback only (Listen refuses anything else) and every request
// but GET /healthz must carry one of the server's two random tokens (Authorization: Bearer TOKEN,
// or ?token=TOKEN for <img src>), compared in constant time. The full token (Config.Token) allows
// every endpoint; kernels use it. The browser token (Config.BrowserToken), which live panels put
// into their cell outputs (hence into saved notebooks), allows only what the panels need:
// BrowserScope lists it. Request bodies are size-limited and validated; galleries held in memory
// are bounded.
package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/preprocess"
)

// Config configures a Server. Model and Token are required; zero values of the limits take the
// defaults named on each field.
type Config struct {
	// Model serves every request; it must stay open while the server runs. Attach its text and
	// image caches (UseTextCache/SetTextCache, UseImageCache) before, so that repeated prompts and
	// images are not encoded again.
	Model *cliplib.Model
	// Token is the full token (see NewToken): it allows every endpoint, including those that
	// name files the server reads and POST /v1/shutdown. Only kernels hold it.
	Token string
	// BrowserToken is the browser token (see NewToken; empty: none is accepted): it allows only
	// the requests of BrowserScope, which name no file and cannot stop the server. Live panels
	// put it into cell outputs, which notebooks save.
	BrowserToken string
	// ModelName, Backend and Precision are reported by /healthz (default: Model.Name, the
	// encoder's backend configuration and precision).
	ModelName, Backend, Precision string
	// Idle is how long the server may go without requests before Run returns (0: never).
	Idle time.Duration
	// MaxBodyBytes bounds a request body (default 32 MiB).
	MaxBodyBytes int64
	// MaxItems bounds the texts or paths of one request and the items of one gallery
	// (default 100,000).
	MaxItems int
	// MaxGalleries bounds the galleries kept; the least recently used is dropped beyond it
	// (default 32).
	MaxGalleries int
	// MaxGalleryItems bounds the items of all galleries together; least recently used galleries
	// are dropped beyond it (default 500,000: about 1 GiB of 512-dimensional embeddings).
	MaxGalleryItems int
	// EncodeChunk is how many images are decoded and encoded at once (default 32), bounding the
	// memory of a large gallery.
	EncodeChunk int
	// ImageLimits bound each image of POST /v1/encode/image-data (default MaxSide 8192,
	// MaxPixels 32 Mpx, MaxBytes MaxBodyBytes): its header is checked before any pixel memory is
	// allocated.
	ImageLimits preprocess.Limits
	// Log receives one line per request and the server's notices (default: discarded).
	Log *log.Logger
}

// Server is the HTTP model server. It is safe for concurrent use; create it with New.
type Server struct {
	cfg     Config
	m       *cliplib.Model
	started time.Time
	mux     *http.ServeMux

	lastActive atomic.Int64 // unix nanoseconds of the last request start or end
	inflight   atomic.Int64

	stopOnce sync.Once
	stop     chan struct{} // closed by POST /v1/shutdown

	mu        sync.Mutex
	galleries map[string]*gallery // by id
	byKey     map[string]*gallery // by name + paths
	nextID    int
	clock     int64 // use counter for LRU
}

// New returns a server for cfg, checking it.
func New(cfg Config) (*Server, error) {
	if cfg.Model == nil {
		return nil, errors.New("serve.New: Config.Model is nil")
	}
	if len(cfg.Token) < 16 {
		return nil, fmt.Errorf("serve.New: Config.Token has %d characters, want at least 16 (use serve.NewToken)", len(cfg.Token))
	}
	if cfg.BrowserToken != "" && len(cfg.BrowserToken) < 16 {
		return nil, fmt.Errorf("serve.New: Config.BrowserToken has %d characters, want at least 16 (use serve.NewToken) or none", len(cfg.BrowserToken))
	}
	if cfg.BrowserToken == cfg.Token {
		return nil, errors.New("serve.New: Config.BrowserToken equals Config.Token: want two different tokens (the browser token is the one outputs may show)")
	}
	if cfg.ModelName == "" {
		cfg.ModelName = cfg.Model.Name
	}
	if cfg.Backend == "" {
		cfg.Backend = cfg.Model.Encoder().BackendChoice().Config
	}
	if cfg.Precision == "" {
		cfg.Precision = string(cfg.Model.Encoder().Precision())
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 32 << 20
	}
	if cfg.MaxItems <= 0 {
		cfg.MaxItems = 100_000
	}
	if cfg.MaxGalleries <= 0 {
		cfg.MaxGalleries = 32
	}
	if cfg.MaxGalleryItems <= 0 {
		cfg.MaxGalleryItems = 500_000
	}
	if cfg.EncodeChunk <= 0 {
		cfg.EncodeChunk = 32
	}
	if cfg.ImageLimits.MaxSide <= 0 {
		cfg.ImageLimits.MaxSide = 8192
	}
	if cfg.ImageLimits.MaxPixels <= 0 {
		cfg.ImageLimits.MaxPixels = 32 << 20
	}
	if cfg.ImageLimits.MaxBytes <= 0 {
		cfg.ImageLimits.MaxBytes = cfg.MaxBodyBytes
	}
	if cfg.Log == nil {
		cfg.Log = log.New(io.Discard, "", 0)
	}
	s := &Server{cfg: cfg, m: cfg.Model, started: time.Now(), stop: make(chan struct{}),
		galleries: map[string]*gallery{}, byKey: map[string]*gallery{}}
	s.touch()
	s.mux = http.NewServeMux()
	s.route("/healthz", "GET", true, s.handleHealth)
	s.route("/v1/encode/text", "POST", false, s.handleEncodeText)
	s.route("/v1/info", "GET", true, s.handleInfo)
	s.route("/v1/encode/images", "POST", false, s.handleEncodeImages)
	s.route("/v1/encode/image-data", "POST", false, s.handleEncodeImageData)
	s.route("/v1/galleries", "POST", false, s.handleGallery)
	s.route("/v1/galleries/{id}/images/{i}", "GET", true, s.handleThumbnail)
	s.route("/v1/zeroshot", "POST", true, s.handleZeroShot)
	s.route("/v1/search", "POST", true, s.handleSearch)
	s.route("/v1/shutdown", "POST", false, s.handleShutdown)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no endpoint %s %q (see docs/serve.md: /healthz, /v1/info, /v1/encode/text, /v1/encode/images, /v1/encode/image-data, /v1/galleries, /v1/zeroshot, /v1/search, /v1/shutdown)", r.Method, r.URL.Path)
	})
	return s, nil
}

// BrowserScope lists what the browser token allows (method and path pattern, as routed), with
// the request shapes it is limited to: the requests of nb/widgets' live panels. Everything else
// answers 403 to it.
var BrowserScope = []string{
	"GET /healthz",
	"GET /v1/info",
	"POST /v1/zeroshot (with \"gallery\", not \"paths\")",
	"POST /v1/search (with \"query\", not \"image_path\")",
	"GET /v1/galleries/{id}/images/{i}",
}

// route registers h for pattern and method; browser says whether the browser token may call it.
func (s *Server) route(pattern, method string, browser bool, h http.HandlerFunc) {
	h = s.method(method, h)
	if !browser {
		inner := h
		h = func(w http.ResponseWriter, r *http.Request) {
			if accessOf(r) == accessBrowser {
				forbidden(w, "%s %s", r.Method, r.URL.Path)
				return
			}
			inner(w, r)
		}
	}
	s.mux.HandleFunc(pattern, h)
}

// access is what a request's token allows.
type access int

const (
	accessNone    access = iota // no token, or a wrong one
	accessBrowser               // the browser token: BrowserScope
	accessFull                  // the full token: everything
)

// logSuffix says in a request's log line which token it carried.
func (a access) logSuffix() string {
	switch a {
	case accessBrowser:
		return " (browser token)"
	case accessFull:
		return " (full token)"
	}
	return ""
}

type accessKey struct{}

// accessOf returns the access ServeHTTP granted r (accessFull for a request that did not go
// through ServeHTTP, such as a handler called directly).
func accessOf(r *http.Request) access {
	if a, ok := r.Context().Value(accessKey{}).(access); ok {
		return a
	}
	return accessFull
}

// forbidden answers 403: the browser token does not allow what (a request, or a field of one).
func forbidden(w http.ResponseWriter, format string, args ...any) {
	writeError(w, http.StatusForbidden, "%s: the browser token does not allow this (it allows only %s; "+
		"requests that name files, register galleries, upload images or stop the server need the server's full token, which kernels hold)",
		fmt.Sprintf(format, args...), strings.Join(BrowserScope, ", "))
}

// NewToken returns a random 128-bit token in hex (32 characters).
func NewToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("serve.NewToken: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Listen listens on addr (host:port; port 0 picks a free one), which must be a loopback address
// (127.0.0.0/8, ::1 or localhost): the server is never reachable from other machines directly.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("serve.Listen: address %q: want host:port, e.g. 127.0.0.1:0: %v", addr, err)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("serve.Listen: address %q is not a loopback address (want 127.0.0.1, ::1 or localhost): the server is reachable only from this machine, and from browsers through Jupyter's proxy", addr)
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve.Listen: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("serve.Listen: %q resolved to %s, which is not loopback", addr, tcp.IP)
	}
	return ln, nil
}

// StopReason says why Run returned.
type StopReason string

// The reasons Run returns.
const (
	StoppedIdle     StopReason = "idle"
	StoppedRequest  StopReason = "shutdown request"
	StoppedContext  StopReason = "signal or context"
	StoppedListener StopReason = "listener failed"
)

// Run serves on ln until ctx is done, the server was idle for Config.Idle, or POST /v1/shutdown,
// then shuts down gracefully (requests in flight get up to 10 s to finish) and says why.
func (s *Server) Run(ctx context.Context, ln net.Listener) (StopReason, error) {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: s.cfg.Log}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var idle <-chan time.Time
	if s.cfg.Idle > 0 {
		tick := min(max(s.cfg.Idle/8, 10*time.Millisecond), 5*time.Second)
		t := time.NewTicker(tick)
		defer t.Stop()
		idle = t.C
	}
	var reason StopReason
	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			reason = StoppedContext
			break loop
		case <-s.stop:
			reason = StoppedRequest
			break loop
		case err := <-errc:
			reason, serveErr = StoppedListener, err
			break loop
		case <-idle:
			if s.IdleFor() >= s.cfg.Idle {
				reason = StoppedIdle
				break loop
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("serve: graceful shutdown: %w", err)
	}
	return reason, serveErr
}

// IdleFor returns how long the server has had no request in flight (0 while one is).
func (s *Server) IdleFor() time.Duration {
	if s.inflight.Load() > 0 {
		return 0
	}
	return time.Since(time.Unix(0, s.lastActive.Load()))
}

// Stopped is closed when POST /v1/shutdown was received.
func (s *Server) Stopped() <-chan struct{} { return s.stop }

func (s *Server) touch() { s.lastActive.Store(time.Now().UnixNano()) }

// ServeHTTP implements http.Handler: activity tracking, panic recovery, OPTIONS, token check,
// then the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	s.touch()
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: 200}
	a := accessNone
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Log.Printf("panic serving %s %s: %v", r.Method, r.URL.Path, p)
			if !rec.wrote {
				writeError(rec, http.StatusInternalServerError, "internal error serving %s: %v", r.URL.Path, p)
			}
		}
		s.touch()
		s.inflight.Add(-1)
		s.cfg.Log.Printf("%s %s %d %.1f ms%s", r.Method, r.URL.Path, rec.status, float64(time.Since(start).Microseconds())/1e3, a.logSuffix())
	}()
	w = rec
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	a = s.access(r)
	if r.URL.Path != "/healthz" && a == accessNone {
		writeError(w, http.StatusUnauthorized, "missing or wrong token: send the header \"Authorization: Bearer TOKEN\" or the query ?token=TOKEN, with the token of the server's state file")
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), accessKey{}, a)))
}

// access checks the request's token against both tokens, each in constant time.
func (s *Server) access(r *http.Request) access {
	tok := ""
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			tok = strings.TrimSpace(t)
		}
	} else {
		tok = r.URL.Query().Get("token")
	}
	full := subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.Token))
	browser := 0
	if s.cfg.BrowserToken != "" {
		browser = subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.BrowserToken))
	}
	switch {
	case full == 1:
		return accessFull
	case browser == 1:
		return accessBrowser
	}
	return accessNone
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Flush lets handlers flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// method restricts a handler to one HTTP method, answering others with a JSON 405.
func (s *Server) method(m string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != m {
			w.Header().Set("Allow", m+", OPTIONS")
			writeError(w, http.StatusMethodNotAllowed, "%s %s: method not allowed, want %s", r.Method, r.URL.Path, m)
			return
		}
		h(w, r)
	}
}

// httpError is an error with the HTTP status it maps to.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// writeError answers with a JSON error.
func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(ErrorResponse{Error: fmt.Sprintf(format, args...)})
}

// fail answers with err's status (400/404/413 for httpError and body limits, else 500).
func fail(w http.ResponseWriter, err error) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		writeError(w, he.status, "%s", he.msg)
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "request body is larger than the limit of %d bytes", mbe.Limit)
	default:
		writeError(w, http.StatusInternalServerError, "%v", err)
	}
}

// writeJSON answers 200 with v as JSON; a value that cannot be encoded (a NaN from a broken
// model) becomes a 500 naming the problem.
func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "cannot encode the answer as JSON (non-finite numbers from the model?): %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(append(b, '\n'))
}

// decode reads one JSON value of the request body into v, refusing unknown fields, trailing data
// and bodies over the limit. The Content-Type is not checked: proxies and browsers' fetch set
// various ones (the token, not the header, keeps other pages out).
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badRequest("%s: empty request body, want a JSON object", r.URL.Path)
		}
		return badRequest("%s: request body is not the JSON expected: %v", r.URL.Path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("%s: request body has data after its JSON object", r.URL.Path)
	}
	return nil
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1e3 }

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.galleries)
	s.mu.Unlock()
	writeJSON(w, Health{OK: true, Model: s.cfg.ModelName, Backend: s.cfg.Backend, Precision: s.cfg.Precision,
		EmbedDim: s.m.EmbedDim(), UptimeS: time.Since(s.started).Seconds(), RandomWeights: s.m.RandomWeights(),
		PID: os.Getpid(), Galleries: n})
}

// InfoOf describes a loaded model as GET /v1/info does (PID and UptimeS left zero, Backend the
// encoder's backend name): what a notebook shows about the model, whether it runs in a server or
// in the notebook's own process.
func InfoOf(m *cliplib.Model) Info {
	enc := m.Encoder()
	src := m.Source
	return Info{
		Model:              m.Name,
		Label:              m.Label(),
		Backend:            enc.Backend().Name(),
		BackendDescription: backend.DescribeChoice(enc.Backend(), enc.BackendChoice()),
		Precision:          m.Precision(),
		EmbedDim:           m.EmbedDim(),
		LogitScale:         m.LogitScale(),
		Params:             enc.NumParams(),
		Config:             m.Config,
		Weights:            WeightSource{Path: src.Path, Format: src.Format, Layout: src.Layout, Random: src.Random, Reason: src.Reason},
	}
}

func (s *Server) handleInfo(w http.ResponseWriter, r *http.Request) {
	in := InfoOf(s.m)
	in.Model, in.Backend, in.Precision = s.cfg.ModelName, s.cfg.Backend, s.cfg.Precision
	in.PID, in.UptimeS = os.Getpid(), time.Since(s.started).Seconds()
	writeJSON(w, in)
}

func (s *Server) handleShutdown(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]bool{"ok": true})
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	s.stopOnce.Do(func() { close(s.stop) })
}
