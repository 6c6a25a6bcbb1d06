package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of objects and arrays in a token's header or
// payload. Our own tokens nest at most a few levels (act chains).
const maxJSONDepth = 32

// decodeSegment decodes one segment of a compact JWS strictly: only the
// base64url alphabet, no padding, no line breaks, and canonical (the unused
// trailing bits must be zero, so that re-encoding gives the same text).
func decodeSegment(s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return nil, fmt.Errorf("character %q at offset %d is not base64url", c, i)
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("base64url: %w", err)
	}
	// Strict already refuses non-zero trailing bits; the round trip is a
	// second, independent guard so that one token has one spelling.
	if base64.RawURLEncoding.EncodeToString(b) != s {
		return nil, errors.New("base64url: not canonical")
	}
	return b, nil
}

// checkStrictJSON reports whether data is exactly one JSON object in valid
// UTF-8, with no duplicate member names in any object at any depth (names
// compared after unescaping, so "a" and "\u0061" are duplicates), nesting at
// most maxJSONDepth, and nothing after it but whitespace. encoding/json (and
// go-jose's fork) silently keep the last of duplicate names, so two parsers
// could disagree on what a token says; we refuse such input instead.
func checkStrictJSON(data []byte) error {
	_, err := scanObject(data, false)
	return err
}

// decodeObject checks data like checkStrictJSON and returns the members of
// the outer object with their exact (case-sensitive, unescaped) names.
func decodeObject(data []byte) (map[string]json.RawMessage, error) {
	return scanObject(data, true)
}

// scanObject does the work of checkStrictJSON: encoding/json validates the
// syntax (json.Valid), then a small walker over the now well-formed bytes
// checks names and depth, and collects the outer members if asked to.
func scanObject(data []byte, collect bool) (map[string]json.RawMessage, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("json: invalid utf-8")
	}
	if !json.Valid(data) {
		return nil, errors.New("json: invalid syntax")
	}
	s := jsonScanner{data: data}
	s.space()
	if s.i >= len(data) || data[s.i] != '{' {
		return nil, errors.New("json: not an object")
	}
	var members map[string]json.RawMessage
	if collect {
		members = make(map[string]json.RawMessage, 16)
	}
	if err := s.object(0, members); err != nil {
		return nil, err
	}
	return members, nil
}

// jsonScanner walks JSON that json.Valid has accepted, so it need not
// re-check the grammar, only find where each value ends.
type jsonScanner struct {
	data []byte
	i    int
}

func (s *jsonScanner) space() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value skips one value; depth is the number of enclosing containers.
func (s *jsonScanner) value(depth int) error {
	s.space()
	switch s.data[s.i] {
	case '{':
		return s.object(depth, nil)
	case '[':
		if depth >= maxJSONDepth {
			return errors.New("json: nested too deeply")
		}
		s.i++ // '['
		s.space()
		if s.data[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.value(depth + 1); err != nil {
				return err
			}
			s.space()
			c := s.data[s.i]
			s.i++ // ',' or ']'
			if c == ']' {
				return nil
			}
		}
	case '"':
		s.str()
		return nil
	default: // number, true, false, null
		for s.i < len(s.data) {
			switch s.data[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			}
			s.i++
		}
		return nil
	}
}

// object walks an object at s.i, refusing duplicate names; members, if not
// nil, receives its members.
func (s *jsonScanner) object(depth int, members map[string]json.RawMessage) error {
	if depth >= maxJSONDepth {
		return errors.New("json: nested too deeply")
	}
	s.i++ // '{'
	s.space()
	if s.data[s.i] == '}' {
		s.i++
		return nil
	}
	var small [16]string
	names := small[:0]
	var many map[string]struct{}
	for {
		s.space()
		name, err := s.name()
		if err != nil {
			return err
		}
		if many == nil && len(names) < len(small) {
			for _, n := range names {
				if n == name {
					return fmt.Errorf("json: duplicate member name %q", truncate(name, 64))
				}
			}
			names = append(names, name)
		} else {
			if many == nil {
				many = make(map[string]struct{}, 2*len(names))
				for _, n := range names {
					many[n] = struct{}{}
				}
			}
			if _, dup := many[name]; dup {
				return fmt.Errorf("json: duplicate member name %q", truncate(name, 64))
			}
			many[name] = struct{}{}
		}
		s.space()
		s.i++ // ':'
		s.space()
		start := s.i
		if err := s.value(depth + 1); err != nil {
			return err
		}
		if members != nil {
			members[name] = json.RawMessage(s.data[start:s.i])
		}
		s.space()
		c := s.data[s.i]
		s.i++ // ',' or '}'
		if c == '}' {
			return nil
		}
	}
}

// str skips a string at s.i and returns its text with the quotes, and
// whether it holds escapes.
func (s *jsonScanner) str() (raw []byte, escaped bool) {
	start := s.i
	s.i++ // opening quote
	for {
		switch s.data[s.i] {
		case '\\':
			escaped = true
			s.i += 2 // the escaped character; \uXXXX's digits need no care
		case '"':
			s.i++
			return s.data[start:s.i], escaped
		default:
			s.i++
		}
	}
}

// name reads a member name and unescapes it.
func (s *jsonScanner) name() (string, error) {
	raw, escaped := s.str()
	if !escaped {
		return string(raw[1 : len(raw)-1]), nil
	}
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return name, nil
}

// truncate shortens attacker-controlled text for error messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
