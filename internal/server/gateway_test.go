package server_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/session"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}

// gatewayPolicies is the policy set most forward-auth tests use.
var gatewayPolicies = config.Gateway{Policies: []config.GatewayPolicy{
	{PathPrefix: "/public", Action: "public"},
	{PathPrefix: "/admin", Roles: []string{"admin"}},
	{PathPrefix: "/blocked", Action: "deny"},
	{Host: "*.internal.example.com", Action: "deny"},
	{PathPrefix: "/cookie-only", Credentials: "cookie"},
	{PathPrefix: "/bearer-only", Credentials: "bearer"},
	{PathPrefix: "/acme", Org: "acme"},
	{PathPrefix: "/write", Methods: []string{"POST", "PUT", "DELETE"}, Roles: []string{"writer"}},
}}

func TestAuthz_NoCredential401(t *testing.T) {
	t.Parallel()
	e := newGatewayEnv(t, gwEnvOptions{})
	for _, m := range []string{"GET", "HEAD", "POST", "PUT"} {
		r := e.client().do(m, "/v1/authz", nil)
		if m == "HEAD" {
			if r.StatusCode != 401 {
				t.Fatalf("HEAD: %d", r.StatusCode)
			}
			continue
		}
		want(t, r, 401, "unauthorized")
		if r.Header.Get("X-User-Id") != "" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: headers %v", m, r.Header)
		}
	}
	// A garbage cookie or bearer is the same 401.
	want(t, e.client().do("GET", "/v1/authz", nil, "Cookie", "sessiond=garbage"), 401, "unauthorized")
	want(t, e.client().do("GET", "/v1/authz", nil, "Authorization", "Bearer garbage"), 401, "unauthorized")
}

func TestAuthz_CookieAndBearerIdentity(t *testing.T) {
	t.Parallel()
	e := newGatewayEnv(t, gwEnvOptions{})
	u := e.addUser("ann@example.com", "correct horse battery", "admin", "ops")
	c := e.client()
	want(t, c.login("ann@example.com", "correct horse battery"), 200, "")
	who := c.do("GET", "/v1/whoami", nil)
	sid := who.json["session"].(map[string]any)["id"].(string)

	r := c.do("GET", "/v1/authz", nil)
	want(t, r, 200, "")
	wantHeaders := map[string]string{"X-User-Id": u.ID, "X-User-Email": "ann@example.com", "X-User-Roles": "admin,ops",
		"X-Org-Id": "org-1", "X-Session-Id": sid, "Cache-Control": "no-store"}
	for k, v := range wantHeaders {
		if got := r.Header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("cookie: %s = %q, want %q", k, got, v)
		}
	}
	if len(r.body) != 0 {
		t.Errorf("200 with a body: %q", r.body)
	}

	tok := passwordGrant(t, e, "ann@example.com", "correct horse battery")
	b := e.bearer(tok.access)
	r = b.do("GET", "/v1/authz", nil)
	want(t, r, 200, "")
	bsid := b.do("GET", "/v1/whoami", nil).json["session"].(map[string]any)["id"].(string)
	if r.Header.Get("X-User-Id") != u.ID || r.Header.Get("X-Session-Id") != bsid || bsid == "" || r.Header.Get("X-User-Roles") != "admin,ops" {
		t.Errorf("bearer headers: %v (family %s)", r.Header, bsid)
	}
}

