package main_test

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/internal/testenv"
)

// The gateway end to end: the real sessiond binary, a real nginx (Debian's,
// with auth_request) and an upstream that echoes what it received. The same
// battery runs against nginx → /v1/authz → upstream and against sessiond's
// own reverse proxy.

// gwUpstream answers with the method, URI and headers it received, as
// JSON; /bench answers "ok"; .../ws accepts a WebSocket and echoes bytes.
func gwUpstream(t testing.TB) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/bench"):
			_, _ = io.WriteString(w, "ok")
			return
		case strings.HasSuffix(r.URL.Path, "/ws"):
			wsEcho(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"uri": r.RequestURI, "header": r.Header})
	}))
	t.Cleanup(hs.Close)
	return hs
}

func wsEcho(w http.ResponseWriter, r *http.Request) {
	h := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\nhello " + r.Header.Get("X-User-Id") + "\n")
	_ = brw.Flush()
	for {
		line, err := brw.ReadString('\n')
		if err != nil {
			return
		}
		_, _ = brw.WriteString(line)
		if brw.Flush() != nil {
			return
		}
	}
}

// proxyIP is the address nginx connects to sessiond from, and the only
// address sessiond trusts: 127.0.0.2, so that a client on 127.0.0.1 is not
// a trusted proxy (127.0.0.1 where 127.0.0.2 cannot be bound).
func proxyIP() string {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		return "127.0.0.1"
	}
	ln.Close()
	return "127.0.0.2"
}

// nginxAuthRequest is the nginx configuration under test, the one
// docs/gateway.md shows: every request to / is checked by /v1/authz, and
// the identity sessiond answers with is passed upstream; /direct/ is
// proxied without a check (the benchmark's baseline).
func nginxAuthRequest(sessiond, upstream, bind string) func(listen string) string {
	return func(listen string) string {
		return fmt.Sprintf(`
  upstream sessiond { server %s; keepalive 32; }
  upstream app { server %s; keepalive 32; }
  server {
    listen %s;
    proxy_bind %s;
    proxy_http_version 1.1;

    location = /_authz {
      internal;
      proxy_pass http://sessiond/v1/authz;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Connection "";
      proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header X-Forwarded-Proto $scheme;
    }

    location / {
      auth_request /_authz;
      auth_request_set $gw_user_id    $upstream_http_x_user_id;
      auth_request_set $gw_user_email $upstream_http_x_user_email;
      auth_request_set $gw_user_roles $upstream_http_x_user_roles;
      auth_request_set $gw_org_id     $upstream_http_x_org_id;
      auth_request_set $gw_session_id $upstream_http_x_session_id;
      proxy_set_header X-User-Id      $gw_user_id;
      proxy_set_header X-User-Email   $gw_user_email;
      proxy_set_header X-User-Roles   $gw_user_roles;
      proxy_set_header X-Org-Id       $gw_org_id;
      proxy_set_header X-Session-Id   $gw_session_id;
      proxy_set_header Connection "";
      proxy_pass http://app;
    }

    location /direct/ {
      proxy_set_header Connection "";
      proxy_pass http://app;
    }
  }
`, sessiond, upstream, listen, bind)
	}
}

// caddyForwardAuth is the Caddy configuration under test, the one
// docs/gateway.md shows: the client's identity headers, and every header
// with an underscore, are removed, then forward_auth asks /v1/authz and
// copies the identity into the request to the upstream.
func caddyForwardAuth(sessiond, upstream string) func(listen string) string {
	return func(listen string) string {
		host, port, _ := net.SplitHostPort(listen)
		return fmt.Sprintf(`
http://:%s {
	bind %s
	route {
		request_header -*_*
		request_header -X-User-*
		request_header -X-Org-Id
		request_header -X-Session-Id
		forward_auth %s {
			uri /v1/authz
			copy_headers X-User-Id X-User-Email X-User-Roles X-Org-Id X-Session-Id
		}
		reverse_proxy %s {
			header_up X-User-Id {http.request.header.X-User-Id}
			header_up X-User-Email {http.request.header.X-User-Email}
			header_up X-User-Roles {http.request.header.X-User-Roles}
			header_up X-Org-Id {http.request.header.X-Org-Id}
			header_up X-Session-Id {http.request.header.X-Session-Id}
		}
	}
}
`, port, host, sessiond, upstream)
	}
}

