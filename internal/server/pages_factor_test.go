package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/oidc/oidctest"
	"github.com/sessiond/sessiond/token"
)

// formLoginTo signs in through the login form with a return address, like a
// browser sent to /login?return_to=ret.
func (c *client) formLoginTo(email, ret string) *resp {
	c.e.t.Helper()
	tok := csrfToken(c.e.t, c.page("/login?return_to="+url.QueryEscape(ret)))
	return c.form("/login", url.Values{"email": {email}, "password": {pw}, "csrf_token": {tok}, "return_to": {ret}})
}

// factorForm posts the factor page's form the way its page renders it.
func (c *client) factorForm(page *resp, method, code, ret string) *resp {
	c.e.t.Helper()
	return c.form("/login/factor", url.Values{"csrf_token": {csrfToken(c.e.t, page)}, "method": {method}, "code": {code}, "return_to": {ret}})
}

// pendingFormLogin signs in through the form as a user with a factor and
// returns the factor page it is sent to.
func pendingFormLogin(t *testing.T, e *env, ret string) (*client, *resp) {
	t.Helper()
	c := e.client()
	wantRedirect(t, c.formLoginTo("a@example.com", ret), "/login/factor?return_to="+url.QueryEscape(ret))
	if c.cookie() == nil {
		t.Fatal("no half-finished session cookie")
	}
	f := c.page("/login/factor?return_to=" + url.QueryEscape(ret))
	wantStatus(t, f, 200)
	wantPageHeaders(t, f)
	return c, f
}

func TestFactorPage_PasswordThenCodeSignsInAtAAL2(t *testing.T) {
	t.Parallel()
	e, secret, _ := mfaEnv(t, envOptions{})
	c, f := pendingFormLogin(t, e, "/v1/whoami")
	body := string(f.body)
	for _, s := range []string{`autocomplete="one-time-code"`, `inputmode="numeric"`, `name="method" value="totp"`,
		`action="/login/factor"`, `href="/login/factor?method=recovery_code&amp;return_to=%2fv1%2fwhoami"`} {
		if !strings.Contains(body, s) {
			t.Errorf("factor page lacks %s:\n%s", s, body)
		}
	}
	pending := c.cookie().Value
	// The half-finished login opens nothing: the account page sends it to
	// its factor, the API refuses it.
	wantRedirect(t, c.page("/account"), "/login/factor?return_to=%2Faccount")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "mfa_required")

	r := c.factorForm(f, "totp", authenticatorCode(t, secret, e.clock.Now()), "/v1/whoami")
	wantRedirect(t, r, "/v1/whoami")
	if c.cookie() == nil || c.cookie().Value == pending {
		t.Fatal("the second factor kept the session token: a privilege change needs a new ID")
	}
	r = c.do("GET", "/v1/whoami", nil)
	want(t, r, 200, "")
	if s, _ := r.json["session"].(map[string]any); s["aal"] != float64(2) {
		t.Fatalf("whoami after the factor page: %s", r.body)
	}
	wantStatus(t, c.page("/account"), 200)
	// The half-finished session ended.
	old := e.client()
	old.setCookie(c.cookie().Name, pending)
	want(t, old.do("GET", "/v1/whoami", nil), 401, "unauthorized")
}

func TestFactorPage_RecoveryCode(t *testing.T) {
	t.Parallel()
	e, _, codes := mfaEnv(t, envOptions{lockAfter: 100})
	c, _ := pendingFormLogin(t, e, "/account")
	f := c.page("/login/factor?method=recovery_code")
	wantStatus(t, f, 200)
	if b := string(f.body); !strings.Contains(b, `name="method" value="recovery_code"`) || strings.Contains(b, `one-time-code`) {
		t.Fatalf("recovery variant:\n%s", b)
	}
	wantRedirect(t, c.factorForm(f, "recovery_code", codes[0], ""), "/account")
	r := c.do("GET", "/v1/whoami", nil)
	if s, _ := r.json["session"].(map[string]any); s["aal"] != float64(2) {
		t.Fatalf("whoami after a recovery code: %s", r.body)
	}
	// Spent: the form again, with an error.
	c2, f2 := pendingFormLogin(t, e, "/account")
	r = c2.factorForm(f2, "recovery_code", codes[0], "")
	wantStatus(t, r, 401)
	wantPageHeaders(t, r)
	if alertOf(r) == "" {
		t.Fatalf("no error shown:\n%s", r.body)
	}
}

