package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
)

// plainProgressEvery spaces the progress lines written when stderr is not a
// terminal: often enough to show a long import is alive, rarely enough not
// to flood a CI log.
const plainProgressEvery = 5 * time.Second

// progress shows how far an import has got.
type progress interface {
	// add records n more input lines handled, failed of them failed.
	add(n, failed int)
	// done removes or finishes the display; call it before printing results.
	done()
}

// newProgress picks a live bar for a terminal and occasional plain lines
// otherwise, since a bar's carriage returns make a mess of logs and pipes.
// total is the number of articles expected, or -1 when unknown (stdin).
func newProgress(w io.Writer, total int, env func(string) string) progress {
	return newProgressFor(w, total, env, "importing", "articles")
}

// newProgressFor is newProgress for another task (verb, e.g. "reindexing")
// counting other things (unit, e.g. "changes").
func newProgressFor(w io.Writer, total int, env func(string) string, verb, unit string) progress {
	// An empty file needs no bar, and the library cannot draw one of size 0.
	if total == 0 || !isTerminal(w, env) {
		return &lineProgress{w: w, total: total, last: time.Now(), verb: verb, unit: unit}
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(verb),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &barProgress{bar: bar}
}

// isTerminal reports whether w is a character device, i.e. a terminal. It
// uses only the standard library; /dev/null also passes, which is harmless.
func isTerminal(w io.Writer, env func(string) string) bool {
	if env("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

type barProgress struct {
	bar *progressbar.ProgressBar
}

// Errors from drawing are ignored: a broken progress display must not fail
// an import that is otherwise going well.
func (p *barProgress) add(n, _ int) { _ = p.bar.Add(n) }
func (p *barProgress) done()        { _ = p.bar.Finish() }

type lineProgress struct {
	w               io.Writer
	total           int
	handled, failed int
	last            time.Time
	verb, unit      string
}

func (p *lineProgress) add(n, failed int) {
	p.handled += n
	p.failed += failed
	if time.Since(p.last) < plainProgressEvery {
		return
	}
	p.last = time.Now()
	if p.total >= 0 {
		fmt.Fprintf(p.w, "%s: %d of %d %s handled, %d failed\n", p.verb, p.handled, p.total, p.unit, p.failed)
	} else {
		fmt.Fprintf(p.w, "%s: %d %s handled, %d failed\n", p.verb, p.handled, p.unit, p.failed)
	}
}

func (p *lineProgress) done() {}
