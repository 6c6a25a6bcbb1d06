package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/session"
)

const (
	uaFirefox = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"
	uaSafari  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	formCT    = "application/x-www-form-urlencoded"
)

type pageEnvOptions struct {
	envOptions
	allowed  []string
	branding server.Branding
}

// newPageEnv is newEnv with the pages' options set: the same stores, clock
// and services, served by a server built with branding and an allow-list,
// its base URL the address it listens on (as base_url defaults to).
func newPageEnv(t *testing.T, opt pageEnvOptions) *env {
	t.Helper()
	e := newEnv(t, opt.envOptions)
	hs := httptest.NewUnstartedServer(nil)
	scheme := "http://"
	if opt.tls {
		scheme = "https://"
	}
	s, err := server.New(server.Options{Sessions: e.sessions, Accounts: e.accounts, Users: e.store, Tokens: e.tokens,
		Ready: opt.ready, TrustedProxies: opt.trusted, Branding: opt.branding, AllowedRedirectHosts: opt.allowed, Now: e.clock.Now,
		BaseURL: scheme + hs.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = s
	if opt.tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	e.srv = hs
	return e
}

var (
	csrfField  = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	alertText  = regexp.MustCompile(`role="alert"[^>]*>([^<]*)<`)
	statusText = regexp.MustCompile(`role="status"[^>]*>([^<]*)<`)
)

func (c *client) page(path string, hdr ...string) *resp {
	c.e.t.Helper()
	return c.do("GET", path, nil, hdr...)
}

// csrfToken reads the form token from a page.
func csrfToken(t *testing.T, r *resp) string {
	t.Helper()
	m := csrfField.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("%s: no csrf_token field in\n%s", r.Request.URL.Path, r.body)
	}
	return string(m[1])
}

func alertOf(r *resp) string {
	if m := alertText.FindSubmatch(r.body); m != nil {
		return string(m[1])
	}
	return ""
}

func noticeOf(r *resp) string {
	if m := statusText.FindSubmatch(r.body); m != nil {
		return string(m[1])
	}
	return ""
}

// formLogin signs in through GET and POST /login like a browser.
func (c *client) formLogin(email, password string, hdr ...string) *resp {
	c.e.t.Helper()
	tok := csrfToken(c.e.t, c.page("/login", hdr...))
	return c.form("/login", url.Values{"email": {email}, "password": {password}, "csrf_token": {tok}}, hdr...)
}

func wantStatus(t *testing.T, r *resp, status int) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", r.Request.Method, r.Request.URL, r.StatusCode, status, r.body)
	}
}

func wantRedirect(t *testing.T, r *resp, location string) {
	t.Helper()
	wantStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != location {
		t.Fatalf("%s %s: Location %q, want %q", r.Request.Method, r.Request.URL, got, location)
	}
}

func wantPageHeaders(t *testing.T, r *resp) {
	t.Helper()
	h := r.Header
	csp := h.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "style-src 'self'", "img-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: CSP %q lacks %s", r.Request.URL.Path, csp, d)
		}
	}
	if strings.Contains(csp, "unsafe") || strings.Contains(csp, "script-src") {
		t.Errorf("%s: CSP allows scripts: %q", r.Request.URL.Path, csp)
	}
	for k, v := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "same-origin", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff"} {
		if h.Get(k) != v {
			t.Errorf("%s: %s = %q, want %q", r.Request.URL.Path, k, h.Get(k), v)
		}
	}
	if r.StatusCode != http.StatusSeeOther && h.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("%s: Content-Type %q", r.Request.URL.Path, h.Get("Content-Type"))
	}
	if strings.Contains(string(r.body), "<script") || strings.Contains(string(r.body), " style=") {
		t.Errorf("%s: inline script or style in the page", r.Request.URL.Path)
	}
}

