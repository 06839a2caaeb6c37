package receiver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/receiver"
)

type countingSecrets struct {
	auth.GetSecretValueAPI
	n atomic.Int64
}

func (c *countingSecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	c.n.Add(1)
	return c.GetSecretValueAPI.GetSecretValue(ctx, in, o...)
}

// BenchmarkOrgsOnKumo is the receiver with 1 and with 10 orgs, each org's
// hook secret in kumo's Secrets Manager (read once at init, as main does),
// deliveries of one event queued on kumo's SQS, round robin over the orgs:
// "own" presents each org's own secret at its URL, "other" presents the
// next org's secret (refused 401). It reports Secrets Manager calls per
// request after init: one verifier per org, cached, so 0 either way.
func BenchmarkOrgsOnKumo(b *testing.B) {
	s := devstacktest.Start(b, devstacktest.Options{Secret: "bench-secret-0123456789abcdef0123"})
	sm := &countingSecrets{GetSecretValueAPI: s.Clients.SecretsManager}
	pub := &queue.Publisher{Sender: queue.SQSSender{Client: s.Clients.SQS, QueueURL: s.QueueURL("EventsQueue")}, Budget: 2 * time.Second}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	secretOf := func(org string) string { return "bench-" + org + "-secret-0123456789abcdef" }
	for i := range 10 {
		org := fmt.Sprintf("org%d", i)
		name := orgs.SecretName("bench", org, orgs.KindHook)
		if _, err := s.Clients.SecretsManager.CreateSecret(b.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(secretOf(org))}); err != nil {
			b.Fatal(err)
		}
	}
	for _, n := range []int{1, 10} {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("org%d", i)
		}
		list, err := orgs.Parse(strings.Join(names, ","))
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []string{"own", "other"} {
			if n == 1 && mode == "other" {
				continue
			}
			b.Run(fmt.Sprintf("orgs=%d/%s", n, mode), func(b *testing.B) {
				verifiers := auth.NewOrgs(list, func(org string) auth.Secrets {
					// The default org's secret is named like the others' here.
					return auth.SecretsManager{Client: sm, SecretID: orgs.SecretName("bench", org, orgs.KindHook)}
				}, auth.Settings{TTL: 5 * time.Minute})
				if err := verifiers.Refresh(b.Context()); err != nil {
					b.Fatal(err)
				}
				h := receiver.NewForOrgs(receiver.Config{Orgs: list}, verifiers, pub, log)
				calls0, reqs, i := sm.n.Load(), 0, 0
				want := 200
				if mode == "other" {
					want = 401
				}
				for b.Loop() {
					org := names[i%n]
					presented := secretOf(org)
					if mode == "other" {
						presented = secretOf(names[(i+1)%n])
					}
					req := post(presented, deliveryOf(fmt.Sprintf("%s-%d", org, i)))
					req.RawPath = "/okta/events/" + org
					i++
					resp, err := h.Handle(context.Background(), req)
					if err != nil || resp.StatusCode != want {
						b.Fatalf("%s: %d %s %v, want %d", org, resp.StatusCode, resp.Body, err, want)
					}
					reqs++
				}
				b.ReportMetric(float64(sm.n.Load()-calls0)/float64(reqs), "sm-calls/req")
			})
		}
	}
}