// Issue 13 item 5: a forward-auth call that carries an identity header
// spelled with "_" (which the proxy passed on from the client, and which
// no proxy overwrites) is refused, whoever asks, with no identity in the
// answer; the dashed spelling is left for the proxy to overwrite.
func TestAuthz_RefusesUnderscoreIdentityHeaders(t *testing.T) {
	t.Parallel()
	e := newGatewayEnv(t, gwEnvOptions{})
	e.addUser("ann@example.com", "correct horse battery", "user")
	c := e.client()
	want(t, c.login("ann@example.com", "correct horse battery"), 200, "")
	for _, h := range []string{"X_User_Id", "x_user_id", "X_USER_ID", "X-User_Id", "X_User_Roles", "x_org_id", "X_Session_Id", "X_Internal_Token"} {
		for _, path := range []string{"/v1/authz", "/v1/authz/public/x"} {
			r := c.do("GET", path, nil, h, "admin")
			want(t, r, 403, "forbidden")
			if r.Header.Get("X-User-Id") != "" {
				t.Errorf("%s on %s: identity %q in a refusal", h, path, r.Header.Get("X-User-Id"))
			}
		}
	}
	for _, h := range []string{"X-User-Id", "x-user-roles", "X-User-Agent-Info", "X_Request_Id", "User_Agent"} {
		if r := c.do("GET", "/v1/authz", nil, h, "admin"); r.StatusCode != 200 || r.Header.Get("X-User-Roles") != "user" {
			t.Errorf("%s: %d, X-User-Roles %q; want 200 and the real roles", h, r.StatusCode, r.Header.Get("X-User-Roles"))
		}
	}
}

// authz asks /v1/authz about an original request, the way a proxy does.
func authz(c *client, hdr ...string) *resp {
	c.e.t.Helper()
	return c.do("GET", "/v1/authz", nil, hdr...)
}

func TestAuthz_Policies(t *testing.T) {
	t.Parallel()
	e := newGatewayEnv(t, gwEnvOptions{envOptions: envOptions{trusted: loopback}, gateway: gatewayPolicies})
	e.addUser("admin@example.com", "correct horse battery", "admin")
	e.addUser("user@example.com", "correct horse battery", "user")
	if _, err := e.accounts.Register(context.Background(), "acme@example.com", "correct horse battery", []string{"writer"}, "acme"); err != nil {
		t.Fatal(err)
	}
	admin, user, acme, anon := e.client(), e.client(), e.client(), e.client()
	want(t, admin.login("admin@example.com", "correct horse battery"), 200, "")
	want(t, user.login("user@example.com", "correct horse battery"), 200, "")
	want(t, acme.login("acme@example.com", "correct horse battery"), 200, "")
	userTok := e.bearer(passwordGrant(t, e, "user@example.com", "correct horse battery").access)

	tests := []struct {
		name   string
		c      *client
		hdr    []string
		status int
		id     bool // identity headers expected
	}{
		{"public anonymous (nginx)", anon, []string{"X-Original-URL", "https://app.example.com/public/x"}, 200, false},
		{"public signed in gets no identity", user, []string{"X-Original-URL", "https://app.example.com/public"}, 200, false},
		{"public (traefik)", anon, []string{"X-Forwarded-Uri", "/public/x?y=1", "X-Forwarded-Host", "app.example.com", "X-Forwarded-Method", "GET"}, 200, false},
		{"publicity is per segment", anon, []string{"X-Original-URL", "https://app.example.com/publicity"}, 401, false},
		{"default anonymous", anon, []string{"X-Original-URL", "https://app.example.com/x"}, 401, false},
		{"default user", user, []string{"X-Original-URL", "https://app.example.com/x"}, 200, true},
		{"admin path, user", user, []string{"X-Original-URL", "https://app.example.com/admin/users"}, 403, false},
		{"admin path, admin", admin, []string{"X-Original-URL", "https://app.example.com/admin/users"}, 200, true},
		{"admin path, anonymous", anon, []string{"X-Original-URL", "https://app.example.com/admin"}, 401, false},
		{"deny", admin, []string{"X-Original-URL", "https://app.example.com/blocked"}, 403, false},
		{"deny host", admin, []string{"X-Original-URL", "https://db.Internal.Example.com:8443/x"}, 403, false},
		{"deny host (traefik)", admin, []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "db.internal.example.com"}, 403, false},
		{"cookie-only with cookie", user, []string{"X-Original-URL", "http://h/cookie-only"}, 200, true},
		{"cookie-only with bearer", userTok, []string{"X-Original-URL", "http://h/cookie-only"}, 401, false},
		{"bearer-only with bearer", userTok, []string{"X-Original-URL", "http://h/bearer-only"}, 200, true},
		{"bearer-only with cookie", user, []string{"X-Original-URL", "http://h/bearer-only"}, 401, false},
		{"org match", acme, []string{"X-Original-URL", "http://h/acme"}, 200, true},
		{"org mismatch", user, []string{"X-Original-URL", "http://h/acme"}, 403, false},
		{"method rule applies to POST", user, []string{"X-Original-URL", "http://h/write", "X-Original-Method", "POST"}, 403, false},
		{"method rule skips GET", user, []string{"X-Original-URL", "http://h/write", "X-Original-Method", "GET"}, 200, true},
		{"method rule, any case", user, []string{"X-Forwarded-Uri", "/write", "X-Forwarded-Method", "delete"}, 403, false},
		{"method rule, role ok", acme, []string{"X-Forwarded-Uri", "/write", "X-Forwarded-Method", "PUT"}, 200, true},
		// Both kinds of headers, or one twice: refused, whatever they say.
		{"both kinds", admin, []string{"X-Original-URL", "http://h/x", "X-Forwarded-Uri", "/x"}, 403, false},
		{"bad method", user, []string{"X-Original-URL", "http://h/x", "X-Original-Method", "GE T"}, 403, false},
		{"bad original URL", user, []string{"X-Original-URL", "javascript:alert(1)"}, 403, false},
		{"bad host", user, []string{"X-Forwarded-Uri", "/x", "X-Forwarded-Host", "evil.com/x"}, 403, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := authz(tt.c, tt.hdr...)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.status, r.body)
			}
			if got := r.Header.Get("X-User-Id") != ""; got != tt.id {
				t.Fatalf("identity headers %v, want %v: %v", got, tt.id, r.Header)
			}
			if tt.status == 200 && !tt.id {
				// Present and empty, so that a proxy copying them over the
				// request's own overwrites a client's.
				for _, k := range []string{"X-User-Id", "X-User-Email", "X-User-Roles", "X-Org-Id", "X-Session-Id"} {
					if v, ok := r.Header[k]; !ok || len(v) != 1 || v[0] != "" {
						t.Fatalf("%s = %q, %v on an anonymous 200; want one empty value", k, v, ok)
					}
				}
			}
			if tt.status >= 400 && r.json["error"] == nil {
				t.Fatalf("error without the contract's body: %s", r.body)
			}
		})
	}

	// A header given twice is ambiguous.
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/authz", nil)
	req.Header["X-Forwarded-Uri"] = []string{"/public", "/admin"}
	res, err := admin.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 || res.Header.Get("X-User-Id") != "" {
		t.Fatalf("duplicated X-Forwarded-Uri: %d %v", res.StatusCode, res.Header)
	}
}

