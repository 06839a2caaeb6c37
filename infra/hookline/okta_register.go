package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

const defaultHookName = "hookline"

func runOktaRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("okta register", stderr)
	f := addOktaFlags(fs, "types", "url", "secret-id", "auth-header")
	name := fs.String("name", defaultHookName, "event hook name in Okta")
	help(fs, `usage: hookline okta register --stack NAME [--name N] [flags]

Creates the event hook in Okta (HTTP to the stack's EndpointUrl, the hook
secret as the receiver's auth header (--auth-header), subscribed to OktaEventTypes), or updates
the hook with that name or URI (URI, types, secret: never a second hook;
what hookline does not own, such as a description, a filter or extra
headers an admin set, is kept), has Okta verify it, activates it if it was
INACTIVE, and reads it back: it succeeds only when Okta reports the hook
ACTIVE and VERIFIED. Exits 3 when Okta could not verify.`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *f.stack == "" && (*f.url == "" || *f.secretID == "" || *f.types == "") {
		return fmt.Errorf("%w: give --stack, or --url, --secret-id and --types", errUsage)
	}
	e, err := f.resolve(ctx, stderr, true)
	if err != nil {
		return err
	}
	if e.url == "" || len(e.types) == 0 {
		return fmt.Errorf("stack %s lacks the EndpointUrl or OktaEventTypes output: give --url or --types", *f.stack)
	}
	if err := hookURL(e.url); err != nil {
		return fmt.Errorf("%w: the hook URL: %w", errUsage, err)
	}
	if len(e.types) > oktaapi.MaxEventTypes {
		return fmt.Errorf("%d event types: Okta allows at most %d per event hook; shorten OktaEventTypes", len(e.types), oktaapi.MaxEventTypes)
	}
	secret, _, err := e.hookSecret(ctx)
	if err != nil {
		return err
	}
	hooks, err := e.okta.EventHooks(ctx)
	if err != nil {
		return err
	}
	var h oktaapi.EventHook
	if old := findHook(hooks, *name, e.url); old != nil {
		// Write what hookline owns (types, URI, auth header and secret) on
		// the hook as Okta returned it: the name of a hook found by its URI,
		// its description, filter and extra headers stay.
		upd := *old
		upd.Events.Type, upd.Events.Items = "EVENT_TYPE", e.types
		upd.Channel.Type, upd.Channel.Version = "HTTP", "1.0.0"
		upd.Channel.Config.URI = e.url
		upd.Channel.Config.AuthScheme = &oktaapi.AuthScheme{Type: "HEADER", Key: e.authHeader, Value: secret}
		h, err = e.okta.ReplaceEventHook(ctx, old.ID, upd) // then verifies: the PUT unverified it
		if err != nil && !replaced(err) {
			return err
		}
		moved := ""
		if old.Channel.Config.URI != e.url {
			moved = " (URI changed from " + redactURL(old.Channel.Config.URI) + ")"
		}
		fmt.Fprintf(stdout, "updated event hook %s (%s): %s%s, %s, secret from Secrets Manager\n", quoted(h.Name), termSafe(h.ID), redactURL(e.url), moved, count(len(e.types), "event type"))
	} else {
		if len(hooks) >= oktaapi.MaxEventHooks {
			return fmt.Errorf("the org already has %d event hooks, Okta's maximum: delete one first (hookline okta list, hookline okta delete NAME)", len(hooks))
		}
		want := oktaapi.NewEventHook(*name, e.url, e.authHeader, secret, e.types)
		if h, err = e.okta.CreateEventHook(ctx, want); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created event hook %s (%s): %s, %s, secret from Secrets Manager\n", quoted(h.Name), termSafe(h.ID), redactURL(e.url), count(len(e.types), "event type"))
		h, err = e.okta.VerifyEventHook(ctx, h.ID)
	}
	if err != nil {
		return verifyFailed(ctx, e.url, e.authHeader, secret, err)
	}
	fmt.Fprintf(stdout, "verified: Okta called %s and it answered the challenge\n", redactURL(e.url))
	if status := h.Status; status != oktaapi.StatusActive {
		if h, err = e.okta.ActivateEventHook(ctx, h.ID); err != nil {
			return fmt.Errorf("the hook is verified but %s, and activating it failed: %w", termSafe(status), err)
		}
		fmt.Fprintln(stdout, "activated: the hook was INACTIVE")
	}
	return readBack(ctx, e, h.ID, stdout, "registered")
}

