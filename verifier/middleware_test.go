package verifier

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/token"
)

// whoami answers the verified subject, as a protected handler would.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	c, ok := ClaimsFromContext(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"sub": c.Subject})
})

// lockedBuffer is a concurrency-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestMiddleware(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	var revoked atomic.Bool
	logs := &lockedBuffer{}
	v := e.verifier(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		c.Revocation = revocationFunc(func(context.Context, string, *token.Claims) (bool, error) { return revoked.Load(), nil })
	})
	mux := http.NewServeMux()
	mux.Handle("/", v.Middleware(whoami))
	mux.Handle("/admin", v.Middleware(RequireRoles("admin")(whoami)))
	mux.Handle("/both", v.Middleware(RequireRoles("admin", "billing")(whoami)))
	mux.Handle("/orders", v.Middleware(RequireScope("orders:write")(whoami)))
	mux.Handle("/unwrapped", RequireRoles("admin")(whoami))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	user := e.issue(t, token.Claims{Subject: "ada", Roles: []string{"user"}, Scope: "orders:read"})
	admin := e.issue(t, token.Claims{Subject: "root", Roles: []string{"user", "admin"}, Scope: "orders:read orders:write"})
	expired := e.issue(t, token.Claims{IssuedAt: e.clk.Now().Add(-20 * time.Minute), ExpiresAt: e.clk.Now().Add(-5 * time.Minute)})

	const (
		noToken      = "Bearer"
		invalidToken = `Bearer error="invalid_token"`
		noScope      = `Bearer error="insufficient_scope", scope="orders:write"`
	)
	for _, tc := range []struct {
		name, path string
		auth       []string
		status     int
		code       string // error code, or "" for the subject on success
		challenge  string
	}{
		{"valid", "/", []string{"Bearer " + user}, 200, "ada", ""},
		{"scheme is case-insensitive", "/", []string{"bearer " + user}, 200, "ada", ""},
		{"no Authorization", "/", nil, 401, "unauthorized", noToken},
		{"Basic scheme", "/", []string{"Basic dXNlcjpwYXNz"}, 401, "unauthorized", noToken},
		{"empty bearer", "/", []string{"Bearer "}, 401, "unauthorized", noToken},
		{"two Authorization headers", "/", []string{"Bearer " + user, "Bearer " + admin}, 401, "unauthorized", noToken},
		{"token in the query is ignored", "/?access_token=" + user, nil, 401, "unauthorized", noToken},
		{"garbage", "/", []string{"Bearer garbage"}, 401, "unauthorized", invalidToken},
		{"tampered", "/", []string{"Bearer " + user[:len(user)-3] + "AAA"}, 401, "unauthorized", invalidToken},
		{"expired", "/", []string{"Bearer " + expired}, 401, "unauthorized", invalidToken},
		{"role present", "/admin", []string{"Bearer " + admin}, 200, "root", ""},
		{"role missing", "/admin", []string{"Bearer " + user}, 403, "forbidden", ""},
		{"every role required", "/both", []string{"Bearer " + admin}, 403, "forbidden", ""},
		{"scope present", "/orders", []string{"Bearer " + admin}, 200, "root", ""},
		{"scope missing", "/orders", []string{"Bearer " + user}, 403, "forbidden", noScope},
		{"RequireRoles without Middleware", "/unwrapped", []string{"Bearer " + admin}, 401, "unauthorized", noToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, srv.URL+tc.path, tc.auth...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d (body %v)", r.status, tc.status, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if tc.status == 200 {
				if r.body["sub"] != tc.code {
					t.Errorf("sub %q, want %q", r.body["sub"], tc.code)
				}
				return
			}
			if r.body["error"] != tc.code || r.body["message"] == "" || len(r.body) != 2 {
				t.Errorf("body %v, want {error:%q, message}", r.body, tc.code)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := r.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}

	// Every invalid token gets the very same answer.
	a, b := do(t, srv.URL, "Bearer garbage"), do(t, srv.URL, "Bearer "+expired)
	if a.body["message"] != b.body["message"] {
		t.Errorf("expired and garbage tokens answered differently: %v vs %v", a.body, b.body)
	}

	revoked.Store(true)
	if r := do(t, srv.URL, "Bearer "+user); r.status != 401 || r.header.Get("WWW-Authenticate") != invalidToken {
		t.Errorf("revoked: %d %v", r.status, r.header)
	}

	// The reasons are logged; the tokens never are.
	out := logs.String()
	if !strings.Contains(out, "invalid token") {
		t.Errorf("logs lack the reason:\n%s", out)
	}
	for _, tok := range []string{user, admin, expired} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(out, sig) {
			t.Errorf("a token appears in the logs:\n%s", out)
		}
	}
}

