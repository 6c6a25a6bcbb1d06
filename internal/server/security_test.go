package server_test

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/session"
)

// flaky is a real store that can be switched off, as a store that went away.
type flaky struct {
	session.Backend
	down atomic.Bool
}

var errDown = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (f *flaky) Get(ctx context.Context, id string) (*session.Session, error) {
	if f.down.Load() {
		return nil, errDown
	}
	return f.Backend.Get(ctx, id)
}

func (f *flaky) Ping(context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return nil
}

// Rule 22: when the session store is unreachable, nobody is authenticated:
// 503 unavailable, never 200 and never 500; /readyz is 503; it recovers by
// itself when the store returns.
func TestFailClosed_StoreDown(t *testing.T) {
	t.Parallel()
	f := &flaky{}
	e := newEnv(t, envOptions{wrap: func(b session.Backend) session.Backend { f.Backend = b; return f }})
	e.addUser("a@example.com", pw)
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	f.down.Store(true)
	r := c.do("GET", "/v1/whoami", nil)
	want(t, r, 503, "unavailable")
	if strings.Contains(string(r.body), "6379") || strings.Contains(string(r.body), "refused") {
		t.Fatalf("internal error text leaked to the client: %s", r.body)
	}
	if r.Header.Get("Set-Cookie") != "" {
		t.Fatal("a store outage cleared the client's cookie")
	}
	want(t, c.do("GET", "/v1/sessions", nil), 503, "unavailable")
	f.down.Store(false)
	want(t, c.do("GET", "/v1/whoami", nil), 200, "")
}

func TestReadyz_StoreDown(t *testing.T) {
	t.Parallel()
	f := &flaky{}
	e2 := newEnv(t, envOptions{ready: map[string]server.Pinger{"sessions": f}})
	c := e2.client()
	want(t, c.do("GET", "/readyz", nil), 200, "")
	f.down.Store(true)
	want(t, c.do("GET", "/readyz", nil), 503, "unavailable")
	want(t, c.do("GET", "/healthz", nil), 200, "")
	f.down.Store(false)
	want(t, c.do("GET", "/readyz", nil), 200, "")
}

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

// Rules 3 and 24: security events are logged as structured audit records;
// no password, session token or CSRF token ever reaches the log.
func TestAuditEvents_NoSecretsInLogs(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	e := newEnv(t, envOptions{log: &logs, perAcct: mustRate("2/1m"), lockAfter: 3})
	e.addUser("root@example.com", pw, "admin")
	u := e.addUser("a@example.com", pw)
	admin, c := e.client(), e.client()
	want(t, admin.login("root@example.com", pw), 200, "")
	want(t, c.login("a@example.com", pw), 200, "")
	secrets := []string{pw, c.cookie().Value, c.csrf, admin.cookie().Value, admin.csrf, "Wrong pass 1", "new secret phrase"}
	e.client().login("a@example.com", "Wrong pass 1")
	e.client().login("a@example.com", "Wrong pass 1")
	e.client().login("a@example.com", "Wrong pass 1") // rate limited
	e.clock.Advance(time.Minute)                      // let the account's limit recover
	want(t, c.do("POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "new secret phrase"}), 204, "")
	want(t, admin.do("DELETE", "/v1/admin/users/"+u.ID+"/sessions", nil), 204, "")
	want(t, admin.do("PATCH", "/v1/admin/users/"+u.ID, map[string]any{"disabled": true}), 200, "")
	want(t, admin.do("POST", "/v1/logout", nil), 204, "")
	out := logs.String()
	for _, ev := range []string{"login.success", "login.failure", "login.rate_limited", "session.created",
		"password.changed", "sessions.revoked", "user.disabled", "logout"} {
		if !strings.Contains(out, `"event":"`+ev+`"`) {
			t.Errorf("no audit event %s in the log", ev)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("a secret appears in the log: %q", s)
		}
	}
}

// Rule 18: the client IP (for rate limits and device lists) comes from
// X-Forwarded-For only when the peer is a trusted proxy.
func TestClientIP_TrustedProxiesOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		xff     string
		wantIP  string
	}{
		{"untrusted peer: header ignored", nil, "203.0.113.9", "127.0.0.1"},
		{"trusted peer: right-most untrusted hop", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "198.51.100.1, 203.0.113.9", "203.0.113.9"},
		{"trusted chain skipped", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}, "203.0.113.9, 10.1.2.3", "203.0.113.9"},
		{"garbage hop stops the walk", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "203.0.113.9, bogus", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{trusted: tc.trusted})
			e.addUser("a@example.com", pw)
			c := e.client()
			want(t, c.do("POST", "/v1/login", map[string]string{"email": "a@example.com", "password": pw}, "X-Forwarded-For", tc.xff), 200, "")
			r := c.do("GET", "/v1/sessions", nil)
			got := r.json["sessions"].([]any)[0].(map[string]any)["ip"]
			if got != tc.wantIP {
				t.Fatalf("ip %v, want %s", got, tc.wantIP)
			}
		})
	}
}
