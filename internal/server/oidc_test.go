package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/oidc/oidctest"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/sqlitestore"
	"github.com/sessiond/sessiond/token"
)

const (
	ssoClientID     = "sessiond-rp"
	ssoClientSecret = "0123456789abcdef0123456789abcdef-client-secret"
)

// ssoEnv is sessiond (memory store, real clock) configured with one
// provider, "idp", that is a real OpenID Provider on another loopback port.
type ssoEnv struct {
	t     *testing.T
	log   *syncBuffer
	url   string
	op    *oidctest.Provider
	store *memstore.Store
	mgr   *session.Manager
	// clock is the sessions' and second factors' clock when withMFA.
	clock *clock
}

// newSSOEnv starts the environment; setup, when given, changes the
// provider before sessiond runs discovery.
func newSSOEnv(t *testing.T, setup ...func(p *oidctest.Provider)) *ssoEnv {
	t.Helper()
	return newSSOEnvWith(t, false, setup...)
}

// newSSOEnvWith is newSSOEnv, with second factors on when withMFA (their
// clock, and the sessions', settable from the real time on).
func newSSOEnvWith(t *testing.T, withMFA bool, setup ...func(p *oidctest.Provider)) *ssoEnv {
	t.Helper()
	op := oidctest.New(t, ssoClientID, ssoClientSecret)
	op.Set(func(p *oidctest.Provider) {
		p.User = oidctest.User{Subject: "op-user-1", Email: "Ada@Example.com", EmailVerified: true,
			Roles: []string{"dev"}, OrgID: "org-1"}
	})
	for _, fn := range setup {
		op.Set(fn)
	}
	st := memstore.New(nil)
	logBuf := &syncBuffer{}
	acc := &account.Service{Store: st, Hasher: cheapHasher()}
	clk := &clock{t: time.Now().UTC()}
	var mfaOpt *server.MFA
	if withMFA {
		mfaOpt = testMFA(t, st, clk.Now)
	}
	cfg := session.Config{Store: st}
	if withMFA {
		cfg.Now = clk.Now
	}
	mgr, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler
	hs := newLoopback(t, func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) })
	op.Set(func(p *oidctest.Provider) { p.RedirectURI = hs + "/v1/oidc/idp/callback" })
	set, err := oidc.NewSet(context.Background(), []oidc.ProviderConfig{{
		Name: "idp", Issuer: op.Issuer, ClientID: ssoClientID, ClientSecret: ssoClientSecret,
	}}, oidc.Options{Flows: st, Logouts: st, RedirectURL: func(name string) string { return hs + "/v1/oidc/" + name + "/callback" }})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(tWriter{t}, logBuf), nil))
	s, err := server.New(server.Options{Sessions: mgr, Accounts: acc, Users: st, Log: log, Audit: log,
		OIDC: &server.OIDC{Providers: set, Identities: st}, MFA: mfaOpt})
	if err != nil {
		t.Fatal(err)
	}
	h = s
	return &ssoEnv{t: t, log: logBuf, url: hs, op: op, store: st, mgr: mgr, clock: clk}
}

// browser is a cookie jar that follows no redirects by itself.
type browser struct {
	t *testing.T
	c *http.Client
}

func (e *ssoEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) get(u string) *http.Response {
	b.t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// authorize starts a sign-in and lets the provider approve it; it returns
// the callback URL the provider sends the browser to, not yet visited.
func (b *browser) authorize(e *ssoEnv, returnTo string) string {
	b.t.Helper()
	start := e.url + "/v1/oidc/idp/start"
	if returnTo != "" {
		start += "?return_to=" + url.QueryEscape(returnTo)
	}
	res := b.get(start)
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("start: status %d", res.StatusCode)
	}
	auth := res.Header.Get("Location")
	if !strings.HasPrefix(auth, e.op.Issuer+"/authorize?") {
		b.t.Fatalf("start: Location %q", auth)
	}
	q, _ := url.ParseQuery(auth[strings.IndexByte(auth, '?')+1:])
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || len(q.Get("state")) < 43 || len(q.Get("nonce")) < 43 {
		b.t.Fatalf("start: authorization request lacks PKCE S256, state or nonce: %v", q)
	}
	res = b.get(auth)
	cb := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(cb, e.url+"/v1/oidc/idp/callback?") {
		b.t.Fatalf("authorize: status %d, Location %q", res.StatusCode, cb)
	}
	return cb
}