func TestLoginPage_RendersWithHeadersAndAssets(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{branding: server.Branding{Name: "Acme Login", LogoURL: "https://cdn.acme.test/logo.svg", PrimaryColor: "#1A73E8"},
		allowed: []string{"app.example.com"}})
	c := e.client()
	r := c.page("/login")
	wantStatus(t, r, 200)
	wantPageHeaders(t, r)
	body := string(r.body)
	for _, want := range []string{`<form method="post" action="/login"`, `<label for="email">`, `<label for="password">`,
		`type="password"`, `autocomplete="current-password"`, "Acme Login", `src="https://cdn.acme.test/logo.svg"`} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "img-src 'self' https://cdn.acme.test;") || !strings.Contains(csp, "form-action 'self' app.example.com:*;") {
		t.Errorf("CSP %q: logo origin or allowed host missing", csp)
	}
	if csrfToken(t, r) == "" || !strings.Contains(r.Header.Get("Set-Cookie"), "sessiond-login=") ||
		!strings.Contains(r.Header.Get("Set-Cookie"), "HttpOnly") || !strings.Contains(r.Header.Get("Set-Cookie"), "SameSite=Strict") {
		t.Errorf("login CSRF cookie: %q", r.Header.Get("Set-Cookie"))
	}
	// The second visit reuses the browser's token.
	if csrfToken(t, c.page("/login")) != csrfToken(t, r) {
		t.Error("the login token changed between two visits")
	}
	// Stylesheets: content-hashed URLs, cached for a year.
	for _, re := range []string{`href="(/assets/style\.css\?v=[0-9a-f]+)"`, `href="(/assets/theme\.css\?v=[0-9a-f]+)"`} {
		m := regexp.MustCompile(re).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no %s in the page", re)
		}
		a := c.page(m[1])
		wantStatus(t, a, 200)
		if a.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || a.Header.Get("Content-Type") != "text/css; charset=utf-8" {
			t.Errorf("%s: %v", m[1], a.Header)
		}
		if strings.Contains(m[1], "theme") && !strings.Contains(string(a.body), "--brand:#1a73e8") {
			t.Errorf("theme.css lacks the brand colour: %s", a.body)
		}
	}
}

func TestLoginForm_SignsInAndRedirects(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	r := c.formLogin("a@example.com", pw)
	wantRedirect(t, r, "/account")
	wantPageHeaders(t, r)
	ck := setCookieHeader(r)
	if !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Lax") || !strings.Contains(ck, "Path=/") {
		t.Errorf("session cookie %q", ck)
	}
	a := c.page("/account")
	wantStatus(t, a, 200)
	wantPageHeaders(t, a)
	if !strings.Contains(string(a.body), "a@example.com") {
		t.Fatal("the account page does not show the user")
	}
	// Behind a proxy with Basic authentication the cookie still counts.
	wantStatus(t, c.page("/account", "Authorization", "Basic dXNlcjpwYXNz"), 200)
	// Signed in already: /login goes straight on.
	wantRedirect(t, c.page("/login"), "/account")
	wantRedirect(t, c.page("/login?return_to=%2Fv1%2Fwhoami"), "/v1/whoami")
}

// Rule 17 on the form: unknown email and wrong password read the same.
func TestLoginForm_NoEnumeration(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{})
	e.addUser("a@example.com", pw)
	wrong := e.client().formLogin("a@example.com", "not the password at all")
	unknown := e.client().formLogin("nobody@example.com", "not the password at all")
	invalid := e.client().formLogin("not-an-email", "not the password at all")
	for _, r := range []*resp{wrong, unknown, invalid} {
		wantStatus(t, r, http.StatusUnauthorized)
		wantPageHeaders(t, r)
		if got := alertOf(r); got != "The email or password is incorrect." {
			t.Errorf("message %q", got)
		}
		if setCookieHeader(r) != "" {
			t.Error("a failed login set a session cookie")
		}
	}
	norm := func(r *resp, email string) string {
		return strings.ReplaceAll(strings.ReplaceAll(string(r.body), email, "EMAIL"), csrfToken(t, r), "TOKEN")
	}
	if norm(wrong, "a@example.com") != norm(unknown, "nobody@example.com") {
		t.Error("the page for an unknown email differs from the one for a wrong password")
	}
	empty := e.client().formLogin("a@example.com", "")
	wantStatus(t, empty, http.StatusBadRequest)
	if alertOf(empty) != "Enter your email and password." {
		t.Errorf("empty password: %q", alertOf(empty))
	}
}

func TestLoginForm_RateLimitSaysHowLong(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{envOptions: envOptions{perAcct: ratelimit.Rate{N: 2, Per: time.Minute}}})
	e.addUser("a@example.com", pw)
	c := e.client()
	for range 2 {
		wantStatus(t, c.formLogin("a@example.com", "wrong password here"), http.StatusUnauthorized)
	}
	r := c.formLogin("a@example.com", pw)
	wantStatus(t, r, http.StatusTooManyRequests)
	ra := r.Header.Get("Retry-After")
	if ra == "" || alertOf(r) != "Too many attempts. Try again in "+ra+" seconds." {
		t.Fatalf("Retry-After %q, message %q", ra, alertOf(r))
	}
}

