package op_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/token"
)

const iss = "https://id.example"

type revoked struct {
	mu       sync.Mutex
	families []string
	jtis     []string
	sids     []string
}

func (r *revoked) RevokeFamily(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.families = append(r.families, id)
	return nil
}

func (r *revoked) DenyAccess(_ context.Context, jti string, _ time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jtis = append(r.jtis, jti)
	return nil
}

func (r *revoked) DenySession(_ context.Context, sid string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sids = append(r.sids, sid)
	return nil
}

type fixture struct {
	p    *op.Provider
	keys *token.Keys
	rev  *revoked
	now  time.Time
	mu   sync.Mutex
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), rev: &revoked{}}
	st := memstore.New(f.clock)
	keys, err := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: iss, Audience: []string{iss}, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{
		{ID: "app", Public: true, FirstParty: true, Grants: []string{client.GrantAuthorizationCode}, RedirectURIs: []string{"https://app.example/cb"}},
		{ID: "svc", Public: true, Grants: []string{client.GrantRefreshToken}, RedirectURIs: []string{"https://svc.example/cb"}},
	} {
		if err := st.CreateClient(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	f.keys = keys
	f.p, err = op.New(op.Config{Issuer: iss, Store: st, Clients: st, Signer: signer, Keys: keys, Revoker: f.rev, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

func validQuery(extra ...string) url.Values {
	q := url.Values{"response_type": {"code"}, "client_id": {"app"}, "redirect_uri": {"https://app.example/cb"},
		"scope": {"openid email"}, "state": {"xyz"}, "nonce": {"n1"},
		"code_challenge": {op.S256(verifier)}, "code_challenge_method": {"S256"}}
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "-" {
			q.Del(extra[i])
		} else {
			q.Set(extra[i], extra[i+1])
		}
	}
	return q
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		q        url.Values
		redirect bool   // the error may go to the redirect URI
		code     string // "" = valid
	}{
		{"valid", validQuery(), true, ""},
		{"no client", validQuery("client_id", "-"), false, "invalid_request"},
		{"unknown client", validQuery("client_id", "nope"), false, "invalid_client"},
		{"built-in client has no redirect URIs", validQuery("client_id", client.FirstPartyID), false, "invalid_request"},
		{"no redirect_uri", validQuery("redirect_uri", "-"), false, "invalid_request"},
		{"trailing slash", validQuery("redirect_uri", "https://app.example/cb/"), false, "invalid_request"},
		{"extra query", validQuery("redirect_uri", "https://app.example/cb?a=1"), false, "invalid_request"},
		{"other port", validQuery("redirect_uri", "https://app.example:444/cb"), false, "invalid_request"},
		{"repeated parameter", url.Values{"client_id": {"app", "app"}}, false, "invalid_request"},
		{"token flow", validQuery("response_type", "token"), true, "unsupported_response_type"},
		{"hybrid flow", validQuery("response_type", "code id_token"), true, "unsupported_response_type"},
		{"no openid", validQuery("scope", "email"), true, "invalid_scope"},
		{"unknown scope", validQuery("scope", "openid admin"), true, "invalid_scope"},
		{"no PKCE", validQuery("code_challenge", "-", "code_challenge_method", "-"), true, "invalid_request"},
		{"PKCE plain", validQuery("code_challenge_method", "plain"), true, "invalid_request"},
		{"PKCE method missing", validQuery("code_challenge_method", "-"), true, "invalid_request"},
		{"bad challenge", validQuery("code_challenge", strings.Repeat("*", 43)), true, "invalid_request"},
		{"request object", validQuery("request", "e30.e30."), true, "request_not_supported"},
		{"fragment response mode", validQuery("response_mode", "fragment"), true, "invalid_request"},
		{"negative max_age", validQuery("max_age", "-1"), true, "invalid_request"},
		{"prompt none and login", validQuery("prompt", "none login"), true, "invalid_request"},
		{"client without the code grant", validQuery("client_id", "svc", "redirect_uri", "https://svc.example/cb"), true, "unauthorized_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := f.p.ParseRequest(ctx, tc.q)
			if tc.code == "" {
				if err != nil || req.Nonce != "n1" || req.Scope() != "openid email" || req.MaxAge != -1 {
					t.Fatalf("valid request: %+v, %v", req, err)
				}
				return
			}
			var pe *op.Error
			if !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("err = %v, want %s", err, tc.code)
			}
			if (req != nil) != tc.redirect {
				t.Fatalf("redirectable = %v, want %v", req != nil, tc.redirect)
			}
			if req != nil {
				loc := f.p.ErrorRedirect(req, err)
				u, _ := url.Parse(loc)
				if !strings.HasPrefix(loc, "https://app.example/cb?") && !strings.HasPrefix(loc, "https://svc.example/cb?") ||
					u.Query().Get("error") != tc.code || u.Query().Get("state") != "xyz" || u.Query().Get("iss") != iss {
					t.Fatalf("error redirect %q", loc)
				}
			}
		})
	}
}