// count is "1 event type", "3 event types".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// replaced says whether ReplaceEventHook's error came after its PUT
// succeeded: the verification that follows it failed.
func replaced(err error) bool {
	return errors.Is(err, oktaapi.ErrVerification) || errors.Is(err, oktaapi.ErrNotVerified)
}

// verifyFailed is the error of a verification that failed: Okta's reason
// and, when Okta refused the endpoint's answer, what the endpoint itself
// says to the same challenge.
func verifyFailed(ctx context.Context, uri, header, secret string, err error) error {
	if !errors.Is(err, oktaapi.ErrVerification) {
		if errors.Is(err, oktaapi.ErrNotVerified) {
			return &exitError{exitUnverified, fmt.Errorf("%w\nthe hook is UNVERIFIED and Okta delivers nothing to it: run the command again", err)}
		}
		return err
	}
	why := diagnose(ctx, uri, header, secret)
	return &exitError{exitUnverified, fmt.Errorf("verification failed: Okta could not verify %s: %s\n(%s)\nthe hook stays UNVERIFIED and Okta delivers nothing to it; fix that and run the command again", redactURL(uri), why, escapeText(err.Error()))}
}

// readBack reads hook id from Okta (GET) and succeeds only when it is
// ACTIVE and VERIFIED: what a command prints as done is what Okta holds.
func readBack(ctx context.Context, e *oktaEnv, id string, stdout io.Writer, done string) error {
	h, err := e.okta.ReadEventHook(ctx, id)
	if err != nil {
		return fmt.Errorf("read the hook back from Okta: %w", err)
	}
	if h.Status != oktaapi.StatusActive || h.VerificationStatus != oktaapi.StatusVerified {
		return &exitError{exitUnverified, fmt.Errorf("okta reports event hook %s %s and %s, not ACTIVE and VERIFIED: Okta delivers nothing to it; run the command again (hookline okta status %s)",
			quoted(h.Name), termSafe(h.Status), termSafe(h.VerificationStatus), termSafe(h.Name))}
	}
	fmt.Fprintf(stdout, "%s: event hook %s (%s) is ACTIVE and VERIFIED, as read back from Okta\n", done, quoted(h.Name), termSafe(h.ID))
	return nil
}

// diagnose sends Okta's verification request itself and says in plain words
// what stands in the way. It sends the hook secret, so only to an https URI
// (http on a loopback address) and never on to a redirect.
func diagnose(ctx context.Context, uri, header, secret string) string {
	if err := hookURL(uri); err != nil {
		return "not checked from here: " + err.Error()
	}
	c := &standin.Endpoint{URL: uri, AuthHeader: header, Secret: secret, HTTP: noRedirects(3 * time.Second)}
	challenge := "hookline-diagnose-" + rand.Text()[:8]
	r, err := c.Verify(ctx, challenge)
	var timeout interface{ Timeout() bool }
	switch {
	case err != nil && errors.Is(err, errRedirect):
		return "the endpoint answers with a redirect, which neither Okta nor hookline follows: " + oneLine(httpCause(err).Error(), 200) + "; give the final URL"
	case err != nil && errors.As(err, &timeout) && timeout.Timeout():
		return "the endpoint does not answer within 3 seconds, Okta's limit (a cold start or a throttled API?): run the command again"
	case err != nil:
		return "the endpoint is unreachable from here (" + oneLine(httpCause(err).Error(), 120) + "): check the URL and that the stack is deployed"
	case r.Status == http.StatusUnauthorized:
		return "the endpoint refused the secret (401): the secret Okta sends and the one the receiver reads from Secrets Manager differ (another secret ARN?)"
	case r.Status == http.StatusForbidden:
		return "the endpoint refused this machine (403): AllowedSourceCidrs may leave out both this machine and Okta's addresses (hookline okta ip-ranges)"
	case r.Status == http.StatusOK && strings.Contains(r.Body, challenge):
		return "from here the endpoint answers the challenge: Okta itself cannot reach it, or gets another answer (a firewall, AllowedSourceCidrs without Okta's cell, a private endpoint)"
	}
	return fmt.Sprintf("the endpoint answered HTTP %d to the challenge, not 200 with it", r.Status)
}

