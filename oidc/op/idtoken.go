package op

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/token"
)

// IDTokenType is the typ header of ID tokens: plain "JWT", so that an ID
// token is never accepted where an access token ("at+jwt") or a logout
// token ("logout+jwt") is expected, and the other way round.
const IDTokenType = "JWT"

// LogoutTokenType is the typ header of back-channel logout tokens.
const LogoutTokenType = "logout+jwt"

// BackchannelLogoutEvent is the member of a logout token's "events" claim.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// UserClaims returns the claims about u that the scopes allow, for ID tokens
// and the userinfo endpoint: always sub; with email, email and
// email_verified (User.EmailVerified: whether the address was proven, by a
// mailed link, an administrator or a provider that verified it); with profile, sessiond's roles and org_id.
func UserClaims(u *account.User, scope string) map[string]any {
	scopes := strings.Fields(scope)
	m := map[string]any{"sub": u.ID}
	if slices.Contains(scopes, ScopeEmail) {
		m["email"] = u.Email
		m["email_verified"] = u.EmailVerified
	}
	if slices.Contains(scopes, ScopeProfile) {
		roles := u.Roles
		if roles == nil {
			roles = []string{}
		}
		m["roles"] = roles
		if u.OrgID != "" {
			m["org_id"] = u.OrgID
		}
	}
	return m
}

// IDToken signs the ID token for a redeemed code: iss, sub, aud (the client
// ID), azp, exp, iat, auth_time, nonce (when the request had one), sid (the
// session's public ID, as in back-channel logout tokens), jti, and the user
// claims its scope allows. Header typ is "JWT".
func (p *Provider) IDToken(ctx context.Context, c *Code, u *account.User) (string, error) {
	uc := UserClaims(u, c.Scope)
	cl := token.Claims{Subject: u.ID, Audience: []string{c.ClientID}, SessionID: c.SessionID, AuthTime: c.AuthTime,
		Extra: map[string]any{"azp": c.ClientID}}
	if c.Nonce != "" {
		cl.Extra["nonce"] = c.Nonce
	}
	if v, ok := uc["email"].(string); ok {
		cl.Email = v
		cl.Extra["email_verified"] = uc["email_verified"]
	}
	if v, ok := uc["roles"].([]string); ok {
		cl.Roles = v
	}
	if v, ok := uc["org_id"].(string); ok {
		cl.OrgID = v
	}
	tok, err := p.cfg.Signer.Issue(ctx, cl, token.WithType(IDTokenType))
	if err != nil {
		return "", fmt.Errorf("op: id token: %w", err)
	}
	return tok, nil
}

// LogoutToken signs a back-channel logout token (OIDC Back-Channel Logout
// 1.0 §2.4) for the client: header typ "logout+jwt"; claims iss, aud (the
// client ID), iat, exp (iat + 2 minutes), jti, sub, sid and events; never a
// nonce.
func (p *Provider) LogoutToken(ctx context.Context, clientID, userID, sessionID string) (string, error) {
	now := p.now()
	cl := token.Claims{Subject: userID, Audience: []string{clientID}, SessionID: sessionID,
		IssuedAt: now, ExpiresAt: now.Add(LogoutTokenTTL),
		Extra: map[string]any{"events": map[string]any{BackchannelLogoutEvent: map[string]any{}}}}
	tok, err := p.cfg.Signer.Issue(ctx, cl, token.WithType(LogoutTokenType))
	if err != nil {
		return "", fmt.Errorf("op: logout token: %w", err)
	}
	return tok, nil
}

// Hint is what a verified id_token_hint says.
type Hint struct {
	ClientID  string
	UserID    string
	SessionID string
}

// ErrInvalidHint is returned by VerifyHint for anything that is not an ID
// token this provider issued.
var ErrInvalidHint = errors.New("op: invalid id_token_hint")

// VerifyHint checks an id_token_hint (RP-Initiated Logout 1.0 §2): an ID
// token signed by our key set (typ "JWT", iss ours, aud a single client ID,
// strict verification by token.Verifier). An expired hint is accepted: it
// only identifies the session. Failures wrap ErrInvalidHint; a key-set
// failure is returned as is.
func (p *Provider) VerifyHint(ctx context.Context, raw string) (*Hint, error) {
	aud, ok := unverifiedAudience(raw)
	if !ok {
		return nil, ErrInvalidHint
	}
	v, err := token.NewVerifier(p.cfg.Keys, token.VerifierConfig{Issuer: p.cfg.Issuer, Audience: aud, Type: IDTokenType, Now: p.cfg.Now})
	if err != nil {
		return nil, fmt.Errorf("op: verify hint: %w", err)
	}
	c, err := v.Verify(ctx, raw)
	switch {
	case errors.Is(err, token.ErrExpired):
		// The signature and typ were checked before exp; read the
		// (authenticated) claims and check the rest ourselves.
		c, err = expiredClaims(raw)
		if err != nil || c.Issuer != p.cfg.Issuer || len(c.Audience) != 1 || c.Audience[0] != aud {
			return nil, ErrInvalidHint
		}
	case errors.Is(err, token.ErrInvalidToken):
		return nil, fmt.Errorf("%w: %v", ErrInvalidHint, err)
	case err != nil:
		return nil, err
	}
	if len(c.Audience) != 1 || c.Subject == "" {
		return nil, ErrInvalidHint
	}
	return &Hint{ClientID: aud, UserID: c.Subject, SessionID: c.SessionID}, nil
}

// unverifiedAudience reads the single aud of a JWT's payload, only to pick
// the audience the verifier then checks.
func unverifiedAudience(raw string) (string, bool) {
	if len(raw) > token.MaxTokenSize || strings.Count(raw, ".") != 2 {
		return "", false
	}
	parts := strings.Split(raw, ".")
	b, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return "", false
	}
	var m struct {
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(b, &m) != nil {
		return "", false
	}
	var s string
	if json.Unmarshal(m.Aud, &s) == nil && s != "" {
		return s, true
	}
	var arr []string
	if json.Unmarshal(m.Aud, &arr) == nil && len(arr) == 1 && arr[0] != "" {
		return arr[0], true
	}
	return "", false
}

// expiredClaims decodes the payload of a token whose signature Verify has
// already checked (it reports ErrExpired only after the signature and typ).
func expiredClaims(raw string) (*token.Claims, error) {
	parts := strings.Split(raw, ".")
	b, err := base64.RawURLEncoding.Strict().DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var c token.Claims
	if err := c.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return &c, nil
}
