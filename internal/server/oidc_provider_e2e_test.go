package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/oidc/oidctest"
	"github.com/sessiond/sessiond/session"
)

// The user e2e/oidc/provider.mjs signs in.
const (
	realOPSubject = "op-user-1"
	realOPEmail   = "ada@example.com"
)

// realOP is the npm package oidc-provider (e2e/oidc/provider.mjs, run by
// node) behind a Go reverse proxy, the "front": the front's URL is the
// issuer, browsers and sessiond reach the provider only through it, and it
// can replace the ID token in token responses (for the forged-token cases)
// while discovery, JWKS, authorization and the code exchange stay the real
// provider's. The provider signs with an RSA key the test made, so a forged
// token can also be re-signed with the provider's own key.
type realOP struct {
	Issuer string
	key    *rsa.PrivateKey
	kid    string
	stdout *syncBuffer
	stderr *syncBuffer

	mu      sync.Mutex
	rewrite func(idToken string) string
}

// needNode returns node and the e2e directory, or skips the test loudly
// (fails it with CI=true) when node or e2e/node_modules/oidc-provider is
// missing.
func needNode(t *testing.T) (node, e2e string) {
	t.Helper()
	e2e, err := filepath.Abs("../../e2e")
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	node, err = exec.LookPath("node")
	if err == nil {
		out, verr := exec.Command(node, "--version").Output()
		v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
		major, _ := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
		if verr != nil || major < 20 {
			err = fmt.Errorf("node %q is older than 20", v)
		}
	}
	if err != nil {
		missing = append(missing, "node ≥ 20 (apt-get install -y nodejs)")
	}
	if _, err := os.Stat(filepath.Join(e2e, "node_modules", "oidc-provider", "package.json")); err != nil {
		missing = append(missing, "e2e/node_modules/oidc-provider (cd e2e && npm ci)")
	}
	if len(missing) > 0 {
		msg := "tests against a real OpenID Provider need " + strings.Join(missing, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: a missing tool fails)", msg)
		}
		fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: %s\n\n", t.Name(), msg)
		t.Skipf("SKIPPED: %s", msg)
	}
	return node, e2e
}

// startRealOP starts oidc-provider with one client, clientID, allowed to
// redirect to redirectURIs and, when backchannel is set, sent back-channel
// logout tokens there. It is stopped by t.Cleanup.
func startRealOP(t *testing.T, clientID, clientSecret string, redirectURIs []string, backchannel string) *realOP {
	t.Helper()
	node, e2e := needNode(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &realOP{key: key, kid: "e2e-rsa-1", stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key, KeyID: op.kid, Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nodePort := freePort(t)
	target := &url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(nodePort)}
	front := &httptest.Server{Listener: ln, Config: &http.Server{Handler: &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host // the provider builds its URLs from the front's host
		},
		ModifyResponse: op.modify,
	}}}
	front.Start()
	t.Cleanup(front.Close)
	op.Issuer = front.URL

	cmd := exec.Command(node, "provider.mjs")
	cmd.Dir = filepath.Join(e2e, "oidc")
	cmd.Env = append(os.Environ(),
		"OP_PORT="+strconv.Itoa(nodePort), "OP_ISSUER="+op.Issuer,
		"OP_CLIENT_ID="+clientID, "OP_CLIENT_SECRET="+clientSecret,
		"OP_REDIRECT_URIS="+strings.Join(redirectURIs, " "), "OP_BACKCHANNEL_URI="+backchannel,
		"OP_JWKS="+string(jwks), "OP_SUBJECT="+realOPSubject, "OP_EMAIL="+realOPEmail)
	cmd.Stderr = op.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start oidc-provider: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			fmt.Fprintln(op.stdout, sc.Text())
			if strings.HasPrefix(sc.Text(), "oidc-provider ready ") {
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
			t.Logf("oidc-provider stdout:\n%s\nstderr:\n%s", op.stdout, op.stderr)
		}
	})
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("oidc-provider exited before it was ready (%v):\n%s", err, op.stderr)
	case <-time.After(15 * time.Second):
		t.Fatalf("oidc-provider not ready within 15 s:\n%s", op.stderr)
	}
	return op
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// setRewrite makes the front replace the ID token of the next token
// responses by fn's result (nil: pass them through).
func (op *realOP) setRewrite(fn func(idToken string) string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.rewrite = fn
}

