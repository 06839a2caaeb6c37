package schema_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/schema"
)

// reference is the shape of one event as encoding/json reads it: each
// path's type (null included), an array's elements merged.
func reference(path string, v any, out map[string]string) {
	add := func(t string) {
		if !strings.Contains("|"+out[path]+"|", "|"+t+"|") {
			out[path] = strings.TrimPrefix(out[path]+"|"+t, "|")
		}
	}
	switch x := v.(type) {
	case nil:
		add("null")
	case string:
		add("string")
	case float64:
		add("number")
	case bool:
		add("boolean")
	case map[string]any:
		add("object")
		for k, c := range x {
			reference(strings.TrimPrefix(path+"."+k, "."), c, out)
		}
	case []any:
		add("array")
		for _, c := range x {
			reference(path+"[]", c, out)
		}
	}
}

// normal is a type list in the order Path.Type prints it.
func normal(types string) string {
	var kinds []string
	null := false
	for _, name := range []string{"string", "number", "boolean", "object", "array"} {
		if strings.Contains("|"+types+"|", "|"+name+"|") {
			kinds = append(kinds, name)
		}
	}
	if strings.Contains("|"+types+"|", "|null|") {
		null = true
	}
	s := strings.Join(kinds, "|")
	switch {
	case null && s != "":
		s += "|null"
	case null:
		s = "null"
	}
	return s
}

// FuzzLearnsWhatEncodingJSONReads: the learner's own scanner finds the
// same paths and types in any JSON object as encoding/json does.
func FuzzLearnsWhatEncodingJSONReads(f *testing.F) {
	files, _ := filepath.Glob("../../events/okta/*.json")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	for _, s := range []string{
		`{}`, `{"a":[]}`, `{"a":[[1,[2,{"b":null}]],{"c":true}]}`, `{"k\"ey":1,"a\/b":{"\u00e9":"x\\"}}`,
		`{"n":-1.5e+10,"z":0,"t":true,"f":false,"s":"a\"b","u":"\ud83d\ude00"}`, ` { "sp" : [ 1 , 2 ] , "o" : { } } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var v map[string]any
		if json.Unmarshal(raw, &v) != nil || duplicateKeys(raw) {
			return // encoding/json keeps a duplicate key's last value; the learner learns both
		}
		want := map[string]string{}
		for k, c := range v {
			if k != "" { // a top-level "" is no path
				reference(k, c, want)
			}
		}
		if len(want) > schema.DefaultMaxPaths {
			return
		}
		l := &schema.Learner{}
		l.Observe(t.Context(), "t", raw)
		s := l.Shape("t")
		if len(s.Paths) != len(want) {
			t.Fatalf("paths %v, want %v", s.Sorted(), want)
		}
		for path, types := range want {
			p := s.Paths[path]
			if p == nil || p.Type() != normal(types) {
				t.Fatalf("%q: %v, want %s", path, p, normal(types))
			}
		}
	})
}

// duplicateKeys says whether an object in raw has a key twice.
func duplicateKeys(raw []byte) bool {
	d := json.NewDecoder(bytes.NewReader(raw))
	var stack []map[string]bool // key sets of the open objects; nil for arrays
	expectKey := false
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch x := tok.(type) {
		case json.Delim:
			switch x {
			case '{':
				stack = append(stack, map[string]bool{})
				expectKey = true
				continue
			case '[':
				stack = append(stack, nil)
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if expectKey {
				keys := stack[len(stack)-1]
				if keys[x] {
					return true
				}
				keys[x] = true
				expectKey = false
				continue
			}
		}
		// After a value: inside an object the next token is a key.
		expectKey = len(stack) > 0 && stack[len(stack)-1] != nil
	}
}
