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
	sc      scanner
}

// node caches the walk from a path to its children, so that a known
// event costs map lookups by key and no string building.
type node struct {
	path string // "" for the event itself
	p    *Path
	kids map[string]*node // by key; "[]" for an array's elements
}

// child is the node of key under n, creating its path if needed; nil when
// the shape is full.
func (o *observation) child(n *node, key []byte, parentKnown bool) *node {
	if c := n.kids[string(key)]; c != nil {
		return c
	}
	var path string
	switch {
	case n.path == "":
		path = string(key)
	case string(key) == "[]":
		path = n.path + "[]"
	default:
		path = n.path + "." + string(key)
	}
	p := o.s.Paths[path]
	if p == nil {
		if len(o.s.Paths) >= o.limit {
			o.dropped++
			return nil
		}
		p = &Path{FirstSeen: o.now, AddedLater: parentKnown, created: o.seq}
		o.s.Paths[path] = p
		o.novel = true
	}
	c := &node{path: path, p: p}
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	n.kids[string(key)] = c
	return c
}

// elements is the key of an array's elements in a node's kids.
var elements = []byte("[]")

// observe learns one event, its raw JSON object. seq must be new for each
// event. A malformed event is learned as far as it reads.
func (s *Shape) observe(raw []byte, now time.Time, seq uint64, limit int) (novel bool, dropped int, err error) {
	first := s.Events == 0
	s.Events++
	s.pendingEvents++
	if s.FirstSeen.IsZero() {
		s.FirstSeen = now
	}
	s.LastSeen = later(s.LastSeen, now)
	if s.root == nil {
		s.root = &node{}
	}
	o := observation{s: s, now: now, seq: seq, limit: limit, sc: scanner{b: raw}}
	if o.sc.ws(); o.sc.peek() != '{' {
		return false, 0, errNotObject
	}
	err = o.object(s.root, !first, 0)
	return o.novel, o.dropped, err
}

// object walks the object at the scanner under n (nil: skip it). known says
// whether n was known as an object before this event.
func (o *observation) object(n *node, known bool, depth int) error {
	sc := &o.sc
	sc.i++ // {
	for {
		sc.ws()
		switch sc.peek() {
		case '}':
			sc.i++
			return nil
		case ',':
			sc.i++
			continue
		}
		key, err := sc.str()
		if err != nil {
			return err
		}
		if sc.ws(); sc.peek() != ':' {
			return errSyntax
		}
		sc.i++
		var c *node
		// A top-level "" would be no path at all: it is not learned.
		if n != nil && depth < maxDepth && (len(key) > 0 || n != o.s.root) {
			c = o.child(n, key, known)
		}
		if err := o.value(c, depth+1); err != nil {
			return err
		}
	}
}

// value learns the value at the scanner as n's (nil: skip it).
func (o *observation) value(n *node, depth int) error {
	sc := &o.sc
	sc.ws()
	var k Kind
	switch c := sc.peek(); {
	case c == '{':
		k = Object
	case c == '[':
		k = Array
	case c == '"':
		k = String
	case c == 't' || c == 'f':
		k = Boolean
	case c == 'n':
		k = 0
	case c == '-' || (c >= '0' && c <= '9'):
		k = Number
	default:
		return errSyntax
	}
	known := false
	if n != nil {
		known = o.touch(n.p, k)
	}
	switch k {
	case Object:
		return o.object(n, known, depth)
	case Array:
		sc.i++ // [
		empty := true
		for {
			sc.ws()
			switch sc.peek() {
			case ']':
				sc.i++
				if empty && n != nil {
					o.empty(n.p)
				}
				return nil
			case ',':
				sc.i++
				continue
			}
			empty = false
			// An array's elements are a container of their own: known
			// only once an element was seen, not from empty arrays.
			var c *node
			if n != nil && depth < maxDepth {
				c = o.child(n, elements, false)
			}
			if err := o.value(c, depth+1); err != nil {
				return err
			}
		}
	case String:
		_, err := sc.str()
		return err // a value's escapes cost an allocation; rare in Okta's events
	case 0:
		if n != nil {
			o.empty(n.p)
		}
		return sc.literal("null")
	case Boolean:
		if sc.peek() == 't' {
			return sc.literal("true")
		}
		return sc.literal("false")
	default:
		sc.number()
		return nil
	}
}

// touch counts p as present in this event with a value of kind k (0:
// null), and says whether p was known with that kind before the event.
func (o *observation) touch(p *Path, k Kind) (known bool) {
	s := o.s
	if p.seq != o.seq {
		p.seq = o.seq
		if !p.GoneAt.IsZero() && !p.LastSeen.After(p.GoneAt) {
			o.novel = true // seen again: store that it is back
		}
		p.Count++
		p.pendingCount++
		p.LastSeen, p.LastSeenAt = later(p.LastSeen, o.now), max(p.LastSeenAt, s.Events)
	}
	if k == 0 {
		if p.nullSeq != o.seq {
			p.nullSeq = o.seq
			if p.Nulls == 0 {
				o.novel = true
			}
			p.Nulls++
			p.pendingNulls++
		}
		return false
	}
	known = p.created != o.seq && p.Kinds&k != 0
	if p.Kinds&k == 0 {
		p.Kinds |= k
		o.novel = true
	}
	return known
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