// modify is the front's ModifyResponse: it rewrites the id_token of a
// successful token response.
func (op *realOP) modify(res *http.Response) error {
	op.mu.Lock()
	fn := op.rewrite
	op.mu.Unlock()
	if fn == nil || res.Request.Method != http.MethodPost || res.Request.URL.Path != "/token" || res.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("front: token response: %w", err)
	}
	idt, _ := v["id_token"].(string)
	if idt == "" {
		return errors.New("front: no id_token in the token response")
	}
	v["id_token"] = fn(idt)
	if body, err = json.Marshal(v); err != nil {
		return err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return nil
}

// resign returns idt with its claims changed by edit, signed again with the
// provider's own key (so only the changed claim is wrong).
func (op *realOP) resign(t *testing.T, edit func(claims map[string]any)) func(string) string {
	return func(idt string) string {
		parts := strings.Split(idt, ".")
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Errorf("resign: %v", err)
			return idt
		}
		d := json.NewDecoder(bytes.NewReader(payload))
		d.UseNumber()
		var claims map[string]any
		if err := d.Decode(&claims); err != nil {
			t.Errorf("resign: %v", err)
			return idt
		}
		edit(claims)
		return op.sign(t, claims, "JWT")
	}
}

// sign signs claims with the provider's key (RS256) under header typ.
func (op *realOP) sign(t *testing.T, claims map[string]any, typ string) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: op.key, KeyID: op.kid}},
		(&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rpEnv is sessiond built from a config file (Build), with provider "op".
type rpEnv struct {
	url  string
	app  *app.App
	log  *syncBuffer
	ids  oidc.IdentityStore
	name string
}

// newRPListener reserves sessiond's loopback URL before the provider
// starts (the provider must know the redirect URI); build wires it.
func newRPListener(t *testing.T) (string, *rpHandler) {
	h := &rpHandler{}
	return newLoopback(t, h.ServeHTTP), h
}

type rpHandler struct {
	mu sync.Mutex
	h  http.Handler
}

func (r *rpHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	h := r.h
	r.mu.Unlock()
	if h == nil {
		http.Error(w, "not built yet", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, req)
}

// buildRP builds sessiond for base with extra config lines (stores) and
// provider "op" at op.
func buildRP(t *testing.T, base string, h *rpHandler, op *realOP, extra string) *rpEnv {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "sessiond.yaml")
	yaml := "base_url: " + base + "\ndata: " + dir + "\n" + extra + "oidc:\n  providers:\n    - name: op\n      issuer: " + op.Issuer +
		"\n      client_id: " + ssoClientID + "\n      client_secret: " + ssoClientSecret + "\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, nil, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	logBuf := &syncBuffer{}
	app, err := app.Build(context.Background(), cfg, slog.New(slog.NewTextHandler(io.MultiWriter(tWriter{t}, logBuf), nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	h.mu.Lock()
	h.h = app.Server
	h.mu.Unlock()
	ids, ok := app.Users.(oidc.IdentityStore)
	if !ok {
		t.Fatalf("users store %T links no identities", app.Users)
	}
	return &rpEnv{url: base, app: app, log: logBuf, ids: ids, name: "op"}
}

// signIn starts a sign-in at sessiond and follows the provider's redirects
// (its login and consent interactions need no form here) until the
// provider sends the browser back; it returns that callback URL, not yet
// visited.
func (b *browser) signIn(rp *rpEnv, op *realOP) string {
	b.t.Helper()
	res := b.get(rp.url + "/v1/oidc/op/start")
	next := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(next, op.Issuer+"/auth?") {
		b.t.Fatalf("start: status %d, Location %q", res.StatusCode, next)
	}
	for range 10 {
		if strings.HasPrefix(next, rp.url+"/v1/oidc/op/callback?") {
			return next
		}
		if !strings.HasPrefix(next, op.Issuer) {
			next = op.Issuer + next // relative redirects within the provider
		}
		res = b.get(next)
		if res.StatusCode/100 != 3 {
			b.t.Fatalf("provider: %s answered %d", next, res.StatusCode)
		}
		next = res.Header.Get("Location")
	}
	b.t.Fatalf("provider never redirected back to sessiond (last: %q)", next)
	return ""
}

// callback visits a callback URL and returns the response (body closed).
func (b *browser) callback(u string) *http.Response {
	b.t.Helper()
	res := b.get(u)
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("callback: status %d", res.StatusCode)
	}
	return res
}

// setsSession reports whether res sets a session cookie.
func setsSession(res *http.Response) bool {
	for _, c := range res.Cookies() {
		if (c.Name == "sessiond" || c.Name == "__Host-sessiond") && c.Value != "" {
			return true
		}
	}
	return false
}

// whoamiID returns the signed-in user's id, or "".
func (b *browser) whoamiID(base string) string {
	b.t.Helper()
	res, err := b.c.Get(base + "/v1/whoami")
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return ""
	}
	var v struct {
		User struct{ ID, Email string } `json:"user"`
	}
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		b.t.Fatal(err)
	}
	return v.User.ID
}

func (b *browser) page(u string) string {
	b.t.Helper()
	res, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body)
}

