package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hookline/hookline/internal/clock"
)

// AttrOrigin is the delivery mark's attribute that holds the event's origin
// (envelope.OriginHook, OriginSystemLog or OriginReplay). Its name stays
// "source", as in every mark written so far.
const AttrOrigin = "source"

// MarkKey is the ledger key of an event's delivery mark. Handler
// records are "<uuid>#<handler>"; a mark starts with PrefixMark, so the
// two never meet.
func MarkKey(uuid string) string { return PrefixMark + uuid }

// Batch sizes DynamoDB allows.
const (
	maxBatchWrite = 25
	maxBatchGet   = 100
)

// MarksAPI is the part of the DynamoDB client delivery marks use.
type MarksAPI interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Marks keeps the delivery marks: which events reached the events queue, so
// that the reconciler and replay never queue again what the hook (or an
// earlier recovery or replay) already queued, whether it was handled since, still waits in
// the queue, or is parked in the DLQ.
//
// A mark is written only after the event is on the queue: a mark without
// its event would hide a loss, while an event without its mark costs at
// most a duplicate, which the handler ledger absorbs.
type Marks struct {
	Client MarksAPI
	Table  string
	// Retention is how long a mark is kept; zero means DefaultRetention,
	// which outlives the System Log's 90 days.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (d *Marks) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Mark records that the events with these uuids are on the queue, with
// their origin. It writes 25 marks per BatchWriteItem and retries what DynamoDB
// leaves unprocessed until ctx ends.
func (d *Marks) Mark(ctx context.Context, origin string, uuids []string) error {
	uuids = unique(uuids)
	now := d.now()
	r := d.Retention
	if r <= 0 {
		r = DefaultRetention
	}
	for start := 0; start < len(uuids); start += maxBatchWrite {
		chunk := uuids[start:min(start+maxBatchWrite, len(uuids))]
		reqs := make([]types.WriteRequest, len(chunk))
		for i, u := range chunk {
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				AttrKey:       str(MarkKey(u)),
				AttrEventUUID: str(u),
				AttrOrigin:    str(origin),
				AttrUpdatedAt: num(now.UnixMilli()),
				AttrExpiresAt: num(now.Add(r).Unix()),
			}}}
		}
		pending := map[string][]types.WriteRequest{d.Table: reqs}
		for attempt := 0; len(pending[d.Table]) > 0; attempt++ {
			if attempt > 0 {
				if err := pause(ctx, attempt); err != nil {
					return fmt.Errorf("ledger: %d delivery marks unwritten: %w", len(pending[d.Table]), err)
				}
			}
			out, err := d.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return fmt.Errorf("ledger: write delivery marks: %w", err)
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}

// Marked returns the uuids among these that have a mark. It reads 100
// keys per BatchGetItem (strongly consistent) and retries unprocessed keys
// until ctx ends.
func (d *Marks) Marked(ctx context.Context, uuids []string) (map[string]bool, error) {
	uuids = unique(uuids)
	found := make(map[string]bool, len(uuids))
	for start := 0; start < len(uuids); start += maxBatchGet {
		chunk := uuids[start:min(start+maxBatchGet, len(uuids))]
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, u := range chunk {
			keys[i] = map[string]types.AttributeValue{AttrKey: str(MarkKey(u))}
		}
		pending := map[string]types.KeysAndAttributes{d.Table: {
			Keys:                     keys,
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String("#ev"),
			ExpressionAttributeNames: map[string]string{"#ev": AttrEventUUID},
		}}
		for attempt := 0; len(pending[d.Table].Keys) > 0; attempt++ {
			if attempt > 0 {
				if err := pause(ctx, attempt); err != nil {
					return nil, fmt.Errorf("ledger: %d delivery marks unread: %w", len(pending[d.Table].Keys), err)
				}
			}
			out, err := d.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, fmt.Errorf("ledger: read delivery marks: %w", err)
			}
			for _, item := range out.Responses[d.Table] {
				if s, ok := item[AttrEventUUID].(*types.AttributeValueMemberS); ok {
					found[s.Value] = true
				}
			}
			pending = out.UnprocessedKeys
		}
	}
	return found, nil
}

// pause backs off before retrying unprocessed batch items: 50 ms doubling
// to 1.6 s.
func pause(ctx context.Context, attempt int) error {
	return clock.Sleep(ctx, 50*time.Millisecond<<min(attempt-1, 5))
}

func unique(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
