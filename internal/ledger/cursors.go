package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Cursor is where a System Log read stopped.
type Cursor struct {
	// Next is the page URL to read next (an opaque Okta link).
	Next string
	// Filter is the event type filter the link was made for; a different
	// filter needs a new read.
	Filter string
	// UpdatedAt is when the cursor was saved.
	UpdatedAt time.Time
}

// CursorsAPI is the part of the DynamoDB client cursors use.
type CursorsAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Cursors keeps named System Log cursors in the ledger table under
// "cursor#<name>" (PrefixCursor), without expiry.
type Cursors struct {
	Client CursorsAPI
	Table  string
}

// ErrNoCursor means no cursor of that name was saved yet.
var ErrNoCursor = errors.New("ledger: no cursor saved")

// Load returns the saved cursor, or ErrNoCursor.
func (c *Cursors) Load(ctx context.Context, name string) (Cursor, error) {
	item, err := readItem(ctx, c.Client, c.Table, PrefixCursor+name)
	if err != nil {
		return Cursor{}, fmt.Errorf("ledger: read cursor %s: %w", name, err)
	}
	if len(item) == 0 {
		return Cursor{}, ErrNoCursor
	}
	return Cursor{Next: strAttr(item, "next"), Filter: strAttr(item, "filter"), UpdatedAt: time.UnixMilli(numAttr(item, AttrUpdatedAt))}, nil
}

// Save stores the cursor, replacing the last one.
func (c *Cursors) Save(ctx context.Context, name string, cur Cursor) error {
	_, err := c.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &c.Table,
		Item: map[string]types.AttributeValue{
			AttrKey:       str(PrefixCursor + name),
			"next":        str(cur.Next),
			"filter":      str(cur.Filter),
			AttrUpdatedAt: num(cur.UpdatedAt.UnixMilli()),
		},
	})
	if err != nil {
		return fmt.Errorf("ledger: save cursor %s: %w", name, err)
	}
	return nil
}