// Rule 20 on the login form.
func TestLoginForm_ReturnTo(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{allowed: []string{"app.example.com", "*.tools.example.com"}})
	e.addUser("a@example.com", pw)
	self := e.srv.URL
	tests := []struct {
		returnTo, want string
	}{
		{"", "/account"},
		{"/v1/whoami", "/v1/whoami"},
		{"/account?tab=devices", "/account?tab=devices"},
		{self + "/account", self + "/account"},
		{"https://app.example.com/home", "https://app.example.com/home"},
		{"https://x.tools.example.com/", "https://x.tools.example.com/"},
		{"//evil.com", "/account"},
		{"/\\evil.com", "/account"},
		{"https://evil.com/", "/account"},
		{"https:evil.com", "/account"},
		{"/%2F%2Fevil.com", "/account"},
		{"https://app.example.com@evil.com/", "/account"},
		{"javascript:alert(1)", "/account"},
		{"/account\r\nSet-Cookie: x=y", "/account"},
	}
	for _, tt := range tests {
		t.Run(tt.returnTo, func(t *testing.T) {
			c := e.client()
			g := c.page("/login?return_to=" + url.QueryEscape(tt.returnTo))
			wantStatus(t, g, 200)
			hidden := strings.Contains(string(g.body), `name="return_to"`)
			if hidden != (tt.want != "/account" || tt.returnTo == "/account") {
				t.Errorf("return_to %q carried in the form: %v", tt.returnTo, hidden)
			}
			// The POST checks again, whatever the form says.
			r := c.form("/login", url.Values{"email": {"a@example.com"}, "password": {pw}, "csrf_token": {csrfToken(t, g)},
				"return_to": {tt.returnTo}})
			wantRedirect(t, r, tt.want)
		})
	}
}

// Rule 6 on the login form: a cross-site post is refused before anything
// happens, and the form needs its token.
func TestLoginForm_CSRF(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	tok := csrfToken(t, c.page("/login"))
	v := url.Values{"email": {"a@example.com"}, "password": {pw}, "csrf_token": {tok}}
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "same-site"}, {"Origin", "https://evil.example"}} {
		r := c.form("/login", v, hdr...)
		wantStatus(t, r, http.StatusForbidden)
		wantPageHeaders(t, r)
		if setCookieHeader(r) != "" {
			t.Fatalf("cross-site login (%v) set a session cookie", hdr)
		}
	}
	// Without the token, or with another one.
	other := "x" + tok[1:] // another token: one character changed, never to itself
	if tok[0] == 'x' {
		other = "y" + tok[1:]
	}
	bad := url.Values{"email": {"a@example.com"}, "password": {pw}, "csrf_token": {other}}
	for _, body := range []url.Values{{"email": {"a@example.com"}, "password": {pw}}, bad} {
		r := c.form("/login", body)
		wantStatus(t, r, http.StatusForbidden)
		if setCookieHeader(r) != "" || !strings.Contains(alertOf(r), "expired") {
			t.Fatalf("login without the right token: %q", alertOf(r))
		}
	}
	// A fresh browser posting straight away has no token cookie.
	r := e.client().form("/login", v)
	wantStatus(t, r, http.StatusForbidden)
	// JSON to the form endpoint is not read.
	wantStatus(t, c.do("POST", "/login", `{"email":"a@example.com"}`), http.StatusBadRequest)
	// Same origin with the token: fine.
	wantRedirect(t, c.form("/login", v, "Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL), "/account")
}

// Rule 2 on the login form: a cookie sent along is ended, never adopted.
func TestFixation_FormLoginEndsPresentedSession(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{})
	e.addUser("a@example.com", pw)
	victim := e.client()
	tok := csrfToken(t, victim.page("/login"))
	want(t, victim.login("a@example.com", pw), 200, "")
	old := victim.cookie().Value
	wantRedirect(t, victim.form("/login", url.Values{"email": {"a@example.com"}, "password": {pw}, "csrf_token": {tok}}), "/account")
	if victim.cookie().Value == old {
		t.Fatal("form login kept the presented session token")
	}
	replay := e.client()
	replay.setCookie(session.CookieName, old)
	want(t, replay.do("GET", "/v1/whoami", nil), 401, "unauthorized")
}

