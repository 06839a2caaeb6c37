// Package logging sets up the JSON slog logger every function uses.
package logging

import (
	"log/slog"
	"os"
	"strings"
)

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
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: l}))
}
