package op

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/session"
)

// Code is what an authorization code stands for: the approved request and
// the session that approved it.
type Code struct {
	// ID names the code in the store (derived from its hash).
	ID          string    `json:"-"`
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri"`
	Challenge   string    `json:"code_challenge"`
	Scope       string    `json:"scope"`
	Nonce       string    `json:"nonce,omitempty"`
	SessionID   string    `json:"sid"`
	UserID      string    `json:"sub"`
	AuthTime    time.Time `json:"auth_time"`
	// SessionExpiresAt is the session's absolute expiry.
	SessionExpiresAt time.Time `json:"session_expires_at"`
	ExpiresAt        time.Time `json:"expires_at"`
}

// Issued is what a code's redemption handed out; a replay of the code
// revokes it.
type Issued struct {
	FamilyID        string    `json:"family_id,omitempty"`
	AccessTokenID   string    `json:"jti,omitempty"`
	AccessExpiresAt time.Time `json:"exp,omitzero"`
}

// Approval is the part of a Code that the authorization endpoint knows once
// the user has signed in (and consented).
type Approval struct {
	SessionID        string
	UserID           string
	AuthTime         time.Time
	SessionExpiresAt time.Time
}

// NewCode issues an authorization code for the approved request: 256 random
// bits, base64url; only its hash is stored. It lives CodeTTL.
func (p *Provider) NewCode(ctx context.Context, req *Request, a Approval) (string, error) {
	code, err := session.NewToken(p.cfg.Rand)
	if err != nil {
		return "", fmt.Errorf("op: new code: %w", err)
	}
	now := p.now()
	c := Code{ClientID: req.Client.ID, RedirectURI: req.RedirectURI, Challenge: req.CodeChallenge,
		Scope: req.Scope(), Nonce: req.Nonce, SessionID: a.SessionID, UserID: a.UserID,
		AuthTime: a.AuthTime.UTC().Truncate(time.Second), SessionExpiresAt: a.SessionExpiresAt.UTC(),
		ExpiresAt: now.Add(p.cfg.CodeTTL).UTC()}
	data, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("op: new code: %w", err)
	}
	if err := p.cfg.Store.PutCode(ctx, codeID(code), data, c.ExpiresAt.Add(codeRetention)); err != nil {
		return "", fmt.Errorf("op: new code: %w", err)
	}
	return code, nil
}

// codeID is the store key of a code: base64url of its SHA-256.
func codeID(code string) string {
	h := sha256.Sum256([]byte(code))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// Redeem spends an authorization code at the token endpoint. The code must
// be unexpired, issued to clientID for exactly redirectURI, and verifier
// must match its PKCE S256 challenge. Every failure is ErrInvalidGrant. A
// code presented a second time is refused and what the first redemption
// issued is revoked (RFC 6749 §4.1.2, RFC 9700 §4.5); the caller must then
// record what it issues with Issued, which revokes it if a replay came in
// between.
func (p *Provider) Redeem(ctx context.Context, code, clientID, redirectURI, verifier string) (*Code, error) {
	if _, err := session.ParseToken(code); err != nil {
		return nil, ErrInvalidGrant
	}
	id := codeID(code)
	data, issued, first, err := p.cfg.Store.RedeemCode(ctx, id)
	if errors.Is(err, session.ErrNotFound) {
		return nil, ErrInvalidGrant
	}
	if err != nil {
		return nil, fmt.Errorf("op: redeem code: %w", err)
	}
	if !first {
		if err := p.revoke(ctx, issued); err != nil {
			return nil, err
		}
		return nil, ErrCodeReplayed
	}
	var c Code
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("op: redeem code: %w", err)
	}
	c.ID = id
	if !p.now().Before(c.ExpiresAt) || c.ClientID != clientID || c.RedirectURI != redirectURI || !checkPKCE(c.Challenge, verifier) {
		return nil, ErrInvalidGrant
	}
	return &c, nil
}

// ErrCodeReplayed is returned by Redeem and Issued when a code was presented
// more than once; it matches ErrInvalidGrant, so callers answer
// invalid_grant, and may audit the replay.
var ErrCodeReplayed = &replayError{}

type replayError struct{}

func (*replayError) Error() string        { return "op: authorization code replayed" }
func (*replayError) Is(target error) bool { return target == ErrInvalidGrant }
func (*replayError) As(target any) bool {
	if e, ok := target.(**Error); ok {
		*e = ErrInvalidGrant
		return true
	}
	return false
}

// Issued records what the redemption of c issued. If the code was replayed
// before this call, what was issued is revoked at once and ErrCodeReplayed
// returned: the caller must not hand the tokens out.
func (p *Provider) Issued(ctx context.Context, c *Code, is Issued) error {
	data, err := json.Marshal(is)
	if err != nil {
		return fmt.Errorf("op: issued: %w", err)
	}
	replayed, err := p.cfg.Store.SetCodeIssued(ctx, c.ID, data)
	if err != nil {
		return fmt.Errorf("op: issued: %w", err)
	}
	if replayed {
		if err := p.revoke(ctx, data); err != nil {
			return err
		}
		return ErrCodeReplayed
	}
	return nil
}

// revoke ends what a code's redemption issued (stored as JSON in issued).
func (p *Provider) revoke(ctx context.Context, issued []byte) error {
	if len(issued) == 0 {
		return nil
	}
	var is Issued
	if err := json.Unmarshal(issued, &is); err != nil {
		return fmt.Errorf("op: revoke replayed code: %w", err)
	}
	if is.FamilyID != "" {
		if err := p.cfg.Revoker.RevokeFamily(ctx, is.FamilyID); err != nil && !errors.Is(err, session.ErrNotFound) {
			return fmt.Errorf("op: revoke replayed code: %w", err)
		}
	}
	if is.AccessTokenID != "" {
		if err := p.cfg.Revoker.DenyAccess(ctx, is.AccessTokenID, is.AccessExpiresAt); err != nil {
			return fmt.Errorf("op: revoke replayed code: %w", err)
		}
	}
	return nil
}

// checkPKCE verifies an RFC 7636 S256 code verifier against challenge, in
// constant time. Verifiers are 43–128 unreserved characters.
func checkPKCE(challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(want), []byte(challenge)) == 1
}

// S256 returns the PKCE S256 challenge of verifier (for clients and tests).
func S256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
