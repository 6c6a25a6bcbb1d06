package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/token"
)

const (
	testClientID     = "orders-api:eu west" // needs form-encoding in Basic
	testClientSecret = "s3cr%t:with/odd+chars"
)

// introspectionServer is sessiond's RFC 7662 endpoint as far as the
// verifier cares: client-authenticated, form in, {"active":...} out.
type introspectionServer struct {
	srv      *httptest.Server
	requests atomic.Int64
	active   atomic.Bool
	reply    atomic.Pointer[string] // raw body instead of the computed one
	status   atomic.Int64           // instead of 200
	lastTok  atomic.Pointer[string]
}

func newIntrospectionServer(t testing.TB) *introspectionServer {
	t.Helper()
	s := &introspectionServer{}
	s.active.Store(true)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/v1/introspect" ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		id, secret, ok := r.BasicAuth()
		if ok {
			id, _ = url.QueryUnescape(id)
			secret, _ = url.QueryUnescape(secret)
		}
		if !ok || id != testClientID || secret != testClientSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		tok := r.PostFormValue("token")
		s.lastTok.Store(&tok)
		if st := s.status.Load(); st != 0 {
			w.WriteHeader(int(st))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if p := s.reply.Load(); p != nil {
			_, _ = w.Write([]byte(*p))
			return
		}
		if !s.active.Load() {
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		var c token.Claims // the server would verify; the test only echoes
		parts := strings.Split(tok, ".")
		if len(parts) == 3 {
			if b, err := b64Decode(parts[1]); err == nil {
				_ = c.UnmarshalJSON(b)
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": c.Subject, "jti": c.ID, "token_type": "Bearer"})
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *introspectionServer) setReply(v string) { s.reply.Store(&v) }

func newTestIntrospection(t testing.TB, s *introspectionServer, clk *clock, mod func(*IntrospectionConfig)) *Introspection {
	t.Helper()
	cfg := IntrospectionConfig{Issuer: s.srv.URL, ClientID: testClientID, ClientSecret: testClientSecret, Now: clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	i, err := NewIntrospection(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestIntrospection_ActiveAndCached(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	is := newIntrospectionServer(t)
	v := e.verifier(t, func(c *Config) { c.Revocation = newTestIntrospection(t, is, e.clk, nil) })
	tok := e.issue(t, token.Claims{})

	mustVerify(t, v, tok)
	if p := is.lastTok.Load(); p == nil || *p != tok {
		t.Fatal("the server did not receive the token")
	}
	e.clk.Add(DefaultIntrospectionCacheTTL - time.Second)
	mustVerify(t, v, tok) // cached
	if n := is.requests.Load(); n != 1 {
		t.Fatalf("introspection requests = %d, want 1 (cached)", n)
	}
	e.clk.Add(time.Second)
	is.active.Store(false) // revoked meanwhile
	_, err := v.Verify(context.Background(), tok)
	wantInvalid(t, err)
	if !errors.Is(err, ErrRevoked) {
		t.Errorf("err = %v, want ErrRevoked", err)
	}
	// Inactive is final: no more requests for this token.
	for range 5 {
		e.clk.Add(time.Minute)
		_, err := v.Verify(context.Background(), tok)
		wantInvalid(t, err)
	}
	if n := is.requests.Load(); n != 2 {
		t.Errorf("introspection requests = %d, want 2", n)
	}
}

func TestIntrospection_PositiveCacheBoundedByExp(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	is := newIntrospectionServer(t)
	v := e.verifier(t, func(c *Config) { c.Revocation = newTestIntrospection(t, is, e.clk, nil) })
	tok := e.issue(t, token.Claims{ExpiresAt: e.clk.Now().Add(3 * time.Second)})
	mustVerify(t, v, tok)
	e.clk.Add(4 * time.Second) // past exp, within the 30 s leeway
	mustVerify(t, v, tok)
	if n := is.requests.Load(); n != 2 {
		t.Errorf("introspection requests = %d, want 2: the answer must not outlive exp", n)
	}
}

func TestIntrospection_FailsClosed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(*introspectionServer)
		mod   func(*IntrospectionConfig)
	}{
		{"server error", func(s *introspectionServer) { s.status.Store(500) }, nil},
		{"wrong client secret", nil, func(c *IntrospectionConfig) { c.ClientSecret = "wrong" }},
		{"not JSON", func(s *introspectionServer) { s.setReply("<html>") }, nil},
		{"active missing", func(s *introspectionServer) { s.setReply(`{"sub":"user-42"}`) }, nil},
		{"active not a bool", func(s *introspectionServer) { s.setReply(`{"active":"true"}`) }, nil},
		{"another subject", func(s *introspectionServer) { s.setReply(`{"active":true,"sub":"someone-else"}`) }, nil},
		{"another token", func(s *introspectionServer) { s.setReply(`{"active":true,"jti":"other"}`) }, nil},
		{"oversized", func(s *introspectionServer) { s.setReply(`{"active":true,"x":"` + strings.Repeat("a", 70<<10) + `"}`) }, nil},
		{"unreachable", func(s *introspectionServer) { s.srv.Close() }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newIssuerEnv(t, token.EdDSA)
			is := newIntrospectionServer(t)
			if tc.setup != nil {
				tc.setup(is)
			}
			v := e.verifier(t, func(c *Config) { c.Revocation = newTestIntrospection(t, is, e.clk, tc.mod) })
			_, err := v.Verify(context.Background(), e.issue(t, token.Claims{}))
			wantUnavailable(t, err)
		})
	}
}

func TestNewIntrospection_Config(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  IntrospectionConfig
		ok   bool
	}{
		{"issuer", IntrospectionConfig{Issuer: "https://auth.example.com", ClientID: "a", ClientSecret: "b"}, true},
		{"endpoint", IntrospectionConfig{Endpoint: "https://auth.example.com/x", ClientID: "a", ClientSecret: "b"}, true},
		{"neither", IntrospectionConfig{ClientID: "a", ClientSecret: "b"}, false},
		{"no secret", IntrospectionConfig{Issuer: "https://auth.example.com", ClientID: "a"}, false},
		{"plain http", IntrospectionConfig{Issuer: "http://auth.example.com", ClientID: "a", ClientSecret: "b"}, false},
		{"negative size", IntrospectionConfig{Issuer: "https://a.example", ClientID: "a", ClientSecret: "b", MaxCacheEntries: -1}, false},
	} {
		if _, err := NewIntrospection(tc.cfg); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestIntrospection_StringHidesSecret(t *testing.T) {
	t.Parallel()
	i, err := NewIntrospection(IntrospectionConfig{Issuer: "https://auth.example.com", ClientID: "svc", ClientSecret: "hunter2-very-secret"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(i), fmt.Sprintf("%v %+v %#v %s", i, i, i, i)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("secret printed: %s", s)
		}
	}
}

func TestIntrospection_CacheBounded(t *testing.T) {
	t.Parallel()
	clk := newClock()
	is := newIntrospectionServer(t)
	i := newTestIntrospection(t, is, clk, func(c *IntrospectionConfig) { c.MaxCacheEntries = 10 })
	for n := range 100 {
		c := &token.Claims{Issuer: "x", Subject: "", ID: fmt.Sprint("j", n), ExpiresAt: clk.Now().Add(time.Hour)}
		if _, err := i.Revoked(context.Background(), "opaque", c); err != nil {
			t.Fatal(err)
		}
	}
	i.mu.Lock()
	n := len(i.cache)
	i.mu.Unlock()
	if n > 10 {
		t.Errorf("cache holds %d entries, max 10", n)
	}
}
