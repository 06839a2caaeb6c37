package queue

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func msgs(n, size int) []Message {
	out := make([]Message, n)
	for i := range out {
		out[i] = Message{Body: []byte(fmt.Sprintf("%d:%s", i, strings.Repeat("x", size))), Attributes: map[string]string{"eventUuid": fmt.Sprint(i)}}
	}
	return out
}

func TestGroupsRespectLimits(t *testing.T) {
	tests := []struct {
		name       string
		n, size    int
		wantGroups int
	}{
		{"one", 1, 10, 1},
		{"ten fit one batch", 10, 10, 1},
		{"eleven need two", 11, 10, 2},
		{"bytes split", 4, 400 << 10, 2},
		{"each near limit", 3, MaxMessageBytes - 100, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msgs(tt.n, tt.size)
			idx := make([]int, len(m))
			for i := range idx {
				idx[i] = i
			}
			gs := groups(m, idx)
			if len(gs) != tt.wantGroups {
				t.Fatalf("groups = %d, want %d", len(gs), tt.wantGroups)
			}
			seen := 0
			for _, g := range gs {
				total := 0
				for _, i := range g {
					total += m[i].Size()
				}
				if len(g) > MaxBatchEntries || total > MaxBatchBytes {
					t.Fatalf("group of %d entries, %d bytes breaks SQS limits", len(g), total)
				}
				seen += len(g)
			}
			if seen != tt.n {
				t.Fatalf("grouped %d of %d", seen, tt.n)
			}
		})
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	p := &Publisher{BaseDelay: 10 * time.Millisecond, MaxDelay: 80 * time.Millisecond}
	for attempt := 1; attempt < 40; attempt++ {
		ceiling := min(10*time.Millisecond<<attempt, 80*time.Millisecond)
		for i := 0; i < 50; i++ {
			if d := p.backoff(attempt); d <= 0 || d > ceiling {
				t.Fatalf("attempt %d: delay %v outside (0, %v]", attempt, d, ceiling)
			}
		}
	}
}
