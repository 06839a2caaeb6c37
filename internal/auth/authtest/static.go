// Package authtest has test doubles for package auth; the functions never
// import it.
package authtest

import (
	"context"
	"sync"
)

// Static is an in-memory auth.Secrets for unit tests and benchmarks. It is
// safe for concurrent use: the verifier reads in the background.
type Static struct {
	mu                sync.Mutex
	current, previous string
	err               error
	hang              bool
	calls             int
}

// NewStatic returns a store holding current and previous.
func NewStatic(current, previous string) *Static {
	return &Static{current: current, previous: previous}
}

// Fetch implements auth.Secrets. While hanging, it returns only when ctx is
// done, as a Secrets Manager that stopped answering would.
func (s *Static) Fetch(ctx context.Context) (string, string, error) {
	s.mu.Lock()
	s.calls++
	hang := s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return "", "", ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current, s.previous, s.err
}

// Rotate makes value current and the current one previous, as
// PutSecretValue does.
func (s *Static) Rotate(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.previous = value, s.current
}

// SetErr makes every Fetch fail with err (nil: succeed again).
func (s *Static) SetErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// SetHang makes Fetch hang until its context is done.
func (s *Static) SetHang(hang bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = hang
}

// Calls returns how many times Fetch was called.
func (s *Static) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}
