package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// maxActDepth bounds the act chain Issue accepts.
const maxActDepth = 8

// IssuerConfig configures an Issuer. Zero values mean the defaults.
type IssuerConfig struct {
	// Issuer is the iss of every token (token.issuer). Required.
	Issuer string
	// Audience is used when Claims.Audience is empty (token.audience).
	Audience []string
	// TTL is the lifetime of a token whose ExpiresAt is zero. Default 15m,
	// and at most the key set's TokenTTL.
	TTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Issuer signs tokens with the current signing key of a Keys. It is safe for
// concurrent use.
type Issuer struct {
	keys *Keys
	iss  string
	aud  []string
	ttl  time.Duration
	now  func() time.Time
}

// NewIssuer returns an Issuer signing with keys. An empty Issuer, or a TTL
// that is negative or longer than keys.TokenTTL(), is an error.
func NewIssuer(keys *Keys, cfg IssuerConfig) (*Issuer, error) {
	if keys == nil {
		return nil, errors.New("token: issuer: nil keys")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("token: issuer: issuer required")
	}
	if cfg.TTL == 0 {
		cfg.TTL = min(DefaultTokenTTL, keys.TokenTTL())
	}
	if cfg.TTL < 0 || cfg.TTL > keys.TokenTTL() {
		return nil, fmt.Errorf("token: issuer: ttl %s outside (0, %s] (the key set's TokenTTL)", cfg.TTL, keys.TokenTTL())
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Issuer{
		keys: keys, iss: cfg.Issuer, aud: append([]string(nil), cfg.Audience...),
		ttl: cfg.TTL, now: cfg.Now,
	}, nil
}

// IssueOption changes how Issue signs one token.
type IssueOption func(*issueOptions)

type issueOptions struct {
	typ string
}

// WithType sets the typ header, instead of "at+jwt": for example
// "logout+jwt" for OIDC back-channel logout tokens or "JWT" for ID tokens.
// It must be 1 to 64 printable ASCII characters.
func WithType(typ string) IssueOption {
	return func(o *issueOptions) { o.typ = typ }
}

// Issue signs c with the current signing key and returns the compact JWS,
// with header {alg, kid, typ:"at+jwt"}. It fills in, when zero: iss (the
// configured issuer; another value is an error), aud (the configured
// audience), iat (now), exp (iat + TTL) and jti (128 random bits). Times are
// truncated to whole seconds. It refuses a token without aud, with exp not
// after iat, living longer than the key set's TokenTTL from now (its key
// could leave the JWKS first), or over MaxTokenSize. ErrNoSigningKey means
// the key set has no signer (see Keys.Ensure).
func (i *Issuer) Issue(ctx context.Context, c Claims, opts ...IssueOption) (string, error) {
	o := issueOptions{typ: DefaultType}
	for _, opt := range opts {
		opt(&o)
	}
	if !printable(o.typ, 64) {
		return "", fmt.Errorf("token: issue: invalid typ %q", o.typ)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("token: issue: %w", err)
	}
	key, err := i.keys.Signer()
	if err != nil {
		return "", fmt.Errorf("token: issue: %w", err)
	}
	now := i.now()
	switch c.Issuer {
	case "":
		c.Issuer = i.iss
	case i.iss:
	default:
		return "", fmt.Errorf("token: issue: issuer %q is not the configured %q", c.Issuer, i.iss)
	}
	if len(c.Audience) == 0 {
		c.Audience = i.aud
	}
	if len(c.Audience) == 0 {
		return "", errors.New("token: issue: audience required")
	}
	for _, a := range c.Audience {
		if a == "" {
			return "", errors.New("token: issue: empty audience")
		}
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	c.IssuedAt = seconds(c.IssuedAt)
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = c.IssuedAt.Add(i.ttl)
	}
	c.ExpiresAt = seconds(c.ExpiresAt)
	if !c.NotBefore.IsZero() {
		c.NotBefore = seconds(c.NotBefore)
	}
	if !c.ExpiresAt.After(c.IssuedAt) {
		return "", errors.New("token: issue: exp not after iat")
	}
	if c.ExpiresAt.Sub(now) > i.keys.TokenTTL() {
		return "", fmt.Errorf("token: issue: lifetime beyond the key set's TokenTTL %s", i.keys.TokenTTL())
	}
	if c.ID == "" {
		if c.ID, err = randomID(); err != nil {
			return "", fmt.Errorf("token: issue: %w", err)
		}
	}
	depth := 0
	for a := c.Act; a != nil; a = a.Act {
		if depth++; depth > maxActDepth || a.Subject == "" {
			return "", errors.New("token: issue: act chain too deep or without sub")
		}
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("token: issue: %w", err)
	}
	tok, err := sign(key, o.typ, payload)
	if err != nil {
		return "", fmt.Errorf("token: issue: %w", err)
	}
	if len(tok) > MaxTokenSize {
		return "", fmt.Errorf("token: issue: token of %d bytes exceeds %d", len(tok), MaxTokenSize)
	}
	return tok, nil
}

// sign makes a compact JWS of payload with header {alg, kid, typ}.
func sign(key *Key, typ string, payload []byte) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ)).WithHeader("kid", key.ID)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Alg), Key: key.priv}, opts)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// seconds drops the sub-second part (and the monotonic reading) of t.
func seconds(t time.Time) time.Time { return time.Unix(t.Unix(), 0) }

// printable reports whether s is 1 to n printable ASCII characters.
func printable(s string, n int) bool {
	if s == "" || len(s) > n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
