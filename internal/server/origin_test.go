package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	oauthclient "github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/oidc/oidctest"
)

// builtEnv is sessiond wired as the binary wires it (app.Build from a
// config file, the embedded store) on a loopback port, with base_url that port's
// URL plus a path prefix.
type builtEnv struct {
	*env
	app  *app.App
	base string // base_url
}

// newBuiltEnv starts sessiond with base_url http://127.0.0.1:PORT<prefix>;
// extra is more YAML for the config file.
func newBuiltEnv(t *testing.T, prefix, extra string) *builtEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String() + prefix
	dir := t.TempDir()
	file := filepath.Join(dir, "sessiond.yaml")
	yaml := fmt.Sprintf("base_url: %s\ndata: %s\n%s", base, dir, extra)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	app, err := app.Build(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: app.Server, ReadHeaderTimeout: 10 * time.Second}}
	hs.Start()
	t.Cleanup(func() { app.Server.WaitBackchannel(); hs.Close(); app.Close() })
	e := &env{t: t, srv: hs, accounts: app.Accounts, sessions: app.Sessions, tokens: app.Tokens}
	return &builtEnv{env: e, app: app, base: base}
}

var (
	formAction = regexp.MustCompile(`<form [^>]*action="([^"]*)"`)
	ownLink    = regexp.MustCompile(`(?:href|src)="(/[^"]*)"`)
)

// wantUnder checks that every form action and every link to a path of an
// HTML page starts with prefix + "/".
func wantUnder(t *testing.T, r *resp, prefix string) {
	t.Helper()
	body := string(r.body)
	n := 0
	for _, re := range []*regexp.Regexp{formAction, ownLink} {
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			n++
			if u := html.UnescapeString(m[1]); !strings.HasPrefix(u, prefix+"/") {
				t.Errorf("%s %s: %q is not under %s/", r.Request.Method, r.Request.URL.Path, u, prefix)
			}
		}
	}
	if n == 0 {
		t.Errorf("%s %s: no form or link on the page", r.Request.Method, r.Request.URL.Path)
	}
}

