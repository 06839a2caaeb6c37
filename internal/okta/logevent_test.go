package okta_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/okta"
)

// sample reads events/okta/<eventType>.json: events written from Okta's
// System Log API reference (the LogEvent object and its documented
// values), one per common event type.
func sample(t *testing.T, eventType string) (okta.LogEvent, []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "okta", eventType+".json"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := okta.ParseLogEvent(raw)
	if err != nil {
		t.Fatalf("%s: %v", eventType, err)
	}
	if !bytes.Equal(e.Raw, raw) {
		t.Fatalf("%s: Raw is not the input", eventType)
	}
	if e.EventType != eventType || e.UUID == "" || e.Published == "" || e.Version != "0" || e.LegacyEventType == "" {
		t.Fatalf("%s: routing fields %+v", eventType, e)
	}
	return e, raw
}

func ids(ts []okta.Target) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.ID)
	}
	return strings.Join(s, ",")
}

// TestEverySampleReadsWithItsFields: each events/okta sample decodes with
// the fields handlers use, the common context fields included.
func TestEverySampleReadsWithItsFields(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "events", "okta", "*.json"))
	if len(files) < 6 {
		t.Fatalf("%d samples, want one per common type", len(files))
	}
	for _, f := range files {
		e, _ := sample(t, strings.TrimSuffix(filepath.Base(f), ".json"))
		if e.Client.IPAddress == "" || e.Client.UserAgent.RawUserAgent == "" || e.Client.GeographicalContext.Geolocation.Lat == 0 ||
			e.SecurityContext.AsNumber == 0 || e.Transaction.ID == "" || len(e.Request.IPChain) == 0 ||
			e.Request.IPChain[0].Version != "V4" || e.DebugContext.String("requestId") == "" || e.Actor.IsZero() || e.Severity == "" {
			t.Errorf("%s: context fields missing: %+v", filepath.Base(f), e)
		}
	}
}

func TestUserLifecycleDeactivate(t *testing.T) {
	e, _ := sample(t, "user.lifecycle.deactivate")
	users := e.TargetsOfType(okta.TypeUser)
	if len(users) != 1 || users[0].AlternateID != "jane.doe@example.com" || e.Actor.AlternateID != "admin@example.com" ||
		!e.Outcome.Result.Is(okta.ResultSuccess) || len(e.TargetsOfType(okta.TypeGroup)) != 0 {
		t.Fatalf("%+v", e)
	}
}

func TestProfileUpdateChangedAttributes(t *testing.T) {
	e, _ := sample(t, "user.account.update_profile")
	if got := e.ChangedAttributes(); !slices.Equal(got, []string{"title", "department", "mobilePhone"}) {
		t.Fatalf("changed %q", got)
	}
	arr, _ := okta.ParseLogEvent([]byte(`{"debugContext":{"debugData":{"changedAttributes":["email", " login "]}}}`))
	if got := arr.ChangedAttributes(); !slices.Equal(got, []string{"email", "login"}) {
		t.Fatalf("from a list: %q", got)
	}
	none, _ := sample(t, "user.lifecycle.deactivate")
	if got := none.ChangedAttributes(); len(got) != 0 {
		t.Fatalf("an event without them: %q", got)
	}
}

func TestGroupMembershipTargets(t *testing.T) {
	e, _ := sample(t, "group.user_membership.add")
	if ids(e.TargetsOfType(okta.TypeUser)) != "00u9zx8c7v6b5n4m3l2k" || ids(e.TargetsOfType("usergroup")) != "00g1abcdeFGHIJklmn0h7" {
		t.Fatalf("targets %+v", e.Target)
	}
}

func TestMFAFactorActivate(t *testing.T) {
	e, _ := sample(t, "user.mfa.factor.activate")
	if e.DebugContext.String("factor") != "OKTA_VERIFY_PUSH" || e.AuthenticationContext.CredentialProvider != "OKTA_CREDENTIAL_PROVIDER" ||
		e.Actor.ID != e.TargetsOfType(okta.TypeUser)[0].ID {
		t.Fatalf("%+v", e)
	}
}

