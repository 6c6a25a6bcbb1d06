package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/token"
)

const testAudience = "https://api.example.com"

// t0 is the test epoch; tests never read the wall clock for expiry.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// clock is an injectable, manually advanced clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// issuerEnv is one sessiond deployment as a resource server sees it: a real
// token key set and issuer, and a real HTTP server publishing the JWKS and
// the discovery document, all on one fake clock. Its issuer is the server's
// URL. The JWKS handler counts requests and can be made to fail, to serve
// another body, or to wait.
type issuerEnv struct {
	clk  *clock
	keys *token.Keys
	iss  *token.Issuer
	srv  *httptest.Server
	url  string // issuer and server base URL
	jwks string // JWKS URL

	requests     atomic.Int64           // JWKS requests served (or failed)
	fail         atomic.Bool            // answer 500
	body         atomic.Pointer[[]byte] // serve this instead of the key set
	cacheControl atomic.Pointer[string] // Cache-Control of the JWKS; default "public, max-age=300"
	age          atomic.Pointer[string] // Age header, if set
	gate         atomic.Pointer[chan struct{}]
	arrived      chan struct{} // receives once per JWKS request when gated
}

func newIssuerEnv(t testing.TB, alg token.Alg) *issuerEnv {
	t.Helper()
	e := &issuerEnv{clk: newClock(), arrived: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", e.serveJWKS)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": e.url, "jwks_uri": e.jwks, "introspection_endpoint": e.url + "/v1/introspect",
		})
	})
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.url = e.srv.URL
	e.jwks = e.url + "/.well-known/jwks.json"

	var err error
	e.keys, err = token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{Alg: alg, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.iss = e.newIssuer(t, e.url)
	return e
}

func (e *issuerEnv) newIssuer(t testing.TB, issuer string) *token.Issuer {
	t.Helper()
	iss, err := token.NewIssuer(e.keys, token.IssuerConfig{Issuer: issuer, Audience: []string{testAudience}, Now: e.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func (e *issuerEnv) serveJWKS(w http.ResponseWriter, r *http.Request) {
	e.requests.Add(1)
	if g := e.gate.Load(); g != nil {
		e.arrived <- struct{}{}
		<-*g
	}
	if e.fail.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	cc := "public, max-age=300"
	if p := e.cacheControl.Load(); p != nil {
		cc = *p
	}
	if cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if p := e.age.Load(); p != nil {
		w.Header().Set("Age", *p)
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	if b := e.body.Load(); b != nil {
		_, _ = w.Write(*b)
		return
	}
	b, err := e.keys.JWKS()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(b)
}

func (e *issuerEnv) setCacheControl(v string) { e.cacheControl.Store(&v) }
func (e *issuerEnv) setBody(b []byte)         { e.body.Store(&b) }

// rotate makes a new signing key (published and signing at once).
func (e *issuerEnv) rotate(t testing.TB) string {
	t.Helper()
	kid, err := e.keys.Rotate(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return kid
}

// issue signs a token for testAudience with default claims plus c.
func (e *issuerEnv) issue(t testing.TB, c token.Claims) string {
	t.Helper()
	return issueWith(t, e.iss, c)
}

func issueWith(t testing.TB, iss *token.Issuer, c token.Claims) string {
	t.Helper()
	if c.Subject == "" {
		c.Subject = "user-42"
	}
	tok, err := iss.Issue(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// verifier returns a Verifier for e's JWKS URL on e's clock; mod may change
// the config first.
func (e *issuerEnv) verifier(t testing.TB, mod func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{Issuer: e.url, Audience: testAudience, JWKSURL: e.jwks, Now: e.clk.Now}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mustVerify fails the test unless raw verifies.
func mustVerify(t testing.TB, v *Verifier, raw string) *token.Claims {
	t.Helper()
	c, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

// wantInvalid fails the test unless err is a token failure (401), not 503.
func wantInvalid(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, token.ErrInvalidToken) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want token.ErrInvalidToken only", err)
	}
}

// wantUnavailable fails the test unless err is ErrUnavailable (503).
func wantUnavailable(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("err = %v, want ErrUnavailable only", err)
	}
}

// response is a decoded answer of a test server.
type response struct {
	status int
	header http.Header
	body   map[string]string
}

// do sends a GET to u with the given Authorization header values.
func do(t testing.TB, u string, auth ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
	}
	return r
}
