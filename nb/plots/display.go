package plots

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
)

// EnvInline selects where Display inlines the ECharts library: "cell" (default: the first chart
// output of every cell, so that a cell re-run after a page reload draws its charts) or "session"
// (the first chart output of the kernel session only: lighter notebooks, but a reloaded page then
// has no library until the kernel restarts).
const EnvInline = "CLIPKIT_PLOTS_INLINE"

var (
	displayMu      sync.Mutex
	emittedInProc  bool
	markerOverride string // tests set this instead of $GONB_TMP_DIR
)

// sessionMarker is the file whose existence says that an earlier cell of this GoNB kernel session
// already displayed the ECharts library; "" outside GoNB.
func sessionMarker() string {
	if markerOverride != "" {
		return markerOverride
	}
	dir := os.Getenv("GONB_TMP_DIR")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, ".clipkit-echarts-"+EChartsVersion+"-displayed")
}

// claimLibrary reports whether the next chart output must carry the library, and records that it
// does. Callers hold displayMu.
func claimLibrary() bool {
	if emittedInProc {
		return false
	}
	marker := sessionMarker()
	if os.Getenv(EnvInline) == "session" && marker != "" {
		if _, err := os.Stat(marker); err == nil {
			emittedInProc = true
			return false
		}
	}
	return true
}

// markLibrary records that the library was displayed in this process and kernel session.
func markLibrary() {
	emittedInProc = true
	if m := sessionMarker(); m != "" {
		_ = os.WriteFile(m, []byte(EChartsVersion+"\n"), 0o644) // best effort: worst case the next cell inlines again
	}
}

// Fragments returns the HTML that Display would send for the blocks, one string per block, with
// the ECharts library inlined before the first chart when this kernel session has not shown it
// yet (see the package documentation). It records the library as shown.
func Fragments(blocks ...Block) ([]string, error) {
	displayMu.Lock()
	defer displayMu.Unlock()
	out := make([]string, 0, len(blocks))
	for i, bl := range blocks {
		if bl == nil {
			return nil, fmt.Errorf("plots.Display: block %d is nil", i)
		}
		withLib := bl.isChart() && claimLibrary()
		frag, err := bl.fragment(withLib)
		if err != nil {
			return nil, err
		}
		if withLib {
			markLibrary()
		}
		out = append(out, frag)
	}
	return out, nil
}

// Display shows the blocks (charts, image grids, tables) as cell outputs in a GoNB notebook, each
// as one text/html output, which nbconvert copies verbatim into exported HTML. Outside a notebook
// it does nothing and returns nil (use Render to write a page instead).
func Display(blocks ...Block) error {
	if !gonbui.IsNotebook {
		return nil
	}
	frags, err := Fragments(blocks...)
	if err != nil {
		return err
	}
	for _, f := range frags {
		gonbui.DisplayHTML(f)
	}
	gonbui.Sync()
	return gonbui.Error()
}

// Show is Display for notebook cells: on error it shows the error in the cell output, prints it
// to stderr and exits the cell's program with status 1, so the cell (and `clipx report`) fails.
func Show(blocks ...Block) {
	if err := Display(blocks...); err != nil {
		Fail(err)
	}
}

// Fail reports err in the notebook cell (as red text, plus stderr) and exits with status 1.
func Fail(err error) {
	gonbui.DisplayHTML(fmt.Sprintf(`<pre style="color:#a00">%s</pre>`, htmlEscape(err.Error())))
	gonbui.Sync()
	fmt.Fprintln(os.Stderr, "error:", err)
	os.Exit(1)
}

// EmbedLibrary displays the ECharts library now, as its own (invisible) output, and records it as
// shown for the kernel session. Call it first in a cell when the notebook's earlier library
// output was lost (see the package documentation).
func EmbedLibrary() error {
	displayMu.Lock()
	defer displayMu.Unlock()
	lib, err := libraryScript()
	if err != nil {
		return err
	}
	if gonbui.IsNotebook {
		gonbui.DisplayHTML(lib)
		gonbui.Sync()
	}
	markLibrary()
	return gonbui.Error()
}

// EnsureLibrary displays the ECharts library as an output of its own unless this process (or,
// with CLIPKIT_PLOTS_INLINE=session, an earlier cell of the kernel session) already did (see the
// package documentation). Use it before
// charts that go into outputs updated in place (gonbui.UpdateHTML), which are not kept.
func EnsureLibrary() error {
	displayMu.Lock()
	need := claimLibrary()
	displayMu.Unlock()
	if !need {
		return nil
	}
	return EmbedLibrary()
}

// IsChart reports whether b is a chart (which needs the ECharts library on the page).
func IsChart(b Block) bool { return b != nil && b.isChart() }

// FragmentOf returns the HTML of one block without the ECharts library (charts need it on the
// page: see EnsureLibrary).
func FragmentOf(b Block) (string, error) {
	if b == nil {
		return "", fmt.Errorf("plots.FragmentOf: nil block")
	}
	return b.fragment(false)
}