func TestAccountPage_RequiresSession(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{})
	c := e.client()
	r := c.page("/account")
	wantRedirect(t, r, "/login?return_to=%2Faccount")
	wantPageHeaders(t, r)
	// A dead cookie is cleared on the way.
	c.setCookie(session.CookieName, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	r = c.page("/account")
	wantRedirect(t, r, "/login?return_to=%2Faccount")
	if !strings.Contains(setCookieHeader(r), "Max-Age=0") {
		t.Errorf("dead cookie not cleared: %q", setCookieHeader(r))
	}
	// The actions too.
	wantRedirect(t, c.form("/account/sign-out-everywhere", url.Values{"csrf_token": {"x"}}), "/login?return_to=%2Faccount")
}

func TestAccountPage_ListsDevices(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{})
	e.addUser("a@example.com", pw, "dev", "ops")
	laptop, phone := e.client(), e.client()
	wantRedirect(t, laptop.formLogin("a@example.com", pw, "User-Agent", uaFirefox), "/account")
	e.clock.Advance(5 * time.Minute)
	wantRedirect(t, phone.formLogin("a@example.com", pw, "User-Agent", uaSafari), "/account")
	passwordGrant(t, e, "a@example.com", pw) // an app's token sign-in
	e.clock.Advance(2 * time.Minute)
	r := laptop.page("/account", "User-Agent", uaFirefox)
	wantStatus(t, r, 200)
	wantPageHeaders(t, r)
	body := string(r.body)
	if n := strings.Count(body, `<tr class="device`); n != 3 {
		t.Fatalf("%d device rows, want 3:\n%s", n, body)
	}
	for _, want := range []string{"a@example.com", `<span class="tag">dev</span>`, `<span class="tag">ops</span>`,
		"Firefox 127 on Linux", "Safari 17 on iOS", "Go-http-client 1", `<span class="tag">app</span>`,
		"127.0.0.1", "7 minutes ago", "2 minutes ago", "This device"} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	// "This device" is the laptop's row, listed first.
	first := body[strings.Index(body, `<tr class="device`):]
	first = first[:strings.Index(first, "</tr>")]
	if !strings.Contains(first, "current") || !strings.Contains(first, "Firefox") || strings.Count(body, "This device") != 1 {
		t.Errorf("first row is not this device: %s", first)
	}
	// Every form carries the session's CSRF token.
	if n := strings.Count(body, `name="csrf_token" value="`+csrfToken(t, r)+`"`); n < 7 {
		t.Errorf("%d forms carry the token", n)
	}
}

// accountToken opens the account page and returns its CSRF token.
func (c *client) accountToken() string {
	c.e.t.Helper()
	r := c.page("/account")
	wantStatus(c.e.t, r, 200)
	return csrfToken(c.e.t, r)
}

var deviceRow = regexp.MustCompile(`<tr class="device( current)?" data-device="([^"]+)"`)

// deviceIDs lists the devices on an account page: this one and the others.
func deviceIDs(t *testing.T, r *resp) (current string, others []string) {
	t.Helper()
	for _, m := range deviceRow.FindAllSubmatch(r.body, -1) {
		if len(m[1]) > 0 {
			current = string(m[2])
		} else {
			others = append(others, string(m[2]))
		}
	}
	return current, others
}