// The rotation's progress is kept in the hook's description in Okta, which
// is written before anything else changes: a second run finds it and
// resumes instead of putting yet another secret version (which would push
// the value Okta still sends out of AWSPREVIOUS). The mark is appended to
// the description an admin wrote, which is given back when it is cleared.
const (
	rotationPrefix = "[hookline rotate in progress, secret version "
	rotationSuffix = ": run hookline okta rotate again to finish]"
	// oldRotationPrefix began the whole description in earlier versions.
	oldRotationPrefix = "hookline rotate in progress, secret version "
)

// withRotationMark is desc with the mark of a rotation to version.
func withRotationMark(desc *string, version string) *string {
	mark := rotationPrefix + version + rotationSuffix
	if base := withoutRotationMark(desc); base != nil && *base != "" {
		mark = *base + " " + mark
	}
	return &mark
}

// withoutRotationMark is desc without a rotation mark: the admin's
// description, or nil when there was none.
func withoutRotationMark(desc *string) *string {
	if desc == nil {
		return nil
	}
	if strings.HasPrefix(*desc, oldRotationPrefix) {
		return nil
	}
	i := strings.LastIndex(*desc, rotationPrefix)
	if i < 0 {
		return desc
	}
	rest := (*desc)[i:]
	end := strings.Index(rest, rotationSuffix)
	if end < 0 {
		return desc // not a mark hookline wrote
	}
	s := strings.TrimSuffix((*desc)[:i], " ") + rest[end+len(rotationSuffix):]
	if s == "" {
		return nil
	}
	return &s
}

// rotationInProgress returns the secret version an unfinished rotation
// moves to, or "".
func rotationInProgress(h oktaapi.EventHook) string {
	if h.Description == nil {
		return ""
	}
	d := *h.Description
	if strings.HasPrefix(d, oldRotationPrefix) {
		v, _, _ := strings.Cut(strings.TrimPrefix(d, oldRotationPrefix), ":")
		return v
	}
	i := strings.LastIndex(d, rotationPrefix)
	if i < 0 {
		return ""
	}
	v, _, ok := strings.Cut(d[i+len(rotationPrefix):], rotationSuffix)
	if !ok {
		return ""
	}
	return v
}

const rotateHelp = `usage: hookline okta rotate --stack NAME [--name N] [flags]

Gives the hook a new secret without a delivery being refused:
  1. marks the rotation in the hook's description in Okta, with the secret
     version it moves to (after the description an admin wrote), and has
     Okta verify the hook again (every change of a hook in Okta needs it);
  2. puts that new version of the hook secret (Secrets Manager makes it
     AWSCURRENT and the old one AWSPREVIOUS; the receiver accepts both);
  3. sets the hook's auth header value in Okta to the new secret and
     clears the mark, in one change;
  4. has Okta verify the hook;
  5. reads the hook back: done only when Okta reports it ACTIVE and
     VERIFIED.
What hookline does not own (the description an admin wrote, a filter,
extra headers) is kept. Okta delivers nothing between a change and its
verification (milliseconds); the reconciler brings those events from the
System Log. If a step fails, what Okta sends is still accepted: before step 2
nothing changed, after it Okta sends the old value (AWSPREVIOUS) or the new
one (AWSCURRENT). Run the same command again: it finds the mark and resumes
at step 3 without putting another version. Do not put a version by hand
meanwhile: a third version pushes the value Okta sends out of AWSPREVIOUS.
Exits 3 when Okta could not verify the hook or it is not ACTIVE.

`

func runOktaRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("okta rotate", stderr)
	f := addOktaFlags(fs, "secret-id", "auth-header")
	name := fs.String("name", defaultHookName, "event hook name in Okta")
	help(fs, rotateHelp)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *f.stack == "" && *f.secretID == "" {
		return fmt.Errorf("%w: give --stack, or --secret-id", errUsage)
	}
	e, err := f.resolve(ctx, stderr, true)
	if err != nil {
		return err
	}
	h, err := e.hookNamed(ctx, *name)
	if err != nil {
		return fmt.Errorf("%w: register it first (hookline okta register)", err)
	}
	secret, version, err := e.hookSecret(ctx)
	if err != nil {
		return err
	}
	uri := h.Channel.Config.URI
	h.Channel.Config.AuthScheme = &oktaapi.AuthScheme{Type: "HEADER", Key: e.authHeader}
	if pending := rotationInProgress(h); pending != "" && pending == version {
		fmt.Fprintf(stdout, "resuming the rotation to secret version %s, put by an earlier run\n", termSafe(version))
	} else {
		// 1. Mark, with the current value, which the receiver accepts.
		next := standin.NewUUID() // a ClientRequestToken must be 32 to 64 characters
		mark := h
		mark.Description = withRotationMark(h.Description, next)
		mark.Channel.Config.AuthScheme.Value = secret
		if h, err = e.okta.ReplaceEventHook(ctx, h.ID, mark); err != nil {
			if !replaced(err) {
				return fmt.Errorf("mark the rotation in Okta (nothing changed): %w", err)
			}
			return verifyFailed(ctx, uri, e.authHeader, secret, fmt.Errorf("marked the rotation in Okta (no new secret was put; run again): %w", err))
		}
		// 2. Put the new version.
		pw, err := e.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
			PasswordLength: aws.Int64(48), ExcludePunctuation: aws.Bool(true)}) // as the template generates it
		if err != nil {
			return fmt.Errorf("generate the new secret (nothing changed; run again): %w", err)
		}
		noteSecrets(ctx, aws.ToString(pw.RandomPassword))
		if _, err := e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &e.secretID,
			ClientRequestToken: &next, SecretString: pw.RandomPassword}); err != nil {
			return fmt.Errorf("put the new secret version (Okta still sends the current one; run again): %w", err)
		}
		fmt.Fprintf(stdout, "put secret version %s: AWSCURRENT, the old one AWSPREVIOUS (both accepted)\n", next)
		if secret, version, err = e.hookSecret(ctx); err != nil {
			return fmt.Errorf("%w (run again to resume)", err)
		}
		if version != next {
			return fmt.Errorf("after the put, AWSCURRENT is version %s, not %s: another rotation ran at once? run again", termSafe(version), next)
		}
	}
	// 3. Okta sends the new value from now on; the mark goes with the same
	// change: once Okta holds AWSCURRENT, another run may put a version.
	done := h
	done.Description = withoutRotationMark(h.Description)
	done.Channel.Config.AuthScheme = &oktaapi.AuthScheme{Type: "HEADER", Key: e.authHeader, Value: secret}
	// 4. Verify (ReplaceEventHook does, after its PUT).
	if h, err = e.okta.ReplaceEventHook(ctx, h.ID, done); err != nil {
		if !replaced(err) {
			return fmt.Errorf("set the new secret in Okta (Okta still sends the old one, which is accepted as AWSPREVIOUS; run again to resume): %w", err)
		}
		return verifyFailed(ctx, uri, e.authHeader, secret, fmt.Errorf("okta holds secret version %s (AWSCURRENT) now, but: %w", termSafe(version), err))
	}
	fmt.Fprintf(stdout, "Okta sends secret version %s now, and verified the hook\n", termSafe(version))
	// 5. Done, as Okta reports it.
	return readBack(ctx, e, h.ID, stdout, "rotated to secret version "+termSafe(version))
}
