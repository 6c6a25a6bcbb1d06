package verifier

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/sessiond/sessiond/token"
)

// MinRSABits is the smallest RSA modulus a RemoteKeySet accepts.
const MinRSABits = 2048

// privateMembers are JWK members that hold private or symmetric key material
// (RFC 7518 §6.2.2, §6.3.2, §6.4.1; "priv" for AKP keys).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// publicJWK is one usable key of a JWKS.
type publicJWK struct {
	kid string
	alg token.Alg
	pub crypto.PublicKey
}

// parseJWKS parses a JWK Set (RFC 7517 §5) and returns its usable
// verification keys by kid.
//
// The whole set is refused — the caller keeps the keys it had — when it is
// not a JSON object with a "keys" array, when any key carries private or
// symmetric material (kty "oct", or any of d, p, q, dp, dq, qi, oth, k,
// priv: a set that leaks secrets is a misconfiguration to stop at), or when
// two usable keys share a kid.
//
// A single key is skipped (RFC 7517 §5: ignore what is not understood), and
// its reason returned in skipped, when its use is other than "sig", it has
// no valid kid (1-128 base64url characters), its alg is not EdDSA, ES256 or
// RS256 or does not fit the key (Ed25519, P-256, RSA of at least MinRSABits
// bits), or go-jose cannot parse it.
func parseJWKS(data []byte) (keys map[string]publicJWK, skipped []string, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&set); err != nil {
		return nil, nil, fmt.Errorf("not a JWK set: %w", err)
	}
	if dec.More() {
		return nil, nil, errors.New("not a JWK set: trailing data")
	}
	if set.Keys == nil {
		return nil, nil, errors.New(`not a JWK set: no "keys" array`)
	}
	keys = make(map[string]publicJWK, len(set.Keys))
	for i, raw := range set.Keys {
		var members map[string]json.RawMessage
		if err := json.Unmarshal(raw, &members); err != nil {
			return nil, nil, fmt.Errorf("key %d: not a JSON object", i)
		}
		var kty string
		_ = json.Unmarshal(members["kty"], &kty)
		if kty == "oct" {
			return nil, nil, fmt.Errorf("key %d: symmetric (kty oct) key refused", i)
		}
		for _, m := range privateMembers {
			if _, ok := members[m]; ok {
				return nil, nil, fmt.Errorf("key %d: private key material (%q) refused", i, m)
			}
		}
		k, err := parseJWK(raw)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		if _, dup := keys[k.kid]; dup {
			return nil, nil, fmt.Errorf("duplicate kid %q", k.kid)
		}
		keys[k.kid] = k
	}
	return keys, skipped, nil
}

// parseJWK parses one public JWK and checks that it is usable.
func parseJWK(raw []byte) (publicJWK, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return publicJWK{}, err
	}
	if !jwk.IsPublic() {
		return publicJWK{}, errors.New("not a public key") // unreachable: private members are refused first
	}
	if jwk.Use != "" && jwk.Use != "sig" {
		return publicJWK{}, fmt.Errorf("use %q", truncate(jwk.Use, 16))
	}
	if !token.ValidKeyID(jwk.KeyID) {
		return publicJWK{}, errors.New("kid missing or not 1-128 base64url characters")
	}
	alg := token.Alg(jwk.Algorithm)
	if err := checkKey(alg, jwk.Key); err != nil {
		return publicJWK{}, fmt.Errorf("kid %q: %w", jwk.KeyID, err)
	}
	return publicJWK{kid: jwk.KeyID, alg: alg, pub: jwk.Key}, nil
}

// checkKey reports whether pub is a key alg may verify with: one key, one
// algorithm, and alg must be stated (never guessed from the key type).
func checkKey(alg token.Alg, pub crypto.PublicKey) error {
	switch alg {
	case token.EdDSA:
		if p, ok := pub.(ed25519.PublicKey); !ok || len(p) != ed25519.PublicKeySize {
			return errors.New("alg EdDSA needs an Ed25519 key")
		}
	case token.ES256:
		if p, ok := pub.(*ecdsa.PublicKey); !ok || p.Curve != elliptic.P256() {
			return errors.New("alg ES256 needs a P-256 key")
		}
	case token.RS256:
		p, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("alg RS256 needs an RSA key")
		}
		if p.N.BitLen() < MinRSABits {
			return fmt.Errorf("RSA key has %d bits, at least %d needed", p.N.BitLen(), MinRSABits)
		}
		if p.E < 3 || p.E%2 == 0 {
			return errors.New("RSA key has an invalid exponent")
		}
	case "":
		return errors.New("alg missing")
	default:
		return fmt.Errorf("alg %q not accepted (EdDSA, ES256, RS256)", truncate(string(alg), 16))
	}
	return nil
}
