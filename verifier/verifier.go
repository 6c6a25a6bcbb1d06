package verifier

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessiond/sessiond/token"
)

var (
	// ErrUnavailable is matched (errors.Is) when a token could not be
	// checked: the keys or the revocation status could not be loaded. Such
	// a token is neither accepted nor blamed; Middleware answers 503.
	ErrUnavailable = errors.New("verifier: unavailable")
	// ErrRevoked is matched, together with token.ErrInvalidToken, when the
	// RevocationChecker says the token was revoked.
	ErrRevoked = errors.New("verifier: token revoked")
)

// RevocationChecker tells whether a verified token has been revoked since it
// was issued. Revoked is called only with a token whose signature and claims
// Verify has checked, and c holds those claims; implementations key on c.ID
// (jti) or ask the issuer, never on raw's exact bytes alone. An error means
// the status is unknown: the Verifier fails closed (ErrUnavailable).
// Introspection is the implementation that asks sessiond.
type RevocationChecker interface {
	Revoked(ctx context.Context, raw string, c *token.Claims) (bool, error)
}

// Config configures a Verifier. Zero values mean the documented defaults.
type Config struct {
	// Issuer is the exact iss that tokens must carry, e.g.
	// "https://auth.example.com". Required.
	Issuer string
	// Audience must be one of the token's aud values. Required.
	Audience string
	// JWKSURL is where the keys are published. Default: the jwks_uri of
	// <Issuer>/.well-known/openid-configuration, read by New (whose issuer
	// must equal Issuer). Set it to start without the issuer reachable.
	JWKSURL string
	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Zero means token.DefaultLeeway (30s), negative means none, and above
	// token.MaxLeeway (60s) New refuses the config.
	Leeway time.Duration
	// HTTPClient fetches discovery and the JWKS. Default: a client with a
	// 10 s timeout that never follows a redirect from https to http.
	HTTPClient *http.Client
	// InsecureAllowHTTP allows a plain-http Issuer or JWKSURL on a
	// non-loopback host. Anyone on the path can then forge every token.
	// Default false.
	InsecureAllowHTTP bool
	// Revocation, when set, is asked about every token that passes
	// verification. Default none: a token is good until it expires.
	Revocation RevocationChecker
	// KeySet, when set, replaces the RemoteKeySet that New would build from
	// JWKSURL (for a RemoteKeySet with other tuning, or in-process keys).
	// Default nil.
	KeySet token.KeySet
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives the reason of every refused request at Debug, and of
	// every 503 at Warn, plus the RemoteKeySet's warnings. Tokens are never
	// logged. Default: no logging.
	Logger *slog.Logger
}

// Verifier verifies sessiond access tokens (RFC 9068 "at+jwt") without a
// lookup, with token.Verifier's rules, against keys from the issuer's JWKS,
// and optionally checks revocation. It is safe for concurrent use.
type Verifier struct {
	tv     *token.Verifier
	keys   token.KeySet
	revoc  RevocationChecker
	logger *slog.Logger
	now    func() time.Time
}

// New returns a Verifier. When neither JWKSURL nor KeySet is set it reads the
// issuer's discovery document (with ctx) to find the JWKS; that is its only
// I/O, and its failure is an error. Keys are fetched on first use. An empty
// Issuer or Audience, a Leeway above 60 s, or a plain-http URL on a
// non-loopback host (without InsecureAllowHTTP) is an error.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("verifier: Issuer required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("verifier: Audience required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = defaultHTTPClient()
	}
	ks := cfg.KeySet
	if ks == nil {
		u := cfg.JWKSURL
		if u == "" {
			var err error
			if u, err = discoverJWKS(ctx, client, cfg.Issuer, cfg.InsecureAllowHTTP); err != nil {
				return nil, fmt.Errorf("verifier: discovery: %w", err)
			}
		}
		rks, err := NewRemoteKeySet(RemoteKeySetConfig{
			URL: u, InsecureAllowHTTP: cfg.InsecureAllowHTTP, HTTPClient: client, Now: cfg.Now, Logger: cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		ks = rks
	}
	tv, err := token.NewVerifier(ks, token.VerifierConfig{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Type: token.DefaultType, Leeway: cfg.Leeway, Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("verifier: %w", err)
	}
	return &Verifier{tv: tv, keys: ks, revoc: cfg.Revocation, logger: cfg.Logger, now: cfg.Now}, nil
}

// KeySet returns the key set the Verifier reads: the RemoteKeySet New built,
// or Config.KeySet. A *RemoteKeySet's Refresh warms it up at start.
func (v *Verifier) KeySet() token.KeySet { return v.keys }

// Verify checks raw and returns its claims: every rule of token.Verifier
// (size, strict encoding, alg pinned to the key named by kid, typ at+jwt,
// exp, iat, nbf, iss, aud, jti), then the RevocationChecker if any.
//
// A failure caused by the token matches token.ErrInvalidToken (an expired
// token also token.ErrExpired, a revoked one also ErrRevoked): answer 401.
// When the keys or the revocation status cannot be loaded the error matches
// ErrUnavailable instead: answer 503, never accept.
func (v *Verifier) Verify(ctx context.Context, raw string) (*token.Claims, error) {
	c, err := v.tv.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, token.ErrInvalidToken) {
			return nil, fmt.Errorf("verifier: %w", err)
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if v.revoc == nil {
		return c, nil
	}
	revoked, err := v.revoc.Revoked(ctx, raw, c)
	if err != nil {
		return nil, fmt.Errorf("%w: revocation check: %w", ErrUnavailable, err)
	}
	if revoked {
		return nil, fmt.Errorf("verifier: jti %q: %w: %w", truncate(c.ID, 64), token.ErrInvalidToken, ErrRevoked)
	}
	return c, nil
}
