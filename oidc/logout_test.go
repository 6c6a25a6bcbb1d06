package oidc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/oidc/oidctest"
	"github.com/sessiond/sessiond/store/memstore"
)

const (
	bclClient = "rp"
	bclSecret = "0123456789abcdef0123456789abcdef-secret"
)

func newLogoutSet(t *testing.T, op *oidctest.Provider, logouts oidc.LogoutStore) *oidc.Set {
	t.Helper()
	set, err := oidc.NewSet(context.Background(), []oidc.ProviderConfig{{Name: "idp", Issuer: op.Issuer, ClientID: bclClient,
		ClientSecret: bclSecret}}, oidc.Options{Flows: memstore.New(nil), Logouts: logouts,
		RedirectURL: func(string) string { return "http://rp/cb" }})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestVerifyLogoutToken_Table: OpenID Connect Back-Channel Logout 1.0 §2.6,
// every check, one bent token at a time.
func TestVerifyLogoutToken_Table(t *testing.T) {
	t.Parallel()
	op := oidctest.New(t, bclClient, bclSecret)
	other := oidctest.New(t, bclClient, bclSecret) // another provider's key
	set := newLogoutSet(t, op, memstore.New(nil))
	now := time.Now()
	valid := func(edit func(c map[string]any)) func() string {
		return func() string {
			c := op.LogoutClaims("op-user-1", "op-sid-1")
			if edit != nil {
				edit(c)
			}
			return op.Sign("logout+jwt", c)
		}
	}
	cases := []struct {
		name string
		tok  func() string
		ok   bool
		why  string // in the error
	}{
		{name: "valid", tok: valid(nil), ok: true},
		{name: "no typ", tok: func() string { return op.Sign("", op.LogoutClaims("s", "")) }, ok: true},
		{name: "typ application/logout+jwt", tok: func() string { return op.Sign("application/logout+JWT", op.LogoutClaims("", "x")) }, ok: true},
		{name: "no exp", tok: valid(func(c map[string]any) { delete(c, "exp") }), ok: true},
		{name: "exp passed within leeway", tok: valid(func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() }), ok: true},
		{name: "only sub", tok: valid(func(c map[string]any) { delete(c, "sid") }), ok: true},
		{name: "only sid", tok: valid(func(c map[string]any) { delete(c, "sub") }), ok: true},

		{name: "typ JWT (an ID token)", tok: func() string { return op.Sign("JWT", op.LogoutClaims("s", "")) }, why: "typ"},
		{name: "alg none", tok: func() string { return oidctest.Unsigned(valid(nil)()) }, why: `algorithm "none"`},
		{name: "HS256 with the client secret", tok: func() string { return oidctest.HS256(valid(nil)(), []byte(bclSecret)) }, why: `algorithm "HS256"`},
		{name: "another provider's key", tok: func() string {
			c := op.LogoutClaims("s", "")
			return other.Sign("logout+jwt", c)
		}, why: "verify signature"},
		{name: "bad signature", tok: func() string { return oidctest.BadSignature(valid(nil)()) }, why: "verify signature"},
		{name: "wrong iss", tok: valid(func(c map[string]any) { c["iss"] = other.Issuer }), why: "different provider"},
		{name: "wrong aud", tok: valid(func(c map[string]any) { c["aud"] = "another-client" }), why: "audience"},
		{name: "aud among others is fine", tok: valid(func(c map[string]any) { c["aud"] = []string{"x", bclClient} }), ok: true},
		{name: "no events", tok: valid(func(c map[string]any) { delete(c, "events") }), why: "events"},
		{name: "events not an object", tok: valid(func(c map[string]any) { c["events"] = "logout" }), why: "claims"},
		{name: "event not an object", tok: valid(func(c map[string]any) { c["events"] = map[string]any{oidctest.LogoutEvent: true} }), why: "events"},
		{name: "another event", tok: valid(func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/other": map[string]any{}}
		}), why: "events"},
		{name: "nonce present", tok: valid(func(c map[string]any) { c["nonce"] = "n" }), why: "nonce"},
		{name: "null nonce present", tok: valid(func(c map[string]any) { c["nonce"] = nil }), why: "nonce"},
		{name: "no jti", tok: valid(func(c map[string]any) { delete(c, "jti") }), why: "jti"},
		{name: "empty jti", tok: valid(func(c map[string]any) { c["jti"] = "" }), why: "jti"},
		{name: "neither sub nor sid", tok: valid(func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }), why: "neither sub nor sid"},
		{name: "sid not a string", tok: valid(func(c map[string]any) { c["sid"] = 7 }), why: "claims"},
		{name: "expired", tok: valid(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }), why: "expired"},
		{name: "no iat", tok: valid(func(c map[string]any) { delete(c, "iat") }), why: "iat"},
		{name: "iat too old", tok: valid(func(c map[string]any) {
			c["iat"] = now.Add(-oidc.LogoutTokenMaxAge - 2*time.Minute).Unix()
		}), why: "iat not recent"},
		{name: "iat in the future", tok: valid(func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() }), why: "iat not recent"},
		{name: "nbf in the future", tok: valid(func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() }), why: "nbf"},
		{name: "exp absurdly far", tok: valid(func(c map[string]any) { c["exp"] = 1e300 }), why: "out of range"},
		{name: "negative iat", tok: valid(func(c map[string]any) { c["iat"] = -1 }), why: "out of range"},
		{name: "empty", tok: func() string { return "" }, why: "no logout_token"},
		{name: "not a JWS", tok: func() string { return "abc" }, why: "compact JWS"},
		{name: "garbage segments", tok: func() string { return "a.b.c" }, why: "malformed"},
		{name: "too large", tok: func() string { return strings.Repeat("a", oidc.MaxLogoutTokenSize+1) }, why: "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lt, err := set.VerifyLogoutToken(context.Background(), "idp", tc.tok())
			if tc.ok {
				if err != nil {
					t.Fatalf("refused a valid token: %v", err)
				}
				if lt.Issuer != op.Issuer || lt.ID == "" || lt.Provider != "idp" || lt.Subject == "" && lt.SessionID == "" {
					t.Fatalf("token = %+v", lt)
				}
				return
			}
			if !errors.Is(err, oidc.ErrLogoutToken) {
				t.Fatalf("err = %v, want ErrLogoutToken", err)
			}
			if !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.why)
			}
		})
	}
}