func newBrowserFor(t *testing.T) *browser {
	e := &ssoEnv{t: t}
	return e.browser()
}

// TestOIDCRealProvider_RefusesBadCallbacks signs in against the npm
// package oidc-provider and bends every part of the response a relying
// party must check: each refusal sets no session cookie, sends the browser
// to the login page with the fixed message, and creates or links nothing.
func TestOIDCRealProvider_RefusesBadCallbacks(t *testing.T) {
	t.Parallel()
	base, h := newRPListener(t)
	op := startRealOP(t, ssoClientID, ssoClientSecret, []string{base + "/v1/oidc/op/callback"}, "")
	rp := buildRP(t, base, h, op, "")

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
	ago := func(d time.Duration) json.Number {
		return json.Number(strconv.FormatInt(time.Now().Add(-d).Unix(), 10))
	}
	cases := []struct {
		name    string
		rewrite func(string) string                            // the front's ID-token rewrite
		edit    func(b *browser, cb string) (*browser, string) // returns who visits which callback
		key     string
		why     string // in the server's log
	}{
		{name: "missing state", edit: func(b *browser, cb string) (*browser, string) { return b, setQuery(cb, "state", "") },
			key: "sso-expired", why: "spent state"},
		{name: "wrong state", edit: func(b *browser, cb string) (*browser, string) {
			return b, setQuery(cb, "state", oidc.NewBinding())
		}, key: "sso-expired", why: "spent state"},
		{name: "replayed state", edit: func(b *browser, cb string) (*browser, string) {
			// The first use is refused too (wrong iss), but it spends the state.
			if got := b.callback(setQuery(cb, "iss", "https://evil.example")).Header.Get("Location"); got != "/login?error=sso-failed" {
				t.Fatalf("first use: %q", got)
			}
			return b, cb
		}, key: "sso-expired", why: "spent state"},
		{name: "callback finished in another browser", edit: func(b *browser, cb string) (*browser, string) {
			victim := newBrowserFor(t)
			victim.signIn(rp, op) // the victim has a flow and binding cookie of its own
			return victim, cb
		}, key: "sso-browser", why: "another browser"},
		{name: "code injected into another browser's flow", edit: func(b *browser, cb string) (*browser, string) {
			victim := newBrowserFor(t)
			vcb := victim.signIn(rp, op)
			// The attacker's code with the victim's state: the provider
			// refuses the victim's PKCE verifier for it.
			return victim, setQuery(vcb, "code", mustURL(cb).Query().Get("code"))
		}, key: "sso-failed", why: "code exchange failed"},
		{name: "wrong iss parameter", edit: func(b *browser, cb string) (*browser, string) {
			return b, setQuery(cb, "iss", op.Issuer+"/other")
		}, key: "sso-failed", why: "issuer mismatch"},
		{name: "missing iss parameter", edit: func(b *browser, cb string) (*browser, string) { return b, setQuery(cb, "iss", "") },
			key: "sso-failed", why: "issuer mismatch"},
		{name: "id token issuer mismatch", rewrite: op.resign(t, func(c map[string]any) { c["iss"] = "https://evil.example" }),
			key: "sso-failed", why: "issued by a different provider"},
		{name: "wrong nonce", rewrite: op.resign(t, func(c map[string]any) { c["nonce"] = oidc.NewBinding() }),
			key: "sso-failed", why: "nonce mismatch"},
		{name: "missing nonce", rewrite: op.resign(t, func(c map[string]any) { delete(c, "nonce") }),
			key: "sso-failed", why: "nonce mismatch"},
		{name: "alg none", rewrite: oidctest.Unsigned, key: "sso-failed", why: `algorithm \"none\"`},
		{name: "HS256 signed with the client secret", rewrite: func(s string) string { return oidctest.HS256(s, []byte(ssoClientSecret)) },
			key: "sso-failed", why: `algorithm \"HS256\"`},
		{name: "bad signature", rewrite: oidctest.BadSignature, key: "sso-failed", why: "failed to verify signature"},
		{name: "wrong aud", rewrite: op.resign(t, func(c map[string]any) { c["aud"] = "another-client" }),
			key: "sso-failed", why: "expected audience"},
		{name: "expired", rewrite: op.resign(t, func(c map[string]any) {
			c["iat"], c["exp"] = ago(10*time.Minute), ago(5*time.Minute)
		}), key: "sso-failed", why: "token is expired"},
		{name: "issued in the future", rewrite: op.resign(t, func(c map[string]any) {
			c["iat"], c["exp"] = ago(-10*time.Minute), ago(-20*time.Minute)
		}), key: "sso-failed", why: "invalid id token: iat"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { // sequential: one provider, one front
			op.setRewrite(tc.rewrite)
			defer op.setRewrite(nil)
			mark := len(rp.log.String())
			b := newBrowserFor(t)
			cb := b.signIn(rp, op)
			if tc.edit != nil {
				b, cb = tc.edit(b, cb)
			}
			res := b.callback(cb)
			if got, want := res.Header.Get("Location"), "/login?error="+tc.key; got != want {
				t.Fatalf("callback redirect = %q, want %q", got, want)
			}
			if setsSession(res) {
				t.Fatal("a refused callback set a session cookie")
			}
			if id := b.whoamiID(rp.url); id != "" {
				t.Fatalf("signed in as %q after a refused callback", id)
			}
			if page := b.page(rp.url + res.Header.Get("Location")); !strings.Contains(page, errorText(t, tc.key)) {
				t.Fatalf("the login page lacks the message for %s", tc.key)
			}
			if log := rp.log.String()[mark:]; !strings.Contains(log, tc.why) {
				t.Fatalf("refused, but not because of %q; log:\n%s", tc.why, log)
			}
			if _, err := rp.app.Users.UserByEmail(context.Background(), realOPEmail); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("a refused sign-in created a user (%v)", err)
			}
			if _, err := rp.ids.IdentityUser(context.Background(), op.Issuer, realOPSubject); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("a refused sign-in linked the identity (%v)", err)
			}
		})
	}
}

