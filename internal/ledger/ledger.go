// Package ledger is hookline's DynamoDB table (LedgerTable) and everything
// the functions keep in it, each kind under its own key prefix (keys.go,
// which also says which function may write which kind):
//
//   - handler records, "<uuid>#<handler>" (Ledger, DynamoDB): which handler
//     has handled which event, so that a duplicate delivery (Okta retries,
//     SQS redelivery, a replay, redrive) runs each handler at most once per
//     event uuid. A handler run is claimed before it starts (IN_PROGRESS
//     with a lease) and marked COMPLETED after it succeeds. A failed run
//     releases its claim so the retry can take it at once; a crashed run's
//     claim is taken again once its lease has run out. Written by the worker.
//   - delivery marks, "delivered#<uuid>" (Marks): which events reached the
//     events queue and from which origin, so the reconciler and replay skip
//     them. Written by the receiver and the reconciler.
//   - cursors, "cursor#<name>" (Cursors): where the reconciler's System Log
//     read stopped.
//   - Okta's side of the hook, "oktaside#<name>" (OktaSideStore): what the
//     reconciler's hook health watch remembers between runs.
//   - subjects, "subject#<handler>#<subject>" (Subjects): a Latest
//     handler's lease and watermark of one subject. Written by the worker.
//   - schemas, "schema#<eventType>" (Schemas): the payload shape the worker
//     learned for an event type (package schema owns the content).
//
// Every item but cursors, Okta's side and schemas expires with the table's
// TTL (Retention, DefaultRetention).
package ledger

import (
	"context"
	"errors"
	"time"
)

// DefaultRetention keeps records longer than the Okta System Log's 90 days,
// so that replaying events from the System Log never runs an old one again.
const DefaultRetention = 120 * 24 * time.Hour

// Key names one handler's work on one event.
type Key struct {
	EventUUID string
	Handler   string
}

// ID is the record's partition key value.
func (k Key) ID() string { return k.EventUUID + "#" + k.Handler }

// Status is the outcome of a claim.
type Status int

const (
	// Acquired: the caller owns the run and must Complete or Release it.
	Acquired Status = iota + 1
	// AlreadyCompleted: the handler has already succeeded for this event.
	AlreadyCompleted
	// InProgress: another owner holds an unexpired lease.
	InProgress
)

func (s Status) String() string {
	switch s {
	case Acquired:
		return "acquired"
	case AlreadyCompleted:
		return "completed"
	case InProgress:
		return "in-progress"
	}
	return "unknown"
}

// Claim is what Claim found.
type Claim struct {
	Status Status
	// Attempts counts the claims acquired on this key so far, this one
	// included (0 when unknown).
	Attempts int
	// LeaseUntil is the holder's lease when Status is InProgress.
	LeaseUntil time.Time
}

// ErrNotOwner means the record is no longer the caller's claim: its lease ran
// out and someone else took it, or it was completed.
var ErrNotOwner = errors.New("ledger: claim is not held by this owner")

// Ledger is the idempotency store. owner identifies one attempt (it must be
// unique per attempt, not per message: a message can be redelivered while
// its first attempt still runs).
type Ledger interface {
	Claim(ctx context.Context, key Key, owner string, lease time.Duration) (Claim, error)
	// Complete marks the owner's claim done. It returns ErrNotOwner when the
	// claim was lost.
	Complete(ctx context.Context, key Key, owner string) error
	// Release gives up the owner's claim so a retry can take it at once.
	Release(ctx context.Context, key Key, owner string) error
}
