package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/deploycheck"
)

// snsHandlers is a handlers.go that adds an SNS client, as the README's
// recipe says.
const snsHandlers = `package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/hookline/hookline/internal/handlers"
)

func register(r *handlers.Registry, s handlers.Services) {
	client := sns.NewFromConfig(s.AWS)
	r.On("user.lifecycle.deactivate", func(ctx context.Context, ev handlers.Event) error {
		_, err := client.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:us-east-1:123456789012:leavers"), Message: aws.String(ev.UUID)})
		return err
	}, handlers.Name("notify-leavers"))
}
`

// TestAnAddedAWSClientNeedsOnlyItsRoleStatement builds the worker's
// dependency list with snsHandlers as its handlers.go (and sns added to a
// copy of go.mod): without a WorkerRole statement for sns the failure names
// WorkerRole; with one, nothing else is needed.
func TestAnAddedAWSClientNeedsOnlyItsRoleStatement(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list on a modified worker")
	}
	root := deploycheck.Root(t)
	dir := t.TempDir()
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "handlers.go"), []byte(snsHandlers), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay := `{"Replace":{"` + filepath.Join(root, "functions", "worker", "handlers.go") + `":"` + filepath.Join(dir, "handlers.go") + `"}}`
	if err := os.WriteFile(filepath.Join(dir, "overlay.json"), []byte(overlay), 0o644); err != nil {
		t.Fatal(err)
	}
	// The copy of go.mod gets sns as `go get` would; its checksum is not
	// in go.sum, and the checksum database may be out of reach.
	t.Setenv("GOFLAGS", "-mod=mod -buildvcs=false")
	t.Setenv("GONOSUMDB", "github.com/aws/aws-sdk-go-v2/service/sns")
	linked, err := deploycheck.LinkedServices(root, "./functions/worker", "-modfile="+filepath.Join(dir, "go.mod"), "-overlay="+filepath.Join(dir, "overlay.json"))
	if err != nil {
		t.Skipf("sns is not in the module cache and the proxy is out of reach: %v", err)
	}
	if !slices.Contains(linked, "sns") {
		t.Fatalf("the modified worker links %v, want sns among them", linked)
	}
	tpl := deploycheck.Template(t)
	granted, err := deploycheck.GrantedServices(tpl, "WorkerRole")
	if err != nil {
		t.Fatal(err)
	}
	p := deploycheck.GrantProblems(linked, granted, "./functions/worker", "WorkerRole")
	if len(p) != 1 || !strings.Contains(p[0], "WorkerRole") || !strings.Contains(p[0], "sns") {
		t.Fatalf("without the statement: %q, want one problem naming WorkerRole and sns", p)
	}
	if err := deploycheck.AddRoleStatement(tpl, "WorkerRole", "sns:Publish"); err != nil {
		t.Fatal(err)
	}
	granted, _ = deploycheck.GrantedServices(tpl, "WorkerRole")
	if p := deploycheck.GrantProblems(linked, granted, "./functions/worker", "WorkerRole"); len(p) != 0 {
		t.Fatalf("with the statement: %q", p)
	}
}
