package op

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/token"
)

// Defaults and limits.
const (
	// DefaultCodeTTL is how long an authorization code may be redeemed.
	DefaultCodeTTL = 60 * time.Second
	// MaxCodeTTL is the longest CodeTTL New accepts (OIDC Core §4.1.2:
	// at most 10 minutes).
	MaxCodeTTL = 10 * time.Minute
	// LogoutTokenTTL is the lifetime of a back-channel logout token.
	LogoutTokenTTL = 2 * time.Minute
	// codeRetention is how long a code's record outlives its expiry, so
	// that a replay is recognised (and answered by revocation) that long.
	codeRetention = time.Hour
)

// Revoker ends tokens: what a code's first redemption issued when the code
// is replayed, and what a session's logins were issued when the session
// ends. internal/server implements it over the refresh service.
type Revoker interface {
	// RevokeFamily ends a refresh family and denies its access tokens.
	RevokeFamily(ctx context.Context, familyID string) error
	// DenyAccess denies one access token by jti until it expires.
	DenyAccess(ctx context.Context, jti string, exp time.Time) error
	// DenySession denies every access token whose sid is sessionID.
	DenySession(ctx context.Context, sessionID string) error
}

// Config configures a Provider. Zero values mean the defaults.
type Config struct {
	// Issuer is the "iss" of ID and logout tokens and of authorization
	// responses (RFC 9207). Required; it must be the Issuer's issuer.
	Issuer string
	// Store keeps codes, logins and consents. Required.
	Store Store
	// Clients looks registered clients up. Required.
	Clients client.Getter
	// Signer signs ID tokens and logout tokens. Required.
	Signer *token.Issuer
	// Keys verifies id_token_hint. Required.
	Keys token.KeySet
	// Revoker ends what a replayed code issued. Required.
	Revoker Revoker
	// CodeTTL is how long a code may be redeemed. Default DefaultCodeTTL
	// (60 s); at most MaxCodeTTL.
	CodeTTL time.Duration
	// HTTPClient delivers back-channel logout tokens. Default: a client
	// with a 5 s timeout that follows no redirects.
	HTTPClient *http.Client
	// RetryDelays are the pauses between back-channel delivery attempts
	// (after a network error, 429 or 5xx). Default 1 s, 4 s: three
	// attempts. Empty non-nil: one attempt.
	RetryDelays []time.Duration
	// Log receives delivery failures (never a token). Nil: discarded.
	Log *slog.Logger
	// OnDelivery, if set, is called once per back-channel logout delivery
	// with its result: "ok", "failed" or "error" (could not be built).
	OnDelivery func(result string)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of codes. Default crypto/rand.
	Rand io.Reader
}

// Provider is an OpenID Provider's decision logic. Create it with New; it is
// safe for concurrent use.
type Provider struct {
	cfg Config
	wg  sync.WaitGroup // back-channel deliveries in flight
}

// New returns a Provider for cfg.
func New(cfg Config) (*Provider, error) {
	switch {
	case cfg.Issuer == "":
		return nil, errors.New("op: new: Issuer is required")
	case cfg.Store == nil || cfg.Clients == nil || cfg.Signer == nil || cfg.Keys == nil || cfg.Revoker == nil:
		return nil, errors.New("op: new: Store, Clients, Signer, Keys and Revoker are required")
	}
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	if cfg.CodeTTL < 0 || cfg.CodeTTL > MaxCodeTTL {
		return nil, fmt.Errorf("op: new: code TTL %s outside (0, %s]", cfg.CodeTTL, MaxCodeTTL)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: deliveryTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if cfg.RetryDelays == nil {
		cfg.RetryDelays = []time.Duration{time.Second, 4 * time.Second}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Provider{cfg: cfg}, nil
}

// Issuer returns the provider's issuer identifier.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// Store returns the provider's store.
func (p *Provider) Store() Store { return p.cfg.Store }

func (p *Provider) now() time.Time { return p.cfg.Now() }

// Error is an OAuth 2 / OpenID Connect error with its RFC 6749 code
// ("invalid_request", "login_required", ...) and a description safe to show
// to the client.
type Error struct {
	Code        string
	Description string
}

func (e *Error) Error() string { return "op: " + e.Code + ": " + e.Description }

func oerr(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// ErrInvalidGrant is the token endpoint's answer to every code that is
// unknown, expired, spent, replayed, or bound to another client, redirect
// URI or PKCE verifier: one error, so the cases cannot be told apart.
var ErrInvalidGrant = &Error{Code: "invalid_grant", Description: "the authorization code is invalid, expired or already used"}
