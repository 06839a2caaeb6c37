package okta

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// decoderMembers is members done with encoding/json's Decoder: the
// reference the scanner must agree with.
func decoderMembers(raw []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errNotObject
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil, err
		}
		key := tok.(string)
		if _, dup := out[key]; dup {
			return nil, ErrAmbiguous
		}
		out[key] = val
	}
	return out, nil
}

func FuzzMembersAgreeWithEncodingJSON(f *testing.F) {
	for _, seed := range []string{
		`{}`, ` { "a" : 1 , "b":[1,{"c":"]}"}], "d":"x\"y" } `, `{"\u0064ata":1,"data":2}`, `{"a":{"a":1},"a":2}`,
		`[1,2]`, `"s"`, `{"k":true,"l":null,"m":-1.5e3,"n":"\\"}`, sampleDelivery,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		want, wantErr := decoderMembers(raw)
		got, err := members(raw, nil)
		switch {
		case errors.Is(wantErr, errNotObject) || errors.Is(wantErr, ErrAmbiguous):
			if !errors.Is(err, wantErr) {
				t.Fatalf("members(%s): err %v, want %v", raw, err, wantErr)
			}
			return
		case wantErr != nil:
			t.Skip("reference failed:", wantErr)
		case err != nil:
			t.Fatalf("members(%s): %v", raw, err)
		}
		if len(got) != len(want) {
			t.Fatalf("members(%s) = %d keys, want %d", raw, len(got), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("members(%s)[%q] = %s, want %s", raw, k, got[k], v)
			}
			var a, b any
			if json.Unmarshal(got[k], &a) != nil || json.Unmarshal(v, &b) != nil {
				t.Fatalf("value of %q is not valid JSON: %s", k, got[k])
			}
		}
		if s, ok := want["s"]; ok {
			var ref string
			if json.Unmarshal(s, &ref) == nil && stringOf(s) != ref {
				t.Fatalf("stringOf(%s) = %q, want %q", s, stringOf(s), ref)
			}
		}
	})
}
