// Package config reads a Lambda's settings from its environment.
//
// Each function reads its settings through an Env whose Getenv a test can
// replace, so the test can record the names the function reads and compare
// them with the ones template.yaml sets (see internal/deploycheck).
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Env reads variables and collects the problems of one startup, so that
// every missing or bad variable is reported at once instead of one per
// deploy. The zero value reads the process environment.
type Env struct {
	// Getenv returns a variable's value, "" when unset; nil means os.Getenv.
	Getenv func(name string) string

	errs []error
}

func (e *Env) get(name string) string {
	if e.Getenv == nil {
		return os.Getenv(name)
	}
	return e.Getenv(name)
}

// Required returns the variable's value and records an error if it is unset or blank.
func (e *Env) Required(name string) string {
	v := strings.TrimSpace(e.get(name))
	if v == "" {
		e.errs = append(e.errs, fmt.Errorf("%s is required but not set", name))
	}
	return v
}

// Optional returns the variable's value, or def when it is unset or blank.
func (e *Env) Optional(name, def string) string {
	if v := strings.TrimSpace(e.get(name)); v != "" {
		return v
	}
	return def
}

// Bytes reads a positive byte count.
func (e *Env) Bytes(name string, def int) int {
	raw := e.Optional(name, strconv.Itoa(def))
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive number of bytes", name, raw))
		return def
	}
	return n
}

// Count reads a whole number that may be zero, such as a receive count
// where zero turns a feature off.
func (e *Env) Count(name string, def int) int {
	raw := e.Optional(name, strconv.Itoa(def))
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a whole number, 0 or more", name, raw))
		return def
	}
	return n
}

// Duration reads a positive Go duration such as "5m" or "2s", or a whole
// number of days such as "120d", which retention settings read better as.
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	raw := e.Optional(name, def.String())
	d, err := parseDuration(raw)
	if err != nil || d <= 0 {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: want a positive duration like 5m, 2s or 120d", name, raw))
		return def
	}
	return d
}

func parseDuration(raw string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(raw, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 100*365 {
			return 0, fmt.Errorf("bad day count %q", days)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(raw)
}

// List reads a comma-separated list, trimming each item and dropping empty
// ones; unset or blank is an empty list.
func (e *Env) List(name string) []string {
	var out []string
	for _, item := range strings.Split(e.Optional(name, ""), ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// Err reports every problem seen so far, or nil.
func (e *Env) Err() error {
	if len(e.errs) == 0 {
		return nil
	}
	return fmt.Errorf("configuration: %w", errors.Join(e.errs...))
}
