package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of a subject record, besides AttrKey, AttrOwner,
// AttrLeaseUntil, AttrExpiresAt, AttrHandler and AttrUpdatedAt.
const (
	AttrSubject       = "subject"
	AttrWatermarkTime = "watermarkPublished" // epoch µs of the newest event run
	AttrWatermarkUUID = "watermarkUuid"
)

// subjectNames are the placeholders of the subject updates, all three
// characters long: kumo substitutes them as plain strings.
var subjectNames = map[string]string{
	"#pk": AttrKey, "#ls": AttrLeaseUntil, "#ow": AttrOwner, "#ex": AttrExpiresAt, "#up": AttrUpdatedAt,
	"#hd": AttrHandler, "#sj": AttrSubject, "#wp": AttrWatermarkTime, "#wu": AttrWatermarkUUID,
}

func namesOf(keys ...string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = subjectNames[k]
	}
	return out
}

// AcquireSubject implements Subjects with one conditional UpdateItem that
// takes a free or run-out lease and returns the record, watermark included.
// A refused one reads the record (consistently) to report the lease, or to
// find it is the caller's own: the SDK retries an update whose answer was
// lost, and the retry is refused by the lease the first attempt took.
func (d *DynamoDB) AcquireSubject(ctx context.Context, key SubjectKey, owner string, lease time.Duration) (Lease, error) {
	for range 3 {
		now := d.now()
		out, err := d.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                &d.Table,
			Key:                      map[string]types.AttributeValue{AttrKey: str(key.ID())},
			UpdateExpression:         aws.String("SET #ls = :ls, #ow = :ow, #ex = :ex, #up = :nw, #hd = :hd, #sj = :sj"),
			ConditionExpression:      aws.String("attribute_not_exists(#pk) OR #ls < :nw"),
			ExpressionAttributeNames: namesOf("#pk", "#ls", "#ow", "#ex", "#up", "#hd", "#sj"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":ls": num(now.Add(lease).UnixMilli()), ":ow": str(owner), ":ex": d.expiresAt(now),
				":nw": num(now.UnixMilli()), ":hd": str(key.Handler), ":sj": str(key.Subject),
			},
			ReturnValues: types.ReturnValueAllNew,
		})
		if err == nil {
			return Lease{Status: Acquired, Watermark: watermark(out.Attributes)}, nil
		}
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) {
			return Lease{}, fmt.Errorf("ledger: acquire %s: %w", key.ID(), err)
		}
		got, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &d.Table,
			Key:            map[string]types.AttributeValue{AttrKey: str(key.ID())},
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return Lease{}, fmt.Errorf("ledger: read %s: %w", key.ID(), err)
		}
		if len(got.Item) == 0 {
			continue // expired by TTL in between: try again
		}
		if o, _ := got.Item[AttrOwner].(*types.AttributeValueMemberS); o != nil && o.Value == owner {
			// The SDK retried an update that had succeeded (its answer was
			// lost): the lease is already ours.
			return Lease{Status: Acquired, Watermark: watermark(got.Item)}, nil
		}
		return Lease{Status: InProgress, LeaseUntil: time.UnixMilli(numAttr(got.Item, AttrLeaseUntil))}, nil
	}
	return Lease{}, fmt.Errorf("ledger: acquire %s: record keeps changing", key.ID())
}

// AdvanceSubject implements Subjects: one conditional UpdateItem.
func (d *DynamoDB) AdvanceSubject(ctx context.Context, key SubjectKey, owner string, pos Position) error {
	now := d.now()
	return d.subjectUpdate(ctx, key, "SET #wp = :wp, #wu = :wu, #ls = :zr, #ex = :ex, #up = :nw",
		namesOf("#ow", "#wp", "#wu", "#ls", "#ex", "#up"),
		map[string]types.AttributeValue{":ow": str(owner), ":wp": num(pos.Published.UnixMicro()), ":wu": str(pos.UUID),
			":zr": num(0), ":ex": d.expiresAt(now), ":nw": num(now.UnixMilli())})
}

// ReleaseSubject implements Subjects: one conditional UpdateItem.
func (d *DynamoDB) ReleaseSubject(ctx context.Context, key SubjectKey, owner string) error {
	now := d.now()
	return d.subjectUpdate(ctx, key, "SET #ls = :zr, #up = :nw", namesOf("#ow", "#ls", "#up"),
		map[string]types.AttributeValue{":ow": str(owner), ":zr": num(0), ":nw": num(now.UnixMilli())})
}

func (d *DynamoDB) subjectUpdate(ctx context.Context, key SubjectKey, update string, names map[string]string, values map[string]types.AttributeValue) error {
	_, err := d.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &d.Table,
		Key:                       map[string]types.AttributeValue{AttrKey: str(key.ID())},
		UpdateExpression:          &update,
		ConditionExpression:       aws.String("#ow = :ow"),
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

func watermark(item map[string]types.AttributeValue) Position {
	u, _ := item[AttrWatermarkUUID].(*types.AttributeValueMemberS)
	if u == nil {
		return Position{}
	}
	return Position{Published: time.UnixMicro(numAttr(item, AttrWatermarkTime)).UTC(), UUID: u.Value}
}
