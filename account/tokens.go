package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"time"
)

// Purpose says what an account token may be used for; a token is consumed
// only for its own purpose.
type Purpose string

// The purposes of account tokens.
const (
	PurposeVerifyEmail Purpose = "verify_email"
	PurposeRecovery    Purpose = "recovery"
	PurposeEmailChange Purpose = "email_change"
)

// AccountToken is a stored single-use account token: the link in a
// verification, recovery or email-change mail. Only the SHA-256 of the
// token is stored, so a leaked store holds no usable link.
type AccountToken struct {
	// Hash is the SHA-256 of the token as mailed (32 bytes); the key.
	Hash []byte
	// Purpose is what the token may be used for.
	Purpose Purpose
	// UserID is the account the token acts on.
	UserID string
	// Binding is the SHA-256 of the account state the token was issued
	// against (the password hash for recovery, the current email for
	// verification and email change); the token acts only while that state
	// is unchanged, so a link from before a password change is dead.
	Binding []byte
	// Email is the new address of an email change; empty otherwise.
	Email string
	// ExpiresAt is when the token stops being accepted.
	ExpiresAt time.Time
}

// TokenStore keeps single-use account tokens. Implementations (memstore,
// sqlitestore, pgstore; storetest.RunAccountTokens holds them to one set of
// rules) are safe for concurrent use, also by several nodes sharing a store.
type TokenStore interface {
	// PutToken stores t; ErrConflict when its hash is already stored.
	PutToken(ctx context.Context, t *AccountToken) error
	// PeekToken returns the live token with hash and purpose without
	// consuming it; ErrNotFound when there is none (unknown, used, expired
	// by the store's clock, or issued for another purpose).
	PeekToken(ctx context.Context, hash []byte, purpose Purpose) (*AccountToken, error)
	// ConsumeToken atomically removes and returns the live token with hash
	// and purpose: of any number of concurrent calls, on any node, at most
	// one succeeds. Like PeekToken, ErrNotFound when there is none; a token
	// of another purpose stays stored.
	ConsumeToken(ctx context.Context, hash []byte, purpose Purpose) (*AccountToken, error)
}

// ErrInvalidToken is the one answer to an unusable account link: unknown,
// already used, expired, issued for another purpose, or stale (the password
// or email it was bound to has changed since).
var ErrInvalidToken = errors.New("account: invalid or expired link")

// tokenBytes is the size of an account token: 256 bits.
const tokenBytes = 32

// newAccountToken returns a fresh 256-bit token from crypto/rand, base64url
// without padding, and its SHA-256.
func newAccountToken() (string, []byte) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("account: crypto/rand failed: " + err.Error())
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, HashToken(tok)
}

// HashToken returns the SHA-256 of an account token as mailed: the form in
// which stores keep it.
func HashToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// wellFormed reports whether tok can be a token newAccountToken made:
// canonical base64url of 32 bytes. Anything else is refused before the store
// is asked.
func wellFormed(tok string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	return err == nil && len(b) == tokenBytes
}

// binding returns the SHA-256 of an account state a token is bound to,
// separated by purpose so that one purpose's binding never matches another's.
func binding(p Purpose, state string) []byte {
	h := sha256.New()
	h.Write([]byte("sessiond account token\x00"))
	h.Write([]byte(p))
	h.Write([]byte{0})
	h.Write([]byte(state))
	return h.Sum(nil)
}

// bound reports, in constant time, whether t was issued against state.
func bound(t *AccountToken, state string) bool {
	return subtle.ConstantTimeCompare(t.Binding, binding(t.Purpose, state)) == 1
}
