package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeLogin: any body either decodes into a loginRequest or is refused
// with an invalid_request error; never a panic, never another error kind.
func FuzzDecodeLogin(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.c","password":"x"}`, `{`, `[]`, `{"email":1}`, `{"x":1}`, `{} {}`, `null`, "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var req loginRequest
		err := decodeStrict([]byte(body), &req)
		var ae *apiError
		if err != nil && (!errors.As(err, &ae) || ae.Code != codeInvalidRequest) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if err != nil && strings.Contains(ae.Message, body) && len(body) > 8 {
			t.Fatalf("error message echoes the input: %q", ae.Message)
		}
	})
}

// FuzzIfMatch: If-Match either parses to a non-negative version or is
// refused as invalid_request.
func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{`"v1"`, `W/"v2"`, `*`, ``, `"v-1"`, `"1"`, `"v99999999999999999999"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, err := parseIfMatch(h)
		if err == nil && v != nil && *v < 0 {
			t.Fatalf("negative version from %q", h)
		}
	})
}

// FuzzRequestHeaders: whatever request ID, forwarding and cookie headers a
// client sends, the outer middleware answers with a valid request ID and no
// panic.
func FuzzRequestHeaders(f *testing.F) {
	f.Add("abc", "1.2.3.4", "sessiond=x")
	f.Add(strings.Repeat("x", 200), "not-an-ip, 10.0.0.1", "sessiond="+strings.Repeat("A", 43))
	s := &Server{log: discard, metrics: newMetrics()}
	h := s.outer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = s.clientIP(r)
		w.WriteHeader(204)
	}))
	f.Fuzz(func(t *testing.T, rid, xff, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["X-Request-Id"] = []string{rid}
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["Cookie"] = []string{cookie}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("X-Request-Id"); !validRequestID(got) {
			t.Fatalf("invalid response request id %q", got)
		}
	})
}
