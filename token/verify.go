package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

var (
	// ErrInvalidToken is matched (errors.Is) by every verification failure
	// caused by the token itself. The wrapped text says why, for logs;
	// clients should see only that the token is invalid.
	ErrInvalidToken = errors.New("token: invalid token")
	// ErrExpired is matched, together with ErrInvalidToken, when the token
	// is well formed and correctly signed but its exp has passed (beyond the
	// leeway), so callers can answer "expired" to trigger a refresh.
	ErrExpired = errors.New("token: expired")
)

const (
	// MaxTokenSize is the largest token Verify parses: 8 KiB. Longer input
	// is refused before any decoding.
	MaxTokenSize = 8 << 10
	// DefaultLeeway is the clock skew Verify allows by default.
	DefaultLeeway = 30 * time.Second
	// MaxLeeway is the largest leeway NewVerifier accepts.
	MaxLeeway = 60 * time.Second
	// DefaultType is the typ header of access tokens (RFC 9068).
	DefaultType = "at+jwt"
)

// KeySet gives a Verifier the keys of our own deployment by kid. *Keys is the
// implementation; a KeySet must never fetch keys named by the token (jku,
// x5u, embedded jwk). VerificationKey returns an error matching ErrNotFound
// for an unknown or expired kid; any other error means the keys could not be
// loaded (the Verifier then fails closed without wrapping ErrInvalidToken).
type KeySet interface {
	VerificationKey(ctx context.Context, kid string) (*Key, error)
}

var _ KeySet = (*Keys)(nil)

