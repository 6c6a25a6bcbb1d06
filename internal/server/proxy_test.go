package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// proxyEnv is a gateway env with routes to one echo upstream:
//
//	/app     → upstream, any signed-in caller
//	/orders  → upstream/base, prefix stripped, internal JWT (aud "orders")
//	/admin   → upstream, role admin
//	/pub     → upstream, public
//	/cookie  → upstream, session cookie only
//	/ro      → upstream, GET and HEAD only
//	/slow    → upstream, 200 ms timeout
//	/down    → a closed port
//
// and the policy "deny /app/secret" in gateway.policies.
func proxyEnv(t *testing.T, opt gwEnvOptions) (*env, *httptest.Server) {
	t.Helper()
	up := newEchoUpstream(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	opt.gateway.Policies = append(opt.gateway.Policies, config.GatewayPolicy{PathPrefix: "/app/secret", Action: "deny"})
	opt.gateway.Routes = append(opt.gateway.Routes,
		config.GatewayRoute{PathPrefix: "/app", Upstream: up.URL},
		config.GatewayRoute{Name: "orders", PathPrefix: "/orders", Upstream: up.URL + "/base/", StripPrefix: true, InternalJWT: true},
		config.GatewayRoute{PathPrefix: "/admin", Upstream: up.URL, Roles: []string{"admin"}},
		config.GatewayRoute{PathPrefix: "/pub", Upstream: up.URL, Action: "public"},
		config.GatewayRoute{PathPrefix: "/cookie", Upstream: up.URL, Credentials: "cookie"},
		config.GatewayRoute{PathPrefix: "/ro", Upstream: up.URL, Methods: []string{"GET", "HEAD"}},
		config.GatewayRoute{PathPrefix: "/slow", Upstream: up.URL, Timeout: config.Duration{Duration: 200 * time.Millisecond}},
		config.GatewayRoute{PathPrefix: "/down", Upstream: dead.URL},
	)
	e := newGatewayEnv(t, opt)
	return e, up
}

func signedIn(t *testing.T, e *env, email string, roles ...string) *client {
	t.Helper()
	e.addUser(email, "correct horse battery", roles...)
	c := e.client()
	want(t, c.login(email, "correct horse battery"), 200, "")
	return c
}

func TestProxy_IdentityReachesUpstream(t *testing.T) {
	t.Parallel()
	e, up := proxyEnv(t, gwEnvOptions{})
	c := signedIn(t, e, "ann@example.com", "staff", "ops")
	c.setCookie("app_pref", "dark")
	who := c.do("GET", "/v1/whoami", nil)
	uid := who.json["user"].(map[string]any)["id"].(string)
	sid := who.json["session"].(map[string]any)["id"].(string)

	r := c.do("GET", "/app/a/b?x=1&y=%2F", nil, "X-Request-Id", "trace-123", "Authorization", "")
	got := echo(t, r)
	if got.URI != "/app/a/b?x=1&y=%2F" || got.Method != "GET" {
		t.Errorf("upstream got %s %s", got.Method, got.URI)
	}
	upHost := strings.TrimPrefix(up.URL, "http://")
	srvHost := strings.TrimPrefix(e.srv.URL, "http://")
	wantHdr := map[string]string{
		"X-User-Id": uid, "X-User-Email": "ann@example.com", "X-User-Roles": "staff,ops", "X-Org-Id": "org-1",
		"X-Session-Id": sid, "X-Request-Id": "trace-123", "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": srvHost,
		"X-Forwarded-Proto": "http",
	}
	for k, v := range wantHdr {
		if vals := got.Header[k]; len(vals) != 1 || vals[0] != v {
			t.Errorf("upstream %s = %q, want %q", k, vals, v)
		}
	}
	if got.Host != upHost {
		t.Errorf("upstream Host %q, want %q", got.Host, upHost)
	}
	// The credential stays at the gateway; other cookies pass.
	if ck := strings.Join(got.Header["Cookie"], ";"); strings.Contains(ck, "sessiond") || !strings.Contains(ck, "app_pref=dark") {
		t.Errorf("upstream Cookie %q: want app_pref and no session cookie", ck)
	}
	if _, ok := got.Header["X-Internal-Token"]; ok {
		t.Error("internal token sent on a route without internal_jwt")
	}
	if r.Header.Get("X-Request-Id") != "trace-123" {
		t.Errorf("response X-Request-Id %q", r.Header.Get("X-Request-Id"))
	}
	// A request ID sessiond makes up is propagated too.
	got = echo(t, c.do("GET", "/app", nil))
	if id := got.Header["X-Request-Id"]; len(id) != 1 || id[0] == "" {
		t.Errorf("no request ID upstream: %v", id)
	}

	// Bearer.
	b := e.bearer(passwordGrant(t, e, "ann@example.com", "correct horse battery").access)
	got = echo(t, b.do("GET", "/app/x", nil))
	if got.Header["X-User-Id"][0] != uid || got.Header["X-Session-Id"][0] == sid || got.Header["X-Session-Id"][0] == "" {
		t.Errorf("bearer identity upstream: %v", got.identityIn())
	}
}

func TestProxy_PoliciesAndErrors(t *testing.T) {
	t.Parallel()
	e, _ := proxyEnv(t, gwEnvOptions{})
	user := signedIn(t, e, "user@example.com", "user")
	admin := signedIn(t, e, "admin@example.com", "admin")
	anon := e.client()
	userTok := e.bearer(passwordGrant(t, e, "user@example.com", "correct horse battery").access)

	want(t, anon.do("GET", "/app/x", nil), 401, "unauthorized")
	want(t, user.do("GET", "/admin/x", nil), 403, "forbidden")
	echo(t, admin.do("GET", "/admin/x", nil))
	want(t, admin.do("GET", "/app/secret/x", nil), 403, "forbidden")
	want(t, admin.do("GET", "/app/%73ecret", nil), 403, "forbidden")
	if got := echo(t, anon.do("GET", "/pub/x", nil)); len(got.identityIn()) != 0 {
		t.Errorf("public route passed identity: %v", got.identityIn())
	}
	if got := echo(t, user.do("GET", "/pub/x", nil)); len(got.identityIn()) != 0 {
		t.Errorf("public route passed identity: %v", got.identityIn())
	}
	echo(t, user.do("GET", "/cookie/x", nil))
	want(t, userTok.do("GET", "/cookie/x", nil), 401, "unauthorized")
	echo(t, user.do("GET", "/ro/x", nil))
	r := user.do("DELETE", "/ro/x", nil, "X-CSRF-Token", "")
	want(t, r, 405, "method_not_allowed")
	if r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
	// Upstream failures in the contract's form.
	for path, status := range map[string]int{"/slow/slow": 504, "/down/x": 502} {
		res, err := user.hc.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]string
		_ = json.NewDecoder(res.Body).Decode(&body)
		res.Body.Close()
		if res.StatusCode != status || body["error"] != "unavailable" || body["message"] == "" || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %v, want %d in the contract's form", path, res.StatusCode, body, status)
		}
	}
	// A cookie-authenticated cross-site unsafe request is refused.
	want(t, user.do("POST", "/app/x", "{}", "Sec-Fetch-Site", "cross-site"), 403, "csrf")
	want(t, user.do("POST", "/app/x", "{}", "Origin", "https://evil.example"), 403, "csrf")
	echo(t, user.do("POST", "/app/x", "{}", "Sec-Fetch-Site", "same-origin"))
	echo(t, userTok.do("POST", "/app/x", "{}", "Sec-Fetch-Site", "cross-site"))
	// The API is not shadowed.
	want(t, user.do("GET", "/v1/whoami", nil), 200, "")
	want(t, anon.do("GET", "/apps", nil), 404, "not_found")
	// A browser without a session is sent to log in and back.
	r = anon.do("GET", "/app/x?y=1", nil, "Accept", "text/html")
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/login?return_to="+url.QueryEscape("/app/x?y=1") {
		t.Errorf("browser: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestProxy_Revocation(t *testing.T) {
	t.Parallel()
	e, _ := proxyEnv(t, gwEnvOptions{})
	c := signedIn(t, e, "ann@example.com")
	echo(t, c.do("GET", "/app/x", nil))
	old := c.cookie()
	want(t, c.do("POST", "/v1/logout", nil), 204, "")
	c.setCookie(old.Name, old.Value)
	want(t, c.do("GET", "/app/x", nil), 401, "unauthorized")

	tok := passwordGrant(t, e, "ann@example.com", "correct horse battery").access
	b := e.bearer(tok)
	echo(t, b.do("GET", "/app/x", nil))
	want(t, b.do("POST", "/v1/logout", nil), 204, "")
	want(t, e.bearer(tok).do("GET", "/app/x", nil), 401, "unauthorized")
}