func TestMiddleware_Unavailable503(t *testing.T) {
	t.Parallel()
	e := newIssuerEnv(t, token.EdDSA)
	e.fail.Store(true)
	v := e.verifier(t, nil)
	var reached atomic.Bool
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Store(true) })))
	t.Cleanup(srv.Close)
	tok := e.issue(t, token.Claims{})

	r := do(t, srv.URL, "Bearer "+tok)
	if r.status != http.StatusServiceUnavailable || r.body["error"] != "unavailable" || r.body["message"] == "" {
		t.Fatalf("first fetch failing: %d %v, want 503 unavailable", r.status, r.body)
	}
	if r.header.Get("WWW-Authenticate") != "" {
		t.Errorf("503 with WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	// A revocation check that fails is a 503 too.
	e.fail.Store(false)
	e.clk.Add(DefaultMinRefetchInterval)
	v2 := e.verifier(t, func(c *Config) {
		c.Revocation = revocationFunc(func(context.Context, string, *token.Claims) (bool, error) {
			return false, context.DeadlineExceeded
		})
	})
	srv2 := httptest.NewServer(v2.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Store(true) })))
	t.Cleanup(srv2.Close)
	if r := do(t, srv2.URL, "Bearer "+tok); r.status != http.StatusServiceUnavailable || r.body["error"] != "unavailable" {
		t.Errorf("revocation down: %d %v, want 503", r.status, r.body)
	}
	if reached.Load() {
		t.Error("the protected handler ran")
	}
	// Recovery without a restart.
	if r := do(t, srv.URL, "Bearer "+tok); r.status != http.StatusOK {
		t.Errorf("after recovery: %d %v", r.status, r.body)
	}
}

func TestRequireScope_PanicsOnInvalidScope(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a b", "a\"b", "a\r\nX-Evil: 1", "é"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RequireScope(%q) did not panic", s)
				}
			}()
			RequireScope(s)
		}()
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vals []string
		tok  string
		ok   bool
	}{
		{[]string{"Bearer abc"}, "abc", true},
		{[]string{"BEARER abc"}, "abc", true},
		{[]string{"Bearer   abc"}, "abc", true},
		{[]string{"Bearer abc def"}, "", false},
		{[]string{"Bearer"}, "", false},
		{[]string{"Bearerabc"}, "", false},
		{[]string{"Basic abc"}, "", false},
		{[]string{"Bearer a", "Bearer b"}, "", false},
		{nil, "", false},
	} {
		h := http.Header{}
		for _, v := range tc.vals {
			h.Add("Authorization", v)
		}
		tok, ok := bearerToken(h)
		if tok != tc.tok || ok != tc.ok {
			t.Errorf("%q: (%q, %v), want (%q, %v)", tc.vals, tok, ok, tc.tok, tc.ok)
		}
	}
}

func TestClaimsFromContext(t *testing.T) {
	t.Parallel()
	if _, ok := ClaimsFromContext(context.Background()); ok {
		t.Error("claims in an empty context")
	}
	if _, ok := ClaimsFromContext(ContextWithClaims(context.Background(), nil)); ok {
		t.Error("nil claims reported present")
	}
	c := &token.Claims{Subject: "u"}
	if got, ok := ClaimsFromContext(ContextWithClaims(context.Background(), c)); !ok || got != c {
		t.Error("claims lost")
	}
}