// Rule 20, issue 13 item 2: sessiond's own origin is base_url, never the
// Host header. A return address on the host a request claims to be for is
// refused like any other foreign one, on every page that takes one.
func TestRule20_HostHeaderIsNotOurOrigin(t *testing.T) {
	t.Parallel()
	op := oidctest.New(t, ssoClientID, ssoClientSecret)
	op.Set(func(p *oidctest.Provider) {
		p.User = oidctest.User{Subject: "op-user-1", Email: "sso@example.com", EmailVerified: true}
	})
	e := newBuiltEnv(t, "", fmt.Sprintf("oidc:\n  providers:\n    - name: idp\n      issuer: %s\n      client_id: %s\n      client_secret: %s\n",
		op.Issuer, ssoClientID, ssoClientSecret))
	e.addUser("ada@example.com", "correct horse battery staple")
	const phish = "http://evil.example/phish"
	spoof := []string{"Host", "evil.example"}

	t.Run("login form", func(t *testing.T) {
		c := e.client()
		r := c.page("/login?return_to="+url.QueryEscape(phish), spoof...)
		wantStatus(t, r, http.StatusOK)
		if strings.Contains(string(r.body), "evil.example") {
			t.Fatalf("the login page keeps the return address %s", phish)
		}
		r = c.form("/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery staple"},
			"csrf_token": {csrfToken(t, r)}, "return_to": {phish}}, spoof...)
		wantRedirect(t, r, "/account")
	})
	t.Run("signed in", func(t *testing.T) {
		c := e.client()
		wantRedirect(t, c.formLogin("ada@example.com", "correct horse battery staple"), "/account")
		// The Go client files cookies under the Host header: send the
		// session's by hand.
		signedIn := append([]string{"Cookie", c.cookie().Name + "=" + c.cookie().Value}, spoof...)
		wantRedirect(t, c.page("/login?return_to="+url.QueryEscape(phish), signedIn...), "/account")
		// base_url's own origin and paths still pass.
		own := e.base + "/account?x=1"
		wantRedirect(t, c.page("/login?return_to="+url.QueryEscape(own), signedIn...), own)
		wantRedirect(t, c.page("/login?return_to=%2Faccount%3Fy%3D2", signedIn...), "/account?y=2")
	})
	t.Run("account", func(t *testing.T) {
		wantRedirect(t, e.client().page("/account", spoof...), "/login?return_to=%2Faccount")
	})
	t.Run("sso start", func(t *testing.T) {
		c := e.client()
		r := c.page("/v1/oidc/idp/start?return_to="+url.QueryEscape(phish), spoof...)
		wantStatus(t, r, http.StatusSeeOther)
		res, err := c.hc.Get(r.Header.Get("Location")) // the provider approves at once
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		cb, err := url.Parse(res.Header.Get("Location"))
		if err != nil || res.StatusCode != http.StatusFound {
			t.Fatalf("provider: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
		wantRedirect(t, c.page(cb.RequestURI(), spoof...), "/account")
	})
	t.Run("forward auth", func(t *testing.T) {
		r := e.client().do("GET", "/v1/authz?rd="+url.QueryEscape(phish), nil, "Host", "evil.example", "Accept", "text/html")
		want(t, r, http.StatusUnauthorized, "unauthorized")
	})
}

// Issue 13 item 8: with base_url http://127.0.0.1:PORT/auth, sessiond
// answers under /auth/ itself, and every Location, form action, asset link,
// flow cookie and return address carries /auth: the whole authorization
// code flow (authorize → login page → consent → code → token) completes,
// and the account page, sign-out and RP-initiated logout stay under /auth.
func TestBaseURLPath_CodeFlowAndPagesUnderPrefix(t *testing.T) {
	t.Parallel()
	const prefix = "/auth"
	e := newBuiltEnv(t, prefix, "")
	e.addUser("ada@example.com", "correct horse battery staple")
	secret, _ := oauthclient.NewSecret()
	rp := &oauthclient.Client{ID: "app", Name: "App", Grants: []string{oauthclient.GrantAuthorizationCode},
		RedirectURIs: []string{"https://app.example/cb"}, SecretHash: oauthclient.HashSecret(secret), CreatedAt: time.Now()}
	if err := e.app.Clients.CreateClient(context.Background(), rp); err != nil {
		t.Fatal(err)
	}

	anon := e.client()
	disc := anon.do("GET", prefix+"/.well-known/openid-configuration", nil)
	want(t, disc, http.StatusOK, "")
	for k, v := range map[string]string{"issuer": e.base, "authorization_endpoint": e.base + "/v1/authorize",
		"token_endpoint": e.base + "/v1/token", "end_session_endpoint": e.base + "/v1/end-session"} {
		if disc.json[k] != v {
			t.Errorf("discovery %s = %v, want %s", k, disc.json[k], v)
		}
	}
	// The pages' assets load from under the prefix.
	login := anon.page(prefix + "/login")
	wantStatus(t, login, http.StatusOK)
	wantUnder(t, login, prefix)
	for _, m := range regexp.MustCompile(`<link rel="stylesheet" href="([^"]+)"`).FindAllStringSubmatch(string(login.body), -1) {
		css := anon.page(html.UnescapeString(m[1]))
		if css.StatusCode != http.StatusOK || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") {
			t.Errorf("stylesheet %s: %d %s", m[1], css.StatusCode, css.Header.Get("Content-Type"))
		}
	}
	wantRedirect(t, anon.page(prefix+"/account"), prefix+"/login?return_to=%2Fauth%2Faccount")

	// The code flow, as a browser.
	c := e.client()
	p := newPKCE()
	params := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"https://app.example/cb"},
		"scope": {"openid email"}, "state": {"st"}, "nonce": {"n"}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}}
	r := c.page(prefix + "/v1/authorize?" + params.Encode())
	wantStatus(t, r, http.StatusSeeOther)
	loc, _ := url.Parse(r.Header.Get("Location"))
	if loc.Path != prefix+"/login" || !strings.HasPrefix(loc.Query().Get("return_to"), prefix+"/v1/authorize?") {
		t.Fatalf("authorize sends the browser to %q", r.Header.Get("Location"))
	}
	r = c.page(loc.RequestURI())
	wantStatus(t, r, http.StatusOK)
	wantUnder(t, r, prefix)
	var flowCookie string
	for _, sc := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "sessiond-login=") {
			flowCookie = sc
		}
	}
	if !strings.Contains(flowCookie, "; Path="+prefix+"/;") {
		t.Errorf("login form cookie %q: want Path=%s/", flowCookie, prefix)
	}
	ret := html.UnescapeString(string(returnToField.FindSubmatch(r.body)[1]))
	r = c.form(prefix+"/login", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery staple"},
		"csrf_token": {csrfToken(t, r)}, "return_to": {ret}})
	wantRedirect(t, r, ret)
	if sc := setCookieHeader(r); !strings.Contains(sc, "Path=/;") && !strings.HasSuffix(sc, "Path=/") {
		t.Errorf("session cookie %q: want Path=/ (the gateway reads it on every path of the host)", sc)
	}
	consent := c.page(ret)
	wantStatus(t, consent, http.StatusOK)
	wantUnder(t, consent, prefix)
	form := url.Values{"decision": {"allow"}}
	for _, m := range hiddenField.FindAllSubmatch(consent.body, -1) {
		form.Set(string(m[1]), html.UnescapeString(string(m[2])))
	}
	r = c.form(prefix+"/v1/authorize/consent", form)
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), "https://app.example/cb?") {
		t.Fatalf("consent: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	cb, _ := url.Parse(r.Header.Get("Location"))
	if cb.Query().Get("iss") != e.base || cb.Query().Get("code") == "" {
		t.Fatalf("callback %q", cb)
	}
	tok := e.client().form(prefix+"/v1/token", url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
		"redirect_uri": {"https://app.example/cb"}, "code_verifier": {p.verifier}}, "Authorization", "Basic "+basicAuth("app", secret))
	want(t, tok, http.StatusOK, "")
	idt, _ := tok.json["id_token"].(string)
	parts := strings.Split(idt, ".")
	var claims map[string]any
	if len(parts) != 3 {
		t.Fatalf("id_token %q", idt)
	}
	if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err != nil || json.Unmarshal(b, &claims) != nil || claims["iss"] != e.base {
		t.Fatalf("id_token claims %v", claims)
	}

	// The account page, and every way out of it, stay under the prefix.
	acct := c.page(prefix + "/account")
	wantStatus(t, acct, http.StatusOK)
	wantUnder(t, acct, prefix)
	wantRedirect(t, c.form(prefix+"/account/sign-out-others", url.Values{"csrf_token": {csrfToken(t, acct)}}), prefix+"/account?done=others")
	end := c.page(prefix + "/v1/end-session")
	wantStatus(t, end, http.StatusOK)
	wantUnder(t, end, prefix)
	wantRedirect(t, c.form(prefix+"/v1/end-session", url.Values{"csrf_token": {csrfToken(t, end)}}), prefix+"/login?done=signed-out")
	if c.page(prefix+"/account").StatusCode != http.StatusSeeOther {
		t.Fatal("still signed in after logout")
	}

	// A proxy that strips the prefix reaches the same routes at the root;
	// the pages still link under the prefix, where browsers see them.
	root := e.client().page("/login")
	wantStatus(t, root, http.StatusOK)
	wantUnder(t, root, prefix)
	want(t, e.client().do("GET", "/v1/whoami", nil), http.StatusUnauthorized, "unauthorized")
	want(t, e.client().do("GET", prefix+"x/login", nil), http.StatusNotFound, "not_found")
}

// base_url must be an absolute http(s) URL; a gateway route under its path
// would never be reached, so it is refused.
func TestNew_BaseURLChecked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{noTokens: true})
	for _, bad := range []string{"not a url", "ftp://x", "https://u:p@x", "https://x/?q", "https://x/#f", "/auth"} {
		if _, err := server.New(server.Options{Sessions: e.sessions, Accounts: e.accounts, Users: e.store, BaseURL: bad}); err == nil {
			t.Errorf("base URL %q accepted", bad)
		}
	}
	gw, err := server.NewGateway(config.Gateway{Routes: []config.GatewayRoute{{PathPrefix: "/auth/app", Upstream: "http://u",
		Action: "authenticated", Credentials: "any"}}}, server.GatewayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.New(server.Options{Sessions: e.sessions, Accounts: e.accounts, Users: e.store, Gateway: gw,
		BaseURL: "https://example.com/auth"}); err == nil {
		t.Error("a gateway route under base_url's path accepted")
	}
}
