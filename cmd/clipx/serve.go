package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/clipkit/clipkit/cliplib"
	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/cliplib/serve"
	"github.com/clipkit/clipkit/internal/atomicfile"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("", newServeCmd)
}

// serveOptions are the settings of clipx serve (see docs/serve.md).
type serveOptions struct {
	model, backend, precision string
	random                    bool
	idle                      time.Duration
	addr                      string
	state                     string // state file; "" = the default for the model (serve.StatePath)
	log                       string // log file to append to; "" = standard error
	noCache                   bool   // do not attach the persistent text and image caches
	stdout                    io.Writer
}

func newServeCmd() *cobra.Command {
	opts := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve [flags]",
		Short: "run the model server that notebooks and widgets share (HTTP JSON on loopback, token)",
		Long: `Run the model server that notebooks and their live controls share: one process per model,
backend and precision holds the model, its text and image caches and the compiled graphs, and
answers a small HTTP JSON API (model info, encode texts and images, galleries, zero-shot, search,
thumbnails) on loopback, behind random tokens: the full token (kernels) allows everything, the
browser token (live panels' outputs) only what the panels call. When ready it prints one JSON line
(url, port, token, browser_token, pid) and writes it to the state file (mode 0600), which notebooks (nb/serve.Attach) read to attach; it exits after
--idle without requests, on SIGINT/SIGTERM or on POST /v1/shutdown. Browsers reach it through
Jupyter's own server (jupyter-server-proxy: <jupyter>/proxy/PORT/). API: docs/serve.md.`,
		Example: `  clipx serve --model ViT-B/32
  clipx serve --model tiny-vit --random-weights --backend go --idle 5m --no-cache`,
		Args: noArgs(""),
		RunE: func(*cobra.Command, []string) error {
			if opts.idle < 0 {
				return usageErrorf("--idle %v: want a duration >= 0", opts.idle)
			}
			opts.stdout = os.Stdout
			return runServe(*opts)
		},
	}
	f := c.Flags()
	f.StringVar(&opts.model, "model", "ViT-B/32", "registry name or checkpoint path of the model to serve")
	f.StringVar(&opts.backend, "backend", "", "GoMLX backend: go, xla:cpu, xla:cuda (default $GOMLX_BACKEND, else the fastest installed)")
	f.StringVar(&opts.precision, "precision", "f32", "f32, bf16 or f16 (f16 needs an XLA backend)")
	f.BoolVar(&opts.random, "random-weights", false, "use deterministic random weights (timing and smoke tests; results are meaningless)")
	f.DurationVar(&opts.idle, "idle", 30*time.Minute, "exit after this long without requests (0: never)")
	f.StringVar(&opts.addr, "addr", "127.0.0.1:0", "loopback address to listen on (port 0: a free one)")
	f.StringVar(&opts.state, "state", "", "state file written when ready and removed at exit (default: <cache>/serve/<model_backend_precision>.json)")
	f.StringVar(&opts.log, "log", "", "append the server's log to this file (default: standard error)")
	f.BoolVar(&opts.noCache, "no-cache", false, "keep text and image embeddings in memory only (default: the persistent caches under <cache>)")
	return c
}

// runServe loads the model, listens on loopback, writes the state file and prints the ready
// line, then serves until idle, a signal or POST /v1/shutdown.
func runServe(opts serveOptions) error {
	logw := io.Writer(os.Stderr)
	if opts.log != "" {
		f, err := os.OpenFile(opts.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("--log: %w", err)
		}
		defer f.Close()
		logw = f
		if abs, err := filepath.Abs(opts.log); err == nil {
			opts.log = abs
		}
	}
	logger := log.New(logw, fmt.Sprintf("clipx serve[%d] ", os.Getpid()), log.LstdFlags|log.Lmicroseconds)
	if opts.state == "" {
		opts.state = serve.StatePath(opts.model, opts.backend, opts.precision, opts.random)
	}
	if err := os.MkdirAll(filepath.Dir(opts.state), 0o700); err != nil {
		return fmt.Errorf("state file directory: %w", err)
	}
	if err := atomicfile.CheckWritable(opts.state); err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	// Listen first: a bad --addr fails before the model loads.
	ln, err := serve.Listen(opts.addr)
	if err != nil {
		return fmt.Errorf("%w: --addr: %v", errUsage, err)
	}
	defer ln.Close()

	start := time.Now()
	// The text and image caches are the model's own (persistent unless --no-cache, then in memory
	// only): a prompt sent again is a cache hit.
	lo := cliplib.Options{Backend: opts.backend, Precision: opts.precision, RandomWeights: opts.random,
		TextCache: true, ImageCache: !opts.noCache, MemoryOnly: opts.noCache, Warn: func(msg string) { logger.Print(msg) }}
	m, err := cliplib.Load(opts.model, lo)
	if err != nil {
		return err
	}
	defer func() {
		if err := m.Close(); err != nil {
			logger.Printf("closing the model: %v", err)
		}
	}()
	enc := m.Encoder()
	logger.Printf("model %s on %s, %s: loaded in %v", m.Label(), backend.DescribeChoice(enc.Backend(), enc.BackendChoice()), enc.Precision(), time.Since(start).Round(time.Millisecond))
	// Compile the one-text and one-image graphs now, so the first request does not pay for it.
	warm := time.Now()
	if _, err := enc.EncodeTokens(m.Tokenizer().TokenizeBatch([]string{"warm-up"})); err != nil {
		return fmt.Errorf("warm-up (text): %w", err)
	}
	if _, err := m.EncodeImages([]image.Image{image.NewRGBA(image.Rect(0, 0, 8, 8))}); err != nil {
		return fmt.Errorf("warm-up (image): %w", err)
	}
	logger.Printf("warm-up (compile) in %v", time.Since(warm).Round(time.Millisecond))

	// Two tokens: the full one for kernels, the browser one (scoped to what live panels call) for
	// cell outputs, which saved notebooks keep.
	token, err := serve.NewToken()
	if err != nil {
		return err
	}
	browserToken, err := serve.NewToken()
	if err != nil {
		return err
	}
	choice := enc.BackendChoice().Config
	srv, err := serve.New(serve.Config{Model: m, Token: token, BrowserToken: browserToken, Backend: choice, Precision: string(enc.Precision()),
		Idle: opts.idle, Log: logger})
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	st := serve.State{URL: fmt.Sprintf("http://%s", ln.Addr()), Port: port, Token: token, BrowserToken: browserToken, PID: os.Getpid(),
		Model: m.Name, Backend: choice, Precision: string(enc.Precision()), RandomWeights: m.RandomWeights(), Log: opts.log}
	line, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := atomicfile.Write(opts.state, 0o600, func(w io.Writer) error { _, err := w.Write(append(line, '\n')); return err }); err != nil {
		return err
	}
	defer removeOwnState(opts.state, os.Getpid(), logger)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Printf("ready on %s (state %s, idle exit after %v)", st.URL, opts.state, opts.idle)
	fmt.Fprintln(opts.stdout, string(line))
	reason, err := srv.Run(ctx, ln)
	logger.Printf("stopping: %s", reason)
	if err := m.Save(); err != nil {
		logger.Printf("saving the caches: %v", err)
	}
	return err
}

// removeOwnState removes the state file if it still names this process (a newer server may have
// replaced it).
func removeOwnState(path string, pid int, logger *log.Logger) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	var st serve.State
	if json.Unmarshal(b, &st) == nil && st.PID != pid {
		return
	}
	if err := os.Remove(path); err != nil {
		logger.Printf("removing the state file: %v", err)
	}
}
