package deploycheck

import (
	"slices"
	"strings"
	"testing"
)

// What the worker may link is derived from WorkerRole's statements, both
// branches of a condition included, with IAM prefixes mapped to SDK
// packages (events: eventbridge).
func TestGrantedServicesComeFromTheRole(t *testing.T) {
	tpl := Template(t)
	granted, err := GrantedServices(tpl, "WorkerRole")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"dynamodb", "eventbridge", "secretsmanager", "sqs"} {
		if !slices.Contains(granted, want) {
			t.Errorf("WorkerRole grants %v, want %s among them", granted, want)
		}
	}
	if slices.Contains(granted, "sns") {
		t.Fatalf("WorkerRole already grants sns: %v", granted)
	}
	if err := AddRoleStatement(tpl, "WorkerRole", "sns:Publish"); err != nil {
		t.Fatal(err)
	}
	if granted, _ := GrantedServices(tpl, "WorkerRole"); !slices.Contains(granted, "sns") {
		t.Errorf("with an sns:Publish statement WorkerRole grants %v", granted)
	}
	if _, err := GrantedServices(tpl, "NoSuchRole"); err == nil || !strings.Contains(err.Error(), "NoSuchRole") {
		t.Errorf("missing role: %v", err)
	}
}

// A linked service without a grant fails with a message naming the role;
// with the grant it passes.
func TestGrantProblemsNameTheRole(t *testing.T) {
	linked := []string{"dynamodb", "sns", "sqs"}
	p := GrantProblems(linked, []string{"dynamodb", "sqs"}, "./functions/worker", "WorkerRole")
	if len(p) != 1 || !strings.Contains(p[0], "WorkerRole") || !strings.Contains(p[0], "sns") {
		t.Fatalf("problems %q, want one naming WorkerRole and sns", p)
	}
	if p := GrantProblems(linked, []string{"dynamodb", "sns", "sqs"}, "./functions/worker", "WorkerRole"); len(p) != 0 {
		t.Fatalf("granted, still problems %q", p)
	}
}
