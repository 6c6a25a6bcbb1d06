package server_test

import (
	"crypto/rand"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/token"
)

// testMFA is second factors on store st, with a fresh key-encryption key.
func testMFA(t *testing.T, st mfa.Store, now func() time.Time) *server.MFA {
	t.Helper()
	kek := make([]byte, token.KEKSize)
	_, _ = rand.Read(kek)
	sealer, err := token.NewSealer(kek)
	if err != nil {
		t.Fatal(err)
	}
	return &server.MFA{Store: st, Sealer: sealer, Issuer: "sessiond test", Now: now}
}

// authenticatorCode is an RFC 6238 code computed independently of the
// server's TOTP library (testenv.TOTPCode: crypto/hmac).
func authenticatorCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := testenv.TOTPCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP signs c in as email, enrols and confirms an authenticator and
// returns its secret and the recovery codes. The clock then moves to the
// next step, so that the confirming code is spent and the next one is not.
func enrolTOTP(t *testing.T, e *env, c *client, email string) (string, []string) {
	t.Helper()
	want(t, c.login(email, pw), 200, "")
	r := c.do("POST", "/v1/mfa/totp", nil)
	want(t, r, 200, "")
	secret, _ := r.json["secret"].(string)
	if uri, _ := r.json["otpauth_uri"].(string); secret == "" || !strings.HasPrefix(uri, "otpauth://totp/") || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrolment: %s", r.body)
	}
	r = c.do("POST", "/v1/mfa/totp/confirm", map[string]string{"code": authenticatorCode(t, secret, e.clock.Now())})
	want(t, r, 200, "")
	var codes []string
	for _, v := range r.json["recovery_codes"].([]any) {
		codes = append(codes, v.(string))
	}
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %s", r.body)
	}
	e.clock.Advance(30 * time.Second)
	return secret, codes
}

// mfaEnv is an env with second factors on and a@example.com enrolled with
// an authenticator: its secret and recovery codes.
func mfaEnv(t *testing.T, opt envOptions) (*env, string, []string) {
	t.Helper()
	opt.mfa = true
	e := newEnv(t, opt)
	e.addUser("a@example.com", pw)
	secret, codes := enrolTOTP(t, e, e.client(), "a@example.com")
	return e, secret, codes
}

// loginPending signs a new client in with the password of a user with a
// second factor: a half-finished login.
func loginPending(t *testing.T, e *env, email string) *client {
	t.Helper()
	c := e.client()
	r := c.login(email, pw)
	want(t, r, 200, "")
	s, _ := r.json["session"].(map[string]any)
	if r.json["mfa_required"] != true || s["aal"] != float64(1) || r.json["user"] != nil {
		t.Fatalf("login of a user with a factor: %s", r.body)
	}
	if ms, _ := r.json["methods"].([]any); !slices.Contains(ms, any("totp")) {
		t.Fatalf("methods: %s", r.body)
	}
	return c
}

func verify(c *client, method, code string) *resp {
	return c.do("POST", "/v1/mfa/verify", map[string]string{"method": method, "code": code})
}

func TestMFA_TOTPLoginEndToEnd(t *testing.T) {
	t.Parallel()
	e, secret, _ := mfaEnv(t, envOptions{})

	c := loginPending(t, e, "a@example.com")
	pending := c.cookie().Value
	// The half-finished login can do nothing else.
	want(t, c.do("GET", "/v1/whoami", nil), 401, "mfa_required")
	want(t, c.do("GET", "/v1/sessions", nil), 401, "mfa_required")
	want(t, c.do("PATCH", "/v1/session/data", `{"a":1}`, "Content-Type", "application/merge-patch+json"), 401, "mfa_required")
	// Without the CSRF token, verify is refused like every cookie POST.
	noCSRF := *c
	noCSRF.csrf = ""
	want(t, verify(&noCSRF, "totp", authenticatorCode(t, secret, e.clock.Now())), 403, "csrf")
	// The code that confirmed the enrolment is spent (replay).
	want(t, verify(c, "totp", authenticatorCode(t, secret, e.clock.Now().Add(-30*time.Second))), 401, "invalid_credentials")
	want(t, verify(c, "totp", "000000x"), 401, "invalid_credentials")

	code := authenticatorCode(t, secret, e.clock.Now())
	r := verify(c, "totp", code)
	want(t, r, 200, "")
	c.csrf, _ = r.json["csrf_token"].(string)
	s := r.json["session"].(map[string]any)
	if s["aal"] != float64(2) || !slices.Equal(amrOf(s), []string{"pwd", "otp", "mfa"}) || s["aal2_time"] == "" {
		t.Fatalf("session after the second factor: %s", r.body)
	}
	if c.cookie().Value == pending {
		t.Fatal("the second factor kept the session token: a privilege change needs a new ID")
	}
	r = c.do("GET", "/v1/whoami", nil)
	want(t, r, 200, "")
	if r.json["session"].(map[string]any)["aal"] != float64(2) {
		t.Fatalf("whoami after the second factor: %s", r.body)
	}
	// The pending session ended.
	old := e.client()
	old.setCookie(c.cookie().Name, pending)
	want(t, old.do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// The same code is refused for another login in its window.
	c2 := loginPending(t, e, "a@example.com")
	want(t, verify(c2, "totp", code), 401, "invalid_credentials")

	// The password grant refuses such users.
	r = e.client().form("/v1/token", url.Values{"grant_type": {"password"}, "username": {"a@example.com"}, "password": {pw}})
	oauthWant(t, r, 400, "mfa_required")

	r = c.do("GET", "/v1/mfa", nil)
	want(t, r, 200, "")
	if r.json["recovery_codes_left"] != float64(10) || r.json["totp"].(map[string]any)["enrolled"] != true {
		t.Fatalf("GET /v1/mfa: %s", r.body)
	}
}

func TestMFA_HalfFinishedLoginExpiresIn5Minutes(t *testing.T) {
	t.Parallel()
	e, secret, _ := mfaEnv(t, envOptions{})
	c := loginPending(t, e, "a@example.com")
	e.clock.Advance(5*time.Minute + time.Second)
	want(t, verify(c, "totp", authenticatorCode(t, secret, e.clock.Now())), 401, "unauthorized")
}

// burstVerify sends n verifications at once, each from its own half-finished
// login, and counts the successes.
func burstVerify(t *testing.T, e *env, n int, method string, code func() string) (ok, refused int64) {
	t.Helper()
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = loginPending(t, e, "a@example.com")
	}
	var okN, refusedN atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, c := range clients {
		wg.Go(func() {
			<-start
			switch r := verify(c, method, code()); r.StatusCode {
			case 200:
				okN.Add(1)
			case 401:
				refusedN.Add(1)
			default:
				t.Errorf("verify: %d %s", r.StatusCode, r.body)
			}
		})
	}
	close(start)
	wg.Wait()
	return okN.Load(), refusedN.Load()
}

