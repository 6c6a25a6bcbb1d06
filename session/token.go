package session

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
)

// TokenBytes is the number of random bytes in a session token (256 bits).
const TokenBytes = 32

// tokenLen is the length of a base64url-encoded token.
var tokenLen = base64.RawURLEncoding.EncodedLen(TokenBytes)

// NewToken returns a fresh session token: 256 bits from r (crypto/rand.Reader
// when r is nil), base64url without padding.
func NewToken(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [TokenBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("session: new token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ParseToken checks that tok has the exact shape of a token sessiond issues:
// 43 base64url characters that decode canonically to 32 bytes. It returns the
// token's hash. Anything else wraps ErrInvalidToken.
func ParseToken(tok string) ([]byte, error) {
	if len(tok) != tokenLen {
		return nil, fmt.Errorf("session: parse token: bad length %d: %w", len(tok), ErrInvalidToken)
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(raw) != TokenBytes {
		return nil, fmt.Errorf("session: parse token: not base64url: %w", ErrInvalidToken)
	}
	h := sha256.Sum256([]byte(tok))
	return h[:], nil
}

// HashToken returns SHA-256 of the token text.
func HashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// IDFromHash derives the public session ID from a token hash: base64url of its
// first 16 bytes (128 bits).
func IDFromHash(hash []byte) string {
	return base64.RawURLEncoding.EncodeToString(hash[:16])
}

// CSRFToken derives the session's CSRF token from the session token. It is a
// MAC of a fixed label under the token, so it needs no storage, changes with
// every new session ID, and reveals nothing about the token.
func CSRFToken(tok string) string {
	m := hmac.New(sha256.New, []byte(tok))
	m.Write([]byte("sessiond csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
