package verifier

import (
	"crypto"

	"github.com/sessiond/sessiond/token"
)

// newTokenKey builds the verification-only *token.Key for a public key read
// from a JWKS, already checked by checkKey (token.NewPublicKey checks again).
func newTokenKey(kid string, alg token.Alg, pub crypto.PublicKey) (*token.Key, error) {
	return token.NewPublicKey(kid, alg, pub)
}