// finish visits the callback and returns where sessiond sends the browser.
func (b *browser) finish(callback string) string {
	b.t.Helper()
	res := b.get(callback)
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("callback: status %d", res.StatusCode)
	}
	return res.Header.Get("Location")
}

// whoami returns the signed-in email, or "" when not signed in.
func (b *browser) whoami(e *ssoEnv) string {
	b.t.Helper()
	res, err := b.c.Get(e.url + "/v1/whoami")
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return ""
	}
	var v struct {
		User struct{ Email, ID string } `json:"user"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		b.t.Fatal(err)
	}
	return v.User.Email
}

func TestOIDC_HappyPathCreatesAndLinksUser(t *testing.T) {
	t.Parallel()
	e := newSSOEnv(t)
	b := e.browser()
	if got := b.finish(b.authorize(e, "/v1/whoami?x=1")); got != "/v1/whoami?x=1" {
		t.Fatalf("callback redirect = %q, want the return_to", got)
	}
	if got := b.whoami(e); got != "ada@example.com" {
		t.Fatalf("whoami email = %q", got)
	}
	u, err := e.store.UserByEmail(context.Background(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordHash != "" || u.OrgID != "org-1" || len(u.Roles) != 1 || u.Roles[0] != "dev" {
		t.Fatalf("created user = %+v", u)
	}
	if uid, err := e.store.IdentityUser(context.Background(), e.op.Issuer, "op-user-1"); err != nil || uid != u.ID {
		t.Fatalf("identity link = %q, %v", uid, err)
	}
	sessions, err := e.store.ListByUser(context.Background(), u.ID)
	if err != nil || len(sessions) != 1 || sessions[0].Method != "oidc:idp" {
		t.Fatalf("sessions = %+v, %v", sessions, err)
	}

	// A second sign-in, in another browser, with a changed email at the
	// provider: the same user, found by (issuer, subject), not by email.
	e.op.Set(func(p *oidctest.Provider) { p.User.Email = "someone-else@example.com" })
	b2 := e.browser()
	if got := b2.finish(b2.authorize(e, "")); got != "/account" {
		t.Fatalf("second callback redirect = %q", got)
	}
	if got := b2.whoami(e); got != "ada@example.com" {
		t.Fatalf("second sign-in is %q, want the linked user", got)
	}
	// The same browser signing in again gets a fresh session; the old one ends.
	old := b.c.Jar.Cookies(mustURL(e.url))
	b.finish(b.authorize(e, ""))
	if b.whoami(e) == "" {
		t.Fatal("re-sign-in: not signed in")
	}
	if sameSessionCookie(old, b.c.Jar.Cookies(mustURL(e.url))) {
		t.Fatal("re-sign-in kept the session token")
	}

	// Roles follow the provider's claim; the change bumps the token version.
	e.op.Set(func(p *oidctest.Provider) { p.User.Roles = []string{"dev", "ops", "ops"} })
	b.finish(b.authorize(e, ""))
	u2, err := e.store.UserByID(context.Background(), u.ID)
	if err != nil || !slices.Equal(u2.Roles, []string{"dev", "ops"}) || u2.TokenVersion != u.TokenVersion+1 {
		t.Fatalf("after a role change at the provider: %+v, %v", u2, err)
	}
	// A disabled account cannot sign in through the provider either.
	if _, err := e.store.UpdateUser(context.Background(), u.ID, func(x *account.User) error { x.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	b3 := e.browser()
	if got := b3.finish(b3.authorize(e, "")); got != "/login?error=sso-disabled" {
		t.Fatalf("disabled user: callback redirect = %q", got)
	}
}

// Issue 13 item 6: a provider that follows OpenID Connect Core §5.4 puts
// the email and profile claims in UserInfo, not in the ID token; sessiond
// fetches them with the access token and merges them, the ID token's own
// claims first.
func TestOIDC_ClaimsFromUserInfo(t *testing.T) {
	t.Parallel()
	// The ID token carries only sub; the rest is in UserInfo.
	bare := func(c *token.Claims) {
		c.Email, c.Roles, c.OrgID = "", nil, ""
		delete(c.Extra, "email_verified")
	}
	full := func(u oidctest.User) map[string]any {
		return map[string]any{"sub": u.Subject, "email": u.Email, "email_verified": u.EmailVerified,
			"roles": u.Roles, "org_id": u.OrgID, "name": "Ada"}
	}
	t.Run("claims only in userinfo", func(t *testing.T) {
		t.Parallel()
		e := newSSOEnv(t, func(p *oidctest.Provider) { p.Claims, p.UserInfo = bare, full })
		b := e.browser()
		if got := b.finish(b.authorize(e, "")); got != "/account" {
			t.Fatalf("callback redirect = %q, want /account; log:\n%s", got, e.log.String())
		}
		if got := b.whoami(e); got != "ada@example.com" {
			t.Fatalf("whoami email = %q", got)
		}
		u, err := e.store.UserByEmail(context.Background(), "ada@example.com")
		if err != nil || u.OrgID != "org-1" || !slices.Equal(u.Roles, []string{"dev"}) {
			t.Fatalf("created user = %+v, %v", u, err)
		}
	})
	t.Run("id token claims win", func(t *testing.T) {
		t.Parallel()
		e := newSSOEnv(t, func(p *oidctest.Provider) {
			p.User.EmailVerified = false // in the ID token: ada, unverified
			p.UserInfo = func(u oidctest.User) map[string]any {
				return map[string]any{"sub": u.Subject, "email": "mallory@example.com", "email_verified": true,
					"roles": []string{"admin"}, "org_id": "org-2"}
			}
		})
		b := e.browser()
		// UserInfo's email_verified describes another address: it does not
		// verify the ID token's.
		if got := b.finish(b.authorize(e, "")); got != "/login?error=sso-unverified" {
			t.Fatalf("callback redirect = %q, want sso-unverified", got)
		}
		e.op.Set(func(p *oidctest.Provider) { p.User.EmailVerified = true })
		b = e.browser()
		if got := b.finish(b.authorize(e, "")); got != "/account" {
			t.Fatalf("callback redirect = %q, want /account", got)
		}
		u, err := e.store.UserByEmail(context.Background(), "ada@example.com")
		if err != nil || u.OrgID != "org-1" || !slices.Equal(u.Roles, []string{"dev"}) {
			t.Fatalf("created user = %+v, %v", u, err)
		}
		if _, err := e.store.UserByEmail(context.Background(), "mallory@example.com"); err == nil {
			t.Fatal("UserInfo's email made an account")
		}
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func sameSessionCookie(a, b []*http.Cookie) bool {
	for _, x := range a {
		for _, y := range b {
			if x.Name == "sessiond" && y.Name == "sessiond" && x.Value == y.Value {
				return true
			}
		}
	}
	return false
}

func TestOIDC_RefusesBadCallbacks(t *testing.T) {
	t.Parallel()
	setQuery := func(cb, key, value string) string {
		u := mustURL(cb)
		q := u.Query()
		if value == "" {
			q.Del(key)
		} else {
			q.Set(key, value)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	cases := []struct {
		name  string
		op    func(p *oidctest.Provider)
		setup func(p *oidctest.Provider)                    // before discovery
		edit  func(e *ssoEnv, b *browser, cb string) string // returns the callback to visit
		error string
		why   string // in the server's log
	}{
		{name: "missing state", edit: func(_ *ssoEnv, _ *browser, cb string) string { return setQuery(cb, "state", "") }, error: "sso-expired", why: "spent state"},
		{name: "wrong state", edit: func(_ *ssoEnv, _ *browser, cb string) string {
			return setQuery(cb, "state", oidc.NewBinding())
		}, error: "sso-expired", why: "spent state"},
		{name: "replayed state", edit: func(_ *ssoEnv, b *browser, cb string) string {
			b.finish(cb)
			b.c.Jar.SetCookies(mustURL(cb), []*http.Cookie{{Name: "sessiond", Value: "", MaxAge: -1, Path: "/"}})
			return cb
		}, error: "sso-expired", why: "spent state"},
		{name: "code injected into another browser", edit: func(e *ssoEnv, b *browser, cb string) string {
			victim := e.browser()
			victim.authorize(e, "") // the victim has a flow (and binding cookie) of its own
			*b = *victim
			return cb
		}, error: "sso-browser", why: "another browser"},
		{name: "wrong iss parameter", op: func(p *oidctest.Provider) { p.IssParam = "https://evil.example" }, error: "sso-failed", why: "issuer mismatch"},
		{name: "missing iss parameter", op: func(p *oidctest.Provider) { p.IssParam = "-" }, error: "sso-failed", why: "issuer mismatch"},
		{name: "provider error", edit: func(_ *ssoEnv, _ *browser, cb string) string {
			return setQuery(setQuery(cb, "code", ""), "error", "access_denied")
		}, error: "sso-denied", why: "provider refused"},
		{name: "wrong nonce", op: func(p *oidctest.Provider) {
			p.Claims = func(c *token.Claims) { c.Extra["nonce"] = "not-the-nonce" }
		}, error: "sso-failed", why: "nonce mismatch"},
		{name: "missing nonce", op: func(p *oidctest.Provider) {
			p.Claims = func(c *token.Claims) { delete(c.Extra, "nonce") }
		}, error: "sso-failed", why: "nonce mismatch"},
		{name: "id token issuer mismatch", op: func(p *oidctest.Provider) {
			iss := p.Issuer + "/other"
			p.Claims = func(c *token.Claims) { c.Issuer = iss }
		}, error: "sso-failed", why: "issued by a different provider"},
		{name: "alg none", op: func(p *oidctest.Provider) { p.Token = oidctest.Unsigned }, error: "sso-failed", why: `algorithm \"none\"`},
		{name: "HS256 with the client secret", op: func(p *oidctest.Provider) {
			p.Token = func(s string) string { return oidctest.HS256(s, []byte(ssoClientSecret)) }
		}, error: "sso-failed", why: `algorithm \"HS256\"`},
		{name: "bad signature", op: func(p *oidctest.Provider) { p.Token = oidctest.BadSignature }, error: "sso-failed", why: "failed to verify signature"},
		{name: "wrong aud", op: func(p *oidctest.Provider) {
			p.Claims = func(c *token.Claims) { c.Audience = []string{"another-client"} }
		}, error: "sso-failed", why: "expected audience"},
		{name: "foreign azp", op: func(p *oidctest.Provider) {
			p.Claims = func(c *token.Claims) { c.Extra["azp"] = "another-client" }
		}, error: "sso-failed", why: "invalid id token: azp"},
		{name: "expired", op: func(p *oidctest.Provider) {
			p.Claims = func(c *token.Claims) {
				c.IssuedAt = time.Now().Add(-10 * time.Minute)
				c.ExpiresAt = time.Now().Add(-5 * time.Minute)
			}
		}, error: "sso-failed", why: "token is expired"},
		{name: "unverified email", op: func(p *oidctest.Provider) { p.User.EmailVerified = false }, error: "sso-unverified", why: "no verified email"},
		{name: "userinfo names another subject", setup: func(p *oidctest.Provider) {
			p.UserInfo = func(u oidctest.User) map[string]any {
				return map[string]any{"sub": "op-user-2", "email": u.Email, "email_verified": true}
			}
		}, error: "sso-failed", why: `userinfo failed or names another subject: sub \"op-user-2\"`},
		{name: "userinfo without sub", setup: func(p *oidctest.Provider) {
			p.UserInfo = func(u oidctest.User) map[string]any { return map[string]any{"email": u.Email} }
		}, error: "sso-failed", why: "userinfo failed or names another subject"},
		{name: "userinfo fails", setup: func(p *oidctest.Provider) {
			p.UserInfo = func(oidctest.User) map[string]any { return nil }
		}, error: "sso-failed", why: "userinfo failed or names another subject: 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var setup []func(p *oidctest.Provider)
			if tc.setup != nil {
				setup = append(setup, tc.setup)
			}
			e := newSSOEnv(t, setup...)
			if tc.op != nil {
				e.op.Set(tc.op)
			}
			b := e.browser()
			cb := b.authorize(e, "")
			if tc.edit != nil {
				cb = tc.edit(e, b, cb)
			}
			if got, want := b.finish(cb), "/login?error="+tc.error; got != want {
				t.Fatalf("callback redirect = %q, want %q", got, want)
			}
			if got := b.whoami(e); got != "" {
				t.Fatalf("signed in as %q after a refused callback", got)
			}
			if !strings.Contains(e.log.String(), tc.why) {
				t.Fatalf("refused, but not because of %q; log:\n%s", tc.why, e.log.String())
			}
			if tc.name != "replayed state" {
				if _, err := e.store.UserByEmail(context.Background(), "ada@example.com"); err == nil {
					t.Fatal("a refused sign-in created a user")
				}
			}
		})
	}
}

