// Package schema learns the shape of each Okta event type from the events
// the worker handles (the set of JSON paths and their JSON types, an
// array's elements merged), keeps it in a Store shared by every worker
// container, and reports drift: a new path or a new type of a known path
// is logged once as "schema changed" and counted, and a path absent from
// every event for a long while is reported as possibly removed.
//
// Nulls are never drift: Okta sends many fields as null. A null is recorded
// (the path's Nulls count), a path seen only as null has no type yet, and
// its first real type is learned quietly, as is everything under it. A null
// or an empty array is also no evidence that the paths below it went away.
//
// Paths are written as in a jq filter without the leading dot: keys joined
// by ".", and "[]" for an array's elements, so `target[].id` is the id of
// any element of target.
package schema

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Kind is a set of JSON types other than null.
type Kind uint8

// JSON types.
const (
	String Kind = 1 << iota
	Number
	Boolean
	Object
	Array
)

var kindNames = []struct {
	k    Kind
	name string
}{{String, "string"}, {Number, "number"}, {Boolean, "boolean"}, {Object, "object"}, {Array, "array"}}

// Names are the JSON type names of k, in a fixed order.
func (k Kind) Names() []string {
	var out []string
	for _, n := range kindNames {
		if k&n.k != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (k Kind) String() string {
	if k == 0 {
		return "null"
	}
	return strings.Join(k.Names(), "|")
}

func kindOf(name string) Kind {
	for _, n := range kindNames {
		if n.name == name {
			return n.k
		}
	}
	return 0
}

// Path is what is known of one path of an event type.
type Path struct {
	// Kinds are the non-null types seen; none when only null was.
	Kinds Kind
	// Count is how many events had the path (null included); Nulls how many
	// of those had it null.
	Count, Nulls int64
	FirstSeen    time.Time
	// LastSeen is when an event last had the path, and LastSeenAt the
	// type's event count then.
	LastSeen   time.Time
	LastSeenAt int64
	// LastEmpty is when the path was last null or an empty array, so that
	// its absent children were no evidence of a removal; LastEmptyAt the
	// type's event count then.
	LastEmpty   time.Time
	LastEmptyAt int64
	// GoneAt is when the path was reported as possibly removed. It is gone
	// while it has not been seen since.
	GoneAt time.Time
	// AddedLater: the path first came after its type's first event, in a
	// container already known, so its first real type is reported as an
	// added path. Paths of the first event, and paths under a container
	// seen only as null or empty so far, are learned quietly.
	AddedLater bool

	// Counted in this container and not yet saved.
	pendingCount, pendingNulls int64
	// seq and nullSeq are the last events (of this container) that counted
	// the path and its null; created the event that added it.
	seq, nullSeq, created uint64
}

// Type is the path's types as `hookline schema` prints them: "string",
// "string|null", "null" for a path seen only as null.
func (p *Path) Type() string {
	if p.Nulls > 0 && p.Kinds != 0 {
		return p.Kinds.String() + "|null"
	}
	return p.Kinds.String()
}

// Shape is what is known of one event type.
type Shape struct {
	EventType string
	// Events is how many events of the type were learned from.
	Events    int64
	FirstSeen time.Time
	LastSeen  time.Time
	Paths     map[string]*Path
	// Version is the stored version the shape was read at (0: not stored).
	Version int64

	pendingEvents int64
	root          *node // the walk's cache of Paths; nil until the first walk
}

// NewShape is an empty shape of the event type.
func NewShape(eventType string) *Shape {
	return &Shape{EventType: eventType, Paths: map[string]*Path{}}
}

// Sorted lists the paths in order.
func (s *Shape) Sorted() []string {
	return slices.Sorted(maps.Keys(s.Paths))
}

// Gone says whether the path is reported as possibly removed and was not
// seen since.
func (s *Shape) Gone(path string) bool {
	p := s.Paths[path]
	if p == nil || p.GoneAt.IsZero() {
		return false
	}
	last, _ := s.lastSeen(path)
	return !last.After(p.GoneAt)
}

// lastSeen is when the path was last seen, or known not to be missing: an
// ancestor was null or an empty array then. at is the event count then.
func (s *Shape) lastSeen(path string) (time.Time, int64) {
	p := s.Paths[path]
	last, at := p.LastSeen, p.LastSeenAt
	for _, a := range ancestors(path) {
		if q := s.Paths[a]; q != nil && q.LastEmpty.After(last) {
			last, at = q.LastEmpty, max(at, q.LastEmptyAt)
		}
	}
	return last, at
}

// ancestors are the paths above path, nearest last: a, a.b, a.b[] for
// a.b[].c.
func ancestors(path string) []string {
	var out []string
	for i := 1; i < len(path); i++ {
		switch {
		case path[i] == '.':
			out = append(out, path[:i])
		case path[i] == '[' && strings.HasPrefix(path[i:], "[]"):
			out = append(out, path[:i])
			if i+2 < len(path) && path[i+2] == '.' {
				out = append(out, path[:i+2])
			}
		}
	}
	return out
}

// mergeStructure adds what other knows to s: types, times and gone marks are
// unions, the counts are taken from s (callers add pending counts).
func (s *Shape) mergeStructure(other *Shape) {
	if s.FirstSeen.IsZero() || (!other.FirstSeen.IsZero() && other.FirstSeen.Before(s.FirstSeen)) {
		s.FirstSeen = other.FirstSeen
	}
	s.LastSeen = later(s.LastSeen, other.LastSeen)
	for name, o := range other.Paths {
		p := s.Paths[name]
		if p == nil {
			p = &Path{FirstSeen: o.FirstSeen}
			s.Paths[name] = p
		}
		p.Kinds |= o.Kinds
		if p.FirstSeen.IsZero() || (!o.FirstSeen.IsZero() && o.FirstSeen.Before(p.FirstSeen)) {
			p.FirstSeen = o.FirstSeen
		}
		p.LastSeen, p.LastSeenAt = later(p.LastSeen, o.LastSeen), max(p.LastSeenAt, o.LastSeenAt)
		p.LastEmpty, p.LastEmptyAt = later(p.LastEmpty, o.LastEmpty), max(p.LastEmptyAt, o.LastEmptyAt)
		p.GoneAt = later(p.GoneAt, o.GoneAt)
		p.AddedLater = p.AddedLater || o.AddedLater
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// clone is a deep copy without pending counts.
func (s *Shape) clone() *Shape {
	c := &Shape{EventType: s.EventType, Events: s.Events, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen,
		Version: s.Version, Paths: make(map[string]*Path, len(s.Paths))}
	for name, p := range s.Paths {
		q := *p
		q.pendingCount, q.pendingNulls, q.seq, q.nullSeq, q.created = 0, 0, 0, 0, 0
		c.Paths[name] = &q
	}
	return c
}

// document is the stored form of a Shape.
type document struct {
	EventType string                  `json:"eventType"`
	Events    int64                   `json:"events"`
	FirstSeen time.Time               `json:"firstSeen,omitzero"`
	LastSeen  time.Time               `json:"lastSeen,omitzero"`
	Paths     map[string]documentPath `json:"paths"`
}

type documentPath struct {
	Types       []string  `json:"types,omitempty"`
	Count       int64     `json:"count"`
	Nulls       int64     `json:"nulls,omitempty"`
	FirstSeen   time.Time `json:"firstSeen,omitzero"`
	LastSeen    time.Time `json:"lastSeen,omitzero"`
	LastSeenAt  int64     `json:"lastSeenAt,omitempty"`
	LastEmpty   time.Time `json:"lastEmpty,omitzero"`
	LastEmptyAt int64     `json:"lastEmptyAt,omitempty"`
	GoneAt      time.Time `json:"goneAt,omitzero"`
	AddedLater  bool      `json:"addedLater,omitempty"`
}

// Marshal is the shape's stored document.
func (s *Shape) Marshal() []byte {
	d := document{EventType: s.EventType, Events: s.Events, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen,
		Paths: make(map[string]documentPath, len(s.Paths))}
	for name, p := range s.Paths {
		d.Paths[name] = documentPath{Types: p.Kinds.Names(), Count: p.Count, Nulls: p.Nulls, FirstSeen: p.FirstSeen,
			LastSeen: p.LastSeen, LastSeenAt: p.LastSeenAt, LastEmpty: p.LastEmpty, LastEmptyAt: p.LastEmptyAt, GoneAt: p.GoneAt, AddedLater: p.AddedLater}
	}
	b, _ := json.Marshal(d) // plain data: cannot fail
	return b
}

// Unmarshal reads a stored document at its version.
func Unmarshal(b []byte, version int64) (*Shape, error) {
	var d document
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("schema: stored shape: %w", err)
	}
	s := &Shape{EventType: d.EventType, Events: d.Events, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen,
		Version: version, Paths: make(map[string]*Path, len(d.Paths))}
	for name, dp := range d.Paths {
		p := &Path{Count: dp.Count, Nulls: dp.Nulls, FirstSeen: dp.FirstSeen, LastSeen: dp.LastSeen,
			LastSeenAt: dp.LastSeenAt, LastEmpty: dp.LastEmpty, LastEmptyAt: dp.LastEmptyAt, GoneAt: dp.GoneAt, AddedLater: dp.AddedLater}
		for _, t := range dp.Types {
			p.Kinds |= kindOf(t)
		}
		s.Paths[name] = p
	}
	return s, nil
}
