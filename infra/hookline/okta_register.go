package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/infra/hookline/asokta"
	"github.com/hookline/hookline/internal/oktaapi"
)

// authHeader is the header the receiver reads the secret from (the
// template fixes the receiver's AUTH_HEADER to it).
const authHeader = "Authorization"

const defaultHookName = "hookline"

func runOktaRegister(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("okta register", stderr)
	f := addOktaFlags(fs, true)
	name := fs.String("name", defaultHookName, "event hook name in Okta")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: hookline okta register --stack NAME [--name N] [flags]

Creates the event hook in Okta (HTTP to the stack's EndpointUrl, the hook
secret as the Authorization header, subscribed to OktaEventTypes), or updates
the hook with that name or URI (URI, types, secret: never a second hook), then
has Okta verify it and says the result. Exits 3 when Okta could not verify.

`)
		fs.PrintDefaults()
	}
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
	want := oktaapi.NewEventHook(*name, e.url, authHeader, secret, e.types)
	var h oktaapi.EventHook
	if old := findHook(hooks, *name, e.url); old != nil {
		want.Name = old.Name // a hook found by its URI keeps its name
		want.Description = old.Description
		if h, err = e.okta.ReplaceEventHook(ctx, old.ID, want); err != nil {
			return err
		}
		moved := ""
		if old.Channel.Config.URI != e.url {
			moved = " (URI changed from " + old.Channel.Config.URI + ")"
		}
		fmt.Fprintf(stdout, "updated event hook %q (%s): %s%s, %d event types, secret from Secrets Manager\n", h.Name, h.ID, e.url, moved, len(e.types))
	} else {
		if len(hooks) >= oktaapi.MaxEventHooks {
			return fmt.Errorf("the org already has %d event hooks, Okta's maximum: delete one first (hookline okta list, hookline okta delete NAME)", len(hooks))
		}
		if h, err = e.okta.CreateEventHook(ctx, want); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created event hook %q (%s): %s, %d event types, secret from Secrets Manager\n", h.Name, h.ID, e.url, len(e.types))
	}
	return verifyHook(ctx, e, h, secret, stdout)
}

// verifyHook has Okta verify h and says the result; on failure it asks the
// endpoint itself, with the same challenge request, to say why.
func verifyHook(ctx context.Context, e *oktaEnv, h oktaapi.EventHook, secret string, stdout io.Writer) error {
	v, err := e.okta.VerifyEventHook(ctx, h.ID)
	if err == nil {
		fmt.Fprintf(stdout, "verified: Okta called %s and it answered the challenge; the hook is %s and %s\n", h.Channel.Config.URI, v.Status, v.VerificationStatus)
		if v.Status != oktaapi.StatusActive {
			fmt.Fprintf(stdout, "note: the hook is %s, so Okta delivers nothing: hookline okta activate %s\n", v.Status, v.Name)
		}
		return nil
	}
	if !errors.Is(err, oktaapi.ErrVerification) {
		return err
	}
	why := diagnose(ctx, h.Channel.Config.URI, secret)
	return &exitError{exitUnverified, fmt.Errorf("verification failed: Okta could not verify %s: %s\n(%v)\nthe hook stays UNVERIFIED and Okta delivers nothing to it; fix that and run the command again", h.Channel.Config.URI, why, err)}
}

// diagnose sends Okta's verification request itself and says in plain words
// what stands in the way.
func diagnose(ctx context.Context, uri, secret string) string {
	c := &asokta.Client{URL: uri, Secret: secret, HTTP: &http.Client{Timeout: 3 * time.Second}}
	challenge := "hookline-diagnose-" + rand.Text()[:8]
	r, err := c.Verify(ctx, challenge)
	var timeout interface{ Timeout() bool }
	switch {
	case err != nil && errors.As(err, &timeout) && timeout.Timeout():
		return "the endpoint does not answer within 3 seconds, Okta's limit (a cold start or a throttled API?): run the command again"
	case err != nil:
		return "the endpoint is unreachable from here (" + oneLine(err.Error(), 120) + "): check the URL and that the stack is deployed"
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
// the value Okta still sends out of AWSPREVIOUS).
const rotationPrefix = "hookline rotate in progress, secret version "

func rotationMarker(version string) *string {
	s := rotationPrefix + version + ": run hookline okta rotate again to finish"
	return &s
}

// rotationInProgress returns the secret version an unfinished rotation
// moves to, or "".
func rotationInProgress(h oktaapi.EventHook) string {
	if h.Description == nil || !strings.HasPrefix(*h.Description, rotationPrefix) {
		return ""
	}
	v, _, _ := strings.Cut(strings.TrimPrefix(*h.Description, rotationPrefix), ":")
	return v
}

const rotateHelp = `usage: hookline okta rotate --stack NAME [--name N] [flags]

Gives the hook a new secret without a delivery being refused:
  1. marks the rotation in the hook's description in Okta, with the secret
     version it moves to;
  2. puts that new version of the hook secret (Secrets Manager makes it
     AWSCURRENT and the old one AWSPREVIOUS; the receiver accepts both);
  3. sets the hook's Authorization value in Okta to the new secret;
  4. has Okta verify the hook;
  5. clears the mark.
If a step fails, what Okta sends is still accepted: before step 2 nothing
changed, after it Okta sends the old value (AWSPREVIOUS) or the new one
(AWSCURRENT). Run the same command again: it finds the mark and resumes at
step 3 without putting another version. Do not put a version by hand
meanwhile: a third version pushes the value Okta sends out of AWSPREVIOUS.
Exits 3 when Okta could not verify the hook (the mark stays; run it again).

`

func runOktaRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("okta rotate", stderr)
	f := addOktaFlags(fs, true)
	name := fs.String("name", defaultHookName, "event hook name in Okta")
	fs.Usage = func() { fmt.Fprint(stderr, rotateHelp); fs.PrintDefaults() }
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
	h.Channel.Config.AuthScheme = &oktaapi.AuthScheme{Type: "HEADER", Key: authHeader}
	if pending := rotationInProgress(h); pending != "" && pending == version {
		fmt.Fprintf(stdout, "resuming the rotation to secret version %s, put by an earlier run\n", version)
	} else {
		// 1. Mark. Okta keeps the current value, which the receiver accepts.
		next := asokta.NewUUID() // a ClientRequestToken must be 32 to 64 characters
		h.Description = rotationMarker(next)
		h.Channel.Config.AuthScheme.Value = secret
		if h, err = e.okta.ReplaceEventHook(ctx, h.ID, h); err != nil {
			return fmt.Errorf("mark the rotation in Okta (nothing changed): %w", err)
		}
		// 2. Put the new version.
		pw, err := e.sm.GetRandomPassword(ctx, &secretsmanager.GetRandomPasswordInput{
			PasswordLength: aws.Int64(48), ExcludePunctuation: aws.Bool(true)}) // as the template generates it
		if err != nil {
			return fmt.Errorf("generate the new secret (nothing changed; run again): %w", err)
		}
		if _, err := e.sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &e.secretID,
			ClientRequestToken: &next, SecretString: pw.RandomPassword}); err != nil {
			return fmt.Errorf("put the new secret version (Okta still sends the current one; run again): %w", err)
		}
		fmt.Fprintf(stdout, "put secret version %s: AWSCURRENT, the old one AWSPREVIOUS (both accepted)\n", next)
		if secret, version, err = e.hookSecret(ctx); err != nil {
			return fmt.Errorf("%w (run again to resume)", err)
		}
		if version != next {
			return fmt.Errorf("after the put, AWSCURRENT is version %s, not %s: another rotation ran at once? run again", version, next)
		}
	}
	// 3. Okta sends the new value from now on.
	h.Channel.Config.AuthScheme.Value = secret
	if h, err = e.okta.ReplaceEventHook(ctx, h.ID, h); err != nil {
		return fmt.Errorf("set the new secret in Okta (Okta still sends the old one, which is accepted as AWSPREVIOUS; run again to resume): %w", err)
	}
	fmt.Fprintf(stdout, "Okta sends secret version %s now\n", version)
	// 4. Verify.
	if err := verifyHook(ctx, e, h, secret, stdout); err != nil {
		return err
	}
	// 5. Done.
	h.Description = nil
	h.Channel.Config.AuthScheme.Value = secret
	if _, err := e.okta.ReplaceEventHook(ctx, h.ID, h); err != nil {
		return fmt.Errorf("clear the rotation mark (the rotation itself is done; run again to clear it): %w", err)
	}
	fmt.Fprintf(stdout, "rotated: event hook %q uses secret version %s\n", h.Name, version)
	return nil
}
