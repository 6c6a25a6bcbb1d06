package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Alg is a JWS signature algorithm (RFC 7518). A Key has exactly one Alg, and
// a token is verified only with the Alg of the key its kid names.
type Alg string

// The algorithms sessiond signs with.
const (
	// EdDSA is Ed25519 (RFC 8037), the default.
	EdDSA Alg = "EdDSA"
	// ES256 is ECDSA on P-256 with SHA-256.
	ES256 Alg = "ES256"
	// RS256 is RSASSA-PKCS1-v1_5 with SHA-256; new keys have 3072 bits.
	RS256 Alg = "RS256"
	// HS256 is HMAC-SHA256. Anyone who can verify can also sign, so it is
	// meant for single-service setups only, and its keys are never published.
	HS256 Alg = "HS256"
)

// Valid reports whether a is one of EdDSA, ES256, RS256 and HS256.
func (a Alg) Valid() bool {
	switch a {
	case EdDSA, ES256, RS256, HS256:
		return true
	}
	return false
}

// MinHMACKeySize is the smallest HS256 secret, in bytes (256 bits).
const MinHMACKeySize = 32

const (
	// rsaBits is the size of new RSA keys (SECURITY rule 11).
	rsaBits = 3072
	// minRSABits is the smallest RSA key UnmarshalKey accepts (imported keys).
	minRSABits = 2048
)

// MaxKeyIDLen is the longest key ID (kid) ValidKeyID accepts: ours and those
// read from token headers and remote JWKS documents.
const MaxKeyIDLen = 128

// Key is one signing key with its lifecycle. Keys hands out copies, so
// changing a returned Key's fields does not change the key set. Its private material is unexported:
// String and GoString print only the metadata, so logging a Key never leaks it.
type Key struct {
	// ID is the kid: random, base64url, 128 bits for generated keys.
	ID string
	// Alg is the only algorithm this key signs and verifies with.
	Alg Alg
	// CreatedAt is when the key was made.
	CreatedAt time.Time
	// NotBefore is when the key may start signing. A key is published in the
	// JWKS as soon as it is stored, which may be before NotBefore (the "next
	// key"), so that verifiers caching the JWKS know it before it signs.
	NotBefore time.Time
	// RetiredAt is when the key stops signing: the NotBefore of its
	// successor. It is zero while no successor is scheduled. It may lie in
	// the future (a successor is published but not signing yet).
	RetiredAt time.Time
	// ExpiresAt is when the key may leave the JWKS and be deleted: RetiredAt
	// plus the longest token lifetime plus leeway. Zero while not retired.
	ExpiresAt time.Time

	priv any // ed25519.PrivateKey, *ecdsa.PrivateKey, *rsa.PrivateKey or []byte (HS256)
	pub  any // ed25519.PublicKey, *ecdsa.PublicKey, *rsa.PublicKey; nil for HS256
}