func TestFactorPage_WrongCodesRefusedAndCounted(t *testing.T) {
	t.Parallel()
	e, secret, _ := mfaEnv(t, envOptions{lockAfter: 5})
	// The form's CSRF token is the half-finished session's.
	c, f := pendingFormLogin(t, e, "/account")
	r := c.form("/login/factor", url.Values{"csrf_token": {"x"}, "method": {"totp"}, "code": {authenticatorCode(t, secret, e.clock.Now())}})
	wantStatus(t, r, 403)
	r = c.factorForm(f, "totp", "", "")
	wantStatus(t, r, 400)

	const n = 12
	clients, pagesOf := make([]*client, n), make([]*resp, n)
	for i := range clients {
		clients[i], pagesOf[i] = pendingFormLogin(t, e, "/account")
	}
	var refused atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range clients {
		wg.Go(func() {
			<-start
			r := clients[i].factorForm(pagesOf[i], "totp", "123456", "")
			if r.StatusCode == 401 && alertOf(r) != "" && clients[i].cookie() != nil {
				refused.Add(1)
			} else {
				t.Errorf("wrong code: %d %s", r.StatusCode, r.body)
			}
		})
	}
	close(start)
	wg.Wait()
	if refused.Load() != n {
		t.Fatalf("%d of %d wrong codes refused", refused.Load(), n)
	}
	// They counted: the account is locked, so the right code is refused too.
	wantStatus(t, c.factorForm(f, "totp", authenticatorCode(t, secret, e.clock.Now()), ""), 401)
	want(t, e.client().login("a@example.com", pw), 401, "invalid_credentials")
}

func TestFactorPage_ExpiredHalfLoginGoesBackToLogin(t *testing.T) {
	t.Parallel()
	e, secret, _ := mfaEnv(t, envOptions{})
	c, f := pendingFormLogin(t, e, "/v1/whoami")
	e.clock.Advance(5*time.Minute + time.Second)
	r := c.factorForm(f, "totp", authenticatorCode(t, secret, e.clock.Now()), "/v1/whoami")
	wantRedirect(t, r, "/login?done=factor-expired&return_to=%2Fv1%2Fwhoami")
	if c.cookie() != nil {
		t.Fatal("the expired half-finished session's cookie stayed")
	}
	if l := c.page(r.Header.Get("Location")); noticeOf(l) == "" {
		t.Fatalf("no message on the login page:\n%s", l.body)
	}
	want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")
}

