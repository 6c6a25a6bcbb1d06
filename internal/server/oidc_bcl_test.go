package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/oidc/oidctest"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// postLogout posts a back-channel logout token to sessiond as a provider
// does, and returns the status, the Cache-Control header and the error
// code of the body.
func (e *ssoEnv) postLogout(provider, tok string) (status int, cacheControl, code string) {
	e.t.Helper()
	res, err := http.PostForm(e.url+"/v1/oidc/"+provider+"/backchannel-logout", url.Values{"logout_token": {tok}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if res.StatusCode != http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			e.t.Fatalf("error body: %v", err)
		}
	}
	return res.StatusCode, res.Header.Get("Cache-Control"), body.Error
}

// signInWithSID signs b in with the provider putting sid (if any) in the ID
// token.
func (e *ssoEnv) signInWithSID(b *browser, sid string) {
	e.t.Helper()
	e.op.Set(func(p *oidctest.Provider) {
		p.Claims = func(c *token.Claims) { c.SessionID = sid }
	})
	if got := b.finish(b.authorize(e, "")); got != "/account" {
		e.t.Fatalf("sign-in: redirected to %q", got)
	}
	if b.whoami(e) == "" {
		e.t.Fatal("not signed in")
	}
}

// TestOIDCBackChannelLogout_EndsTheNamedSessionsOnly: a logout token with a
// sid ends the sessions that began from that provider session, and only
// them; one with only a sub ends every session of the linked user made by a
// sign-in with that provider, not the user's other sessions.
func TestOIDCBackChannelLogout_EndsTheNamedSessionsOnly(t *testing.T) {
	t.Parallel()
	e := newSSOEnv(t)
	ctx := context.Background()
	a, a2, b := e.browser(), e.browser(), e.browser()
	e.signInWithSID(a, "op-sid-A")
	e.signInWithSID(a2, "op-sid-A") // a second local session from the same provider session
	e.signInWithSID(b, "op-sid-B")
	u, err := e.store.UserByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	// A session of the same user that no provider sign-in made.
	other, _, err := e.mgr.Create(ctx, u.ID, session.Meta{Method: "password"})
	if err != nil {
		t.Fatal(err)
	}

	status, cc, _ := e.postLogout("idp", e.op.Sign("logout+jwt", e.op.LogoutClaims("op-user-1", "op-sid-A")))
	if status != http.StatusOK || cc != "no-store" {
		t.Fatalf("logout by sid: status %d, Cache-Control %q", status, cc)
	}
	if a.whoami(e) != "" || a2.whoami(e) != "" {
		t.Fatal("a session of the logged-out provider session is still signed in")
	}
	if b.whoami(e) == "" {
		t.Fatal("logout by sid ended a session of another provider session")
	}
	if _, err := e.mgr.Get(ctx, other.ID); err != nil {
		t.Fatalf("logout by sid ended the password session: %v", err)
	}
	if !strings.Contains(e.log.String(), "event=logout") || !strings.Contains(e.log.String(), "reason=oidc_backchannel_logout") {
		t.Fatalf("no audit events for the back-channel logout:\n%s", e.log.String())
	}

	// A sid nothing was recorded for, without sub: nothing ends.
	if status, _, _ := e.postLogout("idp", e.op.Sign("logout+jwt", e.op.LogoutClaims("", "op-sid-unknown"))); status != http.StatusOK {
		t.Fatalf("unknown sid: status %d", status)
	}
	if b.whoami(e) == "" {
		t.Fatal("a logout for an unknown sid ended a session")
	}

	// Only sub: every session the provider made for the user.
	if status, _, _ := e.postLogout("idp", e.op.Sign("logout+jwt", e.op.LogoutClaims("op-user-1", ""))); status != http.StatusOK {
		t.Fatalf("logout by sub: status %d", status)
	}
	if b.whoami(e) != "" {
		t.Fatal("logout by sub left a provider session signed in")
	}
	if _, err := e.mgr.Get(ctx, other.ID); err != nil {
		t.Fatalf("logout by sub ended the password session: %v", err)
	}

	// A sub nobody is linked to: 200, nothing to do.
	if status, _, _ := e.postLogout("idp", e.op.Sign("logout+jwt", e.op.LogoutClaims("someone-else", ""))); status != http.StatusOK {
		t.Fatalf("unknown sub: status %d", status)
	}
}

