package receiver

import (
	"context"
	"errors"
	"github.com/hookline/hookline/internal/envelope"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/queue"
)

// recorder is a Recorder that keeps what it was told, or fails.
type recorder struct {
	mu    sync.Mutex
	uuids []string
	err   error
	block bool
}

func (r *recorder) Mark(ctx context.Context, origin string, uuids []string) error {
	if r.block {
		<-ctx.Done()
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if origin != envelope.OriginHook {
		return errors.New("wrong origin " + origin)
	}
	if r.err != nil {
		return r.err
	}
	r.uuids = append(r.uuids, uuids...)
	return nil
}

func TestOnlyQueuedEventsAreMarked(t *testing.T) {
	rec := &recorder{}
	f := newFixture(Config{Marks: rec})
	// uuid-3 is never accepted by the queue: Okta is told to retry, and the
	// reconciler must still see it as missing.
	f.mem.Fail = func(_ int, m queue.Message) bool { return m.Attributes["eventUuid"] == "uuid-3" }
	resp, _ := f.h.Handle(context.Background(), request("POST", authed(nil), delivery(5, "user.lifecycle.create")))
	if resp.StatusCode != 503 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := strings.Join(rec.uuids, ","); len(rec.uuids) != 4 || strings.Contains(got, "uuid-3,") || strings.HasSuffix(got, "uuid-3") {
		t.Fatalf("recorded %v, want the 4 queued events only", rec.uuids)
	}
	if !strings.Contains(f.logs.String(), `"recorded":4`) {
		t.Fatalf("request log lacks recorded: %s", f.logs)
	}
}

func TestAFailedRecordChangesNoAnswer(t *testing.T) {
	for name, rec := range map[string]*recorder{
		"error":   {err: errors.New("dynamodb down")},
		"timeout": {block: true},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(Config{Marks: rec, MarkBudget: 20 * time.Millisecond})
			start := time.Now()
			resp, _ := f.h.Handle(context.Background(), request("POST", authed(nil), delivery(3, "user.lifecycle.create")))
			if resp.StatusCode != 200 || len(f.mem.Sent()) != 3 {
				t.Fatalf("status %d, %d queued", resp.StatusCode, len(f.mem.Sent()))
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("took %v: the record must stay within its budget", d)
			}
			if !strings.Contains(f.logs.String(), "delivery not recorded") {
				t.Fatalf("no warning: %s", f.logs)
			}
		})
	}
}
