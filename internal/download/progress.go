package download

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal (then a progress bar is drawn).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progress reports one transfer: a bar on a terminal, a few log lines otherwise, nothing when the
// client has no Progress writer.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	name     string
	total    int64 // -1 when unknown
	done     int64
	fromByte int64
	start    time.Time
	quarter  int64 // next quarter (1..3) to log
	bar      *progressbar.ProgressBar
}

func (c *Client) newProgress(name, url string, offset, total int64) *progress {
	p := &progress{w: c.Progress, name: name, total: total, done: offset, fromByte: offset, start: time.Now()}
	if p.w == nil {
		return p
	}
	if total > 0 {
		p.quarter = offset*4/total + 1
	}
	if isTerminal(p.w) && !c.NoBar {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(name),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
		)
		if offset > 0 {
			_ = p.bar.Set64(offset)
		}
		return p
	}
	switch {
	case offset > 0 && total > 0:
		fmt.Fprintf(p.w, "download: %s: resuming at %s of %s from %s\n", name, humanize.Bytes(uint64(offset)), humanize.Bytes(uint64(total)), url)
	case offset > 0:
		fmt.Fprintf(p.w, "download: %s: resuming at %s from %s\n", name, humanize.Bytes(uint64(offset)), url)
	case total > 0:
		fmt.Fprintf(p.w, "download: %s: %s from %s\n", name, humanize.Bytes(uint64(total)), url)
	default:
		fmt.Fprintf(p.w, "download: %s: from %s (size not announced)\n", name, url)
	}
	return p
}

// add records n more bytes.
func (p *progress) add(n int) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += int64(n)
	if p.bar != nil {
		_ = p.bar.Add64(int64(n))
		return
	}
	if p.total <= 0 {
		return
	}
	if q := p.done * 4 / p.total; q >= p.quarter && q <= 3 { // the last quarter is the "received" line
		fmt.Fprintf(p.w, "download: %s: %d%% (%s of %s)\n", p.name, q*25,
			humanize.Bytes(uint64(p.done)), humanize.Bytes(uint64(p.total)))
		p.quarter = q + 1
	}
}

// finish closes the report; err is the transfer's outcome.
func (p *progress) finish(err error) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		if err == nil {
			_ = p.bar.Finish()
		} else {
			_ = p.bar.Exit()
			fmt.Fprintln(p.w)
		}
	}
	if err != nil {
		fmt.Fprintf(p.w, "download: %s: interrupted after %s: %v\n", p.name, humanize.Bytes(uint64(p.done)), err)
		return
	}
	if p.bar == nil {
		secs := time.Since(p.start).Seconds()
		got := p.done - p.fromByte
		rate := ""
		if secs > 0 {
			rate = fmt.Sprintf(", %s/s", humanize.Bytes(uint64(float64(got)/secs)))
		}
		fmt.Fprintf(p.w, "download: %s: received %s in %.1fs%s\n", p.name, humanize.Bytes(uint64(got)), secs, rate)
	}
}

// logf writes one line to the progress writer, if any.
func (c *Client) logf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "download: "+format+"\n", args...)
	}
}