// GenerateKey makes a new key for alg with a random kid, from crypto/rand:
// Ed25519 for EdDSA, P-256 for ES256, 3072-bit RSA for RS256 and a 256-bit
// secret for HS256. CreatedAt and NotBefore are now. An unknown alg is an
// error.
func GenerateKey(alg Alg, now time.Time) (*Key, error) {
	var priv any
	var err error
	switch alg {
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case HS256:
		secret := make([]byte, MinHMACKeySize)
		_, err = rand.Read(secret)
		priv = secret
	default:
		return nil, fmt.Errorf("token: generate key: unsupported alg %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	id, err := randomID()
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	k, err := newKey(id, alg, priv)
	if err != nil {
		return nil, fmt.Errorf("token: generate key: %w", err)
	}
	k.CreatedAt, k.NotBefore = now, now
	return k, nil
}

// NewHMACKey makes an HS256 key from a configured secret. The secret must be
// at least MinHMACKeySize (32) bytes and must not look low-entropy: one byte
// repeated, a short repeating pattern, mostly a run ("abcd...", "0123..."),
// or fewer than 128 bits by its byte histogram. These checks catch mistakes,
// not passwords: a long passphrase can pass them, and it is still not a key.
// Nothing can tell a password from a key by looking at it, so configure 32
// bytes from a CSPRNG (for example `openssl rand -base64 32`).
//
// The kid is derived from the secret (HMAC-SHA256 under a fixed label,
// truncated to 128 bits), so every node configured with the same secret
// agrees on it without revealing the secret. CreatedAt and NotBefore are zero
// (Keys.Add sets them). The secret is copied.
func NewHMACKey(secret []byte) (*Key, error) {
	if err := checkSecret(secret); err != nil {
		return nil, fmt.Errorf("token: hmac key: %w", err)
	}
	s := append([]byte(nil), secret...)
	mac := hmac.New(sha256.New, s)
	mac.Write([]byte("sessiond/token/kid/v1"))
	id := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
	k, err := newKey(id, HS256, s)
	if err != nil {
		return nil, fmt.Errorf("token: hmac key: %w", err)
	}
	return k, nil
}

// newKey checks that priv fits alg and fills the public half.
func newKey(id string, alg Alg, priv any) (*Key, error) {
	if !ValidKeyID(id) {
		return nil, errors.New("invalid kid")
	}
	k := &Key{ID: id, Alg: alg, priv: priv}
	switch alg {
	case EdDSA:
		p, ok := priv.(ed25519.PrivateKey)
		if !ok || len(p) != ed25519.PrivateKeySize {
			return nil, errors.New("EdDSA needs an Ed25519 private key")
		}
		k.pub = p.Public().(ed25519.PublicKey)
	case ES256:
		p, ok := priv.(*ecdsa.PrivateKey)
		if !ok || p == nil || p.Curve != elliptic.P256() {
			return nil, errors.New("ES256 needs a P-256 private key")
		}
		k.pub = &p.PublicKey
	case RS256:
		p, ok := priv.(*rsa.PrivateKey)
		if !ok || p == nil {
			return nil, errors.New("RS256 needs an RSA private key")
		}
		if p.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("RSA key has %d bits, at least %d needed", p.N.BitLen(), minRSABits)
		}
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("RSA key: %w", err)
		}
		p.Precompute()
		k.pub = &p.PublicKey
	case HS256:
		p, ok := priv.([]byte)
		if !ok {
			return nil, errors.New("HS256 needs a secret")
		}
		if err := checkSecret(p); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unsupported alg %q", alg)
	}
	return k, nil
}

// clone returns a copy of k; the key material is immutable and shared.
func (k *Key) clone() *Key {
	c := *k
	return &c
}

// Public returns the public key (ed25519.PublicKey, *ecdsa.PublicKey or
// *rsa.PublicKey), or nil for an HS256 key, which has none.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// signs reports whether k may sign at now: NotBefore has come and RetiredAt
// has not.
func (k *Key) signs(now time.Time) bool {
	return !now.Before(k.NotBefore) && (k.RetiredAt.IsZero() || now.Before(k.RetiredAt))
}

// live reports whether k may still verify a token at now (ExpiresAt has not
// come).
func (k *Key) live(now time.Time) bool {
	return k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt)
}

// String describes k without its private material.
func (k *Key) String() string {
	if k == nil {
		return "<nil key>"
	}
	return fmt.Sprintf("token.Key{ID:%s Alg:%s NotBefore:%s RetiredAt:%s ExpiresAt:%s}",
		k.ID, k.Alg, fmtTime(k.NotBefore), fmtTime(k.RetiredAt), fmtTime(k.ExpiresAt))
}

// GoString is String, so %#v does not print private material either.
func (k *Key) GoString() string { return k.String() }

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// keyJSON is the serialized form of a Key.
type keyJSON struct {
	JWK       json.RawMessage `json:"jwk"`
	CreatedAt time.Time       `json:"created_at,omitzero"`
	NotBefore time.Time       `json:"not_before,omitzero"`
	RetiredAt time.Time       `json:"retired_at,omitzero"`
	ExpiresAt time.Time       `json:"expires_at,omitzero"`
}

