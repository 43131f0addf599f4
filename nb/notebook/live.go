package notebook

import (
	"encoding/json"
	"fmt"
	"html"
	"os"
	"strings"
	"time"

	"github.com/clipkit/clipkit/nb/plots"
	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/comms"
	"github.com/janpfeifer/gonb/gonbui/dom"
)

// LiveText is a text box in a notebook cell whose every edit re-runs Update and replaces the
// output shown under it, without re-running the cell: e.g. type class prompts, one per line, and
// watch the zero-shot probabilities change. It is built on GoNB's front-end communication
// (gonbui/comms, as GoNB's own widgets are), since GoNB v0.11.1 has no text widget.
//
// Widgets need a live front end (JupyterLab with the notebook open). Under `jupyter nbconvert
// --execute` or `clipx report` there is none: Run notices that the browser does not answer within
// FrontEndWait, shows the result for Initial with a note, and returns normally, so the notebook
// still runs top to bottom. GoNB's nbexec (headless Chromium driving JupyterLab) is a live front
// end: in smoke mode the text box then types SmokeEdit into itself, so CI exercises the whole
// browser → kernel → Update → browser round trip.
type LiveText struct {
	// Label is shown above the text box.
	Label string
	// Initial is the text the box starts with (one prompt or class per line by convention; see
	// Lines).
	Initial string
	// Rows is the height of the box in lines; default: lines of Initial + 2.
	Rows int
	// Update computes what to show for a text. It is called for Initial first (an error then is
	// returned by Run), then after each edit (an error then is shown in place of the output, so
	// the user can fix the text).
	Update func(text string) ([]plots.Block, error)
	// Idle ends live editing after this long without an edit; default 15 minutes (1 minute in
	// smoke mode). The Stop button ends it at once. The cell keeps the kernel busy until then.
	Idle time.Duration
	// FrontEndWait is how long to wait for the browser's first answer before concluding that
	// there is no live front end; default 10 seconds (90 seconds when EnvRequireLive is set).
	FrontEndWait time.Duration
	// Debounce groups edits arriving within this interval into one Update; default 300 ms.
	Debounce time.Duration
	// SmokeEdit is the line the box appends to itself in smoke mode with a live front end;
	// default "a photo of something else".
	SmokeEdit string
}

// EnvRequireLive=1 makes LiveText.Run fail when no live front end answers, instead of showing the
// result for the initial text; `clipx report --live` sets it, so that CI notices a broken widget
// round trip.
const EnvRequireLive = "CLIPKIT_REQUIRE_LIVE"

// Lines splits text into its trimmed, non-empty lines.
func Lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// LiveResult tells how a Run went.
type LiveResult struct {
	// Live is true when a front end answered (the box was editable).
	Live bool
	// Edits is the number of Update calls made for edits (not counting Initial).
	Edits int
	// Final is the text when editing ended.
	Final string
}