// The forwarding headers count only from a trusted proxy: from anyone else
// /v1/authz judges the request itself.
func TestAuthz_UntrustedPeerHeadersIgnored(t *testing.T) {
	t.Parallel()
	e := newGatewayEnv(t, gwEnvOptions{gateway: gatewayPolicies}) // no trusted proxies
	e.addUser("user@example.com", "correct horse battery", "user")
	user, anon := e.client(), e.client()
	want(t, user.login("user@example.com", "correct horse battery"), 200, "")
	// "/public" would let the anonymous caller through; ignored, so "/" is judged.
	want(t, authz(anon, "X-Original-URL", "http://h/public"), 401, "unauthorized")
	want(t, authz(anon, "X-Forwarded-Uri", "/public"), 401, "unauthorized")
	// "/admin" would refuse the user; ignored.
	want(t, authz(user, "X-Original-URL", "http://h/admin"), 200, "")
	want(t, authz(user, "X-Forwarded-Uri", "/admin", "X-Forwarded-Host", "db.internal.example.com"), 200, "")
}

// Envoy's ext_authz HTTP service with path_prefix /v1/authz sends the
// original method, Host and path itself.
func TestAuthz_PathForm(t *testing.T) {
	t.Parallel()
	e := newGatewayEnv(t, gwEnvOptions{gateway: gatewayPolicies})
	e.addUser("user@example.com", "correct horse battery", "user")
	user, anon := e.client(), e.client()
	want(t, user.login("user@example.com", "correct horse battery"), 200, "")
	want(t, anon.do("GET", "/v1/authz/public/x?a=b", nil), 200, "")
	want(t, anon.do("GET", "/v1/authz/orders", nil), 401, "unauthorized")
	want(t, user.do("GET", "/v1/authz/orders", nil), 200, "")
	want(t, user.do("GET", "/v1/authz/admin/x", nil), 403, "forbidden")
	want(t, user.do("GET", "/v1/authz/public/%2e%2e/admin", nil), 403, "forbidden")
	want(t, user.do("GET", "/v1/authz/blocked", nil), 403, "forbidden")
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/authz/x", nil)
	req.Host = "db.Internal.example.com:443"
	res, err := user.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 || res.Header.Get("X-User-Id") != "" {
		t.Fatalf("Host-based deny in path form: %d", res.StatusCode)
	}
}

