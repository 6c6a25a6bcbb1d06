package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/sessiond/sessiond/session"
)

// Back-channel logout (OpenID Connect Back-Channel Logout 1.0), relying
// party side.
const (
	// LogoutEvent is the member of a logout token's events claim that makes
	// it one.
	LogoutEvent = "http://schemas.openid.net/event/backchannel-logout"
	// LogoutTokenMaxAge is how old (by iat) a logout token may be, plus
	// Leeway. Seen jtis are kept until no token with their iat can pass:
	// iat + LogoutTokenMaxAge + 2 Leeway.
	LogoutTokenMaxAge = 5 * time.Minute
	// MaxLogoutTokenSize bounds a logout token before it is parsed.
	MaxLogoutTokenSize = 8 << 10
)

// Errors of VerifyLogoutToken and BackChannelLogout. Every other error is a
// provider or store failure (ErrUnavailable, session.ErrUnavailable, ...).
var (
	// ErrLogoutToken: the token is not a valid logout token for this
	// provider and client (signature, claims, type). The wrapping error says
	// which check failed; it never holds the token.
	ErrLogoutToken = errors.New("oidc: invalid logout token")
	// ErrLogoutReplay: a logout token with this jti was accepted before.
	ErrLogoutReplay = errors.New("oidc: logout token replayed")
	// ErrLogoutDisabled: the Set has no LogoutStore.
	ErrLogoutDisabled = errors.New("oidc: back-channel logout is not enabled")
)

// LogoutStore keeps what back-channel logout needs: the logout tokens
// accepted so far, by (issuer, jti), and which local sessions began from
// which session at a provider, (issuer, sid). Implementations are safe for
// concurrent use and ignore expired records.
type LogoutStore interface {
	// UseLogoutToken records (issuer, jti) until expires, in one atomic
	// step; a pair already recorded and not expired wraps
	// session.ErrConflict, so exactly one of concurrent callers succeeds.
	UseLogoutToken(ctx context.Context, issuer, jti string, expires time.Time) error
	// AddUpstreamSession records that the local session sessionID began
	// from the provider's session sid of issuer, until expires.
	AddUpstreamSession(ctx context.Context, issuer, sid, sessionID string, expires time.Time) error
	// UpstreamSessions returns the local session IDs recorded for (issuer,
	// sid); none is an empty list, not an error.
	UpstreamSessions(ctx context.Context, issuer, sid string) ([]string, error)
}

// Sessions is what BackChannelLogout needs to end local sessions;
// *session.Manager has it.
type Sessions interface {
	// List returns the user's live sessions.
	List(ctx context.Context, userID string) ([]*session.Session, error)
	// Destroy ends a session; a missing one wraps session.ErrNotFound.
	Destroy(ctx context.Context, id string) error
}

// SessionMethod is the session.Session Method of sessions created by a
// sign-in with the named provider. A caller may add a suffix after a colon
// ("oidc:google:mfa", a sign-in still owing a local second factor); such
// sessions belong to the provider too (BackChannelLogout ends them).
func SessionMethod(provider string) string { return "oidc:" + provider }

// LogoutToken is a verified logout token.
type LogoutToken struct {
	// Provider is the configured provider's name.
	Provider string
	// Issuer is the provider's issuer (the token's iss).
	Issuer string
	// Subject (sub) and SessionID (sid): at least one is set.
	Subject, SessionID string
	// ID is the jti.
	ID string
	// IssuedAt is iat; Expiry is exp, zero when the token had none.
	IssuedAt, Expiry time.Time
}

// LogoutEnabled reports whether the Set can receive back-channel logout
// tokens (Options.Logouts is set).
func (s *Set) LogoutEnabled() bool { return s.opt.Logouts != nil }

// RecordSession notes that the local session sessionID, valid until
// expires, began from id's session at the provider (the ID token's sid), so
// that a logout token naming that sid ends it. It does nothing when id has
// no sid or back-channel logout is off.
func (s *Set) RecordSession(ctx context.Context, id *Identity, sessionID string, expires time.Time) error {
	if s.opt.Logouts == nil || id.SessionID == "" {
		return nil
	}
	if err := s.opt.Logouts.AddUpstreamSession(ctx, id.Issuer, id.SessionID, sessionID, expires); err != nil {
		return fmt.Errorf("oidc: record session: %w", err)
	}
	return nil
}

