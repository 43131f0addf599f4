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
	"github.com/clipkit/clipkit/cliplib/cache"
	"github.com/clipkit/clipkit/cliplib/serve"
	"github.com/clipkit/clipkit/internal/atomicfile"
)

func init() {
	register("serve", "run the model server that notebooks and widgets share (HTTP JSON on loopback, token)", serveCommand)
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

// serveCommand parses clipx serve's flags, then runs runServe.
func serveCommand(args []string) error {
	fs := newFlagSet("serve", "--model NAME [--backend B] [--precision f32|bf16|f16] [--random-weights] [--idle 30m] [--addr 127.0.0.1:0] [--state FILE] [--log FILE]")
	opts := serveOptions{stdout: os.Stdout}
	fs.StringVar(&opts.model, "model", "ViT-B/32", "registry name or checkpoint path of the model to serve")
	fs.StringVar(&opts.backend, "backend", "", "GoMLX backend: go, xla:cpu, xla:cuda (default $GOMLX_BACKEND, else the fastest installed)")
	fs.StringVar(&opts.precision, "precision", "f32", "f32, bf16 or f16 (f16 needs an XLA backend)")
	fs.BoolVar(&opts.random, "random-weights", false, "use deterministic random weights (timing and smoke tests; results are meaningless)")
	fs.DurationVar(&opts.idle, "idle", 30*time.Minute, "exit after this long without requests (0: never)")
	fs.StringVar(&opts.addr, "addr", "127.0.0.1:0", "loopback address to listen on (port 0: a free one)")
	fs.StringVar(&opts.state, "state", "", "state file written when ready and removed at exit (default: <cache>/serve/<model_backend_precision>.json)")
	fs.StringVar(&opts.log, "log", "", "append the server's log to this file (default: standard error)")
	fs.BoolVar(&opts.noCache, "no-cache", false, "keep text and image embeddings in memory only (default: the persistent caches under <cache>)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	if opts.idle < 0 {
		return fmt.Errorf("%w: --idle %v: want a duration >= 0", errUsage, opts.idle)
	}
	return runServe(opts)
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
	m, err := cliplib.Load(opts.model, cliplib.Options{Backend: opts.backend, Precision: opts.precision, RandomWeights: opts.random})
	if err != nil {
		return err
	}
	defer m.Close()
	enc := m.Encoder()
	logger.Printf("model %s on %s, %s: loaded in %v", m.Label(), backend.DescribeChoice(enc.Backend(), enc.BackendChoice()), enc.Precision(), time.Since(start).Round(time.Millisecond))
	if opts.noCache {
		m.SetTextCache(cache.New(m.Identity(), m.EmbedDim(), cache.Options{}))
	} else {
		if _, err := m.UseTextCache("", cache.Options{Warn: func(msg string) { logger.Print(msg) }}); err != nil {
			return err
		}
		if _, err := m.UseImageCache("", cache.Options{Warn: func(msg string) { logger.Print(msg) }}); err != nil {
			return err
		}
	}
	// Compile the one-text and one-image graphs now, so the first request does not pay for it.
	warm := time.Now()
	if _, err := enc.EncodeTokens(m.Tokenizer().TokenizeBatch([]string{"warm-up"})); err != nil {
		return fmt.Errorf("warm-up (text): %w", err)
	}
	if _, err := m.EncodeImages([]image.Image{image.NewRGBA(image.Rect(0, 0, 8, 8))}); err != nil {
		return fmt.Errorf("warm-up (image): %w", err)
	}
	logger.Printf("warm-up (compile) in %v", time.Since(warm).Round(time.Millisecond))

	token, err := serve.NewToken()
	if err != nil {
		return err
	}
	choice := enc.BackendChoice().Config
	srv, err := serve.New(serve.Config{Model: m, Token: token, Backend: choice, Precision: string(enc.Precision()),
		Idle: opts.idle, Log: logger})
	if err != nil {
		return err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	st := serve.State{URL: fmt.Sprintf("http://%s", ln.Addr()), Port: port, Token: token, PID: os.Getpid(),
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
	if !opts.noCache {
		if err := m.SaveTextCache(); err != nil {
			logger.Printf("saving the text cache: %v", err)
		}
		if err := m.SaveImageCache(); err != nil {
			logger.Printf("saving the image cache: %v", err)
		}
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
