// Package refresh keeps the server side of token authentication: refresh
// token families, their rotation with reuse detection, and the denylist that
// revokes access tokens before they expire.
//
// One login through the token endpoint starts a family. Every refresh spends
// the presented token and issues a successor; a spent token presented again
// after the grace window revokes the whole family (RFC 9700 §4.14.2). Inside
// the window — a client that retried because the answer was lost — the retry
// gets the very same successor pair, not a new one: the winner seals the pair
// under a key derived from the presented token and stores only the sealed
// bytes beside the spent record. Only a holder of that token can open them,
// so a leaked store yields nothing usable, and two live branches of one
// family never exist.
//
// Tokens are 256 random bits, base64url; stores keep SHA-256 hashes only.
// The package imports only the standard library and the session domain.
package refresh
