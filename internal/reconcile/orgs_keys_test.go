package reconcile_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/hookhealth"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/reconcile"
)

// TestEachOrgsCursorIsAKeyTheReconcilerMayWrite: every org's cursor and
// hook health state live under the prefixes ledger.Writers gives the
// reconciler (and so template.yaml's dynamodb:LeadingKeys, which
// internal/samtemplate checks against Writers), each org under its own key,
// and the default org keeps the key it had before orgs.
func TestEachOrgsCursorIsAKeyTheReconcilerMayWrite(t *testing.T) {
	may := ledger.Writers["reconciler"]
	keys := map[string]bool{}
	for _, k := range []string{
		ledger.PrefixCursor + reconcile.CursorName,
		ledger.PrefixCursor + reconcile.OrgCursorName("preview"),
		ledger.PrefixCursor + reconcile.OrgCursorName("acquired-1"),
		ledger.PrefixOktaSide + hookhealth.StateName,
		ledger.PrefixOktaSide + hookhealth.OrgStateName("preview"),
	} {
		if !slices.ContainsFunc(may, func(p string) bool { return strings.HasPrefix(k, p) }) {
			t.Errorf("key %q is under none of the reconciler's prefixes %v", k, may)
		}
		if keys[k] {
			t.Errorf("key %q shared by two orgs", k)
		}
		keys[k] = true
	}
	if reconcile.CursorName != "reconciler" || hookhealth.StateName != "reconciler" {
		t.Fatal("the default org's cursor or state moved: a stack upgraded to orgs would read its System Log again from the lookback")
	}
}
