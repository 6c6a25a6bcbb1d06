package token

import (
	"encoding/json"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// JWKS returns the public JSON Web Key Set (RFC 7517) to serve at
// /.well-known/jwks.json: every asymmetric key that may still verify a live
// token — the signer, retired keys until their ExpiresAt, and the next key
// published ahead of signing — newest first. Each key carries only public
// members plus kid, alg and use "sig". HS256 keys are never published (their
// secret is the verification key). With no keys the set is {"keys":[]}.
// It reads the in-memory set only.
func (k *Keys) JWKS() ([]byte, error) {
	now := k.cfg.Now()
	set := struct {
		Keys []json.RawMessage `json:"keys"`
	}{Keys: []json.RawMessage{}}
	for _, key := range k.snap.Load().keys {
		if key.pub == nil || !key.live(now) {
			continue
		}
		b, err := publicJWK(key)
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, b)
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("token: jwks: %w", err)
	}
	return b, nil
}

// publicJWK is the public JWK of an asymmetric key.
func publicJWK(key *Key) ([]byte, error) {
	b, err := jose.JSONWebKey{Key: key.pub, KeyID: key.ID, Algorithm: string(key.Alg), Use: "sig"}.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("token: jwks: key %s: %w", key.ID, err)
	}
	return b, nil
}