// Every spelling of a denied path is denied: path normalisation (the
// gateway package) runs before matching.
func TestAuthz_PathNormalisation(t *testing.T) {
	t.Parallel()
	cfg := config.Gateway{Policies: []config.GatewayPolicy{
		{PathPrefix: "/admin", Action: "deny"},
		{PathPrefix: "/", Action: "public"},
	}}
	e := newGatewayEnv(t, gwEnvOptions{envOptions: envOptions{trusted: loopback}, gateway: cfg})
	folding := cfg
	folding.CaseInsensitivePaths = true
	ef := newGatewayEnv(t, gwEnvOptions{envOptions: envOptions{trusted: loopback}, gateway: folding})
	tests := []struct {
		path        string
		status      int
		foldStatus  int
		description string
	}{
		{"/", 200, 200, "public"},
		{"/admin", 403, 403, "plain"},
		{"/admin/", 403, 403, "trailing slash"},
		{"/administrator", 200, 200, "not the same segment"},
		{"//admin", 403, 403, "double slash"},
		{"/./admin", 403, 403, "dot"},
		{"/x/../admin", 403, 403, "dot-dot"},
		{"/x/%2e%2e/admin", 403, 403, "encoded dot-dot"},
		{"/x/%2E./admin", 403, 403, "half-encoded dot-dot"},
		{"/x/..;/admin", 403, 403, "dot-dot with params (Tomcat)"},
		{"/admin;jsessionid=1", 403, 403, "params"},
		{"/%61dmin", 403, 403, "encoded letter"},
		{"/x%2F..%2Fadmin", 403, 403, "encoded slash is refused"},
		{"/x\\..\\admin", 403, 403, "backslash is refused"},
		{"/../admin", 403, 403, "above the root is refused"},
		{"/admin%00", 403, 403, "NUL is refused"},
		{"/ADMIN", 200, 403, "case"},
		{"/Admin/x", 200, 403, "case below"},
	}
	for _, tt := range tests {
		for _, env := range []struct {
			e    *env
			want int
		}{{e, tt.status}, {ef, tt.foldStatus}} {
			r := authz(env.e.client(), "X-Original-URL", "https://app.example.com"+tt.path)
			if r.StatusCode != env.want {
				t.Errorf("%s (%s), fold=%v: %d, want %d: %s", tt.path, tt.description, env.e == ef, r.StatusCode, env.want, r.body)
			}
			// The path form: the mux may first redirect to a cleaned path
			// (which is then judged on its own), but a denied path never
			// passes.
			r = env.e.client().do("GET", "/v1/authz"+tt.path, nil)
			passed := r.StatusCode == 200
			if env.want == 200 && !passed && r.StatusCode/100 != 3 || env.want != 200 && passed {
				t.Errorf("path form %s (%s), fold=%v: %d, want %d", tt.path, tt.description, env.e == ef, r.StatusCode, env.want)
			}
		}
	}
}

