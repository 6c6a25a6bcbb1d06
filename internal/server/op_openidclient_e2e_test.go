package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	oauthclient "github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/token"
)

// needOpenIDClient is needNode plus e2e/node_modules/openid-client.
func needOpenIDClient(t *testing.T) (node, e2e string) {
	t.Helper()
	node, e2e = needNode(t)
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "openid-client", "package.json")); err != nil {
		msg := "the openid-client interoperability test needs e2e/node_modules/openid-client (cd e2e && npm ci)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: a missing tool fails)", msg)
		}
		fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: %s\n\n", t.Name(), msg)
		t.Skipf("SKIPPED: %s", msg)
	}
	return node, e2e
}

// realRP is one e2e/oidc-rp/app.mjs process: a relying party built on
// openid-client, at base.
type realRP struct {
	base   string
	out    *syncBuffer
	stderr *syncBuffer
}

// startRealRP starts app.mjs for a client of issuer at http://host:port;
// it is stopped by t.Cleanup.
func startRealRP(t *testing.T, issuer, clientID, secret, host string, port int) *realRP {
	t.Helper()
	node, e2e := needOpenIDClient(t)
	rp := &realRP{base: "http://" + host + ":" + strconv.Itoa(port), out: &syncBuffer{}, stderr: &syncBuffer{}}
	cmd := exec.Command(node, "app.mjs")
	cmd.Dir = filepath.Join(e2e, "oidc-rp")
	cmd.Env = append(os.Environ(), "RP_ISSUER="+issuer, "RP_CLIENT_ID="+clientID, "RP_CLIENT_SECRET="+secret,
		"RP_BASE_URL="+rp.base, "RP_PORT="+strconv.Itoa(port))
	cmd.Stderr = rp.stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", clientID, err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		once := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			fmt.Fprintln(rp.out, sc.Text())
			if sc.Text() == "READY "+strconv.Itoa(port) {
				once()
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\nstderr:\n%s", clientID, rp.out, rp.stderr)
		}
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("%s exited before it was ready (%v):\n%s%s", clientID, err, rp.out, rp.stderr)
	case <-time.After(15 * time.Second):
		t.Fatalf("%s not ready within 15 s:\n%s", clientID, rp.stderr)
	}
	return rp
}

// recorder is a browser's transport that remembers every request.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+req.URL.String())
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) since(mark int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen[mark:]...)
}

func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// rpBrowser is one browser (one cookie jar) that follows redirects.
type rpBrowser struct {
	t   *testing.T
	c   *http.Client
	rec *recorder
}

func (b *rpBrowser) do(method, u string, form url.Values) (int, string, *http.Response) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", formCT)
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	s, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(s), res
}

