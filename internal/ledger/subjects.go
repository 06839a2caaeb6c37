package ledger

import (
	"context"
	"time"
)

// SubjectKey names one handler's state of one subject (a user id, ...).
type SubjectKey struct {
	Handler string
	Subject string
}

// ID is the record's partition key value.
func (k SubjectKey) ID() string { return PrefixSubject + k.Handler + "#" + k.Subject }

// Position orders the events of a subject: by Okta's published time, then by
// uuid to break ties.
type Position struct {
	Published time.Time
	UUID      string
}

// NewPosition is an event's Position at the precision the ledger keeps
// (microseconds): a published time with finer digits would otherwise read
// back older than itself and run its event again.
func NewPosition(published time.Time, uuid string) Position {
	return Position{Published: published.Truncate(time.Microsecond), UUID: uuid}
}

// IsZero reports whether no event has run yet.
func (p Position) IsZero() bool { return p.UUID == "" && p.Published.IsZero() }

// Compare returns -1, 0 or +1 as p is older than, the same as, or newer
// than q. A zero Position is older than any event.
func (p Position) Compare(q Position) int {
	switch {
	case p.IsZero() && q.IsZero():
		return 0
	case p.IsZero():
		return -1
	case q.IsZero():
		return 1
	}
	if c := p.Published.Compare(q.Published); c != 0 {
		return c
	}
	switch {
	case p.UUID < q.UUID:
		return -1
	case p.UUID > q.UUID:
		return 1
	}
	return 0
}

// Lease is what AcquireSubject found.
type Lease struct {
	// Status is Acquired (the caller holds the subject and must call
	// AdvanceSubject or ReleaseSubject) or InProgress (another owner holds
	// an unexpired lease).
	Status Status
	// Watermark is the newest event run for the subject so far (zero if
	// none), when Status is Acquired.
	Watermark Position
	// LeaseUntil is the holder's lease when Status is InProgress.
	LeaseUntil time.Time
}

// Subjects is the per-subject store behind handlers.Latest: a lease, so
// events of one subject run one at a time, and a watermark, the newest event
// run. Both ledgers here implement it, in the idempotency table.
type Subjects interface {
	// AcquireSubject takes the subject's lease for owner if it is free or
	// has run out (a crashed holder's), and returns the watermark.
	AcquireSubject(ctx context.Context, key SubjectKey, owner string, lease time.Duration) (Lease, error)
	// AdvanceSubject records pos as the watermark and frees the lease. It
	// returns ErrNotOwner when the lease was lost.
	AdvanceSubject(ctx context.Context, key SubjectKey, owner string, pos Position) error
	// ReleaseSubject frees the lease, leaving the watermark as it was.
	ReleaseSubject(ctx context.Context, key SubjectKey, owner string) error
}