// errorText is (the start of) the login page's message for key.
func errorText(t *testing.T, key string) string {
	t.Helper()
	text, ok := map[string]string{
		"sso-expired": "That sign-in had expired or was already used.",
		"sso-browser": "That sign-in was started in another browser.",
		"sso-failed":  "Signing in with the provider failed.",
	}[key]
	if !ok {
		t.Fatalf("no message for %q", key)
	}
	return text
}

// TestOIDCRealProvider_SignIn is the happy path against oidc-provider, on
// the embedded store and on PostgreSQL: a first sign-in creates the user
// and links (iss, sub); a second, in another browser, signs the same user
// in; replaying a used callback signs nobody in.
func TestOIDCRealProvider_SignIn(t *testing.T) {
	t.Parallel()
	backends := []struct {
		name  string
		extra func(t *testing.T) string
	}{
		{"sqlite", func(*testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string {
			dsn := testenv.Postgres(t)
			kek := make([]byte, 32)
			_, _ = rand.Read(kek)
			return "store:\n  users: " + dsn + "\n  sessions: " + dsn + "\ntoken:\n  key_encryption_key: " +
				base64.StdEncoding.EncodeToString(kek) + "\n"
		}},
	}
	var bases []string
	var handlers []*rpHandler
	for range backends {
		base, h := newRPListener(t)
		bases, handlers = append(bases, base), append(handlers, h)
	}
	var redirects []string
	for _, b := range bases {
		redirects = append(redirects, b+"/v1/oidc/op/callback")
	}
	op := startRealOP(t, ssoClientID, ssoClientSecret, redirects, "")
	for i, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			rp := buildRP(t, bases[i], handlers[i], op, be.extra(t))
			ctx := context.Background()
			b := newBrowserFor(t)
			cb := b.signIn(rp, op)
			res := b.callback(cb)
			if got := res.Header.Get("Location"); got != "/account" || !setsSession(res) {
				t.Fatalf("callback: Location %q, session cookie set: %v", got, setsSession(res))
			}
			uid := b.whoamiID(rp.url)
			if uid == "" {
				t.Fatal("not signed in after the callback")
			}
			u, err := rp.app.Users.UserByEmail(ctx, realOPEmail)
			if err != nil || u.ID != uid || u.PasswordHash != "" {
				t.Fatalf("created user = %+v, %v", u, err)
			}
			if linked, err := rp.ids.IdentityUser(ctx, op.Issuer, realOPSubject); err != nil || linked != uid {
				t.Fatalf("identity link = %q, %v; want %q", linked, err, uid)
			}

			// Replaying the used callback, from the same browser: refused,
			// no new cookie, nothing new.
			res = b.callback(cb)
			if got := res.Header.Get("Location"); got != "/login?error=sso-expired" || setsSession(res) {
				t.Fatalf("replayed callback: Location %q, session cookie set: %v", got, setsSession(res))
			}
			list, err := rp.app.Sessions.List(ctx, uid)
			if err != nil || len(list) != 1 {
				t.Fatalf("sessions after a replay = %d, %v; want 1", len(list), err)
			}

			// A second browser: the same user, by (iss, sub).
			b2 := newBrowserFor(t)
			if res := b2.callback(b2.signIn(rp, op)); res.Header.Get("Location") != "/account" {
				t.Fatalf("second sign-in: Location %q", res.Header.Get("Location"))
			}
			if got := b2.whoamiID(rp.url); got != uid {
				t.Fatalf("second sign-in is user %q, want %q", got, uid)
			}
			if list, err := rp.app.Sessions.List(ctx, uid); err != nil || len(list) != 2 {
				t.Fatalf("sessions = %d, %v; want 2", len(list), err)
			}
		})
	}
}

