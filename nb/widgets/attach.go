package widgets

import (
	"fmt"
	"os"

	"github.com/clipkit/clipkit/nb/notebook"
	"github.com/clipkit/clipkit/nb/serve"
)

// Environment variables read by Attach (serve.NotebookOptions).
const (
	// EnvPrecision is the compute precision the notebooks use (f32 default, bf16, f16), as in nb/explore.
	EnvPrecision = serve.EnvPrecision
	// EnvServeIdle is how long a model server started by a notebook waits without requests before
	// it exits (a Go duration, default 30m); CI sets it short so that no server outlives the run long.
	EnvServeIdle = serve.EnvServeIdle
)

// Attach returns a client of the model server for model (a notebook passes explore.ModelName()),
// starting `clipx serve` on first use (serve.AttachNotebook, the server explore.Open uses too):
// precision $CLIP_PRECISION, backend $GOMLX_BACKEND (else the fastest installed). In smoke mode
// the server runs random weights (tiny test models have no trained ones). Otherwise, when the
// trained weights cannot be loaded (no network, nothing in the cache) it falls back to a server
// with deterministic random weights, and says so loudly in the cell. The server outlives the
// cell: later cells and the browser's live controls share it, until it has been idle for 30
// minutes.
func Attach(model string) (*serve.Client, error) {
	return AttachPrecision(model, os.Getenv(EnvPrecision))
}

// AttachPrecision is Attach for a given precision (f32, bf16, f16; "" is f32): one server each.
func AttachPrecision(model, precision string) (*serve.Client, error) {
	c, reason, err := serve.AttachNotebook(model, precision)
	if err != nil {
		return nil, fmt.Errorf("widgets.Attach: %w", err)
	}
	if reason == "" {
		return c, nil
	}
	notebook.DisplayMarkdown(fmt.Sprintf("**[RANDOM WEIGHTS] The live controls below run %s with deterministic random weights**: the model "+
		"server could not load the trained ones (%s). Their numbers mean nothing about the model; fetch the weights "+
		"(`clipx weights fetch %s`) and re-run the cell.", model, reason, model))
	fmt.Fprintf(os.Stderr, "widgets.Attach: %s: trained weights could not be loaded; serving RANDOM weights\n", model)
	return c, nil
}
