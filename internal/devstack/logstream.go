package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// DevLogStreamSource is the partner event source of the stand-in log stream:
// the name Okta Log Streaming gives a source (aws.partner/okta.com/<org
// subdomain>/<name>), for the stand-in org's subdomain.
const DevLogStreamSource = "aws.partner/okta.com/dev-00000000/hookline-dev"

// logStreamRule is the template's LogStreamRule name in kumo.
const logStreamRule = StackName + "-logstream"

// LogStreamPattern is the template's LogStreamRule event pattern for a
// source and the subscribed types: Okta streams every type, the rule passes
// the subscribed ones (internal/samtemplate checks the template says this).
func LogStreamPattern(source string, types []string) string {
	p, _ := json.Marshal(map[string]any{
		"source":      []string{source},
		"detail-type": []string{"SystemLog"},
		"detail":      map[string]any{"eventType": types},
	})
	return string(p)
}

// createLogStream makes what the template makes with OktaLogStreamSource
// set: the partner event bus of DevLogStreamSource and the rule sending the
// subscribed types to the streamer. kumo invokes a Lambda rule target
// through its Runtime API, as it invokes any function, so no poller is
// needed (unlike SQS event sources).
func (s *Stack) createLogStream(ctx context.Context, f FunctionSpec) error {
	var types []string
	for _, kv := range s.Env[f.Short] {
		if v, ok := strings.CutPrefix(kv, "OKTA_EVENT_TYPES="); ok {
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					types = append(types, t)
				}
			}
		}
	}
	eb := s.Clients.EventBridge
	bus := aws.String(DevLogStreamSource)
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: bus, EventSourceName: bus}); err != nil {
		return fmt.Errorf("log stream bus: %w", err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(logStreamRule), EventBusName: bus,
		EventPattern: aws.String(LogStreamPattern(DevLogStreamSource, types))}); err != nil {
		return fmt.Errorf("log stream rule: %w", err)
	}
	arn := fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", Region, f.Name)
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(logStreamRule), EventBusName: bus,
		Targets: []ebtypes.Target{{Id: aws.String("streamer"), Arn: aws.String(arn)}}}); err != nil {
		return fmt.Errorf("log stream rule target: %w", err)
	}
	return nil
}
