package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestVerifier(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	store := &Static{Current: "current-secret"}
	v := NewVerifier(store, 5*time.Minute, WithClock(clk.now))
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}

	check := func(presented string, wantOK bool, wantErr error) {
		t.Helper()
		ok, err := v.Check(ctx, presented)
		if !errors.Is(err, wantErr) || ok != wantOK {
			t.Fatalf("Check(%q) = %v, %v; want %v, %v", presented, ok, err, wantOK, wantErr)
		}
	}

	check("current-secret", true, nil)
	check("", false, nil)
	check("current-secret-and-more", false, nil)
	if store.Calls != 2 {
		t.Fatalf("a failed compare should refresh once: calls = %d", store.Calls)
	}
	// Bad requests inside the refresh interval do not reach the store.
	for i := 0; i < 10; i++ {
		check("wrong", false, nil)
	}
	if store.Calls != 2 {
		t.Fatalf("refresh not rate limited: calls = %d", store.Calls)
	}

	// Rotation: the new value is accepted after one refresh, the old one still works.
	store.Current, store.Previous = "rotated-secret", "current-secret"
	clk.advance(31 * time.Second)
	check("rotated-secret", true, nil)
	check("current-secret", true, nil)

	// TTL expiry refetches even without failures.
	calls := store.Calls
	clk.advance(5 * time.Minute)
	check("rotated-secret", true, nil)
	if store.Calls != calls+1 {
		t.Fatalf("TTL expiry did not refetch: calls = %d", store.Calls)
	}

	// Store down after TTL: fail closed, even for the right value.
	store.Err = errors.New("throttled")
	clk.advance(5 * time.Minute)
	check("rotated-secret", false, ErrUnavailable)
	// Repeated requests while it is down are backed off.
	calls = store.Calls
	check("rotated-secret", false, ErrUnavailable)
	if store.Calls != calls {
		t.Fatalf("fetch not backed off after failure: calls = %d", store.Calls)
	}
	// And it recovers.
	store.Err = nil
	clk.advance(2 * time.Second)
	check("rotated-secret", true, nil)
}

func TestVerifierEmptySecretFailsClosed(t *testing.T) {
	v := NewVerifier(&Static{}, time.Minute)
	ok, err := v.Check(context.Background(), "")
	if ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("empty secret: ok=%v err=%v", ok, err)
	}
}

// A wrong header that forces a refresh while Secrets Manager is down must not
// take the still-valid cached secret away from the requests that follow.
func TestForcedRefreshFailureKeepsCache(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	store := &Static{Current: "current-secret"}
	v := NewVerifier(store, 5*time.Minute, WithClock(clk.now))
	if err := v.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	store.Err = errors.New("throttled")
	clk.advance(31 * time.Second)
	if ok, err := v.Check(ctx, "maybe-rotated"); ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unconfirmable value: ok=%v err=%v, want 503", ok, err)
	}
	if ok, err := v.Check(ctx, "current-secret"); !ok || err != nil {
		t.Fatalf("cached value after a failed forced refresh: ok=%v err=%v", ok, err)
	}
	// Once the TTL runs out the cache is no longer trusted: fail closed.
	clk.advance(5 * time.Minute)
	if ok, err := v.Check(ctx, "current-secret"); ok || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("expired cache with the store down: ok=%v err=%v", ok, err)
	}
}