func TestAccountActions(t *testing.T) {
	t.Parallel()
	setup := func(t *testing.T) (e *env, me, other *client) {
		e = newPageEnv(t, pageEnvOptions{})
		e.addUser("a@example.com", pw)
		e.addUser("b@example.com", pw)
		me, other = e.client(), e.client()
		wantRedirect(t, me.formLogin("a@example.com", pw), "/account")
		wantRedirect(t, other.formLogin("a@example.com", pw), "/account")
		return e, me, other
	}
	signedIn := func(c *client) bool { return c.page("/account").StatusCode == 200 }

	t.Run("sign out one device", func(t *testing.T) {
		t.Parallel()
		e, me, other := setup(t)
		r := me.page("/account")
		_, others := deviceIDs(t, r)
		if len(others) != 1 {
			t.Fatalf("other devices: %v", others)
		}
		target := others[0]
		res := me.form("/account/sign-out", url.Values{"csrf_token": {csrfToken(t, r)}, "device": {target}})
		wantRedirect(t, res, "/account?done=device")
		wantPageHeaders(t, res)
		if signedIn(other) {
			t.Fatal("the signed-out device is still signed in")
		}
		a := me.page("/account?done=device")
		if _, others := deviceIDs(t, a); noticeOf(a) != "Signed out of 1 device." || len(others) != 0 {
			t.Fatalf("after sign-out: notice %q, other devices %v", noticeOf(a), others)
		}
		// Another user's device, or one already gone: nothing happens, and
		// it does not say which.
		stranger := e.client()
		wantRedirect(t, stranger.formLogin("b@example.com", pw), "/account")
		theirs, _ := deviceIDs(t, stranger.page("/account"))
		wantRedirect(t, me.form("/account/sign-out", url.Values{"csrf_token": {me.accountToken()}, "device": {theirs}}), "/account?done=gone")
		wantRedirect(t, me.form("/account/sign-out", url.Values{"csrf_token": {me.accountToken()}, "device": {target}}), "/account?done=gone")
		if !signedIn(stranger) {
			t.Fatal("another user's session was ended")
		}
		// This device: back to the login page, cookie cleared.
		mine, _ := deviceIDs(t, me.page("/account"))
		res = me.form("/account/sign-out", url.Values{"csrf_token": {me.accountToken()}, "device": {mine}})
		wantRedirect(t, res, "/login?done=signed-out")
		if !strings.Contains(setCookieHeader(res), "Max-Age=0") || signedIn(me) {
			t.Fatal("signing out this device left it signed in")
		}
		if l := me.page("/login?done=signed-out"); noticeOf(l) != "You have signed out." {
			t.Errorf("login notice %q", noticeOf(l))
		}
	})

	t.Run("sign out everywhere else", func(t *testing.T) {
		t.Parallel()
		e, me, other := setup(t)
		tk := passwordGrant(t, e, "a@example.com", pw)
		wantRedirect(t, me.form("/account/sign-out-others", url.Values{"csrf_token": {me.accountToken()}}), "/account?done=others")
		if signedIn(other) || !signedIn(me) {
			t.Fatal("sign out everywhere else: wrong sessions ended")
		}
		oauthWant(t, e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}}), 400, "invalid_grant")
		if a := me.page("/account?done=others"); noticeOf(a) != "Signed out of every other device." {
			t.Errorf("notice %q", noticeOf(a))
		}
	})

	t.Run("sign out everywhere", func(t *testing.T) {
		t.Parallel()
		e, me, other := setup(t)
		tk := passwordGrant(t, e, "a@example.com", pw)
		res := me.form("/account/sign-out-everywhere", url.Values{"csrf_token": {me.accountToken()}})
		wantRedirect(t, res, "/login?done=signed-out-everywhere")
		if signedIn(other) || signedIn(me) {
			t.Fatal("sign out everywhere left a session")
		}
		want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	})

	t.Run("change password", func(t *testing.T) {
		t.Parallel()
		e, me, other := setup(t)
		before := me.cookie().Value
		const next = "a brand new passphrase"
		res := me.form("/account/password", url.Values{"csrf_token": {me.accountToken()}, "current_password": {pw}, "new_password": {next}})
		wantRedirect(t, res, "/account?done=password")
		if me.cookie().Value == before {
			t.Fatal("the session kept its ID across a password change")
		}
		if signedIn(other) || !signedIn(me) {
			t.Fatal("password change: wrong sessions ended")
		}
		if a := me.page("/account?done=password"); noticeOf(a) != "Password changed; other devices were signed out." {
			t.Errorf("notice %q", noticeOf(a))
		}
		wantStatus(t, e.client().formLogin("a@example.com", pw), http.StatusUnauthorized)
		wantRedirect(t, e.client().formLogin("a@example.com", next), "/account")
	})

	t.Run("password feedback", func(t *testing.T) {
		t.Parallel()
		_, me, other := setup(t)
		for _, tt := range []struct{ current, next, msg string }{
			{"wrong current password", "another fine passphrase", "The current password is incorrect."},
			{pw, "short", "Choose another new password: password must be at least 8 characters long."},
			{pw, "password123", "Choose another new password: password is too common; choose one that is harder to guess."},
			{"", "", "Enter your current password and a new one."},
		} {
			r := me.form("/account/password", url.Values{"csrf_token": {me.accountToken()}, "current_password": {tt.current}, "new_password": {tt.next}})
			wantStatus(t, r, http.StatusBadRequest)
			wantPageHeaders(t, r)
			if got := alertOf(r); got != tt.msg {
				t.Errorf("feedback %q, want %q", got, tt.msg)
			}
		}
		if !signedIn(other) {
			t.Fatal("a refused password change signed other devices out")
		}
	})
}

