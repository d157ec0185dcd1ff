package stage

import "log/slog"

var discard = slog.New(slog.DiscardHandler)

// logOf returns l, or a logger that discards when l is nil.
func logOf(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}
