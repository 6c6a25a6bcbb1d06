package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sessiond/sessiond/account"
	oauthclient "github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/token"
)

var (
	returnToField = regexp.MustCompile(`name="return_to" value="([^"]+)"`)
	metaRefresh   = regexp.MustCompile(`<meta http-equiv="refresh" content="0;url=([^"]+)">`)
	hiddenField   = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)
)

// opEnv is sessiond as an OpenID Provider: newEnv's stores, clock and
// services, with Options.Provider set.
type opEnv struct {
	*env
	srv *server.Server
}

func newOPEnv(t *testing.T) *opEnv {
	t.Helper()
	clk := newClock()
	st := memstore.New(clk.Now)
	acc := &account.Service{Store: st, Hasher: cheapHasher(), Now: clk.Now}
	mgr, err := session.NewManager(session.Config{Store: st, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	tokens := newTokens(t, st, clk, st)
	s, err := server.New(server.Options{Sessions: mgr, Accounts: acc, Users: st, Tokens: tokens, Now: clk.Now,
		Provider: &server.ProviderOptions{Store: st, HTTPClient: &http.Client{Timeout: 2 * time.Second},
			RetryDelays: []time.Duration{10 * time.Millisecond, 20 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { s.WaitBackchannel(); hs.Close() })
	return &opEnv{env: &env{t: t, srv: hs, store: st, clock: clk, accounts: acc, sessions: mgr, tokens: tokens}, srv: s}
}

// rp is a registered relying party and, when it has one, the listener that
// records the back-channel logout tokens it receives.
type rp struct {
	id, secret, redirect string
	public               bool
	bcl                  *bclListener
}

type rpOptions struct {
	public, thirdParty, noRefresh, withBCL bool
	bclStatus                              int // the listener's answer; 0: 200
}

func (e *opEnv) addRP(id string, o rpOptions) *rp {
	e.t.Helper()
	r := &rp{id: id, redirect: "https://" + id + ".example/callback", public: o.public}
	c := &oauthclient.Client{ID: id, Name: "App " + id, Public: o.public, FirstParty: !o.thirdParty,
		Grants: []string{oauthclient.GrantAuthorizationCode}, RedirectURIs: []string{r.redirect, "http://127.0.0.1:9999/cb?x=1"},
		CreatedAt: time.Now()}
	if !o.noRefresh {
		c.Grants = append(c.Grants, oauthclient.GrantRefreshToken)
	}
	if !o.public {
		r.secret, _ = oauthclient.NewSecret()
		c.SecretHash = oauthclient.HashSecret(r.secret)
	}
	if o.withBCL {
		r.bcl = newBCLListener(e.t, o.bclStatus)
		c.BackchannelLogoutURI = r.bcl.url
	}
	if err := oauthclient.Validate(c); err != nil {
		e.t.Fatalf("client %s: %v", id, err)
	}
	if err := e.store.CreateClient(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// bclListener is a relying party's back-channel logout endpoint.
type bclListener struct {
	url    string
	mu     sync.Mutex
	tokens []string
	status int
	delay  time.Duration
}

func newBCLListener(t *testing.T, status int) *bclListener {
	l := &bclListener{status: status}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if r.Method != http.MethodPost || ct != "application/x-www-form-urlencoded" {
			t.Errorf("back-channel logout: %s with Content-Type %q", r.Method, ct)
		}
		_ = r.ParseForm()
		l.mu.Lock()
		l.tokens = append(l.tokens, r.PostForm.Get("logout_token"))
		delay := l.delay
		l.mu.Unlock()
		time.Sleep(delay)
		if l.status != 0 {
			w.WriteHeader(l.status)
		}
	}))
	t.Cleanup(hs.Close)
	l.url = hs.URL + "/backchannel-logout"
	return l
}

func (l *bclListener) received() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.tokens...)
}

// pkce is a code verifier and its S256 challenge.
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	var b [32]byte
	_, _ = rand.Read(b[:])
	v := base64.RawURLEncoding.EncodeToString(b[:])
	return pkce{verifier: v, challenge: op.S256(v)}
}

// authParams is a valid authorization request of r.
func (r *rp) authParams(p pkce, extra ...string) url.Values {
	v := url.Values{"response_type": {"code"}, "client_id": {r.id}, "redirect_uri": {r.redirect},
		"scope": {"openid email profile"}, "state": {"st-" + r.id}, "nonce": {"n-" + r.id},
		"code_challenge": {p.challenge}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			v.Del(extra[i])
		} else {
			v.Set(extra[i], extra[i+1])
		}
	}
	return v
}

