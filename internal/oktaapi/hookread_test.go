package oktaapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// Reading hooks takes okta.eventHooks.read: a service app granted only that
// reads the list and one hook by id (an unknown id is ErrNotFound) but may
// not change one; without it the error names the read scope.
func TestReadEventHooksNeedsOnlyTheReadScope(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("admin")
	admin := hooksClient(t, org, "admin", oktaapi.Settings{})
	h, err := admin.CreateEventHook(t.Context(), oktaapi.NewEventHook("hl", "https://h.example.com/okta/events", "Authorization", "s", []string{"user.lifecycle.create"}))
	if err != nil {
		t.Fatal(err)
	}
	key, pem, err := standin.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	org.AddServiceApp("0oaread", &key.PublicKey, oktaapi.LogsScope, oktaapi.EventHooksReadScope)
	reader, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oaread", PrivateKey: pem,
		Scopes: oktaapi.LogsScope + " " + oktaapi.EventHooksReadScope}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := reader.ReadEventHooks(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != h.ID {
		t.Fatalf("list: %+v %v", list, err)
	}
	one, err := reader.ReadEventHook(t.Context(), h.ID)
	if err != nil || one.Name != "hl" || one.Status != oktaapi.StatusActive || one.Channel.Config.URI != "https://h.example.com/okta/events" {
		t.Fatalf("by id: %+v %v", one, err)
	}
	if _, err := reader.ReadEventHook(t.Context(), "whonope"); !errors.Is(err, oktaapi.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	if _, err := reader.DeactivateEventHook(t.Context(), h.ID); !errors.Is(err, oktaapi.ErrForbidden) {
		t.Fatalf("a read-only token changed a hook: %v", err)
	}

	org.AddServiceApp("0oalogs", &key.PublicKey, oktaapi.LogsScope)
	logsOnly, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oalogs", PrivateKey: pem}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := logsOnly.ReadEventHooks(t.Context()); !errors.Is(err, oktaapi.ErrForbidden) || !strings.Contains(err.Error(), oktaapi.EventHooksReadScope) {
		t.Fatalf("without the scope: %v", err)
	}
}

// TakeHeadroom is the lowest share of the rate limit left since it was last
// taken, a 429 counting as none left.
func TestTakeHeadroomIsTheLowestShareSinceLastTaken(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("t")
	org.SetRateLimit(4, time.Hour)
	c := hooksClient(t, org, "t", oktaapi.Settings{})
	if _, ok := c.TakeHeadroom(); ok {
		t.Fatal("headroom before any answer")
	}
	url := c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour)})
	for range 2 {
		if _, err := c.Logs(t.Context(), url); err != nil {
			t.Fatal(err)
		}
	}
	if share, ok := c.TakeHeadroom(); !ok || share != 0.5 { // 3 of 4, then 2 of 4
		t.Fatalf("headroom %v %v, want 0.5", share, ok)
	}
	if _, ok := c.TakeHeadroom(); ok {
		t.Fatal("headroom not forgotten once taken")
	}
	org.Fail429(3)
	ctx, cancel := contextWithDeadline(t, 2*time.Second)
	defer cancel()
	_, _ = c.Logs(ctx, url) // 429, and a reset past the deadline
	if share, ok := c.TakeHeadroom(); !ok || share != 0 {
		t.Fatalf("headroom after a 429: %v %v, want 0", share, ok)
	}
}

func contextWithDeadline(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}
