package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// OktaSide is what the reconciler remembers between runs about Okta's side
// of the event hook (internal/hookhealth reads and writes it).
type OktaSide struct {
	// HookID is the id of the stack's event hook once found, so a run
	// reads that one hook instead of listing them all.
	HookID string `json:"hookId,omitempty"`
	// Filter is the System Log filter the counts were made with; a new one
	// (other event types) starts the counts again.
	Filter string `json:"filter,omitempty"`
	// Hours counts the subscribed events read, by the hour they were
	// published (Unix seconds of the hour's start).
	Hours map[int64]int64 `json:"hours,omitempty"`
	// Seen are the uuids of the events of the last System Log page read:
	// a run reads that page again when its young events were left to the
	// hook (perhaps from another URL, when no cursor was saved yet), and
	// counts only what it did not count before. One page, so at most
	// oktaapi.DefaultLimit uuids.
	Seen []string `json:"seen,omitempty"`
	// Failures are Okta's recent delivery failures of the hook that named
	// their events, by event uuid; Unnamed are those that did not.
	Failures map[string]DeliveryNote `json:"failures,omitempty"`
	Unnamed  []DeliveryNote          `json:"unnamed,omitempty"`
	// UpdatedAt is when it was saved.
	UpdatedAt time.Time `json:"updatedAt"`
}

// DeliveryNote is one delivery failure Okta reported: when, and why.
type DeliveryNote struct {
	At     time.Time `json:"at"`
	Reason string    `json:"reason"`
}

// OktaSideStore keeps an OktaSide in the ledger table under
// PrefixOktaSide+name, without expiry: one GetItem to load it and one
// PutItem to save it, whatever it holds (a document of a few kilobytes).
type OktaSideStore struct {
	Client CursorsAPI
	Table  string
}

// ErrNoOktaSide means nothing was saved under that name yet.
var ErrNoOktaSide = errors.New("ledger: no okta side state saved")

// Load returns what was saved, or ErrNoOktaSide.
func (s *OktaSideStore) Load(ctx context.Context, name string) (OktaSide, error) {
	item, err := readItem(ctx, s.Client, s.Table, PrefixOktaSide+name)
	if err != nil {
		return OktaSide{}, fmt.Errorf("ledger: read okta side %s: %w", name, err)
	}
	if len(item) == 0 {
		return OktaSide{}, ErrNoOktaSide
	}
	doc := strAttr(item, "doc")
	var o OktaSide
	if doc == "" || json.Unmarshal([]byte(doc), &o) != nil {
		return OktaSide{}, fmt.Errorf("ledger: okta side %s is not a document this version reads", name)
	}
	return o, nil
}

// Save stores o, replacing what was saved.
func (s *OktaSideStore) Save(ctx context.Context, name string, o OktaSide) error {
	doc, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("ledger: encode okta side %s: %w", name, err)
	}
	_, err = s.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &s.Table,
		Item: map[string]types.AttributeValue{
			AttrKey:       str(PrefixOktaSide + name),
			"doc":         str(string(doc)),
			AttrUpdatedAt: num(o.UpdatedAt.UnixMilli()),
		},
	})
	if err != nil {
		return fmt.Errorf("ledger: save okta side %s: %w", name, err)
	}
	return nil
}