// authorize sends the browser to /v1/authorize.
func (c *client) authorize(v url.Values) *resp {
	c.e.t.Helper()
	return c.do("GET", "/v1/authorize?"+v.Encode(), nil)
}

// callback checks that r redirects to the rp's redirect URI and returns the
// parameters it carries.
func (r *rp) callback(t *testing.T, res *resp) url.Values {
	t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, r.redirect+"?") {
		t.Fatalf("authorize: status %d, Location %q, body %s", res.StatusCode, loc, res.body)
	}
	q, _ := url.ParseQuery(loc[len(r.redirect)+1:])
	return q
}

// code runs the front channel for a signed-in browser and returns the code.
func (r *rp) code(t *testing.T, c *client, p pkce, extra ...string) string {
	t.Helper()
	q := r.callback(t, c.authorize(r.authParams(p, extra...)))
	if q.Get("code") == "" || q.Get("state") != "st-"+r.id || q.Get("iss") != testIssuer {
		t.Fatalf("callback: %v", q)
	}
	return q.Get("code")
}

// redeem exchanges a code at the token endpoint as the rp.
func (r *rp) redeem(e *opEnv, code, verifier string) *resp {
	e.t.Helper()
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {r.redirect}, "code_verifier": {verifier}}
	if r.public {
		v.Set("client_id", r.id)
		return e.client().form("/v1/token", v)
	}
	return e.client().form("/v1/token", v, "Authorization", "Basic "+basicAuth(r.id, r.secret))
}

// signIn logs a browser in through the JSON API.
func (e *opEnv) signIn(email string) (*client, string) {
	e.t.Helper()
	c := e.client()
	r := c.login(email, pw)
	want(e.t, r, 200, "")
	return c, r.json["session"].(map[string]any)["id"].(string)
}

// verifyJWT checks raw's signature against the published JWKS and returns
// its header typ and claims.
func (e *opEnv) verifyJWT(raw string) (string, map[string]any) {
	e.t.Helper()
	r := e.client().do("GET", "/.well-known/jwks.json", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		e.t.Fatal(err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		e.t.Fatal(err)
	}
	h := jws.Signatures[0].Protected
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		e.t.Fatalf("kid %q not in the JWKS", h.KeyID)
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		e.t.Fatalf("signature: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		e.t.Fatal(err)
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return typ, m
}

func TestOP_Discovery(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	r := e.client().do("GET", "/.well-known/openid-configuration", nil)
	want(t, r, 200, "")
	for k, v := range map[string]any{
		"authorization_endpoint": testIssuer + "/v1/authorize", "userinfo_endpoint": testIssuer + "/v1/userinfo",
		"end_session_endpoint": testIssuer + "/v1/end-session", "backchannel_logout_supported": true,
		"backchannel_logout_session_supported": true, "authorization_response_iss_parameter_supported": true,
	} {
		if r.json[k] != v {
			t.Errorf("%s = %v, want %v", k, r.json[k], v)
		}
	}
	for k, want := range map[string]string{
		"code_challenge_methods_supported": `["S256"]`, "response_types_supported": `["code"]`,
		"subject_types_supported": `["public"]`, "id_token_signing_alg_values_supported": `["EdDSA"]`,
		"token_endpoint_auth_methods_supported": `["client_secret_basic","client_secret_post","none"]`,
	} {
		if got := string(mustJSON(r.json[k])); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	for k, member := range map[string]string{"scopes_supported": "offline_access", "claims_supported": "auth_time",
		"grant_types_supported": "authorization_code"} {
		if !strings.Contains(string(mustJSON(r.json[k])), `"`+member+`"`) {
			t.Errorf("%s lacks %s: %v", k, member, r.json[k])
		}
	}
}

func TestOP_CodeFlowPKCE_IDTokenUserinfoRefresh(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	u := e.addUser("ada@example.com", pw, "dev")
	app := e.addRP("app", rpOptions{})
	c, sid := e.signIn("ada@example.com")
	p := newPKCE()
	before := e.clock.Now()
	code := app.code(t, c, p)
	if len(code) < 43 {
		t.Fatalf("code %q is shorter than 256 bits", code)
	}
	r := app.redeem(e, code, p.verifier)
	want(t, r, 200, "")
	if r.Header.Get("Cache-Control") != "no-store" || r.json["token_type"] != "Bearer" || r.json["scope"] != "openid email profile" {
		t.Fatalf("token response: %s", r.body)
	}
	idt, _ := r.json["id_token"].(string)
	typ, claims := e.verifyJWT(idt)
	if typ != "JWT" {
		t.Errorf("ID token typ %q, want JWT", typ)
	}
	for k, v := range map[string]any{"iss": testIssuer, "sub": u.ID, "aud": "app", "azp": "app", "nonce": "n-app",
		"sid": sid, "email": "ada@example.com", "email_verified": true, "org_id": "org-1"} {
		if claims[k] != v {
			t.Errorf("ID token %s = %v, want %v", k, claims[k], v)
		}
	}
	if at, _ := claims["auth_time"].(float64); int64(at) != before.Unix() {
		t.Errorf("auth_time %v, want %d", claims["auth_time"], before.Unix())
	}
	if _, ok := claims["exp"].(float64); !ok {
		t.Error("ID token without exp")
	}
	// The ID token is not an access token.
	want(t, e.bearer(idt).do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// The access token works at userinfo (and the rest of the API).
	at := r.json["access_token"].(string)
	ui := e.bearer(at).do("GET", "/v1/userinfo", nil)
	want(t, ui, 200, "")
	if ui.json["sub"] != u.ID || ui.json["email"] != "ada@example.com" || ui.json["email_verified"] != true ||
		string(mustJSON(ui.json["roles"])) != `["dev"]` || ui.json["org_id"] != "org-1" {
		t.Fatalf("userinfo: %s", ui.body)
	}
	want(t, e.bearer(at).do("POST", "/v1/userinfo", nil), 200, "")

	// The refresh token rotates like any family; only this client may use it.
	rt := r.json["refresh_token"].(string)
	rr := e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "Authorization", "Basic "+basicAuth(app.id, app.secret))
	want(t, rr, 200, "")
	want(t, e.bearer(rr.json["access_token"].(string)).do("GET", "/v1/userinfo", nil), 200, "")
	oauthWant(t, e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rr.json["refresh_token"].(string)}}), 400, "invalid_grant")
}

