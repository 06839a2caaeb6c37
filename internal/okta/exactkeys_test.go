package okta

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzAlreadyExactMeansNoRewrite: when alreadyExact lets an event through
// unrewritten, encoding/json reads it exactly as it reads the exact-key
// rewrite, so skipping the rewrite never changes what LogEvent holds.
func FuzzAlreadyExactMeansNoRewrite(f *testing.F) {
	for _, s := range []string{`{"uuid":"a","actor":{"id":"1"}}`, `{"actor":{"id":"1","ID":"2"}}`, `{"actor":{"ſd":"x"}}`,
		`{"target":[{"id":"1"},{"İD":"2"}]}`, `{"Kactor":1,"actor":{"type":"User","type":"App"}}`, `{"client":{"zone":"a","\u007aone":"b"}}`,
		`{"outcome":{"reſult":"x"},"severity":"INFO","severıty":"WARN"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) || !alreadyExact(raw, logEventType) {
			return
		}
		var direct, rewritten LogEvent
		errA := json.Unmarshal(raw, &direct)
		errB := json.Unmarshal(exactKeys(raw, logEventType), &rewritten)
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual(direct, rewritten) {
			t.Fatalf("%s: read unrewritten %+v (%v), rewritten %+v (%v)", raw, direct, errA, rewritten, errB)
		}
	})
}