// VerifierConfig configures a Verifier. Zero values mean the defaults.
type VerifierConfig struct {
	// Issuer is the exact iss a token must carry. Required.
	Issuer string
	// Audience must be one of the token's aud values, exactly. Required.
	Audience string
	// Type is the expected typ header. Default "at+jwt". It is compared
	// case-insensitively, with an optional "application/" prefix on either
	// side (RFC 8725 §3.11). Use "logout+jwt" for logout tokens, "JWT" for
	// ID tokens.
	Type string
	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Zero means DefaultLeeway (30s); negative means none. Above MaxLeeway
	// (60s) NewVerifier refuses the config rather than silently clamp it.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Verifier checks tokens signed by our own key set. It is safe for
// concurrent use.
type Verifier struct {
	keys   KeySet
	iss    string
	aud    string
	typ    string // normalized
	leeway time.Duration
	now    func() time.Time
}

// NewVerifier returns a Verifier over keys. An empty Issuer or Audience, or a
// Leeway above MaxLeeway, is an error.
func NewVerifier(keys KeySet, cfg VerifierConfig) (*Verifier, error) {
	if keys == nil {
		return nil, errors.New("token: verifier: nil key set")
	}
	if cfg.Issuer == "" {
		return nil, errors.New("token: verifier: issuer required")
	}
	if cfg.Audience == "" {
		return nil, errors.New("token: verifier: audience required")
	}
	if cfg.Type == "" {
		cfg.Type = DefaultType
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	case cfg.Leeway > MaxLeeway:
		return nil, fmt.Errorf("token: verifier: leeway %s above the maximum %s", cfg.Leeway, MaxLeeway)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Verifier{keys: keys, iss: cfg.Issuer, aud: cfg.Audience, typ: normType(cfg.Type), leeway: cfg.Leeway, now: cfg.Now}, nil
}

// normType lower-cases a media type and drops an "application/" prefix.
func normType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// invalid wraps ErrInvalidToken with detail for logs.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidToken}, args...)...)
}

// header is what we read from a JOSE header.
type header struct {
	alg, kid, typ string
}

// refusedHeaders are header members that would make a verifier fetch or
// trust keys named by the token, or change how it is processed. We follow
// none of them, so their presence alone refuses the token.
var refusedHeaders = []string{"jku", "x5u", "jwk", "x5c", "crit", "b64", "zip", "enc"}

func parseHeader(b []byte) (header, error) {
	m, err := decodeObject(b)
	if err != nil {
		return header{}, fmt.Errorf("header: %w", err)
	}
	for _, name := range refusedHeaders {
		if _, ok := m[name]; ok {
			return header{}, fmt.Errorf("header: %q refused", name)
		}
	}
	var h header
	if h.alg, err = jsonString(m["alg"]); err != nil {
		return header{}, errors.New("header: alg missing or not a string")
	}
	if strings.EqualFold(h.alg, "none") {
		return header{}, errors.New("header: alg none refused")
	}
	if h.kid, err = jsonString(m["kid"]); err != nil {
		return header{}, errors.New("header: kid missing or not a string")
	}
	if raw, ok := m["typ"]; ok {
		if h.typ, err = jsonString(raw); err != nil {
			return header{}, errors.New("header: typ not a string")
		}
	}
	return h, nil
}

// Verify checks raw and returns its claims. In order: size (at most
// MaxTokenSize, before any parsing); three strict base64url segments; a
// header without duplicate names, without jku/x5u/jwk/x5c/crit, with an alg
// other than none and a kid of 1-128 base64url characters; the key named by
// kid, from the KeySet only; alg equal to that key's Alg; the signature;
// only then typ and the claims: no duplicate names, exp, iat, iss (exact),
// aud (must contain Audience) and jti required, exp/nbf/iat checked against
// Now with the leeway.
//
// Every failure caused by the token matches ErrInvalidToken (an expired one
// also ErrExpired). When the KeySet cannot load keys the error does not
// match ErrInvalidToken: the caller should fail closed with 503, not 401.
// Verify does not check revocation; callers do, by jti and ver.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > MaxTokenSize {
		return nil, invalid("longer than %d bytes", MaxTokenSize)
	}
	if strings.Count(raw, ".") != 2 {
		return nil, invalid("not three segments")
	}
	hSeg, rest, _ := strings.Cut(raw, ".")
	pSeg, sSeg, _ := strings.Cut(rest, ".")
	hb, err := decodeSegment(hSeg)
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	if _, err := decodeSegment(pSeg); err != nil {
		return nil, invalid("payload: %v", err)
	}
	sig, err := decodeSegment(sSeg)
	if err != nil {
		return nil, invalid("signature: %v", err)
	}
	h, err := parseHeader(hb)
	if err != nil {
		return nil, invalid("%v", err)
	}
	if len(sig) == 0 {
		return nil, invalid("empty signature")
	}
	if !ValidKeyID(h.kid) {
		return nil, invalid("malformed kid")
	}
	key, err := v.keys.VerificationKey(ctx, h.kid)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, invalid("unknown or expired kid %q", h.kid)
		}
		return nil, fmt.Errorf("token: verify: %w", err)
	}
	if key == nil || !key.live(v.now()) {
		return nil, invalid("kid %q: no live key", h.kid)
	}
	// The algorithm is pinned to the key; the header only has to agree.
	if h.alg != string(key.Alg) {
		return nil, invalid("alg %q does not match key %s (%s)", truncate(h.alg, 16), key.ID, key.Alg)
	}
	payload, err := verifySignature(raw, key)
	if err != nil {
		return nil, invalid("signature: %v", err)
	}
	// From here on the header and payload are authenticated.
	if h.typ == "" {
		return nil, invalid("typ missing")
	}
	if normType(h.typ) != v.typ {
		return nil, invalid("typ %q, want %q", truncate(h.typ, 32), v.typ)
	}
	var c Claims
	if err := c.UnmarshalJSON(payload); err != nil {
		return nil, invalid("%v", err)
	}
	if err := v.checkClaims(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

// verifySignature checks raw's signature with key, for key.Alg only, and
// returns the payload. HMAC is used only for an HS256 key whose material is a
// secret: an asymmetric key never becomes an HMAC key.
func verifySignature(raw string, key *Key) ([]byte, error) {
	var vk any
	switch key.Alg {
	case HS256:
		s, ok := key.priv.([]byte)
		if !ok || len(s) < MinHMACKeySize {
			return nil, errors.New("HS256 key without a secret")
		}
		vk = s
	case EdDSA:
		p, ok := key.pub.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("EdDSA key without an Ed25519 public key")
		}
		vk = p
	case ES256:
		p, ok := key.pub.(*ecdsa.PublicKey)
		if !ok {
			return nil, errors.New("ES256 key without an ECDSA public key")
		}
		vk = p
	case RS256:
		p, ok := key.pub.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("RS256 key without an RSA public key")
		}
		vk = p
	default:
		return nil, fmt.Errorf("unsupported key alg %q", key.Alg)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(key.Alg)})
	if err != nil {
		return nil, err
	}
	return jws.Verify(vk)
}

func (v *Verifier) checkClaims(c *Claims) error {
	now := v.now()
	if c.ExpiresAt.IsZero() {
		return invalid("exp missing")
	}
	if !now.Before(c.ExpiresAt.Add(v.leeway)) {
		return expiredError{at: c.ExpiresAt}
	}
	if !c.NotBefore.IsZero() && now.Add(v.leeway).Before(c.NotBefore) {
		return invalid("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	if c.IssuedAt.IsZero() {
		return invalid("iat missing")
	}
	if now.Add(v.leeway).Before(c.IssuedAt) {
		return invalid("issued in the future (%s)", c.IssuedAt.UTC().Format(time.RFC3339))
	}
	if c.Issuer != v.iss {
		return invalid("iss %q, want %q", truncate(c.Issuer, 64), v.iss)
	}
	found := false
	for _, a := range c.Audience {
		if a == v.aud {
			found = true
			break
		}
	}
	if !found {
		return invalid("aud does not contain %q", v.aud)
	}
	if c.ID == "" {
		return invalid("jti missing")
	}
	return nil
}

// expiredError matches both ErrInvalidToken and ErrExpired.
type expiredError struct{ at time.Time }

func (e expiredError) Error() string {
	return "token: invalid token: expired at " + e.at.UTC().Format(time.RFC3339)
}

func (e expiredError) Is(target error) bool { return target == ErrInvalidToken || target == ErrExpired }