func TestOIDC_LoginPageShowsFixedMessage(t *testing.T) {
	t.Parallel()
	e := newSSOEnv(t)
	b := e.browser()
	for key, want := range map[string]string{"sso-browser": "another browser", "<script>": ""} {
		res, err := b.c.Get(e.url + "/login?error=" + url.QueryEscape(key))
		if err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		buf := make([]byte, 64<<10)
		n, _ := res.Body.Read(buf)
		sb.Write(buf[:n])
		res.Body.Close()
		if want != "" && !strings.Contains(sb.String(), want) {
			t.Errorf("login page for %q lacks %q", key, want)
		}
		if strings.Contains(sb.String(), "<script>") {
			t.Errorf("login page reflects the error key")
		}
	}
}

// newLoopback serves h on a loopback port for the test and returns its URL.
func newLoopback(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

// tWriter sends the server's log to the test's, so a refusal's reason shows
// with -v.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ssoStore is what single sign-on needs from a users store.
type ssoStore interface {
	oidc.FlowStore
	oidc.IdentityStore
}

// TestOIDC_StoresFlowsAndIdentities runs the flow and identity tables of
// every backend that has them through the same checks: single-use flows,
// expiry, and unique (issuer, subject) links.
func TestOIDC_StoresFlowsAndIdentities(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) ssoStore{
		"memory": func(*testing.T) ssoStore { return memstore.New(nil) },
		"sqlite": func(t *testing.T) ssoStore {
			st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), sqlitestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			st := open(t)
			now := time.Now()
			if err := st.PutFlow(ctx, "k1", []byte("data"), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := st.PutFlow(ctx, "old", []byte("x"), now.Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			if got, err := st.TakeFlow(ctx, "k1"); err != nil || string(got) != "data" {
				t.Fatalf("take = %q, %v", got, err)
			}
			for _, k := range []string{"k1", "old", "never"} {
				if _, err := st.TakeFlow(ctx, k); !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("take %s: err = %v, want ErrNotFound", k, err)
				}
			}
			// Exactly one of many concurrent takers gets a flow.
			if err := st.PutFlow(ctx, "race", []byte("x"), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins := 0
			for range 8 {
				wg.Go(func() {
					if _, err := st.TakeFlow(ctx, "race"); err == nil {
						mu.Lock()
						wins++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d concurrent takers won, want 1", wins)
			}

			if _, err := st.IdentityUser(ctx, "https://op", "sub"); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("unlinked: err = %v", err)
			}
			if err := st.LinkIdentity(ctx, "https://op", "sub", "u_1"); err != nil {
				t.Fatal(err)
			}
			if err := st.LinkIdentity(ctx, "https://op", "sub", "u_2"); !errors.Is(err, session.ErrConflict) {
				t.Fatalf("relink: err = %v, want ErrConflict", err)
			}
			if err := st.LinkIdentity(ctx, "https://other-op", "sub", "u_2"); err != nil {
				t.Fatal(err)
			}
			if uid, err := st.IdentityUser(ctx, "https://op", "sub"); err != nil || uid != "u_1" {
				t.Fatalf("linked user = %q, %v", uid, err)
			}
		})
	}
}

// Build wires oidc.providers from the config file to the SQLite store: a
// full sign-in through the built app, flows and links in SQLite.
func TestOIDC_BuildFromConfigOnSQLite(t *testing.T) {
	t.Parallel()
	op := oidctest.New(t, ssoClientID, ssoClientSecret)
	op.Set(func(p *oidctest.Provider) {
		p.User = oidctest.User{Subject: "s-9", Email: "grace@example.com", EmailVerified: true}
	})
	var h http.Handler
	base := newLoopback(t, func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) })
	dir := t.TempDir()
	path := filepath.Join(dir, "sessiond.yaml")
	yaml := "base_url: " + base + "\ndata: " + dir + "\noidc:\n  providers:\n    - name: idp\n      issuer: " + op.Issuer +
		"\n      client_id: " + ssoClientID + "\n      client_secret: " + ssoClientSecret + "\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	app, err := app.Build(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	h = app.Server
	e := &ssoEnv{t: t, url: base, op: op, log: &syncBuffer{}}
	b := e.browser()
	if got := b.finish(b.authorize(e, "")); got != "/account" {
		t.Fatalf("callback redirect = %q", got)
	}
	if got := b.whoami(e); got != "grace@example.com" {
		t.Fatalf("whoami = %q", got)
	}
}

func TestOIDC_LoginPageHasAButtonPerProvider(t *testing.T) {
	t.Parallel()
	e := newSSOEnv(t)
	res, err := e.browser().c.Get(e.url + "/login?return_to=" + url.QueryEscape("/account"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	page := string(body)
	if !strings.Contains(page, `href="/v1/oidc/idp/start?return_to=%2faccount"`) && !strings.Contains(page, `href="/v1/oidc/idp/start?return_to=%2Faccount"`) {
		t.Fatalf("no start link for provider idp carrying return_to:\n%s", page)
	}
	if !strings.Contains(page, "Continue with idp") {
		t.Fatal("no provider button text")
	}
}