// MarshalKey serializes k for storage: its private JWK (with kid, alg and
// use "sig") and its lifecycle times, as JSON. The result holds the private
// key in clear: seal it (Sealer) before a shared store holds it, or keep it
// in a file of mode 0600.
func MarshalKey(k *Key) ([]byte, error) {
	if k == nil || k.priv == nil {
		return nil, errors.New("token: marshal key: no private key")
	}
	jwk, err := jose.JSONWebKey{Key: k.priv, KeyID: k.ID, Algorithm: string(k.Alg), Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("token: marshal key: %w", err)
	}
	b, err := json.Marshal(keyJSON{
		JWK:       jwk,
		CreatedAt: k.CreatedAt,
		NotBefore: k.NotBefore,
		RetiredAt: k.RetiredAt,
		ExpiresAt: k.ExpiresAt,
	})
	if err != nil {
		return nil, fmt.Errorf("token: marshal key: %w", err)
	}
	return b, nil
}

// UnmarshalKey parses what MarshalKey wrote. The JWK must be private, carry a
// valid kid and one of our algorithms, and fit it (P-256 for ES256, at least
// 2048-bit RSA for RS256, a strong secret for HS256). Unknown fields and
// duplicate names are errors.
func UnmarshalKey(data []byte) (*Key, error) {
	if err := checkStrictJSON(data); err != nil {
		return nil, fmt.Errorf("token: unmarshal key: %w", err)
	}
	var kj keyJSON
	if err := strictUnmarshal(data, &kj); err != nil {
		return nil, fmt.Errorf("token: unmarshal key: %w", err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(kj.JWK); err != nil {
		return nil, fmt.Errorf("token: unmarshal key: jwk: %w", err)
	}
	if jwk.IsPublic() {
		return nil, errors.New("token: unmarshal key: jwk has no private key")
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return nil, fmt.Errorf("token: unmarshal key: jwk use %q", jwk.Use)
	}
	k, err := newKey(jwk.KeyID, Alg(jwk.Algorithm), jwk.Key)
	if err != nil {
		return nil, fmt.Errorf("token: unmarshal key %q: %w", truncate(jwk.KeyID, MaxKeyIDLen), err)
	}
	k.CreatedAt, k.NotBefore, k.RetiredAt, k.ExpiresAt = kj.CreatedAt, kj.NotBefore, kj.RetiredAt, kj.ExpiresAt
	return k, nil
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// randomID returns 128 random bits, base64url.
func randomID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// ValidKeyID reports whether kid is 1 to MaxKeyIDLen base64url characters
// (A-Z, a-z, 0-9, '-', '_'). It is the one rule for a key ID, used by the key
// set, the verifier and package verifier: a kid is only ever a map key, so
// this keeps paths, queries, URLs, control bytes and oversized strings out of
// lookups, reloads and logs (SECURITY rule 8). Safe for concurrent use.
func ValidKeyID(kid string) bool {
	if kid == "" || len(kid) > MaxKeyIDLen {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkSecret refuses secrets that are short or obviously not random.
func checkSecret(s []byte) error {
	if len(s) < MinHMACKeySize {
		return fmt.Errorf("secret has %d bytes, at least %d needed", len(s), MinHMACKeySize)
	}
	// A short repeating pattern (this includes one byte repeated).
	for p := 1; p <= 16 && p < len(s); p++ {
		periodic := true
		for i := p; i < len(s); i++ {
			if s[i] != s[i-p] {
				periodic = false
				break
			}
		}
		if periodic {
			return errors.New("secret is a repeating pattern")
		}
	}
	// Runs such as "abcdef..." or "0123...": one step between neighbouring
	// bytes dominates. In random data (raw, hex or base64) the commonest
	// step covers under a quarter of the pairs.
	var steps [256]int
	for i := 1; i < len(s); i++ {
		steps[s[i]-s[i-1]]++
	}
	for _, n := range steps {
		if 2*n > len(s)-1 {
			return errors.New("secret is a sequence")
		}
	}
	// Entropy estimated from the byte histogram, times the length. 32 random
	// bytes score about 150 bits, 64 hex digits about 250, English text and
	// repeated words far less.
	var counts [256]int
	for _, c := range s {
		counts[c]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	if h*n < 128 {
		return fmt.Errorf("secret looks low-entropy (about %.0f bits)", h*n)
	}
	return nil
}
