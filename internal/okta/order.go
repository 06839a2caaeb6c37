package okta

import (
	"sort"
	"time"
)

// Dedupe drops events whose uuid already appeared earlier in the slice and
// returns how many it dropped. Okta sends duplicates on retries; within one
// delivery they are free to remove. Events without a uuid are all kept.
func Dedupe(events []Event) ([]Event, int) {
	seen := make(map[string]struct{}, len(events))
	out := events[:0:0]
	for _, ev := range events {
		if ev.UUID != "" {
			if _, dup := seen[ev.UUID]; dup {
				continue
			}
			seen[ev.UUID] = struct{}{}
		}
		out = append(out, ev)
	}
	return out, len(events) - len(out)
}

// SortByPublished orders events oldest first. Events whose published time
// does not parse keep their relative order, after the ones that do.
func SortByPublished(events []Event) {
	type keyed struct {
		ev Event
		t  time.Time
		ok bool
	}
	ks := make([]keyed, len(events))
	for i, ev := range events {
		t, err := time.Parse(time.RFC3339Nano, ev.Published)
		ks[i] = keyed{ev, t, err == nil}
	}
	sort.SliceStable(ks, func(a, b int) bool {
		if ks[a].ok != ks[b].ok {
			return ks[a].ok
		}
		return ks[a].ok && ks[a].t.Before(ks[b].t)
	})
	for i := range ks {
		events[i] = ks[i].ev
	}
}
