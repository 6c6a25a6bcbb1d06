package session_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sessiond/sessiond/session"
)

// FuzzParseToken: any cookie value either parses to a 32-byte hash of itself
// or is refused with ErrInvalidToken; never a panic.
func FuzzParseToken(f *testing.F) {
	tok, _ := session.NewToken(nil)
	for _, s := range []string{tok, "", "short", tok + "=", tok[:42] + "+", tok[:42] + "B", "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := session.ParseToken(s)
		if err != nil {
			if h != nil {
				t.Fatal("hash returned with an error")
			}
			return
		}
		if len(h) != 32 || !bytes.Equal(h, session.HashToken(s)) {
			t.Fatalf("bad hash for %q", s)
		}
		// A parsed token re-encodes to itself (canonical form only).
		if len(s) != 43 {
			t.Fatalf("accepted a token of length %d", len(s))
		}
	})
}

// FuzzCookieHeader: whatever a client sends as a Cookie header, reading the
// session token never panics and yields either "" or a value the cookie held.
func FuzzCookieHeader(f *testing.F) {
	for _, s := range []string{"sessiond=abc", "sessiond=", "a=b; sessiond=x; sessiond=y", `sessiond="quoted"`, ";;;=", "__Host-sessiond=z"} {
		f.Add(s)
	}
	cfg := session.CookieConfig{Secure: session.SecureNever}
	f.Fuzz(func(t *testing.T, header string) {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		r.Header.Set("Cookie", header)
		v := cfg.Token(r)
		if v != "" && !bytes.Contains([]byte(header), []byte(v)) {
			t.Fatalf("token %q not in header %q", v, header)
		}
		_, _ = session.ParseToken(v)
	})
}

// FuzzMergePatch: merging never panics and, for an object patch, the result
// is an object that holds every non-null top-level member of the patch.
func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"a":1}`), []byte(`{"a":null,"b":{"c":2}}`))
	f.Add([]byte(`{}`), []byte(`[1,2]`))
	f.Add([]byte(`{"a":{"b":{"c":1}}}`), []byte(`{"a":{"b":null}}`))
	f.Fuzz(func(t *testing.T, target, patch []byte) {
		var tv, pv any
		if json.Unmarshal(target, &tv) != nil || json.Unmarshal(patch, &pv) != nil {
			return
		}
		out := session.MergePatch(tv, pv)
		pm, ok := pv.(map[string]any)
		if !ok {
			return
		}
		om, ok := out.(map[string]any)
		if !ok {
			t.Fatalf("object patch gave %T", out)
		}
		for k, v := range pm {
			if _, has := om[k]; has == (v == nil) {
				t.Fatalf("member %q: present=%v after patch value %v", k, has, v)
			}
		}
	})
}