// gwStack is sessiond, nginx (or Caddy) in front of it, and the upstream.
type gwStack struct {
	sd    *proc
	ng    *testenv.Nginx
	ca    *testenv.Caddy
	up    *httptest.Server
	data  string
	cfg   string
	proxy string // the front's address towards sessiond
}

func startGatewayStack(t *testing.T, nginxWorkers int) *gwStack {
	t.Helper()
	s := newGatewayStack(t, proxyIP())
	s.ng = testenv.StartNginx(t, testenv.NginxConfig{
		HTTP:    nginxAuthRequest(strings.TrimPrefix(s.sd.url, "http://"), strings.TrimPrefix(s.up.URL, "http://"), s.proxy),
		Workers: nginxWorkers,
	})
	return s
}

// startCaddyStack is the stack with Caddy in front. Caddy cannot choose
// its source address, so sessiond trusts 127.0.0.1.
func startCaddyStack(t *testing.T) *gwStack {
	t.Helper()
	s := newGatewayStack(t, "127.0.0.1")
	s.ca = testenv.StartCaddy(t, testenv.CaddyConfig{
		Sites: caddyForwardAuth(strings.TrimPrefix(s.sd.url, "http://"), strings.TrimPrefix(s.up.URL, "http://")),
	})
	return s
}

// newGatewayStack starts the upstream and sessiond, trusting proxy, with
// two users.
func newGatewayStack(t *testing.T, proxy string) *gwStack {
	t.Helper()
	s := &gwStack{up: gwUpstream(t), data: t.TempDir(), proxy: proxy}
	s.cfg = filepath.Join(s.data, "sessiond.yaml")
	conf := fmt.Sprintf(`trusted_proxies: [%s/32]
gateway:
  allowed_redirect_hosts: [app.example.com]
  policies:
    - path_prefix: /app/public
      action: public
    - path_prefix: /app/admin
      roles: [admin]
  routes:
    - name: app
      path_prefix: /app
      upstream: %s
`, s.proxy, s.up.URL)
	if err := os.WriteFile(s.cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ email, role string }{{"admin@example.com", "admin"}, {"user@example.com", "user"}} {
		if out, err := run(t, "a long enough pass\n", "user", "add", "--config", s.cfg, "--data", s.data, "--email", u.email, "--role", u.role, "--password-stdin"); err != nil {
			t.Fatalf("user add: %v\n%s", err, out)
		}
	}
	s.sd = serve(t, s.data, "--config", s.cfg)
	return s
}

// seen is what the upstream answered it received.
type seen struct {
	URI    string              `json:"uri"`
	Header map[string][]string `json:"header"`
}

// identity returns every identity-like header value the upstream saw, by
// lower-case name with "_" read as "-". Empty values name nobody and are
// left out (Caddy passes sessiond's empty headers on; nginx drops them).
func (s seen) identity() map[string][]string {
	out := map[string][]string{}
	for k, vs := range s.Header {
		if n := strings.ToLower(strings.ReplaceAll(k, "_", "-")); gateway.IdentityHeader(k) {
			for _, v := range vs {
				if v != "" {
					out[n] = append(out[n], v)
				}
			}
		}
	}
	return out
}

func getVia(t *testing.T, hc *http.Client, u string, hdr ...string) (int, seen) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	var s seen
	if res.StatusCode == 200 {
		if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
			t.Fatalf("GET %s: upstream answer: %v", u, err)
		}
	}
	return res.StatusCode, s
}

// rawGet sends a hand-written request (headers in any case, repeated,
// with underscores) and returns the status and what the upstream saw.
func rawGet(t *testing.T, base, path, headers string) (int, seen) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	_, _ = io.WriteString(conn, "GET "+path+" HTTP/1.1\r\nHost: app.example.com\r\n"+headers+"\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s seen
	if res.StatusCode == 200 {
		if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
	}
	return res.StatusCode, s
}

