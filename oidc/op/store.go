package op

import (
	"context"
	"time"
)

// CodeStore keeps authorization codes between the authorization endpoint and
// the token endpoint. Codes are named by an ID derived from their hash; the
// code itself is never stored. data and issued are opaque to the store.
// Implementations are safe for concurrent use; a missing or purged record
// wraps session.ErrNotFound.
type CodeStore interface {
	// PutCode stores a new code record under id, kept until purgeAt (which
	// is later than the code's expiry, so that a late replay is still
	// recognised).
	PutCode(ctx context.Context, id string, data []byte, purgeAt time.Time) error
	// RedeemCode marks the code redeemed and returns its data, in one
	// atomic step. first is true for exactly one call per code; every
	// later call also marks the code replayed and returns what
	// SetCodeIssued stored (nil if nothing yet).
	RedeemCode(ctx context.Context, id string) (data, issued []byte, first bool, err error)
	// SetCodeIssued stores what the first redemption issued and reports
	// whether the code was replayed before that.
	SetCodeIssued(ctx context.Context, id string, issued []byte) (replayed bool, err error)
}

// Login records that a client obtained tokens inside a browser session, so
// that when the session ends the client can be told (back-channel logout)
// and what it was issued can be revoked.
type Login struct {
	// SessionID is the public ID of the sessiond session (the "sid" claim).
	SessionID string
	UserID    string
	ClientID  string
	// FamilyID is the refresh family issued with the login, if it ends with
	// the session; empty when there is none, or it outlives the session
	// (offline_access).
	FamilyID string
	// ExpiresAt is when the record may be forgotten: the session's
	// absolute expiry.
	ExpiresAt time.Time
}

// LoginStore keeps which clients each session signed into. Implementations
// are safe for concurrent use.
type LoginStore interface {
	// AddLogin stores l; storing the same (SessionID, ClientID, FamilyID)
	// again replaces it. Records past their ExpiresAt may be dropped.
	AddLogin(ctx context.Context, l *Login) error
	// TakeLogins deletes and returns every record of the session, in one
	// atomic step, so that of concurrent callers exactly one gets each.
	TakeLogins(ctx context.Context, sessionID string) ([]*Login, error)
	// TakeUserLogins deletes and returns every record of the user except
	// those of session keep (empty: none kept), atomically per record.
	TakeUserLogins(ctx context.Context, userID, keep string) ([]*Login, error)
}

// ConsentStore remembers which scopes a user granted a third-party client.
// Implementations are safe for concurrent use.
type ConsentStore interface {
	// PutConsent replaces the scopes the user granted the client.
	PutConsent(ctx context.Context, userID, clientID string, scopes []string) error
	// Consent returns the scopes the user granted the client; none wraps
	// session.ErrNotFound.
	Consent(ctx context.Context, userID, clientID string) ([]string, error)
}

// Store is everything a Provider keeps.
type Store interface {
	CodeStore
	LoginStore
	ConsentStore
}