// Run shows the text box and serves edits until Stop, Idle or (in smoke mode) the first edit.
// Outside a notebook it only calls Update(Initial) and returns.
func (lt LiveText) Run() (LiveResult, error) {
	res := LiveResult{Final: lt.Initial}
	if lt.Update == nil {
		return res, fmt.Errorf("notebook.LiveText: Update is nil")
	}
	blocks, err := lt.Update(lt.Initial)
	if err != nil {
		return res, fmt.Errorf("notebook.LiveText: Update(initial text): %w", err)
	}
	if !gonbui.IsNotebook {
		return res, nil
	}
	hasChart := false
	for _, b := range blocks {
		hasChart = hasChart || plots.IsChart(b)
	}
	if hasChart {
		// The output below is replaced on every edit, so the library goes in an output of its own.
		if err := plots.EnsureLibrary(); err != nil {
			return res, err
		}
	}
	outHTML, err := blocksHTML(blocks)
	if err != nil {
		return res, err
	}

	uid := gonbui.UniqueId()
	boxID, stopID, statusID, outID := "clipkit-live-box-"+uid, "clipkit-live-stop-"+uid, "clipkit-live-status-"+uid, "clipkit-live-out-"+uid
	textAddr, stopAddr := "/clipkit/live/text/"+uid, "/clipkit/live/stop/"+uid
	rows := lt.Rows
	if rows <= 0 {
		rows = len(strings.Split(lt.Initial, "\n")) + 2
	}
	gonbui.DisplayHTML(fmt.Sprintf(`<div class="clipkit-live">`+
		`<div style="font-weight:bold">%s</div>`+
		`<textarea id="%s" rows="%d" cols="70" style="font-family:monospace">%s</textarea><br>`+
		`<button id="%s" type="button">Stop live editing</button> <span id="%s" style="color:#666"></span></div>`,
		html.EscapeString(lt.Label), boxID, rows, html.EscapeString(lt.Initial), stopID, statusID))
	gonbui.UpdateHTML(outID, outHTML)

	texts := comms.Listen[string](textAddr).LatestOnly()
	stops := comms.Listen[int](stopAddr)
	defer texts.Close()
	defer stops.Close()
	smokeEdit := ""
	if Smoke() {
		smokeEdit = lt.SmokeEdit
		if smokeEdit == "" {
			smokeEdit = "a photo of something else"
		}
	}
	dom.TransientJavascript(liveJS(boxID, stopID, statusID, textAddr, stopAddr, smokeEdit))

	// Under `clipx report --live` the front end is a headless Chromium on the same (possibly busy)
	// machine, rendering the charts of the cells above: give it longer before failing.
	wait := durationOr(lt.FrontEndWait, 10*time.Second)
	if lt.FrontEndWait <= 0 && os.Getenv(EnvRequireLive) == "1" {
		wait = 90 * time.Second
	}
	select {
	case first := <-texts.C:
		res.Live = true
		res.Final = first
	case <-time.After(wait):
		if os.Getenv(EnvRequireLive) == "1" {
			return res, fmt.Errorf("notebook.LiveText: no live front end answered within %s, and %s=1 requires one", wait, EnvRequireLive)
		}
		// No live front end (nbconvert, a closed browser tab): keep the result for Initial.
		gonbui.UpdateHTML(outID, "")
		gonbui.DisplayHTML(`<p class="clipkit-live-static" style="color:#666;font-style:italic">Live editing needs a live ` +
			`JupyterLab front end (none answered, e.g. under nbconvert or clipx report): this is the result for the text above.</p>` + outHTML)
		gonbui.Sync()
		return res, gonbui.Error()
	}

	idle := durationOr(lt.Idle, Pick(15*time.Minute, time.Minute))
	debounce := durationOr(lt.Debounce, 300*time.Millisecond)
	shown := lt.Initial
	idleTimer := time.NewTimer(idle)
	defer idleTimer.Stop()
	var stopReason string
loop:
	for {
		if res.Final != shown {
			res.Edits++
			shown = res.Final
			blocks, err := lt.Update(res.Final)
			var h string
			if err == nil {
				h, err = blocksHTML(blocks)
			}
			if err != nil {
				h = fmt.Sprintf(`<pre style="color:#a00">%s</pre>`, html.EscapeString(err.Error()))
			} else {
				outHTML = h
			}
			gonbui.UpdateHTML(outID, h)
			dom.SetInnerHtml(statusID, fmt.Sprintf("updated %d time(s)", res.Edits))
			if smokeEdit != "" {
				stopReason = "smoke mode: one edit served"
				break loop
			}
		}
		select {
		case t := <-texts.C:
			res.Final = t
			// Debounce: keep taking newer texts until the box is quiet.
			for quiet := false; !quiet; {
				select {
				case t = <-texts.C:
					res.Final = t
				case <-time.After(debounce):
					quiet = true
				}
			}
			if !idleTimer.Stop() {
				<-idleTimer.C
			}
			idleTimer.Reset(idle)
		case n := <-stops.C:
			if n <= 0 {
				continue // the button's synced variable announces its initial 0
			}
			stopReason = "stopped"
			break loop
		case <-idleTimer.C:
			if smokeEdit != "" {
				return res, fmt.Errorf("notebook.LiveText: smoke mode: the front end answered but its simulated edit "+
					"did not reach the kernel within %s", idle)
			}
			stopReason = fmt.Sprintf("no edit for %s", idle)
			break loop
		}
	}
	// Freeze the box and keep the final state in the saved notebook (updated outputs are transient).
	dom.TransientJavascript(fmt.Sprintf(`(() => { for (const id of [%s, %s]) { const e = document.getElementById(id); if (e) e.disabled = true; } })();`,
		jsStr(boxID), jsStr(stopID)))
	dom.SetInnerHtml(statusID, html.EscapeString("live editing ended ("+stopReason+")"))
	gonbui.UpdateHTML(outID, "")
	gonbui.DisplayHTML(fmt.Sprintf(`<p style="color:#666">Live editing ended (%s) after %d edit(s); final text:</p><pre>%s</pre>`,
		html.EscapeString(stopReason), res.Edits, html.EscapeString(res.Final)) + outHTML)
	gonbui.Sync()
	return res, gonbui.Error()
}

// liveJS binds the text box and Stop button to GoNB synced variables; with smokeEdit it types
// that line into the box once, like a user would.
func liveJS(boxID, stopID, statusID, textAddr, stopAddr, smokeEdit string) string {
	return fmt.Sprintf(`(() => {
  const gonb_comm = globalThis?.gonb_comm;
  const box = document.getElementById(%[1]s), stop = document.getElementById(%[2]s), status = document.getElementById(%[3]s);
  if (!gonb_comm || !box) {
    if (status) status.textContent = "not connected to the kernel: run the cell again with the notebook open in JupyterLab";
    return;
  }
  const text = gonb_comm.newSyncedVariable(%[4]s, box.value);
  const stops = gonb_comm.newSyncedVariable(%[5]s, 0);
  box.addEventListener("input", () => text.set(box.value));
  stop.addEventListener("click", () => stops.set(stops.get() + 1));
  if (status) status.textContent = "live: edit the text to update the output below";
  const smokeEdit = %[6]s;
  if (smokeEdit) {
    setTimeout(() => { box.value = box.value.replace(/\s*$/, "") + "\n" + smokeEdit; box.dispatchEvent(new Event("input")); }, 500);
  }
})();`, jsStr(boxID), jsStr(stopID), jsStr(statusID), jsStr(textAddr), jsStr(stopAddr), jsStr(smokeEdit))
}

// blocksHTML renders blocks for an output that is updated in place (no library: EnsureLibrary
// displayed it in an output of its own).
func blocksHTML(blocks []plots.Block) (string, error) {
	var b strings.Builder
	for _, bl := range blocks {
		h, err := plots.FragmentOf(bl)
		if err != nil {
			return "", err
		}
		b.WriteString(h)
	}
	return b.String(), nil
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func jsStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
