package ledger

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// An event whose published time has digits finer than the ledger keeps is
// the same event after its watermark is read back: it is never run twice.
func TestAPositionReadBackIsTheSameEvent(t *testing.T) {
	published := time.Date(2026, 12, 5, 4, 30, 0, 123456789, time.UTC)
	pos := NewPosition(published, "e-1")
	item := map[string]types.AttributeValue{
		AttrWatermarkTime: num(pos.Published.UnixMicro()),
		AttrWatermarkUUID: str(pos.UUID),
	}
	if c := pos.Compare(watermark(item)); c != 0 {
		t.Fatalf("the position read back compares %d with itself (published %s)", c, watermark(item).Published.Format(time.RFC3339Nano))
	}
	raw := Position{Published: published, UUID: "e-1"}
	if raw.Compare(watermark(item)) != 1 {
		t.Fatal("without NewPosition the event reads newer than its own watermark: the test no longer shows the hazard")
	}
}