func TestOP_PKCE_S256Required(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	e.addUser("ada@example.com", pw)
	app := e.addRP("app", rpOptions{public: true})
	c, _ := e.signIn("ada@example.com")
	p := newPKCE()
	for name, extra := range map[string][]string{
		"no challenge":        {"code_challenge", "", "code_challenge_method", ""},
		"no method":           {"code_challenge_method", ""},
		"plain":               {"code_challenge_method", "plain", "code_challenge", p.verifier},
		"short challenge":     {"code_challenge", "abc"},
		"no openid":           {"scope", "email"},
		"token response type": {"response_type", "token"},
		"unknown scope":       {"scope", "openid admin"},
	} {
		q := app.callback(t, c.authorize(app.authParams(p, extra...)))
		if q.Get("error") == "" || q.Get("code") != "" || q.Get("state") != "st-app" || q.Get("iss") != testIssuer {
			t.Errorf("%s: callback %v", name, q)
		}
	}
	// A wrong or missing verifier spends the code for nothing.
	code := app.code(t, c, p)
	oauthWant(t, app.redeem(e, code, newPKCE().verifier), 400, "invalid_grant")
	oauthWant(t, app.redeem(e, code, p.verifier), 400, "invalid_grant")
	code = app.code(t, c, p)
	oauthWant(t, app.redeem(e, code, ""), 400, "invalid_request")
	want(t, app.redeem(e, code, p.verifier), 200, "")
}

func TestRule20_OPNeverRedirectsToUnregisteredURI(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	e.addUser("ada@example.com", pw)
	app := e.addRP("app", rpOptions{})
	c, _ := e.signIn("ada@example.com")
	p := newPKCE()
	for _, uri := range []string{
		"", "https://app.example/callback/", "https://app.example:8443/callback", "https://app.example/callback?x=1",
		"http://app.example/callback", "https://APP.example/callback", "https://app.example/Callback", "https://evil.example/callback",
		"http://127.0.0.1:9999/cb", "http://127.0.0.1:9998/cb?x=1", "https://app.example/callback#f",
	} {
		r := c.authorize(app.authParams(p, "redirect_uri", uri))
		if r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
			t.Errorf("redirect_uri %q: status %d, Location %q", uri, r.StatusCode, r.Header.Get("Location"))
		}
	}
	// Unknown client: a page, never a redirect.
	r := c.authorize(app.authParams(p, "client_id", "nope"))
	if r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
		t.Errorf("unknown client: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// The second registered URI, byte for byte, is fine.
	loc := c.authorize(app.authParams(p, "redirect_uri", "http://127.0.0.1:9999/cb?x=1")).Header.Get("Location")
	if !strings.HasPrefix(loc, "http://127.0.0.1:9999/cb?") {
		t.Fatalf("registered URI with a query: Location %q", loc)
	}
	q, _ := url.ParseQuery(loc[strings.IndexByte(loc, '?')+1:])
	if q.Get("x") != "1" || q.Get("code") == "" {
		t.Fatalf("registered query lost: %v", q)
	}
}