// Rule 20 through /v1/authz: a browser is sent to the login page only with
// an allowed rd; every open-redirect trick gets the plain 401.
func TestRule20_AuthzOpenRedirect(t *testing.T) {
	t.Parallel()
	e := newGatewayEnv(t, gwEnvOptions{envOptions: envOptions{trusted: loopback}, allowed: []string{"app.example.com", "*.tools.example.com"},
		baseURL: "https://auth.example.com"})
	orig := []string{"X-Original-URL", "https://app.example.com/x", "Accept", "text/html,application/xhtml+xml"}
	good := map[string]string{
		"https://app.example.com/x?y=1":     "https://app.example.com/x?y=1",
		"https://a.tools.example.com/":      "https://a.tools.example.com/",
		"https://auth.example.com/account":  "https://auth.example.com/account",
		"/account":                          "/account",
		"http://APP.example.com:8080/p#top": "http://app.example.com:8080/p#top",
	}
	for rd, to := range good {
		r := e.client().do("GET", "/v1/authz?rd="+url.QueryEscape(rd), nil, orig...)
		if r.StatusCode != http.StatusFound {
			t.Errorf("rd=%s: %d, want 302: %s", rd, r.StatusCode, r.body)
			continue
		}
		wantLoc := "https://auth.example.com/login?return_to=" + url.QueryEscape(to)
		if loc := r.Header.Get("Location"); loc != wantLoc {
			t.Errorf("rd=%s: Location %q, want %q", rd, loc, wantLoc)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("rd=%s: cacheable redirect", rd)
		}
	}
	bad := []string{
		"//evil.example", "/\\evil.example", "https:evil.example", "https:/evil.example", "https://evil.example/",
		"%2F%2Fevil.example", "/%2F/evil.example", "/%5Cevil.example", "https://app.example.com@evil.example/",
		"https://evil.example\\@app.example.com/", "https://evil.example%2F@app.example.com/", "https://app.example.com.evil.example/",
		"https://evilapp.example.com/", "https://tools.example.com/", "javascript:alert(1)", "data:text/html,x",
		"https://app.example.com/\r\nSet-Cookie:x=1", "/x\r\nLocation: https://evil.example", "\t//evil.example",
		"/\t/evil.example", "https://app.example.com%00.evil.example/", "ftp://app.example.com/", "https://evil。example/",
		"https://xn--app-example-com.evil/", "relative/path", "",
	}
	for _, rd := range bad {
		r := e.client().do("GET", "/v1/authz?rd="+url.QueryEscape(rd), nil, orig...)
		if r.StatusCode != 401 || r.Header.Get("Location") != "" {
			t.Errorf("rd=%q: %d Location %q, want a plain 401", rd, r.StatusCode, r.Header.Get("Location"))
		}
	}
	// Not a browser: 401 even with a good rd (an API client wants the status).
	r := e.client().do("GET", "/v1/authz?rd="+url.QueryEscape("https://app.example.com/"), nil, "X-Original-URL", "https://app.example.com/x", "Accept", "application/json")
	want(t, r, 401, "unauthorized")
	// A browser calling /v1/authz itself (no proxy) is sent to log in too;
	// in the path form the query is the original request's, not an rd.
	plain := newGatewayEnv(t, gwEnvOptions{allowed: []string{"app.example.com"}})
	r = plain.client().do("GET", "/v1/authz?rd="+url.QueryEscape("https://app.example.com/"), nil, "Accept", "text/html")
	if r.StatusCode != http.StatusFound {
		t.Errorf("direct browser call: %d, want 302", r.StatusCode)
	}
	r = plain.client().do("GET", "/v1/authz/x?rd="+url.QueryEscape("https://app.example.com/"), nil, "Accept", "text/html")
	want(t, r, 401, "unauthorized")
	// A forbidden (403) browser is not sent to log in again.
	e2 := newGatewayEnv(t, gwEnvOptions{envOptions: envOptions{trusted: loopback}, allowed: []string{"app.example.com"},
		gateway: config.Gateway{Policies: []config.GatewayPolicy{{PathPrefix: "/", Action: "deny"}}}})
	r = e2.client().do("GET", "/v1/authz?rd="+url.QueryEscape("https://app.example.com/"), nil, orig...)
	want(t, r, 403, "forbidden")
}