func TestProxy_PathNormalisedBeforeRoutingAndSent(t *testing.T) {
	t.Parallel()
	e, _ := proxyEnv(t, gwEnvOptions{})
	c := signedIn(t, e, "ann@example.com")
	tests := []struct {
		path, upstream string
		status         int
	}{
		{"/app/%61b/c", "/app/ab/c", 200},
		{"/app/a;jsessionid=1/b", "/app/a/b", 200},
		{"/app/x/%2e%2e/y", "/app/y", 200},
		{"/app/a%20b", "/app/a%20b", 200},
		{"/app/caf%c3%a9", "/app/caf%C3%A9", 200},
		{"/app/%2e%2e/v1/whoami", "", 404},
		{"/app/..;/v1/whoami", "", 404},
		{"/app/a%2Fb", "", 400},
		{"/app/a%5Cb", "", 400},
		{"/app/%2e%2e/%2e%2e/etc/passwd", "", 400},
		{"/app/secret%2f", "", 400},
		{"/app/x/%2e%2e/secret", "", 403},
		{"/app/Secret", "/app/Secret", 200},
		{"/orders/42", "/base/42", 200},
		{"/orders", "/base/", 200},
	}
	for _, tt := range tests {
		r := c.do("GET", tt.path, nil)
		if r.StatusCode != tt.status {
			t.Errorf("%s: %d, want %d: %s", tt.path, r.StatusCode, tt.status, r.body)
			continue
		}
		if tt.status == 200 {
			if got := echo(t, r); got.URI != tt.upstream {
				t.Errorf("%s: upstream got %q, want %q", tt.path, got.URI, tt.upstream)
			}
		}
	}
}

