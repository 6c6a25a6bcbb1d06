// Package verifier is what a resource server imports to accept sessiond
// access tokens without a lookup. A Verifier checks a bearer JWT with the
// token package's strict rules (algorithm pinned to the key, typ at+jwt,
// exact iss and aud, exp/nbf/iat with at most 60 s of leeway, no keys named
// by the token) against keys from the issuer's published JWKS, which a
// RemoteKeySet fetches, caches as Cache-Control allows, refetches, rate
// limited, when a new kid appears, and keeps serving while the issuer is
// briefly unreachable. An optional RevocationChecker (Introspection asks
// sessiond's RFC 7662 endpoint) catches tokens revoked before they expire.
// Middleware puts the verified claims in the request context and answers
// 401 or, when the token cannot be checked, 503 — never a silent pass;
// RequireRoles and RequireScope answer 403. Every type is safe for
// concurrent use.
package verifier
