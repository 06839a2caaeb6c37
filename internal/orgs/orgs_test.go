package orgs_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/hookline/hookline/internal/orgs"
)

func TestUnsetListIsTheOneDefaultOrgAtTodaysPath(t *testing.T) {
	l, err := orgs.Parse("")
	if err != nil {
		t.Fatal(err)
	}
	if got := l.Names(); !slices.Equal(got, []string{orgs.DefaultName}) {
		t.Fatalf("names %v", got)
	}
	if l.HookPath(orgs.DefaultName) != "/okta/events" {
		t.Fatalf("default path %q", l.HookPath(orgs.DefaultName))
	}
	if id := l.SecretID("s", orgs.DefaultName, orgs.KindHook, "arn:stack-secret"); id != "arn:stack-secret" {
		t.Fatalf("default org's secret %q, want the stack's own", id)
	}
}

func TestEachOrgHasItsOwnPathAndSecretNames(t *testing.T) {
	l, err := orgs.Parse(" prod, preview ")
	if err != nil {
		t.Fatal(err)
	}
	if l.Default() != "prod" || l.HookPath("preview") != "/okta/events/preview" {
		t.Fatalf("default %q, preview path %q", l.Default(), l.HookPath("preview"))
	}
	if id := l.SecretID("stk", "preview", orgs.KindHook, "x"); id != "hookline/stk/preview/hook" {
		t.Fatalf("preview hook secret %q", id)
	}
	if id := l.SecretID("stk", "preview", orgs.KindOkta, "x"); id != "hookline/stk/preview/okta" {
		t.Fatalf("preview okta secret %q", id)
	}
}

func TestFromPathAcceptsOnlyConfiguredOrgs(t *testing.T) {
	l, _ := orgs.Parse("prod,preview")
	for path, want := range map[string]string{
		"": "prod", "/okta/events": "prod", "/okta/events/": "prod", "/okta/events/prod": "prod",
		"/okta/events/preview": "preview", "/v1/okta/events/preview/": "preview",
	} {
		if got, ok := l.FromPath(path); !ok || got != want {
			t.Errorf("FromPath(%q) = %q, %v; want %q", path, got, ok, want)
		}
	}
	for _, path := range []string{"/okta/events/other", "/okta/events/preview/x", "/okta/eventsx", "/elsewhere", "/okta/events/PREVIEW", "/okta/events/" + orgs.Unknown} {
		if got, ok := l.FromPath(path); ok {
			t.Errorf("FromPath(%q) = %q, want refused", path, got)
		}
	}
}

func TestParseRefusesBadNames(t *testing.T) {
	for _, list := range []string{"Prod", "a/b", "a,a", "-x", "a b", "x*"} {
		if _, err := orgs.Parse(list); !errors.Is(err, orgs.ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", list, err)
		}
	}
	many := "o0"
	for i := 1; i <= orgs.MaxOrgs; i++ {
		many += ",o" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	if _, err := orgs.Parse(many); !errors.Is(err, orgs.ErrInvalid) {
		t.Errorf("%d orgs accepted", orgs.MaxOrgs+1)
	}
}
