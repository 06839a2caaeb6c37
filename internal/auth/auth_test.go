package auth_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/auth/authtest"
)

// check calls Check with a 1.5 s deadline, as a request would have.
func check(t *testing.T, v *auth.Verifier, presented string, wantOK bool, wantErr error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	ok, err := v.Check(ctx, presented)
	if ok != wantOK || !errors.Is(err, wantErr) || (wantErr == nil && err != nil) {
		t.Fatalf("Check(%q) = %v, %v; want %v, %v", presented, ok, err, wantOK, wantErr)
	}
}

func newVerifier(t *testing.T, store *authtest.Static, s auth.Settings) *auth.Verifier {
	t.Helper()
	s.TTL = 5 * time.Minute
	v := auth.NewVerifier(store, s)
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Requests come later than the init read: in a synctest bubble time
	// moves only when told to.
	time.Sleep(time.Millisecond)
	return v
}

func TestAcceptsCurrentAndPreviousRefusesOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtest.NewStatic("current-secret", "previous-secret")
		v := newVerifier(t, store, auth.Settings{})
		check(t, v, "current-secret", true, nil)
		check(t, v, "previous-secret", true, nil)
		check(t, v, "", false, nil)
		check(t, v, "current-secret-and-more", false, nil)
		// Known values cost no read; the unknown one cost exactly one.
		if store.Calls() != 2 {
			t.Fatalf("%d reads, want the init read and one re-read for the unknown value", store.Calls())
		}
	})
}

// A wrong value just before a rotation must not lock the new value out: Okta
// never retries a 401.
func TestNewValueAcceptedRightAfterRotationWhateverCameBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtest.NewStatic("old-secret", "")
		v := newVerifier(t, store, auth.Settings{})
		for range 3 {
			check(t, v, "scanner-guess", false, nil)
			time.Sleep(time.Second)
		}
		store.Rotate("new-secret")
		check(t, v, "new-secret", true, nil)
		check(t, v, "old-secret", true, nil)
	})
}

// A flood of wrong values reads the secret at most burst + one per interval
// times, and once the budget is spent they get ErrUnconfirmed (503), never a
// 401 that a just-rotated value could also get. Cached values keep passing.
func TestFloodOfWrongValuesIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtest.NewStatic("good-secret", "")
		v := newVerifier(t, store, auth.Settings{})
		unconfirmed := 0
		for range 6000 { // a minute of one request every 10 ms
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			ok, err := v.Check(ctx, "wrong")
			cancel()
			switch {
			case ok:
				t.Fatal("a wrong value was accepted")
			case errors.Is(err, auth.ErrUnconfirmed):
				unconfirmed++
			case err != nil:
				t.Fatalf("unexpected error %v", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		reads := store.Calls() - 1
		if max := auth.DefaultRefreshBurst + int(time.Minute/auth.DefaultRefreshEvery); reads > max || reads < auth.DefaultRefreshBurst {
			t.Fatalf("%d reads in a minute of flood, want between %d and %d", reads, auth.DefaultRefreshBurst, max)
		}
		if unconfirmed == 0 {
			t.Fatal("no value was left unconfirmed once the budget was spent")
		}
		before := store.Calls()
		check(t, v, "good-secret", true, nil)
		if store.Calls() != before {
			t.Fatal("a cached value caused a read")
		}
	})
}

// A value rotated in during a flood is confirmed as soon as the budget has
// a read again, and is never refused with a 401 meanwhile.
func TestRotationDuringFloodIsNeverRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtest.NewStatic("old-secret", "")
		v := newVerifier(t, store, auth.Settings{RefreshBurst: 2, RefreshEvery: time.Second})
		for range 5 {
			v.Check(context.Background(), "wrong")
			time.Sleep(time.Millisecond)
		}
		store.Rotate("new-secret")
		rotated := time.Now()
		for {
			ok, err := v.Check(context.Background(), "new-secret")
			if ok {
				break
			}
			if !errors.Is(err, auth.ErrUnconfirmed) {
				t.Fatalf("new value answered %v, %v: want accepted or unconfirmed (503)", ok, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if took := time.Since(rotated); took > time.Second {
			t.Fatalf("new value confirmed only %v after the rotation, want within the 1s refill", took)
		}
	})
}