// Rule 6 on the account page: every action needs same-origin and the
// session's CSRF token, and nothing changes without them.
func TestAccountActions_NeedCSRF(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{})
	e.addUser("a@example.com", pw)
	me, other := e.client(), e.client()
	wantRedirect(t, me.formLogin("a@example.com", pw), "/account")
	wantRedirect(t, other.formLogin("a@example.com", pw), "/account")
	tok := me.accountToken()
	otherTok := other.accountToken()
	otherID, _ := deviceIDs(t, other.page("/account"))
	actions := map[string]url.Values{
		"/account/sign-out":            {"device": {otherID}},
		"/account/sign-out-others":     {},
		"/account/sign-out-everywhere": {},
		"/account/password":            {"current_password": {pw}, "new_password": {"a brand new passphrase"}},
	}
	for path, v := range actions {
		attempts := []struct {
			token string
			hdr   []string
		}{
			{"", nil},                     // no token
			{otherTok, nil},               // another session's token
			{tok[:len(tok)-1] + "x", nil}, // a forged one
			{tok, []string{"Sec-Fetch-Site", "cross-site"}},
			{tok, []string{"Sec-Fetch-Site", "same-site"}},
			{tok, []string{"Origin", "https://evil.example"}},
		}
		for _, a := range attempts {
			body := url.Values{}
			for k, vs := range v {
				body[k] = vs
			}
			if a.token != "" {
				body.Set("csrf_token", a.token)
			}
			r := me.form(path, body, a.hdr...)
			wantStatus(t, r, http.StatusForbidden)
			wantPageHeaders(t, r)
		}
	}
	if me.page("/account").StatusCode != 200 || other.page("/account").StatusCode != 200 {
		t.Fatal("a refused action changed something")
	}
	wantStatus(t, e.client().formLogin("a@example.com", pw), http.StatusSeeOther)
	// GET never changes anything.
	wantStatus(t, me.page("/account/sign-out-everywhere"), http.StatusMethodNotAllowed)
}

func TestAccountPage_NoticesAreFixedTexts(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	wantRedirect(t, c.formLogin("a@example.com", pw), "/account")
	for _, q := range []string{"done=%3Cscript%3Ealert(1)%3C/script%3E", "done=Signed+out+of+1+device.", "done=signed-out"} {
		r := c.page("/account?" + q)
		if noticeOf(r) != "" || strings.Contains(string(r.body), "alert(1)") {
			t.Errorf("?%s: notice %q", q, noticeOf(r))
		}
	}
}

// Rule 22 on the pages: a store outage is a 503 page, never a signed-in page.
func TestAccountPage_FailClosed(t *testing.T) {
	t.Parallel()
	f := &flaky{}
	e := newPageEnv(t, pageEnvOptions{envOptions: envOptions{wrap: func(b session.Backend) session.Backend { f.Backend = b; return f }}})
	e.addUser("a@example.com", pw)
	c := e.client()
	wantRedirect(t, c.formLogin("a@example.com", pw), "/account")
	f.down.Store(true)
	r := c.page("/account")
	wantStatus(t, r, http.StatusServiceUnavailable)
	wantPageHeaders(t, r)
	if strings.Contains(string(r.body), "a@example.com") || strings.Contains(string(r.body), "6379") {
		t.Fatal("the outage page shows user data or internal errors")
	}
	f.down.Store(false)
	wantStatus(t, c.page("/account"), 200)
}

// Rule 3 on the pages: over TLS the session and login cookies are __Host-
// and Secure.
func TestLoginForm_TLSCookies(t *testing.T) {
	t.Parallel()
	e := newPageEnv(t, pageEnvOptions{envOptions: envOptions{tls: true}})
	e.addUser("a@example.com", pw)
	c := e.client()
	g := c.page("/login")
	if ck := g.Header.Get("Set-Cookie"); !strings.HasPrefix(ck, "__Host-sessiond-login=") || !strings.Contains(ck, "Secure") {
		t.Fatalf("login cookie over TLS: %q", ck)
	}
	r := c.form("/login", url.Values{"email": {"a@example.com"}, "password": {pw}, "csrf_token": {csrfToken(t, g)}})
	wantRedirect(t, r, "/account")
	ck := setCookieHeader(r)
	if !strings.HasPrefix(ck, "__Host-sessiond=") || !strings.Contains(ck, "Secure") || !strings.Contains(ck, "HttpOnly") || strings.Contains(ck, "Domain") {
		t.Fatalf("session cookie over TLS: %q", ck)
	}
	wantStatus(t, c.page("/account"), 200)
}
