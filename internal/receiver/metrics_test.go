package receiver

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"testing"

	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/metrics/emftest"
)

// Each request writes its answer's class and its events' fate as EMF lines;
// the test reads them back as CloudWatch would.
func TestEachRequestIsCountedInCloudWatchMetrics(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*fixture)
		req   func() any
		want  map[string]float64
	}{
		{name: "delivery queued", want: map[string]float64{"Deliveries StatusClass=2xx": 1, "EventsReceived": 3, "EventsEnqueued": 3}},
		{name: "queue down", setup: func(f *fixture) { f.mem.Err = func(int) error { return errors.New("down") } },
			want: map[string]float64{"Deliveries StatusClass=5xx": 1, "EventsReceived": 3, "EnqueueFailures": 3}},
		{name: "wrong secret", want: map[string]float64{"Deliveries StatusClass=4xx": 1, "AuthFailures": 1}},
		{name: "verification", want: map[string]float64{"Verifications StatusClass=2xx": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := newFixture(Config{Metrics: metrics.New("Hookline", "test", &out)})
			if tc.setup != nil {
				tc.setup(f)
			}
			req := request("POST", authed(nil), delivery(3, "user.lifecycle.create"))
			switch tc.name {
			case "wrong secret":
				req = request("POST", authed(map[string]string{"authorization": "wrong"}), delivery(3, "x"))
			case "verification":
				req = request("GET", authed(map[string]string{ChallengeHeader: "c"}), "")
			}
			if _, err := f.h.Handle(context.Background(), req); err != nil {
				t.Fatal(err)
			}
			got, err := emftest.Sums(out.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("metrics %v, want %v\n%s", got, tc.want, out.String())
			}
		})
	}
}
