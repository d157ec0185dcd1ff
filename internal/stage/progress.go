package stage

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Bar is the progress display of a long stage on a terminal: a count of
// unit against a total (a spinner while the total is unknown, total < 0).
// A nil *Bar ignores every call, so callers need not check for a terminal.
type Bar struct{ b *progressbar.ProgressBar }

// NewBar returns a Bar writing to w, or nil when show is false (w is not a
// terminal: structured logs tell the story there).
func NewBar(w io.Writer, show bool, desc, unit string, total int64) *Bar {
	if !show {
		return nil
	}
	opts := []progressbar.Option{progressbar.OptionSetWriter(w), progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(250 * time.Millisecond), progressbar.OptionClearOnFinish()}
	if unit == "bytes" {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else if unit != "" {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit))
	}
	if total < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	}
	return &Bar{progressbar.NewOptions64(total, opts...)}
}

// Set shows done of total (total <= 0 keeps the current total) and, when
// desc is not empty, a new description.
func (b *Bar) Set(done, total int64, desc string) {
	if b == nil {
		return
	}
	if total > 0 {
		b.b.ChangeMax64(max(total, done))
	}
	if desc != "" {
		b.b.Describe(desc)
	}
	_ = b.b.Set64(done)
}

// Add advances the bar by n.
func (b *Bar) Add(n int64) {
	if b != nil {
		_ = b.b.Add64(n)
	}
}

// Finish completes and clears the bar.
func (b *Bar) Finish() {
	if b != nil {
		_ = b.b.Finish()
	}
}