type account struct {
	b       *browser
	id, sid string
	cookie  string // "name=value"
	bearer  string
}

func signIn(t *testing.T, s *gwStack, email string) *account {
	t.Helper()
	a := &account{b: newBrowser(t, s.sd.url)}
	a.b.login(email, "a long enough pass")
	_, who := a.b.do("GET", "/v1/whoami", nil)
	a.id = who["user"].(map[string]any)["id"].(string)
	a.sid = who["session"].(map[string]any)["id"].(string)
	u, _ := url.Parse(s.sd.url)
	for _, c := range a.b.hc.Jar.Cookies(u) {
		if strings.HasSuffix(c.Name, "sessiond") {
			a.cookie = c.Name + "=" + c.Value
		}
	}
	res, err := http.PostForm(s.sd.url+"/v1/token", url.Values{"grant_type": {"password"}, "username": {email}, "password": {"a long enough pass"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok map[string]any
	_ = json.NewDecoder(res.Body).Decode(&tok)
	a.bearer, _ = tok["access_token"].(string)
	if res.StatusCode != 200 || a.bearer == "" {
		t.Fatalf("password grant: %d %v", res.StatusCode, tok)
	}
	return a
}

// gatewayBattery is the list, against one front (nginx, or
// sessiond's own proxy) at base.
func gatewayBattery(t *testing.T, s *gwStack, base string) {
	user := signIn(t, s, "user@example.com")
	admin := signIn(t, s, "admin@example.com")
	plain := &http.Client{Timeout: 15 * time.Second}

	t.Run("no credential is 401", func(t *testing.T) {
		if code, _ := getVia(t, plain, base+"/app/x"); code != 401 {
			t.Fatalf("%d, want 401", code)
		}
		if code, _ := getVia(t, plain, base+"/app/x", "Cookie", "sessiond=forged"); code != 401 {
			t.Fatalf("forged cookie: %d, want 401", code)
		}
	})

	t.Run("cookie is 200 and the upstream sees the identity", func(t *testing.T) {
		code, got := getVia(t, user.b.hc, base+"/app/x?q=1")
		if code != 200 {
			t.Fatalf("%d, want 200", code)
		}
		want := map[string]string{"x-user-id": user.id, "x-user-email": "user@example.com", "x-user-roles": "user", "x-session-id": user.sid}
		for k, v := range want {
			if g := got.identity()[k]; len(g) != 1 || g[0] != v {
				t.Errorf("%s = %q, want %q", k, g, v)
			}
		}
		if got.URI != "/app/x?q=1" {
			t.Errorf("upstream URI %q", got.URI)
		}
	})

	t.Run("bearer is 200", func(t *testing.T) {
		code, got := getVia(t, plain, base+"/app/x", "Authorization", "Bearer "+user.bearer)
		if code != 200 {
			t.Fatalf("%d, want 200", code)
		}
		if g := got.identity()["x-user-id"]; len(g) != 1 || g[0] != user.id {
			t.Fatalf("X-User-Id %q, want %q", g, user.id)
		}
	})

	t.Run("client-sent identity never reaches the upstream", func(t *testing.T) {
		spoof := "X-User-Id: " + admin.id + "\r\nx-user-id: admin\r\nX-USER-ID: admin\r\nX-User-Id: root\r\nX_User_Id: admin\r\n" +
			"x_user_id: " + admin.id + "\r\nX_USER_ID: admin\r\nX-User_Id: admin\r\nX_User_Roles: admin\r\nx_session_id: " + admin.sid + "\r\n" +
			"x-user-roles: admin\r\nX-User-Email: admin@example.com\r\nX-Session-Id: " + admin.sid + "\r\nX-Org-Id: evil\r\n" +
			"Connection: X-User-Id, X-User-Roles, X-Session-Id, keep-alive\r\n"
		code, got := rawGet(t, base, "/app/x", spoof+"Cookie: "+user.cookie+"\r\n")
		if code != 200 {
			t.Fatalf("%d, want 200", code)
		}
		id := got.identity()
		if g := id["x-user-id"]; len(g) != 1 || g[0] != user.id {
			t.Errorf("X-User-Id %q, want only %q", g, user.id)
		}
		if g := id["x-user-roles"]; len(g) != 1 || g[0] != "user" {
			t.Errorf("X-User-Roles %q", g)
		}
		if g := id["x-session-id"]; len(g) != 1 || g[0] != user.sid {
			t.Errorf("X-Session-Id %q", g)
		}
		if g := id["x-org-id"]; len(g) > 0 {
			t.Errorf("X-Org-Id %q for a user without an org", g)
		}
		// Anonymous on a public path: no identity at all.
		code, got = rawGet(t, base, "/app/public/x", spoof)
		if code != 200 {
			t.Fatalf("public: %d, want 200", code)
		}
		if id := got.identity(); len(id) != 0 {
			t.Errorf("public path: identity headers reached the upstream: %v", id)
		}
	})

	t.Run("role policy is 403", func(t *testing.T) {
		if code, _ := getVia(t, user.b.hc, base+"/app/admin/x"); code != 403 {
			t.Fatalf("user: %d, want 403", code)
		}
		if code, _ := getVia(t, plain, base+"/app/admin/x", "Authorization", "Bearer "+user.bearer); code != 403 {
			t.Fatalf("user bearer: %d, want 403", code)
		}
		if code, _ := getVia(t, admin.b.hc, base+"/app/admin/x"); code != 200 {
			t.Fatalf("admin: %d, want 200", code)
		}
		// Spelled to look public, it is still the admin path.
		for _, p := range []string{"/app/public/%2e%2e/admin/x", "/app/public/..;/admin/x", "/app/%61dmin/x"} {
			if code, _ := rawGet(t, base, p, "Cookie: "+user.cookie+"\r\n"); code == 200 {
				t.Errorf("%s: 200 for a user without the admin role", p)
			}
		}
	})

	t.Run("revoked session is 401 on the next request", func(t *testing.T) {
		a := signIn(t, s, "user@example.com")
		if code, _ := rawGet(t, base, "/app/x", "Cookie: "+a.cookie+"\r\n"); code != 200 {
			t.Fatalf("before logout: %d", code)
		}
		if code, _ := a.b.do("POST", "/v1/logout", nil); code != 204 {
			t.Fatalf("logout: %d", code)
		}
		if code, _ := rawGet(t, base, "/app/x", "Cookie: "+a.cookie+"\r\n"); code != 401 {
			t.Fatalf("after logout: %d, want 401", code)
		}
		// Bearer logout revokes the token too.
		req, _ := http.NewRequest("POST", s.sd.url+"/v1/logout", nil)
		req.Header.Set("Authorization", "Bearer "+a.bearer)
		res, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if code, _ := getVia(t, plain, base+"/app/x", "Authorization", "Bearer "+a.bearer); code != 401 {
			t.Fatalf("revoked bearer: %d, want 401", code)
		}
	})
}

// underscoresDropped checks that the front drops every request header
// with "_" in its name (nginx: underscores_in_headers off, its default;
// Caddy: request_header -*_*), not only the identity ones, and passes a
// dashed one.
func underscoresDropped(t *testing.T, s *gwStack, base string) {
	t.Run("headers with underscores are dropped", func(t *testing.T) {
		a := signIn(t, s, "user@example.com")
		code, got := rawGet(t, base, "/app/x", "Cookie: "+a.cookie+"\r\nX_Custom_Thing: 1\r\nX-Custom-Thing: 2\r\nx_user_email: admin@example.com\r\n")
		if code != 200 {
			t.Fatalf("%d, want 200", code)
		}
		for k, v := range got.Header {
			if strings.Contains(k, "_") {
				t.Errorf("%s: %q reached the upstream", k, v)
			}
		}
		if v := got.Header["X-Custom-Thing"]; len(v) != 1 || v[0] != "2" {
			t.Errorf("X-Custom-Thing %q, want [2]", v)
		}
		if v := got.identity()["x-user-email"]; len(v) != 1 || v[0] != "user@example.com" {
			t.Errorf("X-User-Email %q, want only the real one", v)
		}
	})
}

func TestGateway_NginxAuthRequest(t *testing.T) {
	t.Parallel()
	s := startGatewayStack(t, 0)
	gatewayBattery(t, s, s.ng.URL)
	underscoresDropped(t, s, s.ng.URL)
	if t.Failed() {
		t.Logf("nginx error log:\n%s", s.ng.ErrorLog())
	}
}

// Issue 13 item 5: the Caddy configuration of docs/gateway.md, run by the
// real Caddy (Debian's), keeps every client-sent identity header — in any
// case, with "_" for "-" — from the upstream.
func TestGateway_CaddyForwardAuth(t *testing.T) {
	t.Parallel()
	s := startCaddyStack(t)
	gatewayBattery(t, s, s.ca.URL)
	underscoresDropped(t, s, s.ca.URL)
	if t.Failed() {
		t.Logf("caddy log:\n%s", s.ca.Log())
	}
}

func TestGateway_BuiltInProxy(t *testing.T) {
	t.Parallel()
	s := startGatewayStack(t, 0)
	gatewayBattery(t, s, s.sd.url)

	t.Run("WebSocket closed when its session is revoked", func(t *testing.T) {
		a := signIn(t, s, "user@example.com")
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.sd.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, _ = io.WriteString(conn, "GET /app/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: "+a.cookie+"\r\n\r\n")
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != 101 {
			t.Fatalf("upgrade: %v %v", res, err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if hello, err := br.ReadString('\n'); err != nil || hello != "hello "+a.id+"\n" {
			t.Fatalf("greeting %q, %v", hello, err)
		}
		start := time.Now()
		if code, _ := a.b.do("POST", "/v1/logout", nil); code != 204 {
			t.Fatalf("logout: %d", code)
		}
		// The documented bound: the recheck interval (5 s) and a store
		// round trip.
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = br.ReadString('\n')
		if ne, ok := err.(net.Error); err == nil || ok && ne.Timeout() {
			t.Fatalf("connection still open %v after the session was revoked (%v)", time.Since(start), err)
		}
		t.Logf("WebSocket closed %v after logout", time.Since(start).Round(time.Millisecond))
	})
}

// Open redirects through /v1/authz, asked the way Traefik's ForwardAuth
// asks (X-Forwarded-*), from the trusted proxy address: a browser is sent
// to the login page only with an allow-listed rd.
func TestRule20_AuthzOpenRedirectE2E(t *testing.T) {
	t.Parallel()
	s := startGatewayStack(t, 0)
	traefik := &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP(s.proxy)}, Timeout: 5 * time.Second}).DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ask := func(rd string) *http.Response {
		req, _ := http.NewRequest("GET", s.sd.url+"/v1/authz?rd="+url.QueryEscape(rd), nil)
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Host", "app.example.com")
		req.Header.Set("X-Forwarded-Uri", "/app/x")
		req.Header.Set("Accept", "text/html")
		res, err := traefik.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := ask("https://app.example.com/app/x")
	wantLoc := s.sd.url + "/login?return_to=" + url.QueryEscape("https://app.example.com/app/x")
	if res.StatusCode != 302 || res.Header.Get("Location") != wantLoc {
		t.Fatalf("allowed rd: %d Location %q, want 302 %q", res.StatusCode, res.Header.Get("Location"), wantLoc)
	}
	for _, rd := range []string{
		"//evil.example/", "/\\evil.example", "https:evil.example", "https://evil.example/", "%2F%2Fevil.example",
		"/%2F/evil.example", "https://app.example.com@evil.example/", "https://evil.example\\@app.example.com/",
		"https://app.example.com.evil.example/", "javascript:alert(1)", "https://app.example.com/\r\nSet-Cookie: x=1",
		"\t//evil.example", "https://evil.example%2F@app.example.com/",
	} {
		if res := ask(rd); res.StatusCode != 401 || res.Header.Get("Location") != "" {
			t.Errorf("rd=%q: %d Location %q, want a plain 401", rd, res.StatusCode, res.Header.Get("Location"))
		}
	}
	// Forwarded headers count only from the trusted address: asked about
	// the public path, the proxy's address gets 200, anyone else's call is
	// judged as itself (path "/": 401).
	if s.proxy != "127.0.0.1" {
		for _, c := range []struct {
			hc   *http.Client
			want int
		}{{traefik, 200}, {&http.Client{Timeout: 15 * time.Second}, 401}} {
			req, _ := http.NewRequest("GET", s.sd.url+"/v1/authz", nil)
			req.Header.Set("X-Forwarded-Uri", "/app/public/x")
			res, err := c.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != c.want {
				t.Errorf("X-Forwarded-Uri /app/public/x: %d, want %d", res.StatusCode, c.want)
			}
		}
	}
}

// TestGateway_Bench measures (never asserts) forward-auth decisions per
// second and p99 with wrk, and the proxy's overhead against nginx proxying
// straight to the upstream, all in one run. It runs only with
// SESSIOND_TEST_GATEWAY_BENCH=1 (and wrk installed):
//
//	SESSIOND_TEST_GATEWAY_BENCH=1 go test -run TestGateway_Bench -v ./cmd/sessiond
func TestGateway_Bench(t *testing.T) {
	if os.Getenv("SESSIOND_TEST_GATEWAY_BENCH") != "1" {
		t.Skip("set SESSIOND_TEST_GATEWAY_BENCH=1 to measure the gateway")
	}
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk not installed (apt-get install wrk)")
	}
	dur := os.Getenv("SESSIOND_TEST_GATEWAY_BENCH_DURATION")
	if dur == "" {
		dur = "10s"
	}
	s := startGatewayStack(t, 1)
	a := signIn(t, s, "user@example.com")
	ck := "Cookie: " + a.cookie
	br := "Authorization: Bearer " + a.bearer
	runs := []struct{ name, url, hdr string }{
		{"authz, cookie (sessiond /v1/authz)", s.sd.url + "/v1/authz", ck},
		{"authz, bearer (sessiond /v1/authz)", s.sd.url + "/v1/authz", br},
		{"upstream directly", s.up.URL + "/bench", ""},
		{"nginx → upstream (no auth)", s.ng.URL + "/direct/bench", ""},
		{"nginx auth_request, cookie → upstream", s.ng.URL + "/app/bench", ck},
		{"nginx auth_request, bearer → upstream", s.ng.URL + "/app/bench", br},
		{"sessiond proxy, public route → upstream", s.sd.url + "/app/public/bench", ""},
		{"sessiond proxy, cookie → upstream", s.sd.url + "/app/bench", ck},
		{"sessiond proxy, bearer → upstream", s.sd.url + "/app/bench", br},
	}
	rps := regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	p50 := regexp.MustCompile(`\n\s+50%\s+(\S+)`)
	p99 := regexp.MustCompile(`\n\s+99%\s+(\S+)`)
	non2xx := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	var report strings.Builder
	fmt.Fprintf(&report, "\n| run | requests/s | p50 | p99 | non-2xx |\n|---|---|---|---|---|\n")
	for _, r := range runs {
		args := []string{"-t", "2", "-c", "32", "-d", dur, "--latency"}
		if r.hdr != "" {
			args = append(args, "-H", r.hdr)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		out, err := exec.CommandContext(ctx, wrk, append(args, r.url)...).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("%s: wrk: %v\n%s", r.name, err, out)
		}
		pick := func(re *regexp.Regexp) string {
			if m := re.FindSubmatch(out); m != nil {
				return string(m[1])
			}
			return "0"
		}
		fmt.Fprintf(&report, "| %s | %s | %s | %s | %s |\n", r.name, pick(rps), pick(p50), pick(p99), pick(non2xx))
		shown := strings.Join(args, " ")
		if r.hdr != "" {
			shown = strings.Replace(shown, r.hdr, strings.SplitN(r.hdr, ":", 2)[0]+": <credential>", 1)
		}
		t.Logf("%s: wrk %s %s\n%s", r.name, shown, r.url, out)
	}
	t.Log(report.String())
	fmt.Println(report.String())
}
