package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"

	"github.com/sessiond/sessiond/session"
)

// ErrNotFound and ErrConflict are the session package's sentinels: one
// "missing" and one "taken" for every record in every backend.
var (
	ErrNotFound = session.ErrNotFound
	ErrConflict = session.ErrConflict
)

// User is an account.
type User struct {
	// ID is opaque and never changes.
	ID string
	// Email is normalised (see NormalizeEmail) and unique.
	Email string
	// PasswordHash is an argon2id PHC string; empty for accounts that sign
	// in only through single sign-on.
	PasswordHash string
	// Roles are free-form names; "admin" may use the admin API.
	Roles []string
	// OrgID names the user's organisation, if any.
	OrgID string
	// Disabled accounts cannot sign in and have no live sessions or tokens.
	Disabled bool
	// EmailVerified says that the owner of Email proved control of it:
	// through a verification link (CompleteVerification, CompleteEmailChange,
	// CompleteRecovery), an administrator creating the account (Register),
	// or an identity provider vouching for it (package oidc). Users that
	// existed before the field (store migration 00011) count as verified.
	EmailVerified bool
	// EmailVerifiedAt is when EmailVerified was last set; zero when unverified.
	EmailVerifiedAt time.Time
	// TokenVersion is carried in access tokens as "ver"; bumping it refuses
	// every access token issued before.
	TokenVersion int64
	// FailedLogins counts consecutive failed password attempts.
	FailedLogins int
	// LockedUntil, when in the future, refuses every login attempt.
	LockedUntil time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// HasRole reports whether u has role r.
func (u *User) HasRole(r string) bool { return slices.Contains(u.Roles, r) }

// Clone returns a deep copy of u.
func (u *User) Clone() *User {
	c := *u
	c.Roles = slices.Clone(u.Roles)
	return &c
}

// Store keeps users. Implementations are safe for concurrent use; missing
// users wrap ErrNotFound.
type Store interface {
	// CreateUser stores u; ErrConflict when the email (or ID) is taken.
	CreateUser(ctx context.Context, u *User) error
	// UserByID returns the user with id.
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByEmail returns the user with the normalised email.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UpdateUser atomically reads the user, applies fn and writes the result
	// back (fn must not change ID; changing Email to a taken one is
	// ErrConflict). If fn returns an error nothing is written and the error is
	// returned.
	UpdateUser(ctx context.Context, id string, fn func(*User) error) (*User, error)
}

// NewID returns a fresh opaque identifier: a prefix and 128 random bits.
func NewID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("account: crypto/rand failed: " + err.Error())
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}
