package client

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// Secret limits (ValidateSecret).
const (
	// MinSecretLen is the shortest secret accepted: 32 characters.
	MinSecretLen = 32
	// MaxSecretLen is the longest secret accepted: 512 characters.
	MaxSecretLen = 512
	// minDistinct is the fewest distinct characters a secret may have.
	minDistinct = 8
)

// secretLabel keys the HMAC, so that a client-secret hash never equals a
// hash of the same bytes kept for another purpose (session and refresh
// tokens are stored as plain SHA-256).
const secretLabel = "sessiond client secret v1"

// NewSecret returns a fresh client secret: 256 bits from crypto/rand,
// base64url without padding (43 characters).
func NewSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("client: new secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ValidateSecret refuses a secret an operator chose that is too weak to be
// stored under a fast hash: fewer than MinSecretLen or more than MaxSecretLen
// characters, characters outside printable ASCII (RFC 6749 VSCHAR, without
// the space), or fewer than 8 distinct characters (which covers one
// repeated character). Secrets from NewSecret pass. Errors wrap
// ErrInvalid.
func ValidateSecret(secret string) error {
	switch {
	case len(secret) < MinSecretLen:
		return fmt.Errorf("%w: the secret must have at least %d characters (use a generated one)", ErrInvalid, MinSecretLen)
	case len(secret) > MaxSecretLen:
		return fmt.Errorf("%w: the secret must have at most %d characters", ErrInvalid, MaxSecretLen)
	}
	var seen [128]bool
	distinct := 0
	for i := 0; i < len(secret); i++ {
		b := secret[i]
		if b <= ' ' || b > '~' {
			return fmt.Errorf("%w: the secret may contain only printable ASCII characters without spaces", ErrInvalid)
		}
		if !seen[b] {
			seen[b] = true
			distinct++
		}
	}
	if distinct < minDistinct {
		return fmt.Errorf("%w: the secret is too repetitive (fewer than %d distinct characters)", ErrInvalid, minDistinct)
	}
	return nil
}

// HashSecret returns the stored form of a client secret: HMAC-SHA256 under a
// fixed label, 32 bytes.
//
// It is deliberately not argon2id, unlike user passwords. A confidential
// client authenticates on every token, introspection and revocation request,
// so a memory-hard hash would cost tens of milliseconds and megabytes per
// request and turn the token endpoint into a denial-of-service lever. The
// slow hash buys nothing here: it exists to slow down guessing of
// low-entropy, human-chosen passwords, whereas client secrets are random
// (NewSecret: 256 bits) or at least checked by ValidateSecret, and a secret
// with that much entropy cannot be brute-forced from its hash whatever the
// hash's speed. The label separates these hashes from the plain SHA-256
// hashes of session and refresh tokens.
func HashSecret(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secretLabel))
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// CheckSecret reports whether secret is c's secret, comparing hashes in
// constant time. It is false for public clients, for clients without a
// stored hash and for an empty or over-long secret.
func (c *Client) CheckSecret(secret string) bool {
	if c.Public || len(c.SecretHash) != sha256.Size || secret == "" || len(secret) > MaxSecretLen {
		return false
	}
	return hmac.Equal(HashSecret(secret), c.SecretHash)
}
