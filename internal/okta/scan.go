package okta

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// A small scanner over JSON already known to be valid (json.Valid): it walks
// one level of an object or array and hands out raw values, without
// decoding them. encoding/json's Decoder does the same about ten times
// slower, which matters for a 1 MiB delivery of tens of thousands of events
// parsed inside the receiver's time budget.

var errNotObject = errors.New("not a JSON object")

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the string that starts at b[i]
// ('"'), and whether it holds an escape.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return len(b), escaped
}

// valueEnd returns the index just past the value that starts at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); {
			switch b[j] {
			case '"':
				j, _ = stringEnd(b, j)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
			j++
		}
		return len(b)
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && !isSpace(b[j]) {
			j++
		}
		return j
	}
}

// eachMember calls fn with the key (unescaped, as any JSON reader sees it)
// and raw value of every member of the object b, in order. It fails with
// errNotObject when b is not an object. b must be valid JSON.
func eachMember(b []byte, fn func(key string, val []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errNotObject
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] != '}' {
		end, escaped := stringEnd(b, i)
		key := string(b[i+1 : end-1])
		if escaped {
			if err := json.Unmarshal(b[i:end], &key); err != nil {
				return fmt.Errorf("%w: %v", ErrMalformed, err)
			}
		}
		i = skipSpace(b, skipSpace(b, end)+1) // past the colon
		vend := valueEnd(b, i)
		if err := fn(key, b[i:vend]); err != nil {
			return err
		}
		i = skipSpace(b, vend)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return nil
}

// eachElement calls fn with every raw element of the array b, in order. b
// must be a valid JSON array.
func eachElement(b []byte, fn func(val []byte)) {
	i := skipSpace(b, skipSpace(b, 0)+1)
	for i < len(b) && b[i] != ']' {
		end := valueEnd(b, i)
		fn(b[i:end])
		i = skipSpace(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
}

// members returns the members of the JSON object raw by exact key, keeping
// only the keys in keep (all when nil); a kept key that appears twice fails
// with ErrAmbiguous. raw must be valid JSON.
func members(raw []byte, keep map[string]bool) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	err := eachMember(raw, func(key string, val []byte) error {
		if keep != nil && !keep[key] {
			return nil
		}
		if _, dup := out[key]; dup {
			return fmt.Errorf("%w: key %q appears twice", ErrAmbiguous, key)
		}
		out[key] = val
		return nil
	})
	return out, err
}

// stringOf returns the JSON string raw as a Go string, or "" when raw is not
// a string.
func stringOf(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	if _, escaped := stringEnd(raw, 0); !escaped && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