// TestSessionStartFailure: a failed sign-in has no target, and Okta wrote
// its result as "Failure": it still compares equal to FAILURE.
func TestSessionStartFailure(t *testing.T) {
	e, _ := sample(t, "user.session.start")
	if e.Target != nil || !e.Outcome.Result.Is(okta.ResultFailure) || e.Outcome.Result.Is(okta.ResultSuccess) ||
		e.Outcome.Result.Upper() != okta.ResultFailure || e.Outcome.Reason != "INVALID_CREDENTIALS" ||
		e.AuthenticationContext.CredentialType != "PASSWORD" || e.Client.Zone != "null" {
		t.Fatalf("%+v", e)
	}
}

func TestAppAssignment(t *testing.T) {
	e, _ := sample(t, "application.user_membership.add")
	apps := e.TargetsOfType(okta.TypeApp)
	if len(apps) != 1 || apps[0].DisplayName != "Salesforce.com" || apps[0].DetailEntry["signOnModeType"] != "SAML_2_0" ||
		ids(e.TargetsOfType(okta.TypeAppUser)) != "0ua1b2c3d4E5F6g7h8i9" || ids(e.TargetsOfType(okta.TypeUser)) != "00u9zx8c7v6b5n4m3l2k" {
		t.Fatalf("targets %+v", e.Target)
	}
}

func TestPolicyUpdate(t *testing.T) {
	e, _ := sample(t, "policy.lifecycle.update")
	p := e.TargetsOfType(okta.TypePolicy)
	if len(p) != 1 || p[0].DetailEntry["policyType"] != "OKTA_SIGN_ON" {
		t.Fatalf("targets %+v", e.Target)
	}
}

// TestOddFieldsNeverLoseTheEvent: values of types Okta does not document
// (a string step, a string latitude, an object for the target list, a
// string for debugData) and a null actor leave those fields zero; the rest
// is read, unknown fields stay in Raw, which is the input byte for byte.
func TestOddFieldsNeverLoseTheEvent(t *testing.T) {
	raw := []byte(`{"uuid":"u-odd","eventType":"user.lifecycle.create","published":"2024-05-01T10:00:00Z",
	  "actor":null,"target":{"id":"00u1"},"outcome":{"result":"success","reason":7},
	  "authenticationContext":{"authenticationStep":"two","credentialType":"PASSWORD"},
	  "client":{"ipAddress":"198.51.100.1","geographicalContext":{"city":"Lyon","geolocation":{"lat":"45.7","lon":4.8}}},
	  "debugContext":{"debugData":"not an object"},"securityContext":{"isProxy":"no","isp":"x"},
	  "newOktaField":{"nested":[1,2,3]}}`)
	e, err := okta.ParseLogEvent(raw)
	if err != nil {
		t.Fatal(err)
	}
	if e.UUID != "u-odd" || e.EventType != "user.lifecycle.create" || !e.Actor.IsZero() || e.Target != nil ||
		!e.Outcome.Result.Is(okta.ResultSuccess) || e.AuthenticationContext.CredentialType != "PASSWORD" ||
		e.Client.IPAddress != "198.51.100.1" || e.Client.GeographicalContext.City != "Lyon" || e.Client.GeographicalContext.Geolocation.Lon != 4.8 ||
		e.SecurityContext.ISP != "x" || len(e.ChangedAttributes()) != 0 {
		t.Fatalf("%+v", e)
	}
	if !bytes.Equal(e.Raw, raw) || !bytes.Contains(e.Raw, []byte(`"newOktaField":{"nested":[1,2,3]}`)) {
		t.Fatal("Raw is not the event as sent")
	}
	for _, bad := range []string{`[1,2]`, `"x"`, `{"uuid":`, ``} {
		e, err := okta.ParseLogEvent([]byte(bad))
		if !errors.Is(err, okta.ErrNotLogEvent) || string(e.Raw) != bad {
			t.Errorf("%q: %v, Raw %q", bad, err, e.Raw)
		}
	}
}

// TestDecodeIntoLogEventStillWorks: handlers that decode with
// encoding/json themselves (Event.Decode) get the same fields.
func TestDecodeIntoLogEventStillWorks(t *testing.T) {
	_, raw := sample(t, "group.user_membership.add")
	var e okta.LogEvent
	if err := json.Unmarshal(raw, &e); err != nil || len(e.TargetsOfType(okta.TypeGroup)) != 1 {
		t.Fatalf("%v %+v", err, e)
	}
}
