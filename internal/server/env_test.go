package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/token"
)

// clock is an injectable, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type envOptions struct {
	tls       bool
	hasher    *account.Hasher
	perIP     ratelimit.Rate
	perAcct   ratelimit.Rate
	lockAfter int
	idle      time.Duration
	absolute  time.Duration
	maxPer    int
	wrap      func(session.Backend) session.Backend
	ready     map[string]server.Pinger
	log       io.Writer
	trusted   []netip.Prefix
	noTokens  bool
	pprof     bool
	clients   ClientStoreForTest
	// mfa turns on second factors (server.MFA on the memory store).
	mfa bool
	// users wraps the user store the account service sees.
	users func(account.Store) account.Store
}

// ClientStoreForTest is the client registry a test env uses.
type ClientStoreForTest = server.ClientStore

// env is a real sessiond HTTP server on a loopback port, on the memory
// store, with an injected clock and a cheap password hash.
type env struct {
	t        *testing.T
	srv      *httptest.Server
	store    *memstore.Store
	clock    *clock
	accounts *account.Service
	sessions *session.Manager
	tokens   *server.Tokens
}

var cheapHasher = sync.OnceValue(func() *account.Hasher {
	h, err := account.NewHasher(account.Params{Memory: 64, Time: 1, Threads: 1, InsecureLowCost: true})
	if err != nil {
		panic(err)
	}
	return h
})

func newEnv(t *testing.T, opt envOptions) *env {
	t.Helper()
	clk := newClock()
	st := memstore.New(clk.Now)
	if opt.hasher == nil {
		opt.hasher = cheapHasher()
	}
	var backend session.Backend = st
	if opt.wrap != nil {
		backend = opt.wrap(st)
	}
	acc := &account.Service{Store: st, Hasher: opt.hasher, Now: clk.Now, LockoutAfter: opt.lockAfter}
	if opt.users != nil {
		acc.Store = opt.users(st)
	}
	if opt.perIP.N > 0 {
		acc.PerIP = ratelimit.NewMemory(opt.perIP, clk.Now)
	}
	if opt.perAcct.N > 0 {
		acc.PerAccount = ratelimit.NewMemory(opt.perAcct, clk.Now)
	}
	mgr, err := session.NewManager(session.Config{Store: backend, Now: clk.Now, IdleTimeout: opt.idle,
		AbsoluteTimeout: opt.absolute, MaxPerUser: opt.maxPer})
	if err != nil {
		t.Fatal(err)
	}
	var log *slog.Logger
	if opt.log != nil {
		log = slog.New(slog.NewJSONHandler(opt.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
		acc.Audit = log
	}
	var tokens *server.Tokens
	if !opt.noTokens {
		tokens = newTokens(t, st, clk, opt.clients)
	}
	var mfaOpt *server.MFA
	if opt.mfa {
		mfaOpt = testMFA(t, st, clk.Now)
	}
	s, err := server.New(server.Options{Sessions: mgr, Accounts: acc, Users: st, Ready: opt.ready,
		Log: log, Audit: log, AccessLog: log != nil, TrustedProxies: opt.trusted, Tokens: tokens, Pprof: opt.pprof, MFA: mfaOpt})
	if err != nil {
		t.Fatal(err)
	}
	var hs *httptest.Server
	if opt.tls {
		hs = httptest.NewTLSServer(s)
	} else {
		hs = httptest.NewServer(s)
	}
	t.Cleanup(hs.Close)
	return &env{t: t, srv: hs, store: st, clock: clk, accounts: acc, sessions: mgr, tokens: tokens}
}

func (e *env) addUser(email, password string, roles ...string) *account.User {
	e.t.Helper()
	u, err := e.accounts.Register(context.Background(), email, password, roles, "org-1")
	if err != nil {
		e.t.Fatalf("register %s: %v", email, err)
	}
	return u
}

// client is a browser-like client with its own cookie jar.
type client struct {
	e         *env
	hc        *http.Client
	csrf      string
	bearerTok string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	hc := e.srv.Client()
	hc = &http.Client{Transport: hc.Transport, Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return &client{e: e, hc: hc}
}

type resp struct {
	*http.Response
	body []byte
	json map[string]any
}

func (c *client) do(method, path string, body any, hdr ...string) *resp {
	c.e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.bearerTok != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearerTok)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		switch {
		case hdr[i] == "Host":
			req.Host = hdr[i+1]
		case hdr[i+1] == "":
			req.Header.Del(hdr[i])
		default:
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := &resp{Response: res, body: b}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.json)
	}
	if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
		c.e.t.Errorf("%s %s: server error %d: %s", method, path, res.StatusCode, b)
	}
	return r
}

func (c *client) login(email, password string) *resp {
	c.e.t.Helper()
	r := c.do("POST", "/v1/login", map[string]string{"email": email, "password": password})
	if r.StatusCode == http.StatusOK {
		c.csrf, _ = r.json["csrf_token"].(string)
	}
	return r
}

func (c *client) cookie() *http.Cookie {
	u, _ := url.Parse(c.e.srv.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		if strings.HasSuffix(ck.Name, "sessiond") {
			return ck
		}
	}
	return nil
}

func (c *client) setCookie(name, value string) {
	u, _ := url.Parse(c.e.srv.URL)
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func want(t *testing.T, r *resp, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	if code != "" {
		if got, _ := r.json["error"].(string); got != code {
			t.Fatalf("%s %s: error code %q, want %q; body %s", r.Request.Method, r.Request.URL.Path, got, code, r.body)
		}
		if msg, _ := r.json["message"].(string); msg == "" {
			t.Fatalf("error without message: %s", r.body)
		}
	}
}

func setCookieHeader(r *resp) string {
	for _, v := range r.Header.Values("Set-Cookie") {
		if strings.Contains(v, "sessiond=") {
			return v
		}
	}
	return ""
}

const testIssuer = "https://sessiond.test"

func newTokens(t *testing.T, st *memstore.Store, clk *clock, clients server.ClientStore) *server.Tokens {
	t.Helper()
	ctx := context.Background()
	keys, err := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{Alg: token.EdDSA, TokenTTL: 15 * time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	aud := []string{testIssuer}
	iss, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: testIssuer, Audience: aud, TTL: 15 * time.Minute, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: testIssuer, Audience: testIssuer, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := refresh.New(refresh.Config{Store: st, Now: clk.Now, Grace: 10 * time.Second, AccessTTL: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if clients == nil {
		clients = st
	}
	return &server.Tokens{Keys: keys, Issuer: iss, Verifier: ver, Refresh: rs, Users: st, Clients: clients,
		IssuerURL: testIssuer, Audience: aud, AccessTTL: 15 * time.Minute, Now: clk.Now}
}