// logoutClaims are the claims VerifyLogoutToken reads; RawMessage fields
// tell a present claim from an absent one.
type logoutClaims struct {
	Subject   *string                    `json:"sub"`
	SessionID *string                    `json:"sid"`
	JTI       *string                    `json:"jti"`
	IssuedAt  *float64                   `json:"iat"`
	Expiry    *float64                   `json:"exp"`
	NotBefore *float64                   `json:"nbf"`
	Events    map[string]json.RawMessage `json:"events"`
	Nonce     json.RawMessage            `json:"nonce"`
}

func logoutErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrLogoutToken}, args...)...)
}

// VerifyLogoutToken checks raw, a logout token the named provider posted,
// and records its jti. The token must be a JWS signed with one of the
// provider's published keys under an algorithm its discovery document
// lists (asymmetric only: never none, never HMAC), with iss exactly the
// issuer, our client id in aud, iat present and at most LogoutTokenMaxAge
// old (Leeway allowed either way), exp (optional) and nbf (optional) not
// violated beyond Leeway, a jti, an events object holding LogoutEvent as
// an object, sub or sid (strings), no nonce, and a typ header, when
// present, of logout+jwt. Failures wrap ErrLogoutToken; a jti already
// accepted is ErrLogoutReplay.
func (s *Set) VerifyLogoutToken(ctx context.Context, name, raw string) (*LogoutToken, error) {
	if s.opt.Logouts == nil {
		return nil, ErrLogoutDisabled
	}
	p, ok := s.providers[name]
	if !ok {
		return nil, ErrUnknownProvider
	}
	if raw == "" {
		return nil, logoutErr("no logout_token")
	}
	if len(raw) > MaxLogoutTokenSize {
		return nil, logoutErr("larger than %d bytes", MaxLogoutTokenSize)
	}
	header, _, ok := strings.Cut(raw, ".")
	if !ok || strings.Count(raw, ".") != 2 {
		return nil, logoutErr("not a compact JWS")
	}
	d, err := s.discover(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("oidc: logout token: %w", err)
	}
	// Signature (algorithm pinned to the provider's), iss and aud. Expiry
	// is checked below: exp is optional here and gets Leeway.
	t, err := d.logoutVerifier.Verify(gooidc.ClientContext(ctx, s.opt.HTTPClient), raw)
	if err != nil {
		return nil, logoutErr("%w", err)
	}
	if err := checkLogoutHeader(header); err != nil {
		return nil, err
	}
	var payload json.RawMessage
	if err := t.Claims(&payload); err != nil {
		return nil, logoutErr("claims: %w", err)
	}
	var c logoutClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, logoutErr("claims: %w", err)
	}
	now := s.opt.Now()
	lt := &LogoutToken{Provider: name, Issuer: t.Issuer}
	switch {
	case c.Nonce != nil:
		return nil, logoutErr("nonce present")
	case c.JTI == nil || *c.JTI == "" || len(*c.JTI) > 256:
		return nil, logoutErr("missing or oversized jti")
	case c.IssuedAt == nil:
		return nil, logoutErr("missing iat")
	}
	for _, d := range []*float64{c.IssuedAt, c.Expiry, c.NotBefore} {
		if d != nil && (*d < 0 || *d > maxNumericDate) {
			return nil, logoutErr("a date out of range")
		}
	}
	lt.ID = *c.JTI
	lt.IssuedAt = unix(*c.IssuedAt)
	if lt.IssuedAt.After(now.Add(Leeway)) || lt.IssuedAt.Before(now.Add(-LogoutTokenMaxAge-Leeway)) {
		return nil, logoutErr("iat not recent")
	}
	if c.Expiry != nil {
		lt.Expiry = unix(*c.Expiry)
		if !lt.Expiry.After(now.Add(-Leeway)) {
			return nil, logoutErr("expired")
		}
	}
	if c.NotBefore != nil && unix(*c.NotBefore).After(now.Add(Leeway)) {
		return nil, logoutErr("not yet valid (nbf)")
	}
	ev, ok := c.Events[LogoutEvent]
	if !ok || !isJSONObject(ev) {
		return nil, logoutErr("events lacks the back-channel logout event object")
	}
	if c.Subject != nil {
		lt.Subject = *c.Subject
	}
	if c.SessionID != nil {
		lt.SessionID = *c.SessionID
	}
	if lt.Subject == "" && lt.SessionID == "" {
		return nil, logoutErr("neither sub nor sid")
	}
	// Remember the jti as long as the token could pass the checks above:
	// the iat window closes LogoutTokenMaxAge+Leeway after iat, whatever
	// exp says; one more Leeway covers nodes whose clocks differ.
	keep := lt.IssuedAt.Add(LogoutTokenMaxAge + 2*Leeway)
	if err := s.opt.Logouts.UseLogoutToken(ctx, lt.Issuer, lt.ID, keep); err != nil {
		if errors.Is(err, session.ErrConflict) {
			return nil, ErrLogoutReplay
		}
		return nil, fmt.Errorf("oidc: logout token: %w", err)
	}
	return lt, nil
}