func TestVerifyLogoutToken_ReplayedJTI(t *testing.T) {
	t.Parallel()
	op := oidctest.New(t, bclClient, bclSecret)
	set := newLogoutSet(t, op, memstore.New(nil))
	c := op.LogoutClaims("op-user-1", "")
	tok := op.Sign("logout+jwt", c)
	if _, err := set.VerifyLogoutToken(context.Background(), "idp", tok); err != nil {
		t.Fatal(err)
	}
	if _, err := set.VerifyLogoutToken(context.Background(), "idp", tok); !errors.Is(err, oidc.ErrLogoutReplay) {
		t.Fatalf("replay: err = %v, want ErrLogoutReplay", err)
	}
	// The same jti re-encoded (another typ, so other bytes) is the same token.
	if _, err := set.VerifyLogoutToken(context.Background(), "idp", op.Sign("", c)); !errors.Is(err, oidc.ErrLogoutReplay) {
		t.Fatalf("re-encoded replay: err = %v, want ErrLogoutReplay", err)
	}
}

func TestVerifyLogoutToken_UnknownProviderAndDisabled(t *testing.T) {
	t.Parallel()
	op := oidctest.New(t, bclClient, bclSecret)
	tok := op.Sign("logout+jwt", op.LogoutClaims("s", ""))
	if _, err := newLogoutSet(t, op, memstore.New(nil)).VerifyLogoutToken(context.Background(), "nope", tok); !errors.Is(err, oidc.ErrUnknownProvider) {
		t.Fatalf("unknown provider: %v", err)
	}
	off := newLogoutSet(t, op, nil)
	if off.LogoutEnabled() {
		t.Fatal("enabled without a LogoutStore")
	}
	if _, err := off.VerifyLogoutToken(context.Background(), "idp", tok); !errors.Is(err, oidc.ErrLogoutDisabled) {
		t.Fatalf("disabled: %v", err)
	}
}