// A Secrets Manager that hangs costs a request at most the fetch timeout,
// and the requests right after it nothing.
func TestHangingSecretsManagerIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtest.NewStatic("good-secret", "")
		v := newVerifier(t, store, auth.Settings{FetchTimeout: 500 * time.Millisecond})
		time.Sleep(5 * time.Minute) // the cached values expire
		store.SetHang(true)
		start := time.Now()
		check(t, v, "good-secret", false, auth.ErrUnavailable)
		if took := time.Since(start); took != 500*time.Millisecond {
			t.Fatalf("Check took %v, want the 500ms fetch timeout", took)
		}
		calls, start := store.Calls(), time.Now()
		check(t, v, "good-secret", false, auth.ErrUnavailable)
		if store.Calls() != calls || time.Since(start) != 0 {
			t.Fatal("a read was tried again right after one failed")
		}
		// A request with less time than the fetch timeout stops waiting at
		// its own deadline; the read goes on for the next one.
		time.Sleep(2 * time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := v.Check(ctx, "good-secret"); !errors.Is(err, auth.ErrUnavailable) || time.Since(start) != 2100*time.Millisecond {
			t.Fatalf("err %v after %v", err, time.Since(start))
		}
		store.SetHang(false)
		time.Sleep(2 * time.Second)
		check(t, v, "good-secret", true, nil)
	})
}

// A failed re-read keeps the cached values while they are within their TTL;
// once they expire, nothing is accepted.
func TestFailedReadKeepsCacheUntilItExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtest.NewStatic("current-secret", "")
		v := newVerifier(t, store, auth.Settings{})
		store.SetErr(errors.New("throttled"))
		check(t, v, "maybe-rotated", false, auth.ErrUnconfirmed)
		check(t, v, "current-secret", true, nil)
		time.Sleep(5 * time.Minute)
		check(t, v, "current-secret", false, auth.ErrUnavailable)
		store.SetErr(nil)
		time.Sleep(2 * time.Second)
		check(t, v, "current-secret", true, nil)
	})
}

func TestTTLExpiryReadsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtest.NewStatic("current-secret", "")
		v := newVerifier(t, store, auth.Settings{})
		time.Sleep(5 * time.Minute)
		store.Rotate("rotated-secret")
		check(t, v, "current-secret", true, nil) // now AWSPREVIOUS
		if store.Calls() != 2 {
			t.Fatalf("%d reads, want one after the TTL", store.Calls())
		}
	})
}

func TestEmptySecretFailsClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := auth.NewVerifier(authtest.NewStatic("", ""), auth.Settings{TTL: time.Minute})
		check(t, v, "anything", false, auth.ErrUnavailable)
	})
}

// stages answers GetSecretValue after a delay, and has no AWSPREVIOUS.
type stages struct{ delay time.Duration }

func (s stages) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	time.Sleep(s.delay)
	if aws.ToString(in.VersionStage) == "AWSPREVIOUS" {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no previous version")}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String("value-of-" + aws.ToString(in.VersionStage))}, nil
}

func TestSecretsManagerReadsBothStagesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		cur, prev, err := auth.SecretsManager{Client: stages{delay: 100 * time.Millisecond}, SecretID: "s"}.Fetch(context.Background())
		if err != nil || cur != "value-of-AWSCURRENT" || prev != "" {
			t.Fatalf("Fetch = %q, %q, %v", cur, prev, err)
		}
		if took := time.Since(start); took != 100*time.Millisecond {
			t.Fatalf("Fetch took %v, want one round trip of 100ms", took)
		}
	})
}
