package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/clock"
	"github.com/hookline/hookline/internal/metrics"
)

// Store keeps one shape document per event type (ledger.Schemas does, in
// the ledger table).
type Store interface {
	// Load returns the type's document and version; version 0 when none.
	Load(ctx context.Context, eventType string) (doc []byte, version int64, err error)
	// Save writes doc as version+1 if the stored version is still version,
	// and reports false (writing nothing) when another writer came first.
	Save(ctx context.Context, eventType string, doc []byte, version int64) (bool, error)
}

// Defaults of the Learner's tuning fields.
const (
	// DefaultFlushEvery: counts are written with a shape change, or at most
	// this often per type and container when there was none.
	DefaultFlushEvery = 15 * time.Minute
	// DefaultRemovalAfter and DefaultRemovalMinEvents: a path is possibly
	// removed once absent from every event of its type for this long and
	// for at least this many events.
	DefaultRemovalAfter     = 30 * 24 * time.Hour
	DefaultRemovalMinEvents = 100
	// DefaultMaxPaths bounds a type's shape (and its stored document, well
	// under DynamoDB's 400 KB item limit); further new paths are not learned.
	DefaultMaxPaths = 1000
	// DefaultTimeout bounds each store call, so learning never holds up a
	// record for long.
	DefaultTimeout = 2 * time.Second
	// retryAfter: after a failed store call, the type is not tried again
	// for this long (its learning waits in memory).
	retryAfter = time.Minute
	// maxTypes and maxTypeLength bound what one learner keeps: Okta event
	// types are short, and a hook subscribes to at most 300 of them.
	maxTypes      = 1000
	maxTypeLength = 200
	// checkEvery is how often a type's paths are checked for removals.
	checkEvery = time.Minute
	// saveAttempts: a save that keeps losing to other writers gives up for
	// now and is tried again with a later event.
	saveAttempts = 6
)

// Learner learns event shapes from the events it observes. It is safe for
// concurrent use; each event type is read from the Store once per Learner
// (lazily, at its first event) and written only when its shape changes, or
// at most every FlushEvery to save counts: no write per event once a type's
// shape is known.
//
// Writes are conditional on the version read, so learners in several
// containers merge their learning rather than overwrite it, and a change is
// logged ("schema changed") and counted (metrics.SchemaChanges) by the one
// learner whose write stored it: once, not once per container or event.
type Learner struct {
	Store   Store // nil: learn in memory only
	Log     *slog.Logger
	Metrics metrics.Adder // SchemaChanges; nil: none
	Now     func() time.Time

	FlushEvery       time.Duration // default DefaultFlushEvery
	RemovalAfter     time.Duration // default DefaultRemovalAfter
	RemovalMinEvents int64         // default DefaultRemovalMinEvents
	MaxPaths         int           // default DefaultMaxPaths
	Timeout          time.Duration // default DefaultTimeout

	mu          sync.Mutex
	types       map[string]*learned
	typesLogged bool
}

// learned is one event type in one Learner.
type learned struct {
	mu sync.Mutex
	// stored is the shape as last read or written (its Version); view is
	// stored plus what this learner learned since, pending counts included.
	stored, view *Shape
	loaded       bool
	dirty        bool // view knows something stored does not
	seq          uint64
	retryAt      time.Time // no store call before
	flushedAt    time.Time
	checkedAt    time.Time
	limitLogged  bool
}