func TestRule12_OPCodeReplayRevokesWhatItIssued(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	e.addUser("ada@example.com", pw)
	app := e.addRP("app", rpOptions{})
	c, _ := e.signIn("ada@example.com")
	p := newPKCE()
	code := app.code(t, c, p)
	r := app.redeem(e, code, p.verifier)
	want(t, r, 200, "")
	at, rt := r.json["access_token"].(string), r.json["refresh_token"].(string)
	want(t, e.bearer(at).do("GET", "/v1/userinfo", nil), 200, "")
	oauthWant(t, app.redeem(e, code, p.verifier), 400, "invalid_grant")
	if ui := e.bearer(at).do("GET", "/v1/userinfo", nil); ui.StatusCode != 401 {
		t.Fatalf("access token of a replayed code still works: %d", ui.StatusCode)
	}
	oauthWant(t, e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "Authorization", "Basic "+basicAuth(app.id, app.secret)), 400, "invalid_grant")

	// Without a refresh token, the access token is denied by jti.
	single := e.addRP("single", rpOptions{noRefresh: true})
	code = single.code(t, c, p)
	r = single.redeem(e, code, p.verifier)
	want(t, r, 200, "")
	if _, ok := r.json["refresh_token"]; ok {
		t.Fatal("refresh token for a client without the refresh_token grant")
	}
	at = r.json["access_token"].(string)
	oauthWant(t, single.redeem(e, code, p.verifier), 400, "invalid_grant")
	if ui := e.bearer(at).do("GET", "/v1/userinfo", nil); ui.StatusCode != 401 {
		t.Fatalf("access token of a replayed code still works: %d", ui.StatusCode)
	}
}

func TestOP_CodeExpiresAndIsBoundToClient(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	e.addUser("ada@example.com", pw)
	app := e.addRP("app", rpOptions{})
	other := e.addRP("other", rpOptions{})
	c, _ := e.signIn("ada@example.com")
	p := newPKCE()

	code := app.code(t, c, p)
	e.clock.Advance(61 * time.Second)
	oauthWant(t, app.redeem(e, code, p.verifier), 400, "invalid_grant")

	code = app.code(t, c, p)
	v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {app.redirect}, "code_verifier": {p.verifier}}
	oauthWant(t, e.client().form("/v1/token", v, "Authorization", "Basic "+basicAuth(other.id, other.secret)), 400, "invalid_grant")
	oauthWant(t, app.redeem(e, code, p.verifier), 400, "invalid_grant") // spent by the failed attempt

	// A confidential client must authenticate; a wrong redirect_uri fails.
	code = app.code(t, c, p)
	v.Set("code", code)
	v.Set("client_id", app.id)
	oauthWant(t, e.client().form("/v1/token", v), 401, "invalid_client")
	v.Set("redirect_uri", app.redirect+"/")
	oauthWant(t, e.client().form("/v1/token", v, "Authorization", "Basic "+basicAuth(app.id, app.secret)), 400, "invalid_grant")

	// A code whose session ended before redemption signs nobody in.
	code = app.code(t, c, p)
	want(t, c.do("POST", "/v1/logout", nil), 204, "")
	oauthWant(t, app.redeem(e, code, p.verifier), 400, "invalid_grant")
}

