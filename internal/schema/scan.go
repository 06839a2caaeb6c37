package schema

import (
	"encoding/json"
	"errors"
)

var (
	errSyntax    = errors.New("schema: malformed JSON")
	errNotObject = errors.New("schema: the event is not a JSON object")
)

// scanner reads just enough of a JSON document to learn its shape: kinds
// and keys, never values. It allocates only for a key with escapes.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads a string at the scanner. Its value shares the input unless it
// has escapes; keep it only as a copy (string(v)).
func (s *scanner) str() ([]byte, error) {
	if s.peek() != '"' {
		return nil, errSyntax
	}
	start := s.i
	escaped := false
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			s.i = j + 1
			if !escaped {
				return s.b[start+1 : j], nil
			}
			var v string
			if err := json.Unmarshal(s.b[start:j+1], &v); err != nil {
				return nil, errSyntax
			}
			return []byte(v), nil
		}
	}
	return nil, errSyntax
}

func (s *scanner) literal(word string) error {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return errSyntax
	}
	s.i += len(word)
	return nil
}

func (s *scanner) number() {
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
			s.i++
		default:
			return
		}
	}
}
