package notebook

import (
	"fmt"
	"html"
	"io"
	"iter"
	"os"
	"sync"
	"time"

	"github.com/janpfeifer/gonb/gonbui"
)

// Progress reports the progress of a long loop: in a notebook as an HTML bar updated in place
// (gonbui.UpdateHTML, so it takes no room in the saved notebook) that is replaced by a one-line
// summary when done; elsewhere as plain lines on stderr, at most one per StderrEvery.
//
// It is safe for concurrent use.
type Progress struct {
	label string
	total int

	mu        sync.Mutex
	done      int
	start     time.Time
	lastShown time.Time
	finished  bool
	htmlID    string
	notebook  bool
	out       io.Writer
	now       func() time.Time
}

// Update intervals of Progress.
var (
	// NotebookEvery is the minimum time between two updates of the notebook's progress bar.
	NotebookEvery = 250 * time.Millisecond
	// StderrEvery is the minimum time between two progress lines on stderr.
	StderrEvery = 2 * time.Second
)

// NewProgress starts reporting a loop of total steps (total <= 0: unknown) described by label,
// e.g. NewProgress("Encoding images", len(files)).
func NewProgress(label string, total int) *Progress {
	p := &Progress{label: label, total: total, notebook: gonbui.IsNotebook, out: os.Stderr, now: time.Now}
	p.start = p.now()
	p.htmlID = "clipkit-progress-" + gonbui.UniqueId()
	p.show(true)
	return p
}

// Add records n more finished steps. The count never goes past a known total (a caller that
// adds a whole chunk for a short last one must not show "24/20 (120%)").
func (p *Progress) Add(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLocked(p.done + n)
}

// Set records that done steps are finished in all (for callbacks that report a running count,
// such as imagesearch.IndexOptions.Progress); it is clamped to [0, total] when total is known.
func (p *Progress) Set(done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLocked(done)
}

func (p *Progress) setLocked(done int) {
	if p.finished {
		return
	}
	if p.total > 0 {
		done = min(done, p.total)
	}
	p.done = max(done, 0)
	p.show(false)
}

// Done finishes the report (idempotent): the notebook bar is replaced by a summary line that stays
// in the saved notebook; on stderr a final line is written.
func (p *Progress) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	summary := p.statusLocked()
	if p.notebook {
		gonbui.UpdateHTML(p.htmlID, "")
		gonbui.DisplayHTML(fmt.Sprintf(`<div class="clipkit-progress-done" style="font-family:monospace;color:#555">&#10003; %s</div>`,
			html.EscapeString(summary)))
		gonbui.Sync()
		return
	}
	fmt.Fprintln(p.out, summary)
}

// Status returns the current one-line status, e.g.
// "Encoding images: 5/20 (25%) in 1.2s, 4.17/s, about 3.6s left".
func (p *Progress) Status() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.statusLocked()
}

func (p *Progress) statusLocked() string {
	elapsed := p.now().Sub(p.start)
	s := fmt.Sprintf("%s: %d", p.label, p.done)
	if p.total > 0 {
		s += fmt.Sprintf("/%d (%d%%)", p.total, 100*p.done/p.total)
	}
	s += " in " + roundDuration(elapsed).String()
	if p.done > 0 && elapsed > 0 {
		rate := float64(p.done) / elapsed.Seconds()
		s += fmt.Sprintf(", %.3g/s", rate)
		if p.total > p.done && !p.finished {
			left := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
			s += ", about " + roundDuration(left).String() + " left"
		}
	}
	return s
}

// show writes the status if enough time passed since the last one (or force).
func (p *Progress) show(force bool) {
	now := p.now()
	every := StderrEvery
	if p.notebook {
		every = NotebookEvery
	}
	last := p.total > 0 && p.done >= p.total
	if !force && !last && now.Sub(p.lastShown) < every {
		return
	}
	p.lastShown = now
	status := p.statusLocked()
	if !p.notebook {
		fmt.Fprintln(p.out, status)
		return
	}
	pct := 0
	if p.total > 0 {
		pct = min(100, 100*p.done/p.total)
	}
	gonbui.UpdateHTML(p.htmlID, fmt.Sprintf(
		`<div style="font-family:monospace"><progress max="100" value="%d" style="width:300px"></progress> %s</div>`,
		pct, html.EscapeString(status)))
}

// roundDuration keeps durations readable: 0.1s precision under a minute, 1s above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// Track ranges over items reporting progress under label, finishing the report when the loop
// ends (also on break):
//
//	for i, f := range notebook.Track("Encoding images", files) { ... }
func Track[T any](label string, items []T) iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		p := NewProgress(label, len(items))
		defer p.Done()
		for i, it := range items {
			if !yield(i, it) {
				return
			}
			p.Add(1)
		}
	}
}
