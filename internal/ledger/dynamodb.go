package ledger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of a ledger record. The table's key is AttrKey (string);
// its TTL attribute is AttrExpiresAt.
const (
	AttrKey        = "pk"         // eventUuid#handler
	AttrStatus     = "status"     // IN_PROGRESS | COMPLETED
	AttrLeaseUntil = "leaseUntil" // epoch ms
	AttrExpiresAt  = "expiresAt"  // epoch s, the table's TTL attribute
	AttrOwner      = "owner"
	AttrAttempts   = "attempts"
	AttrEventUUID  = "eventUuid"
	AttrHandler    = "handler"
	AttrUpdatedAt  = "updatedAt" // epoch ms
)

const (
	statusInProgress = "IN_PROGRESS"
	statusCompleted  = "COMPLETED"
)

// DynamoDBAPI is the part of the DynamoDB client the ledger uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// DynamoDB is the Ledger on a DynamoDB table. Each call is one request,
// except a claim that is refused: it reads the record to say why.
type DynamoDB struct {
	Client DynamoDBAPI
	Table  string
	// Retention is how long a record is kept (DynamoDB TTL on expiresAt);
	// zero means DefaultRetention.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (d *DynamoDB) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

func (d *DynamoDB) expiresAt(now time.Time) types.AttributeValue {
	r := d.Retention
	if r <= 0 {
		r = DefaultRetention
	}
	return num(now.Add(r).Unix())
}

// Claim implements Ledger with one conditional UpdateItem, which creates the
// record or takes over one whose lease ran out, and keeps its attempt count.
func (d *DynamoDB) Claim(ctx context.Context, key Key, owner string, lease time.Duration) (Claim, error) {
	// A refused claim whose record then vanishes (TTL, a release race) is
	// tried again; three rounds are plenty.
	for range 3 {
		now := d.now()
		out, err := d.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &d.Table,
			Key:       d.key(key),
			UpdateExpression: aws.String("SET #st = :inprog, #ls = :lease, #ex = :exp, #ow = :owner, #up = :now, #ev = :uuid, #hd = :handler " +
				"ADD #at :one"),
			ConditionExpression: aws.String("attribute_not_exists(#pk) OR (#st = :inprog AND #ls < :now)"),
			// Placeholders are all the same length: kumo substitutes them as
			// plain strings, so "#e" would corrupt "#eu".
			ExpressionAttributeNames: map[string]string{
				"#pk": AttrKey, "#st": AttrStatus, "#ls": AttrLeaseUntil, "#ex": AttrExpiresAt, "#ow": AttrOwner,
				"#up": AttrUpdatedAt, "#ev": AttrEventUUID, "#hd": AttrHandler, "#at": AttrAttempts,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":inprog":  str(statusInProgress),
				":lease":   num(now.Add(lease).UnixMilli()),
				":exp":     d.expiresAt(now),
				":owner":   str(owner),
				":now":     num(now.UnixMilli()),
				":uuid":    str(key.EventUUID),
				":handler": str(key.Handler),
				":one":     num(1),
			},
			ReturnValues: types.ReturnValueUpdatedNew,
		})
		if err == nil {
			return Claim{Status: Acquired, Attempts: int(numAttr(out.Attributes, AttrAttempts))}, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return Claim{}, fmt.Errorf("ledger: claim %s: %w", key.ID(), err)
		}
		// Not ReturnValuesOnConditionCheckFailure: kumo returns nothing
		// with it, and a consistent read answers the same on both.
		got, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &d.Table,
			Key:            d.key(key),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return Claim{}, fmt.Errorf("ledger: read %s: %w", key.ID(), err)
		}
		if len(got.Item) == 0 {
			continue
		}
		attempts := int(numAttr(got.Item, AttrAttempts))
		if s, _ := got.Item[AttrStatus].(*types.AttributeValueMemberS); s != nil && s.Value == statusCompleted {
			return Claim{Status: AlreadyCompleted, Attempts: attempts}, nil
		}
		return Claim{Status: InProgress, Attempts: attempts, LeaseUntil: time.UnixMilli(numAttr(got.Item, AttrLeaseUntil))}, nil
	}
	return Claim{}, fmt.Errorf("ledger: claim %s: record keeps changing", key.ID())
}

// Complete implements Ledger: COMPLETED, kept for the retention period.
func (d *DynamoDB) Complete(ctx context.Context, key Key, owner string) error {
	now := d.now()
	return d.ownerUpdate(ctx, key, owner, "SET #st = :done, #ex = :exp, #up = :now REMOVE #ls",
		map[string]types.AttributeValue{":done": str(statusCompleted), ":exp": d.expiresAt(now), ":now": num(now.UnixMilli())},
		map[string]string{"#ex": AttrExpiresAt, "#up": AttrUpdatedAt, "#ls": AttrLeaseUntil})
}

// Release implements Ledger by ending the lease now. The record stays, so its
// attempt count survives.
func (d *DynamoDB) Release(ctx context.Context, key Key, owner string) error {
	now := d.now()
	return d.ownerUpdate(ctx, key, owner, "SET #ls = :zero, #up = :now",
		map[string]types.AttributeValue{":zero": num(0), ":now": num(now.UnixMilli())},
		map[string]string{"#ls": AttrLeaseUntil, "#up": AttrUpdatedAt})
}

func (d *DynamoDB) ownerUpdate(ctx context.Context, key Key, owner, update string, values map[string]types.AttributeValue, names map[string]string) error {
	values[":owner"] = str(owner)
	values[":inprog"] = str(statusInProgress)
	names["#ow"] = AttrOwner
	names["#st"] = AttrStatus
	_, err := d.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.Table,
		Key:                       d.key(key),
		UpdateExpression:          &update,
		ConditionExpression:       aws.String("#ow = :owner AND #st = :inprog"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("%w (%s)", ErrNotOwner, key.ID())
	}
	if err != nil {
		return fmt.Errorf("ledger: update %s: %w", key.ID(), err)
	}
	return nil
}

func (d *DynamoDB) key(k Key) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrKey: str(k.ID())}
}

// itemReader reads one item (a DynamoDB client does).
type itemReader interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// readItem reads the item under key with a strongly consistent read: an
// empty item when there is none. Cursors, Okta's side and the schemas each
// keep one item per name and read it this way.
func readItem(ctx context.Context, c itemReader, table, key string) (map[string]types.AttributeValue, error) {
	out, err := c.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &table,
		Key:            map[string]types.AttributeValue{AttrKey: str(key)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// strAttr is item's string attribute name ("" when it is not a string).
func strAttr(item map[string]types.AttributeValue, name string) string {
	v, _ := item[name].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func numAttr(item map[string]types.AttributeValue, name string) int64 {
	n, _ := item[name].(*types.AttributeValueMemberN)
	if n == nil {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}
