package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of a learned payload shape (package schema owns the
// document's content; the ledger only keeps it).
const (
	AttrVersion   = "version"   // number, 1 for the first write, +1 per write
	AttrShape     = "shape"     // string, the schema document
	AttrEventType = "eventType" // string
	AttrTypes     = "types"     // string set, on the index record only
)

// SchemaKey is the ledger key of an event type's learned shape. Like
// "cursor#" and "delivered#", "schema#" never meets a handler record
// ("<uuid>#<handler>"): an event uuid is never "schema". The key of the
// empty type, "schema#", is the index of the types that have one.
func SchemaKey(eventType string) string { return PrefixSchema + eventType }

// SchemasAPI is the part of the DynamoDB client shapes use: the worker
// role's GetItem and UpdateItem, nothing more.
type SchemasAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Schemas keeps one document per event type in the ledger table, without
// expiry, under optimistic concurrency: each write names the version it
// read, and is refused when another writer got there first, so two
// containers never overwrite each other's learning.
type Schemas struct {
	Client SchemasAPI
	Table  string
}

// Load returns the event type's document and its version; version 0 and no
// document when none is stored yet. The read is strongly consistent.
func (s *Schemas) Load(ctx context.Context, eventType string) ([]byte, int64, error) {
	item, err := readItem(ctx, s.Client, s.Table, SchemaKey(eventType))
	if err != nil {
		return nil, 0, fmt.Errorf("ledger: read schema %s: %w", eventType, err)
	}
	if len(item) == 0 {
		return nil, 0, nil
	}
	doc, _ := item[AttrShape].(*types.AttributeValueMemberS)
	if doc == nil {
		return nil, 0, fmt.Errorf("ledger: schema %s has no %s attribute", eventType, AttrShape)
	}
	return []byte(doc.Value), numAttr(item, AttrVersion), nil
}

// Save writes doc as version+1 if the stored version is still version (0:
// nothing stored). It returns false, and writes nothing, when another
// writer saved first: Load again, merge, and retry. The first save of a type
// also adds it to the index Types reads.
func (s *Schemas) Save(ctx context.Context, eventType string, doc []byte, version int64) (bool, error) {
	cond := "#vr = :old"
	values := map[string]types.AttributeValue{
		":new": num(version + 1), ":doc": str(string(doc)), ":typ": str(eventType),
	}
	if version == 0 {
		cond = "attribute_not_exists(#pk)"
	} else {
		values[":old"] = num(version)
	}
	// Placeholders of equal length: kumo substitutes them as plain strings.
	names := map[string]string{"#vr": AttrVersion, "#sh": AttrShape, "#et": AttrEventType}
	if version == 0 {
		names["#pk"] = AttrKey
	}
	_, err := s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &s.Table,
		Key:                       map[string]types.AttributeValue{AttrKey: str(SchemaKey(eventType))},
		UpdateExpression:          aws.String("SET #vr = :new, #sh = :doc, #et = :typ"),
		ConditionExpression:       &cond,
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ledger: write schema %s: %w", eventType, err)
	}
	if version == 0 {
		// ADD to a string set is idempotent and commutes, so concurrent
		// first saves of different types all land. Should it fail, the
		// shape is saved all the same; the next first save, or `hookline
		// schema TYPE`, still finds it.
		_, err = s.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 &s.Table,
			Key:                       map[string]types.AttributeValue{AttrKey: str(SchemaKey(""))},
			UpdateExpression:          aws.String("ADD #ty :set"),
			ExpressionAttributeNames:  map[string]string{"#ty": AttrTypes},
			ExpressionAttributeValues: map[string]types.AttributeValue{":set": &types.AttributeValueMemberSS{Value: []string{eventType}}},
		})
		if err != nil {
			return true, fmt.Errorf("ledger: schema %s saved, but not listed in the index: %w", eventType, err)
		}
	}
	return true, nil
}

// Types lists the event types that have a stored shape, sorted.
func (s *Schemas) Types(ctx context.Context) ([]string, error) {
	item, err := readItem(ctx, s.Client, s.Table, SchemaKey(""))
	if err != nil {
		return nil, fmt.Errorf("ledger: read the schema index: %w", err)
	}
	set, _ := item[AttrTypes].(*types.AttributeValueMemberSS)
	if set == nil {
		return nil, nil
	}
	list := slices.Clone(set.Value)
	slices.Sort(list)
	return list, nil
}
