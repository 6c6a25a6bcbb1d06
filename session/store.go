package session

import (
	"context"
	"time"
)

// Store keeps sessions by their public ID. Implementations are safe for
// concurrent use and return errors wrapping ErrNotFound for a session that is
// missing or past its Deadline (by the store's own clock).
type Store interface {
	// Create stores a new session. It wraps ErrConflict if the ID exists.
	Create(ctx context.Context, s *Session) error
	// Get returns the session with id.
	Get(ctx context.Context, id string) (*Session, error)
	// Touch records use: it sets LastSeenAt and IdleExpiresAt.
	Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error
	// Delete removes the session; ErrNotFound if there was none.
	Delete(ctx context.Context, id string) error
}

// UserSessions is the per-user index every backend keeps consistent with the
// sessions themselves: no entry outlives its session.
type UserSessions interface {
	// ListByUser returns the user's live sessions, oldest first.
	ListByUser(ctx context.Context, userID string) ([]*Session, error)
	// DeleteByUser removes every session of the user except the one whose ID
	// is keep (empty keeps none) and returns how many it removed.
	DeleteByUser(ctx context.Context, userID, keep string) (int, error)
}

// DataStore updates a session's mutable data with compare-and-set.
type DataStore interface {
	// SetData replaces the data of session id if its DataVersion is still
	// expect, and returns the new version (expect+1). It wraps ErrConflict
	// when the version moved on and ErrNotFound when the session is gone.
	SetData(ctx context.Context, id string, data []byte, expect int64) (int64, error)
}

// Backend is everything the Manager needs from a session store.
type Backend interface {
	Store
	UserSessions
	DataStore
}
