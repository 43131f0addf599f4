package widgets

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/clipkit/clipkit/nb/notebook"
	"github.com/clipkit/clipkit/nb/serve"
)

// Environment variables read by Attach.
const (
	// EnvPrecision is the compute precision the notebooks use (f32 default, bf16, f16), as in nb/explore.
	EnvPrecision = "CLIP_PRECISION"
	// EnvServeIdle is how long a model server started by a notebook waits without requests before
	// it exits (a Go duration, default 30m); CI sets it short so that no server outlives the run long.
	EnvServeIdle = "CLIPKIT_SERVE_IDLE"
)

// Attach returns a client of the model server for model (a notebook passes explore.ModelName()),
// starting `clipx serve` on first use: precision $CLIP_PRECISION, backend $GOMLX_BACKEND (else the
// fastest installed). In smoke mode the server runs random weights (tiny test models have no
// trained ones). Otherwise, as explore.Open does, when the trained weights cannot be loaded (no
// network, nothing in the cache) it falls back to a server with deterministic random weights, and
// says so loudly in the cell. The server outlives the cell: later cells and the browser's live
// controls share it, until it has been idle for 30 minutes.
func Attach(model string) (*serve.Client, error) {
	return AttachPrecision(model, os.Getenv(EnvPrecision))
}

// AttachPrecision is Attach for a given precision (f32, bf16, f16; "" is f32): one server each.
func AttachPrecision(model, precision string) (*serve.Client, error) {
	opt := serve.Options{Model: model, Backend: os.Getenv("GOMLX_BACKEND"), Precision: precision, RandomWeights: notebook.Smoke()}
	if v := os.Getenv(EnvServeIdle); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("widgets.Attach: %s=%q: want a positive Go duration such as 30m or 90s", EnvServeIdle, v)
		}
		opt.Idle = d
	}
	c, err := serve.Attach(opt)
	if err == nil || opt.RandomWeights {
		return c, err
	}
	opt.RandomWeights = true
	c, err2 := serve.Attach(opt)
	if err2 != nil {
		return nil, fmt.Errorf("%w\n(and with random weights: %v)", err, err2)
	}
	// The server's error ends with the reason (its log's last line, e.g. "weights ViT-B/32: download ...").
	first := ""
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			first = l
		}
	}
	if len(first) > 400 {
		first = first[:400] + "..."
	}
	notebook.DisplayMarkdown(fmt.Sprintf("**[RANDOM WEIGHTS] The live controls below run %s with deterministic random weights**: the model "+
		"server could not load the trained ones (%s). Their numbers mean nothing about the model; fetch the weights "+
		"(`clipx weights fetch %s`) and re-run the cell.", model, first, model))
	fmt.Fprintf(os.Stderr, "widgets.Attach: %s: trained weights could not be loaded; serving RANDOM weights\n", model)
	return c, nil
}
