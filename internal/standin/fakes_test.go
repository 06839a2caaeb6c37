package standin

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDeliveryFromFile(t *testing.T) {
	delivery := `{"eventType":"com.okta.event_hook","data":{"events":[]}}`
	tests := []struct {
		name    string
		file    string
		want    string
		notOurs bool
	}{
		{"raw delivery", delivery, delivery, false},
		{"api gateway POST", `{"version":"2.0","routeKey":"POST /okta/events","body":` + quote(delivery) + `}`, delivery, false},
		{"api gateway base64", `{"version":"2.0","routeKey":"POST /okta/events","isBase64Encoded":true,"body":"` +
			base64.StdEncoding.EncodeToString([]byte(delivery)) + `"}`, delivery, false},
		{"verification GET", `{"version":"2.0","routeKey":"GET /okta/events"}`, "", true},
		{"worker SQS event", `{"Records":[{"messageId":"m"}]}`, "", true},
		{"unknown JSON", `{"foo":1}`, "", true},
		{"not JSON", `nope`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DeliveryFromFile([]byte(tt.file))
			if errors.Is(err, ErrNotDelivery) != tt.notOurs || (!tt.notOurs && err != nil) || string(got) != tt.want {
				t.Errorf("= %q, %v; want %q, not a delivery: %v", got, err, tt.want, tt.notOurs)
			}
		})
	}
}

// Every file in events/ is either a delivery or a file `hookline send`
// names and skips; the POST files are deliveries.
func TestEventFilesAreDeliveriesOrSkipped(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no event files: %v", err)
	}
	deliveries := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		body, err := DeliveryFromFile(data)
		switch {
		case err == nil:
			deliveries++
			var d struct{ EventType string }
			if json.Unmarshal(body, &d) != nil || d.EventType != "com.okta.event_hook" {
				t.Errorf("%s: body is not a delivery: %.80s", f, body)
			}
		case !errors.Is(err, ErrNotDelivery):
			t.Errorf("%s: %v", f, err)
		}
	}
	if deliveries < 3 {
		t.Errorf("%d deliveries in events/, want the 3 POST files", deliveries)
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }
