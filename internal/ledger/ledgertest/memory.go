// Package ledgertest provides an in-process ledger.Ledger for tests, with the
// same claim, lease and completion rules as the DynamoDB ledger (the shared
// suite in internal/ledger runs on both).
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

	mu      sync.Mutex
	records map[string]*memRecord
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