// An ID token without sid records nothing; a logout token naming a sid and
// the sub then ends the user's sessions from that provider.
func TestOIDCBackChannelLogout_SIDNeverSeenFallsBackToSub(t *testing.T) {
	t.Parallel()
	e := newSSOEnv(t)
	b := e.browser()
	e.signInWithSID(b, "")
	if status, _, _ := e.postLogout("idp", e.op.Sign("logout+jwt", e.op.LogoutClaims("op-user-1", "op-sid-X"))); status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if b.whoami(e) != "" {
		t.Fatal("still signed in")
	}
}

// TestOIDCBackChannelLogout_RefusesInvalidTokens: every invalid logout token
// is 400 invalid_request with no-store, and ends nothing.
func TestOIDCBackChannelLogout_RefusesInvalidTokens(t *testing.T) {
	t.Parallel()
	e := newSSOEnv(t)
	stranger := oidctest.New(t, ssoClientID, ssoClientSecret)
	b := e.browser()
	e.signInWithSID(b, "op-sid-1")
	sign := func(edit func(c map[string]any)) string {
		c := e.op.LogoutClaims("op-user-1", "op-sid-1")
		if edit != nil {
			edit(c)
		}
		return e.op.Sign("logout+jwt", c)
	}
	now := time.Now()
	cases := map[string]string{
		"alg none":                     oidctest.Unsigned(sign(nil)),
		"signed by another key":        stranger.Sign("logout+jwt", e.op.LogoutClaims("op-user-1", "op-sid-1")),
		"HS256 with the client secret": oidctest.HS256(sign(nil), []byte(ssoClientSecret)),
		"bad signature":                oidctest.BadSignature(sign(nil)),
		"wrong iss":                    sign(func(c map[string]any) { c["iss"] = stranger.Issuer }),
		"wrong aud":                    sign(func(c map[string]any) { c["aud"] = "another-client" }),
		"no events":                    sign(func(c map[string]any) { delete(c, "events") }),
		"forged events":                sign(func(c map[string]any) { c["events"] = map[string]any{oidctest.LogoutEvent: "yes"} }),
		"nonce present":                sign(func(c map[string]any) { c["nonce"] = "n" }),
		"no jti":                       sign(func(c map[string]any) { delete(c, "jti") }),
		"neither sid nor sub":          sign(func(c map[string]any) { delete(c, "sid"); delete(c, "sub") }),
		"expired":                      sign(func(c map[string]any) { c["exp"] = now.Add(-5 * time.Minute).Unix() }),
		"no iat":                       sign(func(c map[string]any) { delete(c, "iat") }),
		"typ JWT":                      e.op.Sign("JWT", e.op.LogoutClaims("op-user-1", "op-sid-1")),
		"malformed":                    "not.a.jwt",
		"empty":                        "",
	}
	for name, tok := range cases {
		status, cc, code := e.postLogout("idp", tok)
		if status != http.StatusBadRequest || code != "invalid_request" || cc != "no-store" {
			t.Errorf("%s: status %d, error %q, Cache-Control %q; want 400 invalid_request no-store", name, status, code, cc)
		}
	}
	if status, _, code := e.postLogout("nope", sign(nil)); status != http.StatusBadRequest || code != "invalid_request" {
		t.Errorf("unknown provider: status %d, error %q", status, code)
	}
	if b.whoami(e) == "" {
		t.Fatal("an invalid logout token ended the session")
	}
	for name, tok := range cases {
		if i := strings.LastIndexByte(tok, '.'); i > 0 && len(tok)-i > 20 && strings.Contains(e.log.String(), tok[i+1:]) {
			t.Fatalf("%s: the logout token reached the log", name)
		}
	}

	// A valid token is accepted once; its replay is refused.
	tok := sign(nil)
	if status, _, _ := e.postLogout("idp", tok); status != http.StatusOK {
		t.Fatalf("valid token: status %d", status)
	}
	if status, cc, code := e.postLogout("idp", tok); status != http.StatusBadRequest || code != "invalid_request" || cc != "no-store" {
		t.Fatalf("replayed jti: status %d, error %q, Cache-Control %q", status, code, cc)
	}
	if b.whoami(e) != "" {
		t.Fatal("still signed in after a valid logout token")
	}

	// Only POST with a form.
	res, err := http.Get(e.url + "/v1/oidc/idp/backchannel-logout")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET: status %d, want 405", res.StatusCode)
	}
}
