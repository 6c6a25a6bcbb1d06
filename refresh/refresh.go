package refresh

import (
	"context"
	"errors"
	"time"

	"github.com/sessiond/sessiond/session"
)

// Errors callers branch on.
var (
	// ErrNotFound: no such token or family, or it expired. It is the
	// session package's sentinel, shared by every backend.
	ErrNotFound = session.ErrNotFound
	// ErrReused: the presented token was spent already (Rotate).
	ErrReused = errors.New("refresh: token reused")
	// ErrConflict: compare-and-set saw another version, or the ID exists.
	ErrConflict = session.ErrConflict
)

// Family is one login through the token endpoint: a chain of refresh
// tokens, shown to the user as a device.
type Family struct {
	// ID is public (the "sid" of its access tokens).
	ID       string
	UserID   string
	ClientID string
	Scope    string
	// CreatedAt is the login time; ExpiresAt the absolute expiry.
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastUsedAt is the last refresh; IdleExpiresAt = LastUsedAt + idle TTL.
	LastUsedAt    time.Time
	IdleExpiresAt time.Time
	IP            string
	UserAgent     string
	// Generation counts rotations.
	Generation int64
	// Data is the family's mutable JSON session data, DataVersion its version.
	Data        []byte
	DataVersion int64
	// Assurance is how strongly, and when, the user authenticated at the
	// login that began the family; its access tokens carry it (acr, amr,
	// auth_time). Every backend stores it; a record written before sessiond
	// kept it reads as the zero Assurance.
	Assurance session.Assurance
}

// Deadline is the earlier of the idle and absolute expiry: the rule of
// sessions, session.DeadlineOf.
func (f *Family) Deadline() time.Time { return session.DeadlineOf(f.IdleExpiresAt, f.ExpiresAt) }

// Clone returns a deep copy, except for Assurance.AMR, which is shared (see
// session.Session.Clone).
func (f *Family) Clone() *Family {
	c := *f
	if f.Data != nil {
		c.Data = append([]byte(nil), f.Data...)
	}
	return &c
}

// Token is the stored record of one refresh token: never the token itself.
type Token struct {
	// ID is public: base64url of the first 16 bytes of Hash.
	ID       string
	Hash     []byte
	FamilyID string
	// Generation is the family generation this token was issued at.
	Generation int64
	// SpentAt is zero while the token is the family's live one.
	SpentAt time.Time
	// Sealed is the successor pair, sealed under a key derived from this
	// token; set when the token is spent.
	Sealed []byte
}

// Clone returns a deep copy.
func (t *Token) Clone() *Token {
	c := *t
	c.Hash = append([]byte(nil), t.Hash...)
	if t.Sealed != nil {
		c.Sealed = append([]byte(nil), t.Sealed...)
	}
	return &c
}

// Store keeps families and their tokens. Implementations are safe for
// concurrent use; records past their family's Deadline are ErrNotFound.
type Store interface {
	// CreateFamily stores a new family and its first token atomically.
	CreateFamily(ctx context.Context, f *Family, first *Token) error
	// LookupToken returns the token with id and its (live) family.
	LookupToken(ctx context.Context, id string) (*Token, *Family, error)
	// Rotate atomically spends token oldID — only if it is unspent — stores
	// sealed beside it, stores next as the family's live token, bumps the
	// family's Generation and sets LastUsedAt/IdleExpiresAt from used and
	// idle. Of several concurrent calls for one token exactly one succeeds;
	// the others get ErrReused. It returns the updated family.
	Rotate(ctx context.Context, oldID string, next *Token, sealed []byte, used, idle time.Time) (*Family, error)
	// RevokeFamily deletes the family and all its tokens; ErrNotFound if none.
	RevokeFamily(ctx context.Context, familyID string) error
}

// Index lists and ends a user's families and keeps their data.
type Index interface {
	// Families returns the user's live families, oldest first.
	Families(ctx context.Context, userID string) ([]*Family, error)
	// GetFamily returns the live family with id.
	GetFamily(ctx context.Context, id string) (*Family, error)
	// RevokeFamilies deletes every family of the user except keep and
	// returns the IDs it deleted.
	RevokeFamilies(ctx context.Context, userID, keep string) ([]string, error)
	// RevokeFamiliesByClient deletes every family of the OAuth client (of
	// every user) and returns the IDs of the live ones it deleted. Families
	// created while it runs may survive it, as if created after.
	RevokeFamiliesByClient(ctx context.Context, clientID string) ([]string, error)
	// SetFamilyData is compare-and-set on the family's data (see
	// session.DataStore.SetData).
	SetFamilyData(ctx context.Context, id string, data []byte, expect int64) (int64, error)
}

// Denylist revokes access tokens before they expire, by key: "jti:<id>" for
// one token, "sid:<id>" for every token of a session or family,
// "client:<id>" for every token of an OAuth client.
type Denylist interface {
	// Deny adds key until the given time (then it may be forgotten).
	Deny(ctx context.Context, key string, until time.Time) error
	// Denied reports whether any of keys is denied now.
	Denied(ctx context.Context, keys ...string) (bool, error)
}

// Backend is everything the Service needs.
type Backend interface {
	Store
	Index
	Denylist
}
