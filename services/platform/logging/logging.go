// Package logging builds the structured logger every binary uses.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a logger writing to w at the named level ("debug", "info",
// "warn", "error"; info when unknown), as JSON when json is true.
func New(w io.Writer, level string, json bool) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