// rawExchange sends a hand-written HTTP/1.1 request and reads the answer.
func rawExchange(t *testing.T, base, req string) (*http.Response, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// Rule 19: whatever a client sends as identity or forwarding headers —
// in any case, with underscores, twice, or listed in Connection so a
// proxy would drop what follows — the upstream sees sessiond's values only.
func TestRule19_ProxyStripsSpoofedIdentity(t *testing.T) {
	t.Parallel()
	e, _ := proxyEnv(t, gwEnvOptions{})
	c := signedIn(t, e, "ann@example.com", "user")
	uid := c.do("GET", "/v1/whoami", nil).json["user"].(map[string]any)["id"].(string)
	ck := c.cookie()
	spoof := "X-User-Id: admin\r\nx-user-id: admin2\r\nX-USER-ID: admin3\r\nX_User_Id: admin4\r\nx-user-roles: admin\r\n" +
		"X-User-Email: boss@example.com\r\nX-Org-Id: evil\r\nX-Session-Id: stolen\r\nX-Internal-Token: forged\r\n" +
		"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\n" +
		"X-Real-IP: 6.6.6.6\r\nX-Forwarded-User: admin\r\nX-Original-URL: /admin\r\nX-Auth-Request-User: admin\r\n"
	for _, conn := range []string{
		"Connection: X-User-Id, X-User-Roles, X-Request-Id, X-Forwarded-For, X-Session-Id, X-Internal-Token, keep-alive",
		"Connection: close",
	} {
		for _, route := range []string{"/app/x", "/orders/x", "/pub/x"} {
			req := "GET " + route + " HTTP/1.1\r\nHost: gw.test\r\n" + spoof + "Cookie: " + ck.Name + "=" + ck.Value + "\r\n" + conn + "\r\n\r\n"
			res, body := rawExchange(t, e.srv.URL, req)
			if res.StatusCode != 200 {
				t.Fatalf("%s: %d %s", route, res.StatusCode, body)
			}
			var got echoed
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			id := got.identityIn()
			if route == "/pub/x" {
				if len(id) != 0 {
					t.Errorf("%s (%s): identity headers on a public route: %v", route, conn, id)
				}
			} else {
				if v := id["x-user-id"]; len(v) != 1 || v[0] != uid {
					t.Errorf("%s (%s): X-User-Id %q, want only %q", route, conn, v, uid)
				}
				if v := id["x-user-roles"]; len(v) != 1 || v[0] != "user" {
					t.Errorf("%s (%s): X-User-Roles %q", route, conn, v)
				}
				if v := id["x-user-email"]; len(v) != 1 || v[0] != "ann@example.com" {
					t.Errorf("%s (%s): X-User-Email %q", route, conn, v)
				}
				if v := id["x-org-id"]; len(v) != 1 || v[0] != "org-1" {
					t.Errorf("%s (%s): X-Org-Id %q", route, conn, v)
				}
				if v := id["x-session-id"]; len(v) != 1 || v[0] == "stolen" {
					t.Errorf("%s (%s): X-Session-Id %q", route, conn, v)
				}
			}
			if v := id["x-internal-token"]; len(v) > 0 && (route != "/orders/x" || v[0] == "forged" || len(v) != 1) {
				t.Errorf("%s (%s): X-Internal-Token %q", route, conn, v)
			}
			for _, k := range []string{"X-Forwarded-Forwarded", "Forwarded", "X-Real-Ip", "X-Forwarded-User", "X-Original-Url", "X-Auth-Request-User"} {
				if _, ok := got.Header[k]; ok {
					t.Errorf("%s (%s): %s reached the upstream", route, conn, k)
				}
			}
			if v := got.Header["X-Forwarded-For"]; len(v) != 1 || v[0] != "127.0.0.1" {
				t.Errorf("%s (%s): X-Forwarded-For %q", route, conn, v)
			}
			if v := got.Header["X-Forwarded-Host"]; len(v) != 1 || v[0] != "gw.test" {
				t.Errorf("%s (%s): X-Forwarded-Host %q", route, conn, v)
			}
			if v := got.Header["X-Forwarded-Proto"]; len(v) != 1 || v[0] != "http" {
				t.Errorf("%s (%s): X-Forwarded-Proto %q", route, conn, v)
			}
			if v := got.Header["X-Request-Id"]; len(v) != 1 || v[0] == "" {
				t.Errorf("%s (%s): X-Request-Id %q", route, conn, v)
			}
		}
	}
}

func TestProxy_InternalJWT(t *testing.T) {
	t.Parallel()
	e, _ := proxyEnv(t, gwEnvOptions{})
	c := signedIn(t, e, "ann@example.com", "staff")
	who := c.do("GET", "/v1/whoami", nil).json
	uid := who["user"].(map[string]any)["id"].(string)
	sid := who["session"].(map[string]any)["id"].(string)
	got := echo(t, c.do("GET", "/orders/1", nil))
	raw := got.Header["X-Internal-Token"]
	if len(raw) != 1 {
		t.Fatalf("X-Internal-Token %q", raw)
	}
	ver, err := token.NewVerifier(e.tokens.Keys, token.VerifierConfig{Issuer: testIssuer, Audience: "orders", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ver.Verify(context.Background(), raw[0])
	if err != nil {
		t.Fatalf("internal token does not verify for aud orders: %v", err)
	}
	if cl.Subject != uid || cl.SessionID != sid || cl.Email != "ann@example.com" || len(cl.Roles) != 1 || cl.Roles[0] != "staff" ||
		cl.ExpiresAt.Sub(cl.IssuedAt) != 60*time.Second || len(cl.Audience) != 1 {
		t.Errorf("claims %+v", cl)
	}
	// It is no credential at sessiond (another audience) ...
	want(t, e.bearer(raw[0]).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	want(t, e.bearer(raw[0]).do("GET", "/app/x", nil), 401, "unauthorized")
	// ... and it is gone after its minute and the verifier's leeway.
	e.clock.Advance(60*time.Second + time.Minute + time.Second)
	if _, err := ver.Verify(context.Background(), raw[0]); err == nil {
		t.Error("internal token still valid after 2 minutes")
	}
}

func TestProxy_UpgradesAndStreams(t *testing.T) {
	t.Parallel()
	e, _ := proxyEnv(t, gwEnvOptions{recheck: 100 * time.Millisecond})
	c := signedIn(t, e, "ann@example.com")
	ck := c.cookie()
	for _, hdr := range []string{
		"Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
		"Upgrade: H2C\r\nConnection: upgrade\r\n",
		"Upgrade: websocket, h2c\r\nConnection: Upgrade\r\n",
		"Upgrade: h2c\r\n",
		"Upgrade: foo/1\r\nConnection: Upgrade\r\n",
	} {
		res, body := rawExchange(t, e.srv.URL, "GET /app/x HTTP/1.1\r\nHost: gw.test\r\nCookie: "+ck.Name+"="+ck.Value+"\r\n"+hdr+"\r\n")
		if res.StatusCode != 400 || !strings.Contains(string(body), "invalid_request") {
			t.Errorf("%q: %d %s, want 400", hdr, res.StatusCode, body)
		}
	}

	// Server-sent events arrive as they are sent.
	req, _ := http.NewRequest("GET", e.srv.URL+"/app/sse", nil)
	req.Header.Set("Accept", "text/event-stream")
	start := time.Now()
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "data: event 0\n" {
		t.Fatalf("first event %q, %v", first, err)
	}
	if d := time.Since(start); d > 180*time.Millisecond {
		t.Errorf("first event after %v: buffered", d)
	}
	rest, _ := io.ReadAll(br)
	res.Body.Close()
	if !strings.Contains(string(rest), "event 2") {
		t.Errorf("stream ended early: %q", rest)
	}

	// Without a credential there is no WebSocket.
	res, _ = rawExchange(t, e.srv.URL, wsRequest("/app/ws", ""))
	if res.StatusCode != 401 {
		t.Fatalf("anonymous websocket: %d", res.StatusCode)
	}
}

func wsRequest(path, cookie string) string {
	req := "GET " + path + " HTTP/1.1\r\nHost: gw.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if cookie != "" {
		req += "Cookie: " + cookie + "\r\n"
	}
	return req + "\r\n"
}

// dialWS opens a WebSocket through the proxy and reads the upstream's
// greeting.
func dialWS(t *testing.T, base, path, cookie string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, wsRequest(path, cookie)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("websocket: %d", res.StatusCode)
	}
	hello, err := readLine(t, br, conn, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return conn, br, hello
}

// A WebSocket carries the session it was opened with, and is closed once
// that session is revoked (within the recheck interval).
func TestProxy_WebSocketClosedOnRevocation(t *testing.T) {
	t.Parallel()
	const recheck = 100 * time.Millisecond
	e, _ := proxyEnv(t, gwEnvOptions{recheck: recheck})
	c := signedIn(t, e, "ann@example.com")
	uid := c.do("GET", "/v1/whoami", nil).json["user"].(map[string]any)["id"].(string)
	ck := c.cookie()
	conn, br, hello := dialWS(t, e.srv.URL, "/app/ws", ck.Name+"="+ck.Value)
	if hello != `hello "`+uid+`"`+"\n" {
		t.Fatalf("upstream saw %q", hello)
	}
	// It outlives several rechecks while the session is good.
	for i := range 4 {
		time.Sleep(recheck)
		if _, err := io.WriteString(conn, "ping\n"); err != nil {
			t.Fatal(err)
		}
		if line, err := readLine(t, br, conn, 2*time.Second); err != nil || line != "ping\n" {
			t.Fatalf("echo %d: %q, %v", i, line, err)
		}
	}
	// Another connection, of another session, stays open.
	other := signedIn(t, e, "bob@example.com")
	ock := other.cookie()
	conn2, br2, _ := dialWS(t, e.srv.URL, "/app/ws", ock.Name+"="+ock.Value)

	revoked := time.Now()
	want(t, c.do("POST", "/v1/logout", nil), 204, "")
	_, err := readLine(t, br, conn, 5*time.Second)
	if err == nil {
		t.Fatal("the connection is still open after the session was revoked")
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection was not closed within 5 s of the revocation")
	}
	if d := time.Since(revoked); d > recheck+time.Second {
		t.Errorf("closed %v after revocation; the bound is the recheck interval (%v) plus a store round trip", d, recheck)
	}
	_, _ = io.WriteString(conn2, "still\n")
	if line, err := readLine(t, br2, conn2, 2*time.Second); err != nil || line != "still\n" {
		t.Fatalf("the other session's connection: %q, %v", line, err)
	}
}

// Rule 22 on the proxy: a store failure is 503, and the upstream is not
// called.
func TestRule22_ProxyFailClosed(t *testing.T) {
	t.Parallel()
	f := &flaky{}
	var calls atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	t.Cleanup(up.Close)
	e := newGatewayEnv(t, gwEnvOptions{
		envOptions: envOptions{wrap: func(b session.Backend) session.Backend { f.Backend = b; return f }},
		gateway:    config.Gateway{Routes: []config.GatewayRoute{{PathPrefix: "/app", Upstream: up.URL}}},
	})
	c := signedIn(t, e, "ann@example.com")
	want(t, c.do("GET", "/app/x", nil), 200, "")
	f.down.Store(true)
	want(t, c.do("GET", "/app/x", nil), 503, "unavailable")
	f.down.Store(false)
	want(t, c.do("GET", "/app/x", nil), 200, "")
	if n := calls.Load(); n != 2 {
		t.Fatalf("upstream called %d times, want 2", n)
	}
}

// An upstream may not set sessiond's cookie or a second request ID.
func TestProxy_ResponseScrubbed(t *testing.T) {
	t.Parallel()
	e, _ := proxyEnv(t, gwEnvOptions{})
	c := signedIn(t, e, "ann@example.com")
	r := c.do("GET", "/app/cookie", nil, "X-Request-Id", "req-1")
	echo(t, r)
	for _, v := range r.Header.Values("Set-Cookie") {
		if strings.Contains(v, "sessiond=") {
			t.Errorf("upstream set the session cookie: %s", v)
		}
	}
	if !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), "\n"), "app=1") {
		t.Error("the upstream's own cookie was dropped")
	}
	if v := r.Header.Values("X-Request-Id"); len(v) != 1 || v[0] != "req-1" {
		t.Errorf("X-Request-Id %q", v)
	}
	if v := r.Header.Values("X-Content-Type-Options"); len(v) != 1 {
		t.Errorf("X-Content-Type-Options %q", v)
	}
	want(t, c.do("GET", "/v1/whoami", nil), 200, "")
}

// BenchmarkProxy measures a proxied request end to end (client, sessiond,
// upstream, all in process): public, and with a session cookie.
func BenchmarkProxy(b *testing.B) {
	// The env helpers take a *testing.T; a bare one is enough to build
	// with (they fail only on setup errors), and its cleanups never run,
	// so the servers are closed here.
	t := &testing.T{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	b.Cleanup(up.Close)
	e := newGatewayEnv(t, gwEnvOptions{gateway: config.Gateway{Routes: []config.GatewayRoute{
		{PathPrefix: "/app", Upstream: up.URL}, {PathPrefix: "/pub", Upstream: up.URL, Action: "public"},
	}}})
	b.Cleanup(e.srv.Close)
	c := signedIn(t, e, "bench@example.com")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Jar: c.hc.Jar}
	for _, path := range []string{"/pub/x", "/app/x", "/v1/authz"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := hc.Get(e.srv.URL + path)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("%s: %d", path, res.StatusCode)
						return
					}
				}
			})
		})
	}
}