// Rule 21: nothing from a user record reaches a header with CR, LF or
// other control bytes; roles that cannot be sent are left out.
func TestRule21_NoControlBytesInIdentityHeaders(t *testing.T) {
	t.Parallel()
	e := newGatewayEnv(t, gwEnvOptions{})
	ctx := context.Background()
	if _, err := e.accounts.Register(ctx, "roles@example.com", "correct horse battery",
		[]string{"ok", "two,roles", "evil\r\nX-User-Id: admin", "tab\there", "é"}, "org-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.accounts.Register(ctx, "org@example.com", "correct horse battery", []string{"user"}, "acme\r\nX-User-Roles: admin"); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	want(t, c.login("roles@example.com", "correct horse battery"), 200, "")
	r := authz(c)
	want(t, r, 200, "")
	if got := r.Header.Values("X-User-Roles"); len(got) != 1 || got[0] != "ok" {
		t.Fatalf("X-User-Roles = %q, want only the role that can be sent", got)
	}
	c = e.client()
	want(t, c.login("org@example.com", "correct horse battery"), 200, "")
	r = authz(c)
	want(t, r, 403, "forbidden")
	if r.Header.Get("X-User-Id") != "" || r.Header.Get("X-User-Roles") != "" {
		t.Fatalf("identity emitted: %v", r.Header)
	}
	// Raw bytes on the wire: no header line was injected.
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ck := c.cookie()
	_, _ = conn.Write([]byte("GET /v1/authz HTTP/1.1\r\nHost: x\r\nCookie: " + ck.Name + "=" + ck.Value + "\r\nConnection: close\r\n\r\n"))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("X-User-Roles") != "" {
		t.Fatalf("injected header: %v", res.Header)
	}
}

// Rule 22: a store failure is 503 and never an identity, and it recovers.
func TestRule22_AuthzFailClosed(t *testing.T) {
	t.Parallel()
	f := &flaky{}
	e := newGatewayEnv(t, gwEnvOptions{envOptions: envOptions{wrap: func(b session.Backend) session.Backend { f.Backend = b; return f }}})
	e.addUser("ann@example.com", "correct horse battery")
	c := e.client()
	want(t, c.login("ann@example.com", "correct horse battery"), 200, "")
	want(t, authz(c), 200, "")
	f.down.Store(true)
	r := authz(c)
	want(t, r, 503, "unavailable")
	for k := range r.Header {
		if strings.HasPrefix(k, "X-User") || k == "X-Session-Id" || k == "X-Org-Id" {
			t.Fatalf("identity header %s on a 503", k)
		}
	}
	f.down.Store(false)
	want(t, authz(c), 200, "")
}

// The gateway's configuration is checked when it is built.
func TestNewGateway_Refuses(t *testing.T) {
	t.Parallel()
	route := func(prefix, upstream string) config.Gateway {
		return config.Gateway{Routes: []config.GatewayRoute{{PathPrefix: prefix, Upstream: upstream, Action: "authenticated", Credentials: "any"}}}
	}
	for name, cfg := range map[string]config.Gateway{
		"catch-all":       route("/", "http://u"),
		"api":             route("/v1/x", "http://u"),
		"well-known":      route("/.well-known", "http://u"),
		"login":           route("/login", "http://u"),
		"empty prefix":    route("", "http://u"),
		"upstream scheme": route("/a", "ftp://u"),
		"upstream user":   route("/a", "http://u:p@u"),
		"bad action":      {Policies: []config.GatewayPolicy{{Action: "allow"}}},
		"bad host":        {Policies: []config.GatewayPolicy{{Host: "*.com"}}},
		"duplicate": {Routes: []config.GatewayRoute{
			{PathPrefix: "/a", Upstream: "http://u"}, {PathPrefix: "/a/", Upstream: "http://v"},
		}},
	} {
		if _, err := server.NewGateway(cfg, server.GatewayOptions{}); err == nil {
			t.Errorf("%s: NewGateway succeeded", name)
		}
	}
}
