// Package ledgertest provides an in-process ledger.Ledger for tests, with the
// same claim, lease and completion rules as the DynamoDB ledger, and the same
// subject leases and watermarks (ledger.Subjects); the shared suites in
// internal/ledger run on both.
package ledgertest

import (
	"context"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/ledger"
)

// Memory is an in-process ledger.Ledger. The zero value is
// ready to use.
type Memory struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu       sync.Mutex
	records  map[string]*memRecord
	subjects map[string]*memSubject
}

type memRecord struct {
	completed  bool
	owner      string
	leaseUntil time.Time
	attempts   int
}

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Claim implements Ledger.
func (m *Memory) Claim(ctx context.Context, key ledger.Key, owner string, lease time.Duration) (ledger.Claim, error) {
	if err := ctx.Err(); err != nil {
		return ledger.Claim{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.records == nil {
		m.records = map[string]*memRecord{}
	}
	now := m.now()
	r := m.records[key.ID()]
	switch {
	case r == nil:
		r = &memRecord{}
		m.records[key.ID()] = r
	case r.completed:
		return ledger.Claim{Status: ledger.AlreadyCompleted, Attempts: r.attempts}, nil
	case !r.leaseUntil.Before(now):
		return ledger.Claim{Status: ledger.InProgress, Attempts: r.attempts, LeaseUntil: r.leaseUntil}, nil
	}
	r.owner, r.leaseUntil = owner, now.Add(lease)
	r.attempts++
	return ledger.Claim{Status: ledger.Acquired, Attempts: r.attempts}, nil
}

// Complete implements Ledger.
func (m *Memory) Complete(ctx context.Context, key ledger.Key, owner string) error {
	return m.update(ctx, key, owner, func(r *memRecord) { r.completed = true })
}

// Release implements Ledger.
func (m *Memory) Release(ctx context.Context, key ledger.Key, owner string) error {
	return m.update(ctx, key, owner, func(r *memRecord) { r.leaseUntil = time.Time{} })
}

func (m *Memory) update(ctx context.Context, key ledger.Key, owner string, f func(*memRecord)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.records[key.ID()]
	if r == nil || r.completed || r.owner != owner {
		return ledger.ErrNotOwner
	}
	f(r)
	return nil
}

type memSubject struct {
	owner      string
	leaseUntil time.Time
	watermark  ledger.Position
}

// AcquireSubject implements ledger.Subjects.
func (m *Memory) AcquireSubject(ctx context.Context, key ledger.SubjectKey, owner string, lease time.Duration) (ledger.Lease, error) {
	if err := ctx.Err(); err != nil {
		return ledger.Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subjects == nil {
		m.subjects = map[string]*memSubject{}
	}
	now := m.now()
	s := m.subjects[key.ID()]
	switch {
	case s == nil:
		s = &memSubject{}
		m.subjects[key.ID()] = s
	case !s.leaseUntil.Before(now):
		return ledger.Lease{Status: ledger.InProgress, LeaseUntil: s.leaseUntil}, nil
	}
	s.owner, s.leaseUntil = owner, now.Add(lease)
	return ledger.Lease{Status: ledger.Acquired, Watermark: s.watermark}, nil
}

// AdvanceSubject implements ledger.Subjects.
func (m *Memory) AdvanceSubject(ctx context.Context, key ledger.SubjectKey, owner string, pos ledger.Position) error {
	return m.updateSubject(ctx, key, owner, func(s *memSubject) { s.watermark, s.leaseUntil = pos, time.Time{} })
}

// ReleaseSubject implements ledger.Subjects.
func (m *Memory) ReleaseSubject(ctx context.Context, key ledger.SubjectKey, owner string) error {
	return m.updateSubject(ctx, key, owner, func(s *memSubject) { s.leaseUntil = time.Time{} })
}

// Watermark is the newest event run for the subject (zero if none).
func (m *Memory) Watermark(key ledger.SubjectKey) ledger.Position {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.subjects[key.ID()]; s != nil {
		return s.watermark
	}
	return ledger.Position{}
}

func (m *Memory) updateSubject(ctx context.Context, key ledger.SubjectKey, owner string, f func(*memSubject)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.subjects[key.ID()]
	if s == nil || s.owner != owner {
		return ledger.ErrNotOwner
	}
	f(s)
	return nil
}
