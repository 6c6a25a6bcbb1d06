package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestRule9_CheckStrictJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		{`{}`, true},
		{` { "a" : 1 , "b" : [1, {"a": 2}, {"a": 3}] } `, true},
		{`{"a":{"a":{"a":1}}}`, true},
		{`{"a":1,"A":2}`, true}, // names are case-sensitive
		{`{"a":[],"b":{},"c":null,"d":true,"e":"x","f":-1.5e3}`, true},
		{`{"a":1,"a":1}`, false},
		{`{"a":1,"b":2,"a":3}`, false},
		{`{"a":{"x":1,"x":2}}`, false},
		{`{"a":[{"x":1},{"y":1,"y":2}]}`, false},
		{`{"a":1,"\u0061":2}`, false},
		{`{"\ud800":1,"\udfff":2}`, false}, // both decode to U+FFFD
		{`{"a":1}{"b":2}`, false},
		{`{"a":1} x`, false},
		{`{"a":1`, false},
		{`{"a"}`, false},
		{`{"a":}`, false},
		{`{a:1}`, false},
		{`{"a":1,}`, false},
		{`[]`, false},
		{`"x"`, false},
		{`null`, false},
		{``, false},
		{"{\"a\":\"\xff\"}", false}, // invalid UTF-8
		{"{\"\xc0\xaf\":1}", false}, // overlong encoding
		{`{"a":` + strings.Repeat("[", maxJSONDepth) + strings.Repeat("]", maxJSONDepth) + `}`, false},
		{`{"a":` + strings.Repeat("[", maxJSONDepth-2) + strings.Repeat("]", maxJSONDepth-2) + `}`, true},
		{`{"a":` + strings.Repeat(`{"a":`, 100000) + `1` + strings.Repeat("}", 100000) + `}`, false},
	}
	for _, tt := range tests {
		err := checkStrictJSON([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("checkStrictJSON(%.60q) = %v, want ok=%v", tt.in, err, tt.ok)
		}
		if ref := referenceCheckStrictJSON([]byte(tt.in)); (ref == nil) != tt.ok {
			t.Errorf("referenceCheckStrictJSON(%.60q) = %v, want ok=%v", tt.in, ref, tt.ok)
		}
	}
}