// Observe learns one event of eventType (its raw JSON). It never fails:
// a store that cannot be read or written is logged, and the learning waits
// in memory for a later event.
func (l *Learner) Observe(ctx context.Context, eventType string, raw json.RawMessage) {
	if eventType == "" || len(eventType) > maxTypeLength {
		return
	}
	t := l.typeOf(eventType)
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := l.now()
	if !t.loaded {
		if now.Before(t.retryAt) {
			return
		}
		if err := l.load(ctx, t, eventType); err != nil {
			l.log().WarnContext(ctx, "schema not read; learning this type resumes in a minute", "eventType", eventType, "error", err.Error(), requestID(ctx))
			t.retryAt = now.Add(retryAfter)
			return
		}
		t.flushedAt = now
	}
	t.seq++
	novel, dropped, err := t.view.observe(raw, now, t.seq, l.maxPaths())
	if err != nil {
		// The worker decoded the event already: this cannot happen short
		// of a bug, and what was read is learned all the same.
		l.log().WarnContext(ctx, "schema: event not fully read", "eventType", eventType, "error", err.Error(), requestID(ctx))
	}
	if dropped > 0 && !t.limitLogged {
		t.limitLogged = true
		l.log().WarnContext(ctx, "schema path limit reached; new paths of this type are not learned", "eventType", eventType, "maxPaths", l.maxPaths(), requestID(ctx))
	}
	if now.Sub(t.checkedAt) >= checkEvery {
		t.checkedAt = now
		if t.view.markGone(now, l.removalAfter(), l.removalMinEvents()) {
			novel = true
		}
	}
	t.dirty = t.dirty || novel
	if l.Store == nil || now.Before(t.retryAt) {
		return
	}
	if t.dirty || now.Sub(t.flushedAt) >= l.flushEvery() {
		switch err := l.save(ctx, t, now); {
		case errors.Is(err, errContended):
			// Others keep writing: this learning stays in memory for the
			// next event, without a pause.
			l.log().DebugContext(ctx, "schema not saved yet", "eventType", eventType, "error", err.Error(), requestID(ctx))
		case err != nil:
			l.log().WarnContext(ctx, "schema not saved; retrying with a later event", "eventType", eventType, "error", err.Error(), requestID(ctx))
			t.retryAt = now.Add(retryAfter)
		}
	}
}