func TestOP_UnauthenticatedAuthorizeGoesToLoginAndBack(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	e.addUser("ada@example.com", pw)
	app := e.addRP("app", rpOptions{public: true})
	c := e.client()
	p := newPKCE()

	// prompt=none without a session: login_required, back at the client.
	q := app.callback(t, c.authorize(app.authParams(p, "prompt", "none")))
	if q.Get("error") != "login_required" || q.Get("state") != "st-app" {
		t.Fatalf("prompt=none: %v", q)
	}
	r := c.authorize(app.authParams(p))
	wantStatus(t, r, http.StatusSeeOther)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/login?return_to=") {
		t.Fatalf("authorize without a session: Location %q", loc)
	}
	page := c.page(loc)
	wantStatus(t, page, 200)
	ret := html.UnescapeString(returnToField.FindStringSubmatch(string(page.body))[1])
	if !strings.HasPrefix(ret, "/v1/authorize?") {
		t.Fatalf("login page lost the authorize URL: %q", ret)
	}
	r = c.form("/login", url.Values{"email": {"ada@example.com"}, "password": {pw}, "csrf_token": {csrfToken(t, page)}, "return_to": {ret}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.Header.Get("Location") != ret {
		t.Fatalf("after login: Location %q, want %q", r.Header.Get("Location"), ret)
	}
	q = app.callback(t, c.do("GET", ret, nil))
	want(t, app.redeem(e, q.Get("code"), p.verifier), 200, "")

	// A browser following the login form's redirect gets a page that moves
	// on by itself: the login page's CSP form-action would block a redirect
	// to the application's origin.
	page = c.do("GET", ret, nil, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "navigate")
	wantStatus(t, page, 200)
	m := metaRefresh.FindStringSubmatch(string(page.body))
	if m == nil {
		t.Fatalf("continue page without a meta refresh:\n%s", page.body)
	}
	to := html.UnescapeString(m[1])
	if !strings.HasPrefix(to, app.redirect+"?") || page.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("continue page goes to %q", to)
	}
	cq, _ := url.ParseQuery(to[len(app.redirect)+1:])
	want(t, app.redeem(e, cq.Get("code"), p.verifier), 200, "")
}

func TestOP_SSO_SecondClientWithoutPassword(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	e.addUser("ada@example.com", pw)
	one := e.addRP("one", rpOptions{})
	two := e.addRP("two", rpOptions{public: true})
	c, sid := e.signIn("ada@example.com")
	p := newPKCE()
	r1 := one.redeem(e, one.code(t, c, p), p.verifier)
	want(t, r1, 200, "")
	// The second app signs in silently, in the same session.
	r2 := two.redeem(e, two.code(t, c, p, "prompt", "none"), p.verifier)
	want(t, r2, 200, "")
	_, c2 := e.verifyJWT(r2.json["id_token"].(string))
	if c2["sid"] != sid || c2["aud"] != "two" {
		t.Fatalf("second ID token: %v", c2)
	}
	// prompt=login asks for the password again; the GET itself changes
	// nothing, the form's post replaces the session.
	e.clock.Advance(time.Minute)
	page := c.authorize(two.authParams(p, "prompt", "login"))
	wantStatus(t, page, http.StatusOK)
	ret := html.UnescapeString(returnToField.FindStringSubmatch(string(page.body))[1])
	if !strings.HasPrefix(ret, "/v1/authorize?") || strings.Contains(ret, "prompt") {
		t.Fatalf("prompt=login: return_to %q", ret)
	}
	want(t, c.do("GET", "/v1/whoami", nil), 200, "")
	r := c.form("/login", url.Values{"email": {"ada@example.com"}, "password": {pw}, "csrf_token": {csrfToken(t, page)}, "return_to": {ret}})
	wantRedirect(t, r, ret)
	r3 := two.redeem(e, two.callback(t, c.do("GET", ret, nil)).Get("code"), p.verifier)
	want(t, r3, 200, "")
	_, c3 := e.verifyJWT(r3.json["id_token"].(string))
	if c3["sid"] == sid || int64(c3["auth_time"].(float64)) != e.clock.Now().Unix() {
		t.Fatalf("after prompt=login: sid %v (old %s), auth_time %v", c3["sid"], sid, c3["auth_time"])
	}
	// max_age: a session older than that is asked again too.
	e.clock.Advance(2 * time.Minute)
	wantStatus(t, c.authorize(two.authParams(p, "max_age", "60")), http.StatusOK)
	two.code(t, c, p, "max_age", "600")
}