func TestRule9_DecodeSegment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"", "", true},
		{"YQ", "a", true},
		{"YWI", "ab", true},
		{"YWJj", "abc", true},
		{"-_-_", "\xfb\xff\xbf", true},
		{"YR", "", false},   // non-zero trailing bits
		{"YWJ", "", false},  // non-zero trailing bits
		{"YQ==", "", false}, // padding
		{"YQ=", "", false},
		{"Y", "", false}, // impossible length
		{"+/+/", "", false},
		{"YW\nJj", "", false},
		{"YW\rJj", "", false},
		{"YW Jj", "", false},
		{"YWJj\x00", "", false},
		{"ＹＷＪｊ", "", false},
	}
	for _, tt := range tests {
		got, err := decodeSegment(tt.in)
		if (err == nil) != tt.ok || (tt.ok && string(got) != tt.want) {
			t.Errorf("decodeSegment(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// fuzzKeys is a fixed key set (deterministic keys) so that the seed corpus
// in testdata/fuzz/FuzzVerify holds tokens that really verify.
func fuzzEnv(tb testing.TB) *env {
	tb.Helper()
	seed := sha256.Sum256([]byte("sessiond fuzz ed25519"))
	ed, err := newKey("fuzz-ed25519", EdDSA, ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		tb.Fatal(err)
	}
	secret := sha256.Sum256([]byte("sessiond fuzz hs256"))
	hs, err := newKey("fuzz-hs256", HS256, secret[:])
	if err != nil {
		tb.Fatal(err)
	}
	// The HS256 key first: adding the Ed25519 key retires it at t0, and it
	// keeps verifying for TokenTTL + leeway.
	e := newEnvWithKey(tb, hs)
	if err := e.keys.Add(context.Background(), ed); err != nil {
		tb.Fatal(err)
	}
	if e.key, err = e.keys.Signer(); err != nil || e.key.ID != ed.ID {
		tb.Fatalf("signer %v, %v", e.key, err)
	}
	return e
}

func FuzzVerify(f *testing.F) {
	e := fuzzEnv(f)
	ed := e.key
	good := forgeWith(f, ed, validHeader(ed), validClaims())
	f.Add(good)
	f.Add(strings.Replace(good, ".", "=.", 1))
	f.Add(b64(`{"alg":"none","kid":"fuzz-ed25519","typ":"at+jwt"}`) + "." + b64(mustJSON(f, validClaims())) + ".")
	f.Add(forge(f, ed, `{"alg":"EdDSA","alg":"EdDSA","kid":"fuzz-ed25519","typ":"at+jwt"}`, mustJSON(f, validClaims())))
	f.Add("..")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := e.ver.Verify(context.Background(), tok)
		if err != nil {
			if c != nil {
				t.Fatal("claims with an error")
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error does not match ErrInvalidToken: %v", err)
			}
			return
		}
		// Whatever is accepted obeys the rules.
		if len(tok) > MaxTokenSize || strings.Count(tok, ".") != 2 {
			t.Fatalf("accepted malformed token %q", tok)
		}
		for _, seg := range strings.Split(tok, ".") {
			if _, err := decodeSegment(seg); err != nil {
				t.Fatalf("accepted non-canonical segment: %v", err)
			}
		}
		if c.Issuer != testIssuer || c.ID == "" || c.ExpiresAt.IsZero() || c.IssuedAt.IsZero() {
			t.Fatalf("accepted claims %+v", c)
		}
		hdr := strings.SplitN(tok, ".", 2)[0]
		b, _ := decodeSegment(hdr)
		var h map[string]any
		if err := json.Unmarshal(b, &h); err != nil || (h["alg"] != "EdDSA" && h["alg"] != "HS256") {
			t.Fatalf("accepted header %s", b)
		}
	})
}

func FuzzCheckStrictJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"a":{"b":[1,{"c":1,"c":2}]}}`, `{"\u0061":1,"a":2}`, `[1]`, `{"a":1} `, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkStrictJSON(data)
		if ref := referenceCheckStrictJSON(data); (err == nil) != (ref == nil) {
			t.Fatalf("%q: checkStrictJSON says %v, the reference %v", data, err, ref)
		}
		if err != nil {
			return
		}
		m, err := decodeObject(data)
		if err != nil {
			t.Fatalf("decodeObject refused what checkStrictJSON accepted: %v", err)
		}
		var want map[string]json.RawMessage
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("accepted %q that encoding/json refuses: %v", data, err)
		}
		if len(m) != len(want) {
			t.Fatalf("decodeObject: %d members, encoding/json %d", len(m), len(want))
		}
		for k, v := range want {
			if !bytes.Equal(m[k], v) {
				t.Fatalf("member %q: %s, encoding/json %s", k, m[k], v)
			}
		}
		// No duplicates: the outer object has as many names as members.
		if n := countTopLevelNames(t, data); n != len(want) {
			t.Fatalf("accepted %q with %d names but %d distinct", data, n, len(want))
		}
	})
}

// countTopLevelNames counts the member names of the outermost object, by
// walking tokens independently of checkStrictJSON's bookkeeping.
func countTopLevelNames(t *testing.T, data []byte) int {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if _, err := dec.Token(); err != nil { // '{'
		t.Fatal(err)
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil { // name
			t.Fatal(err)
		}
		n++
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestFuzzVerifyCorpus keeps the seed corpus honest: the valid_* tokens
// verify against fuzzEnv (so the fuzzer starts from accepted input), every
// other one is refused.
func TestFuzzVerifyCorpus(t *testing.T) {
	t.Parallel()
	e := fuzzEnv(t)
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzVerify", "*"))
	if err != nil || len(files) < 5 {
		t.Fatalf("seed corpus: %d files, %v", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "string(") {
				t.Fatalf("not a fuzz corpus file: %q", data)
			}
			tok, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(filepath.Base(file), "valid_") {
				mustAccept(t, e.ver, tok)
			} else {
				mustRefuse(t, e.ver, tok)
			}
		})
	}
}

// referenceCheckStrictJSON is the first, simple implementation of
// checkStrictJSON on encoding/json's Decoder.Token; it is slow but obviously
// right, and FuzzCheckStrictJSON compares the two.
//
// It reports whether data is exactly one JSON object in valid
// UTF-8, with no duplicate member names in any object at any depth, nesting at
// most maxJSONDepth, and nothing after it. encoding/json (and go-jose's fork)
// silently keep the last of duplicate names, so two parsers could disagree on
// what a token says; we refuse such input instead.
func referenceCheckStrictJSON(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("json: invalid utf-8")
	}
	type frame struct {
		names   map[string]struct{} // nil for arrays
		wantKey bool                // object: the next token is a member name
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []frame
loop:
	for {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("json: %w", err)
		}
		if len(stack) == 0 {
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return errors.New("json: not an object")
			}
			stack = append(stack, frame{names: map[string]struct{}{}, wantKey: true})
			continue
		}
		top := &stack[len(stack)-1]
		if top.names != nil && top.wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					break loop
				}
				continue
			}
			name, ok := tok.(string)
			if !ok {
				return errors.New("json: member name is not a string")
			}
			if _, dup := top.names[name]; dup {
				return fmt.Errorf("json: duplicate member name %q", truncate(name, 64))
			}
			top.names[name] = struct{}{}
			top.wantKey = false
			continue
		}
		// A value: in an object it is followed by a name again.
		if top.names != nil {
			top.wantKey = true
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				if len(stack) >= maxJSONDepth {
					return errors.New("json: nested too deeply")
				}
				f := frame{}
				if d == '{' {
					f = frame{names: map[string]struct{}{}, wantKey: true}
				}
				stack = append(stack, f)
			case ']':
				// Arrays are never the outermost value, so the stack
				// keeps the enclosing object.
				stack = stack[:len(stack)-1]
			default:
				// '}' only arrives where a name is expected, handled above.
				return errors.New("json: unexpected delimiter")
			}
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("json: data after the object")
	}
	return nil
}