// checkLogoutHeader refuses a typ other than logout+jwt (RFC 7515 §4.1.9:
// the "application/" prefix may be left out; compared case-insensitively).
// The signature has been verified already.
func checkLogoutHeader(seg string) error {
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return logoutErr("header: %w", err)
	}
	var h struct {
		Typ *string `json:"typ"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return logoutErr("header: %w", err)
	}
	if h.Typ != nil {
		typ := strings.ToLower(strings.TrimPrefix(strings.ToLower(*h.Typ), "application/"))
		if typ != "logout+jwt" {
			return logoutErr("typ %q", *h.Typ)
		}
	}
	return nil
}

func isJSONObject(m json.RawMessage) bool {
	var v map[string]json.RawMessage
	return json.Unmarshal(m, &v) == nil && v != nil
}

// maxNumericDate bounds the dates VerifyLogoutToken reads (year 2286).
const maxNumericDate = 1e10

func unix(f float64) time.Time {
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9))
}

// BackChannelLogout verifies raw (see VerifyLogoutToken) and ends the local
// sessions it names. With a sid: the sessions recorded for (issuer, sid)
// at sign-in (RecordSession). With only a sub, or a sid for which no
// session was ever recorded (a provider that puts no sid in its ID
// tokens): every session of the user linked to (issuer, sub) that was
// created by a sign-in with this provider; the user's sessions from
// password logins and other providers stay. It returns the token and the
// IDs of the sessions it ended.
func (s *Set) BackChannelLogout(ctx context.Context, name, raw string, ids IdentityStore, sessions Sessions) (*LogoutToken, []string, error) {
	lt, err := s.VerifyLogoutToken(ctx, name, raw)
	if err != nil {
		return nil, nil, err
	}
	var ended []string
	end := func(id string) error {
		switch err := sessions.Destroy(ctx, id); {
		case err == nil:
			ended = append(ended, id)
		case !errors.Is(err, session.ErrNotFound):
			return fmt.Errorf("oidc: back-channel logout: %w", err)
		}
		return nil
	}
	if lt.SessionID != "" {
		recorded, err := s.opt.Logouts.UpstreamSessions(ctx, lt.Issuer, lt.SessionID)
		if err != nil {
			return nil, nil, fmt.Errorf("oidc: back-channel logout: %w", err)
		}
		for _, id := range recorded {
			if err := end(id); err != nil {
				return nil, nil, err
			}
		}
		if len(recorded) > 0 || lt.Subject == "" {
			return lt, ended, nil
		}
	}
	uid, err := ids.IdentityUser(ctx, lt.Issuer, lt.Subject)
	if isNotFound(err) {
		return lt, nil, nil // nobody signed in with this identity
	}
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: back-channel logout: %w", err)
	}
	list, err := sessions.List(ctx, uid)
	if err != nil {
		return nil, nil, fmt.Errorf("oidc: back-channel logout: %w", err)
	}
	for _, sess := range list {
		if sess.Method == SessionMethod(name) || strings.HasPrefix(sess.Method, SessionMethod(name)+":") {
			if err := end(sess.ID); err != nil {
				return nil, nil, err
			}
		}
	}
	return lt, ended, nil
}
