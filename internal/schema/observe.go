package schema

import (
	"fmt"
	"strings"
	"time"
)

// maxDepth bounds the walk of one event: deeper values are not learned.
const maxDepth = 32

// observation is one event's walk over a shape.
type observation struct {
	s     *Shape
	now   time.Time
	seq   uint64
	limit int
	// novel: the event taught the shape something to store (a path, a type,
	// a first null, a gone path seen again), as opposed to counts only.
	novel bool
	// dropped counts new paths not learned because the shape has limit.
	dropped int
}

// observe learns one event, decoded as encoding/json decodes into any.
// seq must be new for each event.
func (s *Shape) observe(event map[string]any, now time.Time, seq uint64, limit int) (novel bool, dropped int) {
	first := s.Events == 0
	s.Events++
	s.pendingEvents++
	if s.FirstSeen.IsZero() {
		s.FirstSeen = now
	}
	s.LastSeen = later(s.LastSeen, now)
	o := observation{s: s, now: now, seq: seq, limit: limit}
	for k, v := range event {
		o.value(k, v, !first, 1)
	}
	return o.novel, o.dropped
}

// value learns the value v at path. parentKnown says whether the container
// of path was known as such before this event.
func (o *observation) value(path string, v any, parentKnown bool, depth int) {
	s := o.s
	p := s.Paths[path]
	if p == nil {
		if len(s.Paths) >= o.limit {
			o.dropped++
			return
		}
		p = &Path{FirstSeen: o.now, AddedLater: parentKnown, created: o.seq}
		s.Paths[path] = p
		o.novel = true
	}
	if p.seq != o.seq {
		p.seq = o.seq
		if !p.GoneAt.IsZero() && !p.LastSeen.After(p.GoneAt) {
			o.novel = true // seen again: store that it is back
		}
		p.Count++
		p.pendingCount++
		p.LastSeen, p.LastSeenAt = later(p.LastSeen, o.now), max(p.LastSeenAt, s.Events)
	}
	var k Kind
	switch v.(type) {
	case nil:
		if p.nullSeq != o.seq {
			p.nullSeq = o.seq
			if p.Nulls == 0 {
				o.novel = true
			}
			p.Nulls++
			p.pendingNulls++
		}
		o.empty(p)
		return
	case string:
		k = String
	case float64:
		k = Number
	case bool:
		k = Boolean
	case map[string]any:
		k = Object
	case []any:
		k = Array
	default: // json.Number, or anything else a caller decoded
		k = Number
	}
	known := p.created != o.seq && p.Kinds&k != 0
	if p.Kinds&k == 0 {
		p.Kinds |= k
		o.novel = true
	}
	if depth >= maxDepth {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for key, c := range x {
			o.value(path+"."+key, c, known, depth+1)
		}
	case []any:
		if len(x) == 0 {
			o.empty(p)
		}
		// An array's elements are a container of their own: known only
		// once an element was seen, not from empty arrays.
		for _, e := range x {
			o.value(path+"[]", e, false, depth+1)
		}
	}
}

// empty records that the paths under p are not missing from this event.
func (o *observation) empty(p *Path) {
	p.LastEmpty, p.LastEmptyAt = later(p.LastEmpty, o.now), max(p.LastEmptyAt, o.s.Events)
}

// markGone marks the paths not seen for after and in at least minEvents
// events of the type since as possibly removed, and says whether it marked
// any.
func (s *Shape) markGone(now time.Time, after time.Duration, minEvents int64) bool {
	marked := false
	for name, p := range s.Paths {
		if s.Gone(name) {
			continue
		}
		last, at := s.lastSeen(name)
		if now.Sub(last) >= after && s.Events-at >= minEvents {
			p.GoneAt = now
			marked = true
		}
	}
	return marked
}

// Changes are the drift between two versions of a shape.
type Changes struct {
	// Added are new paths with their types ("path: type").
	Added []string
	// Retyped are known paths with a new type ("path: old -> new").
	Retyped []string
	// Removed are paths possibly removed ("path (last seen <time>)").
	Removed []string
}

// Len is the number of changes.
func (c Changes) Len() int { return len(c.Added) + len(c.Retyped) + len(c.Removed) }

func (c Changes) String() string {
	var parts []string
	for _, x := range []struct {
		what string
		list []string
	}{{"added", c.Added}, {"retyped", c.Retyped}, {"possibly removed", c.Removed}} {
		if len(x.list) > 0 {
			parts = append(parts, x.what+" "+strings.Join(x.list, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// Diff is the drift from old to new. A shape with no stored events yet
// (old nil or empty) is a first learning, not a change. A path is added
// when it first has a type and came later than its type's first event in
// a known container; a type is changed when a path with a type gets
// another (never null); a path is removed when it newly became gone, and
// only the topmost of a gone subtree is listed.
func Diff(old, new *Shape) Changes {
	var c Changes
	if old == nil || old.Events == 0 {
		return c
	}
	for _, name := range new.Sorted() {
		p := new.Paths[name]
		q := old.Paths[name]
		switch {
		case p.Kinds != 0 && p.AddedLater && (q == nil || q.Kinds == 0):
			c.Added = append(c.Added, fmt.Sprintf("%s: %s", name, p.Kinds))
		case q != nil && q.Kinds != 0 && p.Kinds&^q.Kinds != 0:
			c.Retyped = append(c.Retyped, fmt.Sprintf("%s: %s -> %s", name, q.Kinds, p.Kinds))
		}
		if new.Gone(name) && !old.Gone(name) && !goneAbove(new, old, name) {
			last, _ := new.lastSeen(name)
			c.Removed = append(c.Removed, fmt.Sprintf("%s (last seen %s)", name, last.UTC().Format(time.RFC3339)))
		}
	}
	return c
}

// goneAbove: an ancestor of path is listed as removed too.
func goneAbove(new, old *Shape, path string) bool {
	for _, a := range ancestors(path) {
		if new.Gone(a) && !old.Gone(a) {
			return true
		}
	}
	return false
}
