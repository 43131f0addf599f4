// Package nb is the one import a notebook needs for its own plumbing, meant for dot-import in the
// first code cell:
//
//	import . "github.com/clipkit/clipkit/nb"
//
// It stops a cell on error (Must, Must2, Check, Fail: a visible red error, a message on stderr and exit
// status 1, which `clipx report` detects), opens the notebooks' model (Open: on the shared model
// server; OpenLocal: in the cell's process), and holds the few
// small things every notebook otherwise repeated: a gap value for charts (NaN), byte and
// parameter-count formatting (MiB, Millions), a per-backend choice of measurement sizes
// (ByBackend, OnSimpleGo) and keys for notebook.Cached that are fresh per kernel session
// (SessionKey). Everything else lives in the library packages the cells call: nb/explore,
// nb/analysis, nb/plots, nb/notebook and cliplib/bench.
package nb

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/clipkit/clipkit/cliplib/backend"
	"github.com/clipkit/clipkit/nb/explore"
	"github.com/clipkit/clipkit/nb/notebook"
	"github.com/clipkit/clipkit/nb/plots"
)

// fail is plots.Fail; tests replace it to observe failures without exiting.
var fail = plots.Fail

// Fail shows err in the cell (red text, plus stderr) and exits the cell's program with status 1.
func Fail(err error) { fail(err) }

// Must returns v, or stops the cell with err (see Fail) when err is not nil.
func Must[T any](v T, err error) T {
	if err != nil {
		fail(err)
	}
	return v
}

// Must2 is Must for calls that return two values and an error, e.g. a value, whether it was
// found, and an error.
func Must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		fail(err)
	}
	return a, b
}

// Check stops the cell with err (see Fail) when err is not nil: Must for calls that return only an
// error.
func Check(err error) {
	if err != nil {
		fail(err)
	}
}

// Open returns the notebooks' model (explore.Open: $CLIP_MODEL, default ViT-B/32, tiny-vit in
// smoke mode, with persistent embedding caches) or stops the cell. The model runs in the model
// server the notebook's cells and live controls share (`clipx serve`, started by the first cell
// that needs it): that first cell pays the model's load and compile, later ones pay neither. Call
// defer s.Close() after it.
func Open() *explore.Session { return Must(explore.Open()) }

// OpenLocal loads the notebooks' model in the cell's own process (explore.OpenLocal) or stops the
// cell: seconds of load and compile in every cell that calls it. Only cells that measure the model
// itself (its latency, memory, precision, the eval suite) need it. Call defer s.Close() after it.
func OpenLocal() *explore.Session { return Must(explore.OpenLocal()) }

// NaN is the value of a missing chart point: plots draw it as a gap.
func NaN() float64 { return math.NaN() }

// MiB formats a byte count in mebibytes, e.g. "12 MiB".
func MiB(bytes int64) string { return fmt.Sprintf("%.0f MiB", float64(bytes)/(1<<20)) }

// Millions formats a count (of parameters, say) in millions with two decimals, e.g. "151.28 M".
func Millions(n int64) string { return fmt.Sprintf("%.2f M", float64(n)/1e6) }

// OnSimpleGo reports whether the backend in use ($GOMLX_BACKEND, see backend.Resolve) is the pure Go
// one, where models run tens of times slower than on XLA: notebooks measure fewer points there.
func OnSimpleGo() bool { return strings.HasPrefix(backend.Resolve(""), "go") }

// ByBackend picks the measurement setting for this run: smoke in smoke mode (CLIP_SMOKE), else
// simpleGo on the pure Go backend, else accelerated (XLA on CPU or GPU).
func ByBackend[T any](smoke, simpleGo, accelerated T) T {
	switch {
	case notebook.Smoke():
		return smoke
	case OnSimpleGo():
		return simpleGo
	default:
		return accelerated
	}
}

// SessionKey is a notebook.Cached key for a measurement that runs once per kernel session: the
// parts (notebook, model, sizes: whatever changes the result), the GoNB kernel's temporary folder
// ($GONB_TMP_DIR, new with each kernel), the backend and smoke mode, joined with "|".
func SessionKey(parts ...any) string {
	s := make([]string, 0, len(parts)+3)
	for _, p := range parts {
		s = append(s, fmt.Sprint(p))
	}
	s = append(s, os.Getenv("GONB_TMP_DIR"), backend.Resolve(""), fmt.Sprint(notebook.Smoke()))
	return strings.Join(s, "|")
}