func TestMFA_WrongCodesCountTowardLockout(t *testing.T) {
	t.Parallel()
	e, secret, _ := mfaEnv(t, envOptions{lockAfter: 5})
	c := loginPending(t, e, "a@example.com")
	ok, refused := burstVerify(t, e, 12, "totp", func() string { return "123456" })
	if ok != 0 || refused != 12 {
		t.Fatalf("wrong codes: %d accepted, %d refused", ok, refused)
	}
	// The account is locked now: the right code and the password are refused.
	want(t, verify(c, "totp", authenticatorCode(t, secret, e.clock.Now())), 401, "invalid_credentials")
	want(t, e.client().login("a@example.com", pw), 401, "invalid_credentials")
}

func TestMFA_RecoveryCodeWorksOnce(t *testing.T) {
	t.Parallel()
	e, _, codes := mfaEnv(t, envOptions{lockAfter: 100})
	ok, refused := burstVerify(t, e, 10, "recovery_code", func() string { return codes[0] })
	if ok != 1 || refused != 9 {
		t.Fatalf("one recovery code in parallel: %d accepted, %d refused; want exactly one", ok, refused)
	}
	c := loginPending(t, e, "a@example.com")
	want(t, verify(c, "recovery_code", codes[0]), 401, "invalid_credentials")
	r := verify(c, "recovery_code", strings.ToLower(codes[1]))
	want(t, r, 200, "")
	c.csrf, _ = r.json["csrf_token"].(string)
	r = c.do("GET", "/v1/mfa", nil)
	if r.json["recovery_codes_left"] != float64(8) {
		t.Fatalf("codes left: %s", r.body)
	}
}

func TestMFA_StepUpForSensitiveOperations(t *testing.T) {
	t.Parallel()
	e, secret, _ := mfaEnv(t, envOptions{})
	c := loginPending(t, e, "a@example.com")
	r := verify(c, "totp", authenticatorCode(t, secret, e.clock.Now()))
	want(t, r, 200, "")
	c.csrf, _ = r.json["csrf_token"].(string)

	e.clock.Advance(10*time.Minute + time.Second) // beyond mfa.reauth_window
	r = c.do("DELETE", "/v1/mfa/totp", nil)
	want(t, r, 401, "step_up_required")
	// RFC 9470: the challenge names what is missing.
	if got := r.Header.Get("WWW-Authenticate"); !strings.Contains(got, `error="insufficient_user_authentication"`) || !strings.Contains(got, `acr_values="aal2"`) {
		t.Fatalf("step-up WWW-Authenticate = %q, want an RFC 9470 challenge", got)
	}
	want(t, c.do("POST", "/v1/mfa/recovery-codes", nil), 401, "step_up_required")
	want(t, c.do("POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "another long passphrase 42"}), 401, "step_up_required")
	want(t, c.do("DELETE", "/v1/sessions?scope=all", nil), 401, "step_up_required")

	// A fresh second factor lets them through.
	r = verify(c, "totp", authenticatorCode(t, secret, e.clock.Now()))
	want(t, r, 200, "")
	c.csrf, _ = r.json["csrf_token"].(string)
	r = c.do("POST", "/v1/mfa/recovery-codes", nil)
	want(t, r, 200, "")
	want(t, c.do("DELETE", "/v1/mfa/totp", nil), 204, "")
	// Without a factor, a password login is complete again.
	r = e.client().login("a@example.com", pw)
	want(t, r, 200, "")
	if r.json["mfa_required"] != nil {
		t.Fatalf("login after removing the factor: %s", r.body)
	}
}

// The login form of a user with a factor hands out only a half-finished
// login: it can neither open the account page nor call the API.
func TestMFA_LoginFormDoesNotSkipTheFactor(t *testing.T) {
	t.Parallel()
	e, _, _ := mfaEnv(t, envOptions{})
	c := e.client()
	wantRedirect(t, c.formLogin("a@example.com", pw), "/login/factor")
	wantRedirect(t, c.page("/account"), "/login/factor?return_to=%2Faccount")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "mfa_required")
	want(t, c.do("GET", "/v1/sessions", nil), 401, "mfa_required")
}
