// Package logging sets up the JSON slog logger every function uses.
package logging

import (
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// Stdout is the function's standard output, one Write at a time. The logger
// and the metrics lines (internal/metrics) both write through it, so a line
// of one is never cut by a line of the other.
var Stdout io.Writer = &lockedWriter{w: os.Stdout}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// New returns a JSON logger on stdout at the level named by LOG_LEVEL
// (debug, info, warn, error; default info). Lambda sends stdout to CloudWatch.
func New(level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(Stdout, &slog.HandlerOptions{Level: l}))
}
