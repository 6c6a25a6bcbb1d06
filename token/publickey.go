package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
)

// NewPublicKey makes a verification-only Key from a public key, for key sets
// read from a JWKS (package verifier). The kid must be 1-128 base64url
// characters and pub must fit alg: an ed25519.PublicKey for EdDSA, a P-256
// *ecdsa.PublicKey on the curve for ES256, an *rsa.PublicKey of at least
// 2048 bits with a valid exponent for RS256. HS256 is refused: its
// verification key is the secret, never published. The Key has no private
// half (MarshalKey and Keys.Add refuse it) and zero lifecycle times, so it
// verifies until whoever holds it drops it.
func NewPublicKey(kid string, alg Alg, pub crypto.PublicKey) (*Key, error) {
	if !ValidKeyID(kid) {
		return nil, errors.New("token: public key: invalid kid")
	}
	switch alg {
	case EdDSA:
		p, ok := pub.(ed25519.PublicKey)
		if !ok || len(p) != ed25519.PublicKeySize {
			return nil, errors.New("token: public key: EdDSA needs an Ed25519 public key")
		}
		pub = append(ed25519.PublicKey(nil), p...)
	case ES256:
		p, ok := pub.(*ecdsa.PublicKey)
		if !ok || p == nil || p.Curve != elliptic.P256() {
			return nil, errors.New("token: public key: ES256 needs a P-256 public key")
		}
		if _, err := p.ECDH(); err != nil { // rejects points off the curve and infinity
			return nil, fmt.Errorf("token: public key: %w", err)
		}
	case RS256:
		p, ok := pub.(*rsa.PublicKey)
		if !ok || p == nil || p.N == nil {
			return nil, errors.New("token: public key: RS256 needs an RSA public key")
		}
		if p.N.BitLen() < minRSABits {
			return nil, fmt.Errorf("token: public key: RSA key has %d bits, at least %d needed", p.N.BitLen(), minRSABits)
		}
		if p.E < 3 || p.E%2 == 0 {
			return nil, errors.New("token: public key: RSA key has an invalid exponent")
		}
	case HS256:
		return nil, errors.New("token: public key: HS256 has no public key")
	default:
		return nil, fmt.Errorf("token: public key: unsupported alg %q", truncate(string(alg), 16))
	}
	return &Key{ID: kid, Alg: alg, pub: pub}, nil
}