func approve(t *testing.T, f *fixture) (string, *op.Request) {
	t.Helper()
	req, err := f.p.ParseRequest(context.Background(), validQuery())
	if err != nil {
		t.Fatal(err)
	}
	code, err := f.p.NewCode(context.Background(), req, op.Approval{SessionID: "sid-1", UserID: "u1",
		AuthTime: f.clock().Add(-time.Minute), SessionExpiresAt: f.clock().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return code, req
}

func TestCodes_SingleUseBoundAndShortLived(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)

	code, _ := approve(t, f)
	if _, err := f.p.Redeem(ctx, code, "app", "https://app.example/cb", "wrong-verifier-wrong-verifier-wrong-verifier"); !errors.Is(err, op.ErrInvalidGrant) {
		t.Fatalf("wrong verifier: %v", err)
	}
	code, _ = approve(t, f)
	if _, err := f.p.Redeem(ctx, code, "other", "https://app.example/cb", verifier); !errors.Is(err, op.ErrInvalidGrant) {
		t.Fatalf("other client: %v", err)
	}
	code, _ = approve(t, f)
	f.advance(op.DefaultCodeTTL)
	if _, err := f.p.Redeem(ctx, code, "app", "https://app.example/cb", verifier); !errors.Is(err, op.ErrInvalidGrant) {
		t.Fatalf("expired: %v", err)
	}
	if _, err := f.p.Redeem(ctx, "not-a-code", "app", "https://app.example/cb", verifier); !errors.Is(err, op.ErrInvalidGrant) {
		t.Fatalf("malformed: %v", err)
	}

	code, _ = approve(t, f)
	c, err := f.p.Redeem(ctx, code, "app", "https://app.example/cb", verifier)
	if err != nil || c.SessionID != "sid-1" || c.UserID != "u1" || c.Nonce != "n1" || c.Scope != "openid email" {
		t.Fatalf("redeem: %+v, %v", c, err)
	}
	if err := f.p.Issued(ctx, c, op.Issued{FamilyID: "fam-1", AccessTokenID: "jti-1", AccessExpiresAt: f.clock().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	_, err = f.p.Redeem(ctx, code, "app", "https://app.example/cb", verifier)
	if !errors.Is(err, op.ErrCodeReplayed) || !errors.Is(err, op.ErrInvalidGrant) {
		t.Fatalf("replay: %v", err)
	}
	if strings.Join(f.rev.families, ",") != "fam-1" || strings.Join(f.rev.jtis, ",") != "jti-1" {
		t.Fatalf("replay revoked families %v, jtis %v", f.rev.families, f.rev.jtis)
	}
}

func TestCodes_ReplayBeforeIssuedRevokesOnRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	code, _ := approve(t, f)
	c, err := f.p.Redeem(ctx, code, "app", "https://app.example/cb", verifier)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.Redeem(ctx, code, "app", "https://app.example/cb", verifier); !errors.Is(err, op.ErrCodeReplayed) {
		t.Fatalf("replay: %v", err)
	}
	if err := f.p.Issued(ctx, c, op.Issued{AccessTokenID: "jti-2", AccessExpiresAt: f.clock().Add(time.Minute)}); !errors.Is(err, op.ErrCodeReplayed) {
		t.Fatalf("issued after a replay: %v", err)
	}
	if strings.Join(f.rev.jtis, ",") != "jti-2" {
		t.Fatalf("revoked jtis %v", f.rev.jtis)
	}
}

func TestIDTokenAndHint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	code, _ := approve(t, f)
	c, err := f.p.Redeem(ctx, code, "app", "https://app.example/cb", verifier)
	if err != nil {
		t.Fatal(err)
	}
	u := &account.User{ID: "u1", Email: "ada@example.com", EmailVerified: true, Roles: []string{"dev"}}
	idt, err := f.p.IDToken(ctx, c, u)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := token.NewVerifier(f.keys, token.VerifierConfig{Issuer: iss, Audience: "app", Type: "JWT", Now: f.clock})
	cl, err := v.Verify(ctx, idt)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Subject != "u1" || cl.SessionID != "sid-1" || cl.Email != "ada@example.com" || cl.Roles != nil ||
		cl.Extra["nonce"] != "n1" || cl.Extra["azp"] != "app" || cl.Extra["email_verified"] != true || cl.AuthTime.IsZero() {
		t.Fatalf("ID token claims: %+v", cl)
	}
	h, err := f.p.VerifyHint(ctx, idt)
	if err != nil || h.ClientID != "app" || h.UserID != "u1" || h.SessionID != "sid-1" {
		t.Fatalf("hint: %+v, %v", h, err)
	}
	// Expired hints still identify the session.
	f.advance(24 * time.Hour)
	if h, err := f.p.VerifyHint(ctx, idt); err != nil || h.UserID != "u1" {
		t.Fatalf("expired hint: %+v, %v", h, err)
	}
	// A logout token, an access token or a tampered token is no hint.
	lt, err := f.p.LogoutToken(ctx, "app", "u1", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	// Tampered: one signature character changed for a different one (never
	// a no-op, whatever the signature is).
	i := len(idt) - 10
	flip := byte('A')
	if idt[i] == 'A' {
		flip = 'B'
	}
	tampered := idt[:i] + string(flip) + idt[i+1:]
	for name, raw := range map[string]string{"logout token": lt, "tampered": tampered, "garbage": "a.b.c"} {
		if _, err := f.p.VerifyHint(ctx, raw); !errors.Is(err, op.ErrInvalidHint) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestLogoutToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	lt, err := f.p.LogoutToken(ctx, "app", "u1", "sid-1")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := token.NewVerifier(f.keys, token.VerifierConfig{Issuer: iss, Audience: "app", Type: "logout+jwt", Now: f.clock})
	cl, err := v.Verify(ctx, lt)
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := cl.Extra["events"].(map[string]any)
	if _, ok := ev[op.BackchannelLogoutEvent]; !ok || len(ev) != 1 || cl.Extra["nonce"] != nil ||
		cl.Subject != "u1" || cl.SessionID != "sid-1" || cl.ExpiresAt.Sub(cl.IssuedAt) != op.LogoutTokenTTL || cl.ID == "" {
		t.Fatalf("logout token: %+v", cl)
	}
}

func TestNew_RefusesBadConfig(t *testing.T) {
	t.Parallel()
	if _, err := op.New(op.Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
	st := memstore.New(nil)
	keys, _ := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{})
	signer, _ := token.NewIssuer(keys, token.IssuerConfig{Issuer: iss})
	_, err := op.New(op.Config{Issuer: iss, Store: st, Clients: st, Signer: signer, Keys: keys, Revoker: &revoked{},
		CodeTTL: op.MaxCodeTTL + time.Second})
	if err == nil {
		t.Fatal("a code TTL over 10 minutes accepted")
	}
}

// TestUserClaims_EmailVerifiedFromUser: email_verified tells whether the
// address was proven; a self-service account not yet verified says false.
func TestUserClaims_EmailVerifiedFromUser(t *testing.T) {
	t.Parallel()
	for _, verified := range []bool{true, false} {
		u := &account.User{ID: "u1", Email: "ada@example.com", EmailVerified: verified}
		c := op.UserClaims(u, "openid email")
		if c["email_verified"] != verified || c["email"] != "ada@example.com" {
			t.Errorf("UserClaims(verified=%v) = %v", verified, c)
		}
	}
}
