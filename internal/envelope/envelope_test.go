package envelope

import (
	"errors"
	"testing"
	"time"
)

func TestRoundTripKeepsRawEvent(t *testing.T) {
	raw := `{ "uuid": "u1", "displayMessage": "a <b> & \"c\"",  "n": 1.50 }`
	at := time.Date(2024, 5, 6, 7, 8, 9, 123, time.UTC)
	body := Encode("delivery-1", "https://x.okta.com/hook \"q\"", at, []byte(raw))
	m, err := Decode(body)
	if err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if string(m.Event) != raw {
		t.Errorf("event changed:\n got %s\nwant %s", m.Event, raw)
	}
	if m.DeliveryID != "delivery-1" || m.Origin != "https://x.okta.com/hook \"q\"" || !m.ReceivedAt.Equal(at) || m.V != Version {
		t.Errorf("fields = %+v", m)
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := map[string]string{
		"not json":      `hello`,
		"wrong version": `{"v":2,"deliveryId":"d","receivedAt":"2024-01-01T00:00:00Z","event":{}}`,
		"no version":    `{"deliveryId":"d","receivedAt":"2024-01-01T00:00:00Z","event":{}}`,
		"no event":      `{"v":1,"deliveryId":"d","receivedAt":"2024-01-01T00:00:00Z"}`,
		"event string":  `{"v":1,"deliveryId":"d","receivedAt":"2024-01-01T00:00:00Z","event":"x"}`,
		"event null":    `{"v":1,"deliveryId":"d","receivedAt":"2024-01-01T00:00:00Z","event":null}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode([]byte(body)); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}