// Flush saves what the learner knows and the store does not, counts
// included, for every type it has read; the worker never needs it (it
// saves as it goes), a one-off learner such as `hookline schema --seed`
// does.
func (l *Learner) Flush(ctx context.Context) error {
	if l.Store == nil {
		return nil
	}
	l.mu.Lock()
	all := make([]*learned, 0, len(l.types))
	for _, t := range l.types {
		all = append(all, t)
	}
	l.mu.Unlock()
	var errs []error
	for _, t := range all {
		t.mu.Lock()
		if t.loaded && (t.dirty || t.view.pendingEvents > 0) {
			if err := l.save(ctx, t, l.now()); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", t.view.EventType, err))
			}
		}
		t.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Shape is a copy of what the learner knows of the type (nil if nothing).
func (l *Learner) Shape(eventType string) *Shape {
	l.mu.Lock()
	t := l.types[eventType]
	l.mu.Unlock()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.view == nil {
		return nil
	}
	return t.view.clone()
}

func (l *Learner) typeOf(eventType string) *learned {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.types == nil {
		l.types = map[string]*learned{}
	}
	t := l.types[eventType]
	if t == nil {
		if len(l.types) >= maxTypes {
			// Okta allows 300 types per hook: this many is not Okta's doing.
			if !l.typesLogged {
				l.typesLogged = true
				l.log().Warn("schema type limit reached; new event types are not learned", "maxTypes", maxTypes)
			}
			return nil
		}
		t = &learned{}
		l.types[eventType] = t
	}
	return t
}

// load reads the stored shape of the type.
func (l *Learner) load(ctx context.Context, t *learned, eventType string) error {
	stored, err := l.read(ctx, eventType)
	if err != nil {
		return err
	}
	t.stored, t.view, t.loaded = stored, stored.clone(), true
	return nil
}

func (l *Learner) read(ctx context.Context, eventType string) (*Shape, error) {
	if l.Store == nil {
		return NewShape(eventType), nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	doc, version, err := l.Store.Load(ctx, eventType)
	if err != nil {
		return nil, err
	}
	if version == 0 {
		return NewShape(eventType), nil
	}
	s, err := Unmarshal(doc, version)
	if err != nil {
		return nil, err
	}
	s.EventType = eventType
	return s, nil
}

// errContended: other writers kept winning.
var errContended = errors.New("schema: the stored shape kept changing under this write")

// save writes the view, merged into whatever another learner stored since
// this one read, and reports the changes the write made.
func (l *Learner) save(ctx context.Context, t *learned, now time.Time) error {
	eventType := t.view.EventType
	// One deadline for every attempt: a save never holds up an event for
	// longer than Timeout, however many writers it meets.
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	for attempt := range saveAttempts {
		if attempt > 1 {
			// Two learners that keep meeting: a little jitter parts them.
			if err := clock.Sleep(ctx, rand.N(10*time.Millisecond<<attempt)); err != nil {
				return err
			}
		}
		doc := t.view.Marshal()
		ok, err := l.Store.Save(ctx, eventType, doc, t.stored.Version)
		if err != nil {
			return err
		}
		if ok {
			written, _ := Unmarshal(doc, t.stored.Version+1)
			written.EventType = eventType
			l.report(ctx, t.stored, written)
			t.stored = written
			t.view.Version = written.Version
			clearPending(t.view)
			t.dirty, t.flushedAt = false, now
			return nil
		}
		// Another learner wrote first: start from what it stored, add what
		// this one learned (its structure, and the counts not yet saved).
		stored, err := l.read(ctx, eventType)
		if err != nil {
			return err
		}
		t.stored = stored
		t.view = rebase(stored, t.view)
		if t.dirty && !adds(stored, t.view) && now.Sub(t.flushedAt) < l.flushEvery() {
			// The other writer stored all this learner had to add (the same
			// new field, seen in both): no write, and nothing to report.
			// The counts wait for the next change or FlushEvery.
			t.dirty = false
			return nil
		}
	}
	return errContended
}

// adds says whether view knows something stored does not: a path, a type,
// a first null, a gone mark, or a gone path seen again.
func adds(stored, view *Shape) bool {
	for name, p := range view.Paths {
		q := stored.Paths[name]
		if q == nil || p.Kinds&^q.Kinds != 0 || (p.Nulls > 0 && q.Nulls == 0) || view.Gone(name) != stored.Gone(name) {
			return true
		}
	}
	return false
}

// rebase is stored plus what view learned that was never saved.
func rebase(stored, view *Shape) *Shape {
	v := stored.clone()
	v.mergeStructure(view)
	v.Events += view.pendingEvents
	v.pendingEvents = view.pendingEvents
	for name, p := range view.Paths {
		q := v.Paths[name]
		q.Count += p.pendingCount
		q.Nulls += p.pendingNulls
		q.pendingCount, q.pendingNulls = p.pendingCount, p.pendingNulls
		q.seq, q.nullSeq, q.created = p.seq, p.nullSeq, p.created
	}
	return v
}

func clearPending(s *Shape) {
	s.pendingEvents = 0
	for _, p := range s.Paths {
		p.pendingCount, p.pendingNulls = 0, 0
	}
}

// report logs and counts the changes from old to new.
func (l *Learner) report(ctx context.Context, old, new *Shape) {
	if old.Version == 0 {
		l.log().InfoContext(ctx, "schema learned", "eventType", new.EventType, "paths", len(new.Paths), "version", new.Version, requestID(ctx))
		return
	}
	c := Diff(old, new)
	if c.Len() == 0 {
		return
	}
	attrs := []any{"eventType", new.EventType, "changes", c.Len(), "version", new.Version, requestID(ctx)}
	if len(c.Added) > 0 {
		attrs = append(attrs, "added", c.Added)
	}
	if len(c.Retyped) > 0 {
		attrs = append(attrs, "retyped", c.Retyped)
	}
	if len(c.Removed) > 0 {
		attrs = append(attrs, "possiblyRemoved", c.Removed)
	}
	l.log().WarnContext(ctx, "schema changed", attrs...)
	if l.Metrics != nil {
		l.Metrics.Add(metrics.SchemaChanges, float64(c.Len()))
	}
}

func (l *Learner) now() time.Time {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	// Seconds are plenty, and keep the stored document short.
	return now().UTC().Truncate(time.Second)
}

func (l *Learner) log() *slog.Logger {
	if l.Log != nil {
		return l.Log
	}
	return slog.New(slog.DiscardHandler)
}

// requestID is the Lambda request id attribute the worker's lines carry,
// so a change is found next to the events that brought it.
func requestID(ctx context.Context) slog.Attr {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return slog.String("awsRequestId", lc.AwsRequestID)
	}
	return slog.Attr{}
}

func (l *Learner) flushEvery() time.Duration { return orDefault(l.FlushEvery, DefaultFlushEvery) }

func (l *Learner) removalAfter() time.Duration { return orDefault(l.RemovalAfter, DefaultRemovalAfter) }

func (l *Learner) timeout() time.Duration { return orDefault(l.Timeout, DefaultTimeout) }

func (l *Learner) removalMinEvents() int64 {
	return orDefault(l.RemovalMinEvents, DefaultRemovalMinEvents)
}

func (l *Learner) maxPaths() int { return orDefault(l.MaxPaths, DefaultMaxPaths) }

func orDefault[T int | int64 | time.Duration](v, d T) T {
	if v > 0 {
		return v
	}
	return d
}