func TestFactorPage_SSOUserWithAFactor(t *testing.T) {
	t.Parallel()
	e := newSSOEnvWith(t, true)
	b := e.browser()
	if got := b.finish(b.authorize(e, "")); got != "/account" {
		t.Fatalf("first sign-in went to %q", got)
	}
	// Enrol an authenticator through the API with that session.
	call := func(b *browser, method, path, csrf string, body any) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			j, _ := json.Marshal(body)
			rd = strings.NewReader(string(j))
		}
		req, _ := http.NewRequest(method, e.url+path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var v map[string]any
		_ = json.NewDecoder(res.Body).Decode(&v)
		if v == nil {
			v = map[string]any{}
		}
		v["status"] = float64(res.StatusCode)
		return v
	}
	csrf, _ := call(b, "GET", "/v1/whoami", "", nil)["csrf_token"].(string)
	secret, _ := call(b, "POST", "/v1/mfa/totp", csrf, nil)["secret"].(string)
	if v := call(b, "POST", "/v1/mfa/totp/confirm", csrf, map[string]string{"code": authenticatorCode(t, secret, e.clock.Now())}); v["status"] != float64(200) {
		t.Fatalf("confirm: %v", v)
	}
	e.clock.Advance(30 * time.Second)

	// Signing in again through the provider now asks for the factor.
	b2 := e.browser()
	if got := b2.finish(b2.authorize(e, "/v1/whoami")); got != "/login/factor?return_to=%2Fv1%2Fwhoami" {
		t.Fatalf("SSO sign-in of a user with a factor went to %q", got)
	}
	if v := call(b2, "GET", "/v1/whoami", "", nil); v["error"] != "mfa_required" {
		t.Fatalf("half-finished SSO login: %v", v)
	}
	res, err := b2.c.Get(e.url + "/login/factor?return_to=%2Fv1%2Fwhoami")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfField.FindSubmatch(page)
	if res.StatusCode != 200 || m == nil {
		t.Fatalf("factor page: %d\n%s", res.StatusCode, page)
	}
	res, err = b2.c.PostForm(e.url+"/login/factor", url.Values{"csrf_token": {string(m[1])}, "method": {"totp"},
		"code": {authenticatorCode(t, secret, e.clock.Now())}, "return_to": {"/v1/whoami"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 303 || res.Header.Get("Location") != "/v1/whoami" {
		t.Fatalf("factor: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	v := call(b2, "GET", "/v1/whoami", "", nil)
	if s, _ := v["session"].(map[string]any); s["aal"] != float64(2) || !strings.Contains(strings.Join(amrOf(s), " "), "fed") {
		t.Fatalf("whoami after the factor: %v", v)
	}

	// An upstream that did two factors already is enough.
	e.op.Set(func(p *oidctest.Provider) { p.Claims = func(c *token.Claims) { c.AMR = []string{"pwd", "otp", "mfa"} } })
	b3 := e.browser()
	if got := b3.finish(b3.authorize(e, "")); got != "/account" {
		t.Fatalf("SSO sign-in with upstream mfa went to %q", got)
	}
	v = call(b3, "GET", "/v1/whoami", "", nil)
	if s, _ := v["session"].(map[string]any); s["aal"] != float64(2) {
		t.Fatalf("whoami after an upstream mfa sign-in: %v", v)
	}

	// The provider's back-channel logout (by subject) ends the sessions that
	// went through the factor page too.
	if status, _, _ := e.postLogout("idp", e.op.Sign("logout+jwt", e.op.LogoutClaims("op-user-1", ""))); status != http.StatusOK {
		t.Fatalf("back-channel logout: %d", status)
	}
	if b2.whoami(e) != "" || b3.whoami(e) != "" {
		t.Fatal("back-channel logout left a session signed in")
	}
}

// The factor page lives under base_url's path like every page: the
// redirects to it, its form and its links, as the binary wires it.
func TestFactorPage_UnderBaseURLPath(t *testing.T) {
	t.Parallel()
	const prefix = "/auth"
	e := newBuiltEnv(t, prefix, "")
	e.addUser("a@example.com", pw)
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	secret, _ := c.do("POST", prefix+"/v1/mfa/totp", nil).json["secret"].(string)
	r := c.do("POST", prefix+"/v1/mfa/totp/confirm", map[string]string{"code": authenticatorCode(t, secret, time.Now())})
	want(t, r, 200, "")
	codes, _ := r.json["recovery_codes"].([]any)
	if len(codes) == 0 {
		t.Fatalf("no recovery codes: %s", r.body)
	}

	b := e.client()
	tok := csrfToken(t, b.page(prefix+"/login"))
	r = b.form(prefix+"/login", url.Values{"email": {"a@example.com"}, "password": {pw}, "csrf_token": {tok}})
	wantRedirect(t, r, prefix+"/login/factor")
	wantRedirect(t, b.page(prefix+"/account"), prefix+"/login/factor?return_to=%2Fauth%2Faccount")
	f := b.page(prefix + "/login/factor?method=recovery_code")
	wantStatus(t, f, 200)
	wantUnder(t, f, prefix)
	wantRedirect(t, b.factorForm(f, "recovery_code", codes[0].(string), ""), prefix+"/account")
	wantStatus(t, b.page(prefix+"/account"), 200)
}
