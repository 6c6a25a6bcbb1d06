package oidc

import (
	"context"
	"time"
)

// FlowStore keeps sign-in flows between Start and Callback. Keys are
// opaque strings (the SHA-256 of a flow's state, base64url); data is opaque.
// Implementations are safe for concurrent use.
type FlowStore interface {
	// PutFlow stores data under key until expires.
	PutFlow(ctx context.Context, key string, data []byte, expires time.Time) error
	// TakeFlow returns the data under key and deletes it in the same atomic
	// step, so that exactly one caller gets it. A missing or expired flow
	// wraps session.ErrNotFound.
	TakeFlow(ctx context.Context, key string) ([]byte, error)
}

// IdentityStore links external identities, named by (issuer, subject), to
// local users. Implementations are safe for concurrent use.
type IdentityStore interface {
	// LinkIdentity links (issuer, subject) to userID; a pair that is
	// already linked wraps session.ErrConflict.
	LinkIdentity(ctx context.Context, issuer, subject, userID string) error
	// IdentityUser returns the user (issuer, subject) is linked to; an
	// unlinked pair wraps session.ErrNotFound.
	IdentityUser(ctx context.Context, issuer, subject string) (string, error)
}