var xsrfField = regexp.MustCompile(`name="xsrf" value="([^"]+)"`)

// TestOIDCRealProvider_BackChannelLogout: signing out at oidc-provider
// (RP-initiated logout, confirmed in its form) makes it post a logout token
// to sessiond, which ends the session that began from that provider
// session, and not the same user's session from another provider session.
func TestOIDCRealProvider_BackChannelLogout(t *testing.T) {
	t.Parallel()
	base, h := newRPListener(t)
	op := startRealOP(t, ssoClientID, ssoClientSecret, []string{base + "/v1/oidc/op/callback"}, base+"/v1/oidc/op/backchannel-logout")
	rp := buildRP(t, base, h, op, "")
	a, b := newBrowserFor(t), newBrowserFor(t)
	for _, br := range []*browser{a, b} {
		if res := br.callback(br.signIn(rp, op)); res.Header.Get("Location") != "/account" {
			t.Fatalf("sign-in: Location %q", res.Header.Get("Location"))
		}
		if br.whoamiID(rp.url) == "" {
			t.Fatal("not signed in")
		}
	}

	page := a.page(op.Issuer + "/session/end?client_id=" + url.QueryEscape(ssoClientID))
	m := xsrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no logout form at the provider:\n%s", page)
	}
	res, err := a.c.PostForm(op.Issuer+"/session/end/confirm", url.Values{"xsrf": {m[1]}, "logout": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout confirm: status %d", res.StatusCode)
	}
	if a.whoamiID(rp.url) != "" {
		t.Fatalf("still signed in at sessiond after logging out at the provider; provider stdout:\n%s\nstderr:\n%s", op.stdout, op.stderr)
	}
	if !strings.Contains(op.stdout.String(), "backchannel.success") {
		t.Fatalf("the provider reports no successful back-channel logout:\n%s", op.stdout)
	}
	if b.whoamiID(rp.url) == "" {
		t.Fatal("the other browser's session (another provider session) ended too")
	}
	if !strings.Contains(rp.log.String(), "by_sid=true") {
		t.Fatal("the logout token was not matched by sid")
	}
}
