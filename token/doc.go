// Package token signs and verifies sessiond's access tokens: JWTs in the
// RFC 9068 profile, checked by the rules of RFC 8725. It holds the signing
// key set (Keys: EdDSA by default, ES256, RS256, or HS256 for single-service
// setups), persisted through a small KeyStore with private keys sealed at
// rest (Sealer), rotated with the next key published ahead of signing and
// retired keys kept until the last token they signed has expired; the public
// JWKS (Keys.JWKS); the Issuer that signs Claims with header
// {alg, kid, typ:"at+jwt"}; and the strict Verifier, which refuses oversized,
// non-canonical or duplicate-keyed input, any algorithm but the one pinned to
// the key named by kid, keys named by the token (jku, x5u, jwk, x5c), unknown
// crit, and tokens whose exp, iat, iss, aud, jti or typ are missing or wrong.
// Verification reads only the in-memory key set; revocation (by jti and the
// user's token version ver) is the caller's job. The package has no HTTP
// server and no database; every type is safe for concurrent use unless its
// documentation says otherwise.
package token