func TestOP_ConsentSkippedForFirstPartyShownForThirdParty(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	u := e.addUser("ada@example.com", pw)
	third := e.addRP("third", rpOptions{thirdParty: true, withBCL: true})
	c, _ := e.signIn("ada@example.com")
	p := newPKCE()

	q := third.callback(t, c.authorize(third.authParams(p, "prompt", "none")))
	if q.Get("error") != "consent_required" {
		t.Fatalf("prompt=none without consent: %v", q)
	}
	page := c.authorize(third.authParams(p))
	wantStatus(t, page, 200)
	body := string(page.body)
	if !strings.Contains(body, "App third") || !strings.Contains(body, "Your email address") {
		t.Fatalf("consent page:\n%s", body)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://third.example") {
		t.Fatalf("consent page CSP: %q", csp)
	}
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(body, -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("csrf_token") == "" || form.Get("code_challenge") != p.challenge {
		t.Fatalf("consent form fields: %v", form)
	}
	// A forged form (wrong CSRF token) and a cross-site post are refused.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("csrf_token", "x")
	bad.Set("decision", "allow")
	wantStatus(t, c.form("/v1/authorize/consent", bad), http.StatusForbidden)
	form.Set("decision", "allow")
	wantStatus(t, c.form("/v1/authorize/consent", form, "Sec-Fetch-Site", "cross-site"), http.StatusForbidden)
	// Deny: access_denied. Allow: a code, and next time no question.
	form.Set("decision", "deny")
	if q := third.callback(t, c.form("/v1/authorize/consent", form)); q.Get("error") != "access_denied" {
		t.Fatalf("deny: %v", q)
	}
	form.Set("decision", "allow")
	q = third.callback(t, c.form("/v1/authorize/consent", form))
	want(t, third.redeem(e, q.Get("code"), p.verifier), 200, "")
	third.code(t, c, p)
	if got, err := e.store.Consent(context.Background(), u.ID, "third"); err != nil || strings.Join(got, " ") != "openid email profile" {
		t.Fatalf("stored consent: %v, %v", got, err)
	}
	// prompt=consent asks again.
	wantStatus(t, c.authorize(third.authParams(p, "prompt", "consent")), 200)
}

func TestOP_Userinfo(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	e.addUser("ada@example.com", pw)
	r := e.client().do("GET", "/v1/userinfo", nil)
	if r.StatusCode != 401 || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("no token: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	r = e.bearer("not.a.token").do("GET", "/v1/userinfo", nil)
	if r.StatusCode != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("bad token: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
	// A password-grant token without openid is not for userinfo.
	tk := passwordGrant(t, e.env, "ada@example.com", pw)
	r = e.bearer(tk.access).do("GET", "/v1/userinfo", nil)
	if r.StatusCode != 403 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Fatalf("token without openid: %d %q", r.StatusCode, r.Header.Get("WWW-Authenticate"))
	}
}

func TestOP_EndSession(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	e.addUser("ada@example.com", pw)
	app := e.addRP("app", rpOptions{withBCL: true})
	p := newPKCE()
	login := func() (*client, string) {
		c, _ := e.signIn("ada@example.com")
		r := app.redeem(e, app.code(t, c, p), p.verifier)
		want(t, r, 200, "")
		return c, r.json["id_token"].(string)
	}

	// A hint and a registered post_logout_redirect_uri: signed out at once.
	c, idt := login()
	r := c.do("GET", "/v1/end-session?"+url.Values{"id_token_hint": {idt}, "post_logout_redirect_uri": {app.redirect}, "state": {"s1"}}.Encode(), nil)
	wantRedirect(t, r, app.redirect+"?state=s1")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// A POST without the cookie (cross-site, SameSite=Lax) ends the session
	// the hint names.
	c, idt = login()
	wantRedirect(t, e.client().form("/v1/end-session", url.Values{"id_token_hint": {idt}}), "/login?done=signed-out")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// An expired hint still identifies the session.
	c, idt = login()
	e.clock.Advance(20 * time.Minute)
	want(t, c.do("GET", "/v1/whoami", nil), 200, "")
	wantRedirect(t, c.do("GET", "/v1/end-session?"+url.Values{"id_token_hint": {idt}}.Encode(), nil), "/login?done=signed-out")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// Unregistered or near-miss targets are refused, with or without a hint.
	c, idt = login()
	for _, v := range []url.Values{
		{"id_token_hint": {idt}, "post_logout_redirect_uri": {"https://evil.example/"}},
		{"id_token_hint": {idt}, "post_logout_redirect_uri": {app.redirect + "/"}},
		{"post_logout_redirect_uri": {app.redirect}},
		{"client_id": {"other"}, "id_token_hint": {idt}},
		{"id_token_hint": {idt[:len(idt)-4] + "AAAA"}},
	} {
		r := c.do("GET", "/v1/end-session?"+v.Encode(), nil)
		if r.StatusCode != http.StatusBadRequest || r.Header.Get("Location") != "" {
			t.Errorf("%v: status %d, Location %q", v, r.StatusCode, r.Header.Get("Location"))
		}
	}
	want(t, c.do("GET", "/v1/whoami", nil), 200, "")

	// Without a hint: a confirmation page; a GET alone never signs out.
	r = c.do("GET", "/v1/end-session?"+url.Values{"client_id": {app.id}, "post_logout_redirect_uri": {app.redirect}, "state": {"s2"}}.Encode(), nil)
	wantStatus(t, r, 200)
	want(t, c.do("GET", "/v1/whoami", nil), 200, "")
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(r.body), -1) {
		form.Set(html.UnescapeString(m[1]), html.UnescapeString(m[2]))
	}
	if form.Get("post_logout_redirect_uri") != app.redirect || form.Get("state") != "s2" {
		t.Fatalf("confirmation form: %v", form)
	}
	forged := url.Values{"client_id": {app.id}, "csrf_token": {"forged"}}
	wantStatus(t, c.form("/v1/end-session", forged), 200) // asks again
	want(t, c.do("GET", "/v1/whoami", nil), 200, "")
	wantRedirect(t, c.form("/v1/end-session", form), app.redirect+"?state=s2")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")
	e.srv.WaitBackchannel()
	if n := len(app.bcl.received()); n != 4 {
		t.Fatalf("back-channel logouts: %d, want 4 (one per ended session)", n)
	}
}

// checkLogoutToken verifies a back-channel logout token.
func (e *opEnv) checkLogoutToken(raw, clientID, userID, sid string) {
	e.t.Helper()
	typ, c := e.verifyJWT(raw)
	if typ != "logout+jwt" {
		e.t.Errorf("logout token typ %q", typ)
	}
	if c["iss"] != testIssuer || c["aud"] != clientID || c["sub"] != userID || c["sid"] != sid || c["jti"] == nil {
		e.t.Errorf("logout token claims: %v", c)
	}
	if _, ok := c["nonce"]; ok {
		e.t.Error("logout token carries a nonce")
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if iat == 0 || exp <= iat || exp-iat > 120 {
		e.t.Errorf("logout token iat %v exp %v", c["iat"], c["exp"])
	}
	ev, _ := c["events"].(map[string]any)
	if m, ok := ev["http://schemas.openid.net/event/backchannel-logout"].(map[string]any); !ok || len(m) != 0 || len(ev) != 1 {
		e.t.Errorf("logout token events: %v", c["events"])
	}
}

func TestOP_BackchannelLogout(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	u := e.addUser("ada@example.com", pw)
	e.addUser("admin@example.com", pw, "admin")
	one := e.addRP("one", rpOptions{withBCL: true})
	two := e.addRP("two", rpOptions{public: true, withBCL: true})
	dead := e.addRP("dead", rpOptions{withBCL: true, bclStatus: http.StatusBadGateway})
	none := e.addRP("none", rpOptions{})
	p := newPKCE()
	signInAll := func() (*client, string, map[string]string) {
		c, sid := e.signIn("ada@example.com")
		ats := map[string]string{}
		for _, r := range []*rp{one, two, dead, none} {
			res := r.redeem(e, r.code(t, c, p), p.verifier)
			want(t, res, 200, "")
			ats[r.id] = res.json["access_token"].(string)
		}
		return c, sid, ats
	}
	expect := func(event string, sid string, n int) {
		t.Helper()
		e.srv.WaitBackchannel()
		for _, r := range []*rp{one, two} {
			got := r.bcl.received()
			if len(got) != n {
				t.Fatalf("%s: %s received %d logout tokens, want %d", event, r.id, len(got), n)
			}
			e.checkLogoutToken(got[n-1], r.id, u.ID, sid)
		}
	}

	// RP-initiated logout, while one endpoint is slow and failing: the
	// browser never waits for it.
	c, sid, ats := signInAll()
	idt := one.redeem(e, one.code(t, c, p), p.verifier).json["id_token"].(string)
	dead.bcl.mu.Lock()
	dead.bcl.delay = 1500 * time.Millisecond
	dead.bcl.mu.Unlock()
	start := time.Now()
	wantRedirect(t, c.do("GET", "/v1/end-session?id_token_hint="+idt, nil), "/login?done=signed-out")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("end-session waited %s for back-channel deliveries", d)
	}
	expect("end-session", sid, 1)
	dead.bcl.mu.Lock()
	dead.bcl.delay = 0
	dead.bcl.mu.Unlock()
	// What the logins were issued ends with the session.
	for id, at := range ats {
		if r := e.bearer(at).do("GET", "/v1/userinfo", nil); r.StatusCode != 401 {
			t.Errorf("%s's access token survived the logout: %d", id, r.StatusCode)
		}
	}

	// POST /v1/logout.
	c, sid, _ = signInAll()
	want(t, c.do("POST", "/v1/logout", nil), 204, "")
	expect("logout", sid, 2)

	// An admin disables the user.
	_, sid, _ = signInAll()
	ac, _ := e.signIn("admin@example.com")
	want(t, ac.do("PATCH", "/v1/admin/users/"+u.ID, map[string]any{"disabled": true}), 200, "")
	expect("admin disable", sid, 3)
	if n := len(dead.bcl.received()); n < 3 {
		t.Fatalf("failing endpoint got %d attempts", n)
	}
	mt := e.client().do("GET", "/metrics", nil)
	if !strings.Contains(string(mt.body), `sessiond_backchannel_logout_total{result="ok"} 6`) ||
		!strings.Contains(string(mt.body), `sessiond_backchannel_logout_total{result="failed"} 3`) {
		t.Fatalf("metrics:\n%s", grepLines(string(mt.body), "backchannel"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The logout token is also verifiable with the token package, as a relying
// party built on it would.
func TestOP_LogoutTokenVerifiesWithTokenPackage(t *testing.T) {
	t.Parallel()
	e := newOPEnv(t)
	u := e.addUser("ada@example.com", pw)
	app := e.addRP("app", rpOptions{withBCL: true})
	c, sid := e.signIn("ada@example.com")
	p := newPKCE()
	want(t, app.redeem(e, app.code(t, c, p), p.verifier), 200, "")
	want(t, c.do("DELETE", "/v1/sessions?scope=all", nil), 204, "")
	e.srv.WaitBackchannel()
	got := app.bcl.received()
	if len(got) != 1 {
		t.Fatalf("received %d", len(got))
	}
	v, err := token.NewVerifier(e.tokens.Keys, token.VerifierConfig{Issuer: testIssuer, Audience: "app", Type: "logout+jwt", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := v.Verify(context.Background(), got[0])
	if err != nil || cl.Subject != u.ID || cl.SessionID != sid {
		t.Fatalf("verify: %+v, %v", cl, err)
	}
}

// Build wires the provider on the default embedded store: a full code flow
// through the real app, with the client registered in SQLite.
func TestOP_BuildOnSQLite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app, err := app.Build(ctx, buildConfig(t, map[string]string{}), nil)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	t.Cleanup(func() { app.Close() })
	hs := httptest.NewServer(app.Server)
	t.Cleanup(hs.Close)
	if _, err := app.Accounts.Register(ctx, "ada@example.com", pw, nil, ""); err != nil {
		t.Fatal(err)
	}
	cl := &oauthclient.Client{ID: "spa", Public: true, FirstParty: true, RedirectURIs: []string{"http://127.0.0.1:3000/cb"},
		Grants: []string{oauthclient.GrantAuthorizationCode, oauthclient.GrantRefreshToken}, CreatedAt: time.Now()}
	if err := app.Clients.CreateClient(ctx, cl); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: hs}
	r := e.client().do("GET", "/.well-known/openid-configuration", nil)
	if !strings.HasSuffix(r.json["authorization_endpoint"].(string), "/v1/authorize") {
		t.Fatalf("discovery: %s", r.body)
	}
	c := e.client()
	want(t, c.login("ada@example.com", pw), 200, "")
	p := newPKCE()
	spa := &rp{id: "spa", redirect: "http://127.0.0.1:3000/cb", public: true}
	q := spa.callback(t, c.authorize(spa.authParams(p)))
	tr := e.client().form("/v1/token", url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")},
		"redirect_uri": {spa.redirect}, "code_verifier": {p.verifier}, "client_id": {"spa"}})
	want(t, tr, 200, "")
	if tr.json["id_token"] == nil || tr.json["refresh_token"] == nil {
		t.Fatalf("token response: %s", tr.body)
	}
	want(t, e.bearer(tr.json["access_token"].(string)).do("GET", "/v1/userinfo", nil), 200, "")
}