// json does a request and decodes a JSON answer of the wanted status.
func (b *rpBrowser) json(method, u string, status int) map[string]any {
	b.t.Helper()
	got, body, res := b.do(method, u, nil)
	if got != status {
		b.t.Fatalf("%s %s (ended at %s): status %d, want %d: %s", method, u, res.Request.URL, got, status, body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		b.t.Fatalf("%s %s: %v: %s", method, u, err, body)
	}
	return v
}

// TestOP_OpenIDClientInterop runs sessiond as the OpenID Provider of two
// relying parties built on the npm package openid-client (e2e/oidc-rp), on
// different origins, driven by one Go "browser": a password sign-in at the
// first app, single sign-on at the second, refresh, introspection and
// revocation through openid-client, then RP-initiated logout that reaches
// both apps by back-channel logout.
func TestOP_OpenIDClientInterop(t *testing.T) {
	t.Parallel()
	needOpenIDClient(t) // before any server starts

	// sessiond on a loopback URL that is also its issuer; real time, as
	// openid-client checks iat and exp against its own clock.
	issuer, h := newRPListener(t)
	st := memstore.New(time.Now)
	acc := &account.Service{Store: st, Hasher: cheapHasher(), Now: time.Now}
	mgr, err := session.NewManager(session.Config{Store: st, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	tokens := newTokensAt(t, st, issuer)
	s, err := server.New(server.Options{Sessions: mgr, Accounts: acc, Users: st, Tokens: tokens, Now: time.Now,
		Provider: &server.ProviderOptions{Store: st, HTTPClient: &http.Client{Timeout: 2 * time.Second},
			RetryDelays: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}}})
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.h = s
	h.mu.Unlock()
	u, err := acc.Register(context.Background(), "ada@example.com", pw, []string{"dev"}, "org-1")
	if err != nil {
		t.Fatal(err)
	}

	// Two confidential, first-party clients on different origins.
	type app struct {
		id, secret, host string
		port             int
		rp               *realRP
	}
	apps := []*app{{id: "app-one", host: "127.0.0.1", port: freePort(t)}, {id: "app-two", host: "localhost", port: freePort(t)}}
	for _, a := range apps {
		base := "http://" + a.host + ":" + strconv.Itoa(a.port)
		a.secret, _ = oauthclient.NewSecret()
		c := &oauthclient.Client{ID: a.id, Name: "App " + a.id, FirstParty: true, SecretHash: oauthclient.HashSecret(a.secret),
			Grants:       []string{oauthclient.GrantAuthorizationCode, oauthclient.GrantRefreshToken},
			RedirectURIs: []string{base + "/callback", base + "/logged-out"}, BackchannelLogoutURI: base + "/backchannel",
			CreatedAt: time.Now()}
		if err := oauthclient.Validate(c); err != nil {
			t.Fatalf("client %s: %v", a.id, err)
		}
		if err := st.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range apps {
		a.rp = startRealRP(t, issuer, a.id, a.secret, a.host, a.port)
	}
	t.Cleanup(s.WaitBackchannel) // before the apps stop: cleanups run last-in first-out
	one, two := apps[0].rp, apps[1].rp

	jar, _ := cookiejar.New(nil)
	rec := &recorder{}
	b := &rpBrowser{t: t, rec: rec, c: &http.Client{Jar: jar, Transport: rec, Timeout: 10 * time.Second}}
	isLoginPage := func(req string) bool {
		p, _ := url.Parse(strings.SplitN(req, " ", 2)[1])
		return p.Scheme+"://"+p.Host == issuer && p.Path == "/login"
	}

	// App one: the browser ends at sessiond's login page, with the
	// authorization request to return to.
	status, page, res := b.do("GET", one.base+"/login", nil)
	if status != http.StatusOK || res.Request.URL.Path != "/login" || !strings.HasPrefix(res.Request.URL.String(), issuer+"/login?return_to=") {
		t.Fatalf("app one /login ended at %s with %d", res.Request.URL, status)
	}
	m := returnToField.FindStringSubmatch(page)
	c := csrfField.FindStringSubmatch(page)
	if m == nil || c == nil {
		t.Fatalf("login page without return_to or csrf_token:\n%s", page)
	}
	ret := html.UnescapeString(m[1])
	if !strings.HasPrefix(ret, "/v1/authorize?") {
		t.Fatalf("return_to %q", ret)
	}
	status, body, res := b.do("POST", issuer+"/login", url.Values{"email": {"ada@example.com"}, "password": {pw},
		"csrf_token": {c[1]}, "return_to": {ret}})
	if status != http.StatusOK || res.Request.URL.String() != one.base+"/me" {
		t.Fatalf("after the login form: %d at %s: %s", status, res.Request.URL, body)
	}
	me1 := b.json("GET", one.base+"/me", http.StatusOK)
	if me1["sub"] != u.ID || me1["email"] != "ada@example.com" || me1["sid"] == "" || me1["sid"] == nil {
		t.Fatalf("app one /me: %v", me1)
	}

	// App two, another origin: signed in without any password prompt, as
	// the same user in the same sessiond session.
	mark := rec.mark()
	me2 := b.json("GET", two.base+"/login", http.StatusOK) // /login → authorize → /callback → /me
	for _, r := range rec.since(mark) {
		if isLoginPage(r) {
			t.Fatalf("app two's sign-in went through the login page: %v", rec.since(mark))
		}
	}
	if me2["sub"] != u.ID || me2["email"] != "ada@example.com" || me2["sid"] != me1["sid"] {
		t.Fatalf("app two /me: %v; app one: %v", me2, me1)
	}

	// refresh_token grant through openid-client, and the new access token works.
	rf := b.json("POST", one.base+"/refresh", http.StatusOK)
	if rf["access_rotated"] != true || rf["refresh_rotated"] != true || rf["token_type"] != "bearer" && rf["token_type"] != "Bearer" {
		t.Fatalf("app one /refresh: %v", rf)
	}
	if me := b.json("GET", one.base+"/me", http.StatusOK); me["sub"] != u.ID {
		t.Fatalf("/me after refresh: %v", me)
	}

	// Introspection (RFC 7662) of both tokens, then revocation (RFC 7009).
	for _, which := range []string{"access", "refresh"} {
		in := b.json("POST", one.base+"/introspect?which="+which, http.StatusOK)
		if in["active"] != true || in["sub"] != u.ID || in["client_id"] != "app-one" {
			t.Fatalf("introspect %s: %v", which, in)
		}
	}
	for _, which := range []string{"access", "refresh"} {
		rv := b.json("POST", one.base+"/revoke?which="+which, http.StatusOK)
		in, _ := rv["introspection"].(map[string]any)
		if rv["revoked"] != which || in == nil || in["active"] != false || len(in) != 1 {
			t.Fatalf("revoke %s: %v", which, rv)
		}
	}
	if status, body, _ := b.do("GET", one.base+"/me", nil); status != http.StatusBadGateway {
		t.Fatalf("app one /me with a revoked access token: %d %s", status, body)
	}
	// A fresh silent sign-in at app one, again without the login page.
	mark = rec.mark()
	if me := b.json("GET", one.base+"/login", http.StatusOK); me["sub"] != u.ID || me["sid"] != me1["sid"] {
		t.Fatalf("app one, second sign-in: %v", me)
	}
	for _, r := range rec.since(mark) {
		if isLoginPage(r) {
			t.Fatalf("app one's second sign-in went through the login page: %v", rec.since(mark))
		}
	}

	// The apps' back-channel endpoints refuse what is not a logout token:
	// sessiond's ID tokens (typ JWT, no events) included.
	for _, rp := range []*realRP{one, two} {
		for name, tok := range map[string]string{"garbage": "not-a-jwt", "an ID token": me1["id_token"].(string)} {
			if status, body, _ := b.do("POST", rp.base+"/backchannel", url.Values{"logout_token": {tok}}); status != http.StatusBadRequest {
				t.Fatalf("%s accepted %s as a logout token: %d %s", rp.base, name, status, body)
			}
		}
	}

	// RP-initiated logout from app one: sessiond ends the session, sends the
	// browser back to app one's registered post-logout URI, and both apps
	// hear of it by back-channel logout.
	out := b.json("GET", one.base+"/logout", http.StatusOK)
	if out["logged_out"] != true || out["state"] != "bye" {
		t.Fatalf("logout ended with %v", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, rp := range []*realRP{one, two} {
		for {
			status, body, _ := b.do("GET", rp.base+"/me", nil)
			if status == http.StatusUnauthorized {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s /me still %d 5 s after logout: %s", rp.base, status, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, rp := range []*realRP{one, two} {
		if !strings.Contains(rp.out.String(), "backchannel ok sub="+u.ID+" sid="+me1["sid"].(string)) {
			t.Fatalf("%s logged no accepted back-channel logout:\n%s", rp.base, rp.out)
		}
	}
	if status, body, _ := b.do("GET", issuer+"/v1/whoami", nil); status != http.StatusUnauthorized {
		t.Fatalf("sessiond whoami after logout: %d %s", status, body)
	}
	t.Logf("app one:\n%sapp two:\n%s", one.out, two.out)
}

// newTokensAt is newTokens for issuer on the real clock.
func newTokensAt(t *testing.T, st *memstore.Store, issuer string) *server.Tokens {
	t.Helper()
	keys, err := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{Alg: token.EdDSA, TokenTTL: 15 * time.Minute, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	aud := []string{issuer}
	iss, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: issuer, Audience: aud, TTL: 15 * time.Minute, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	ver, err := token.NewVerifier(keys, token.VerifierConfig{Issuer: issuer, Audience: issuer, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := refresh.New(refresh.Config{Store: st, Now: time.Now, Grace: 10 * time.Second, AccessTTL: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return &server.Tokens{Keys: keys, Issuer: iss, Verifier: ver, Refresh: rs, Users: st, Clients: st,
		IssuerURL: issuer, Audience: aud, AccessTTL: 15 * time.Minute, Now: time.Now}
}
