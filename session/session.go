package session

import (
	"errors"
	"time"
)

// Errors shared by every store and by the Manager. Callers branch on them with
// errors.Is; backends wrap them with context.
var (
	// ErrNotFound: no such record, or it has expired. Every backend returns it
	// (wrapped) for a missing session, user, key or token record.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a record with that identity exists already, or a
	// compare-and-set saw another version than the one expected.
	ErrConflict = errors.New("conflict")
	// ErrExpired: the session existed but is past its idle or absolute expiry.
	ErrExpired = errors.New("session expired")
	// ErrInvalidToken: the presented session token is malformed or unknown.
	ErrInvalidToken = errors.New("invalid session token")
	// ErrUnavailable: a store could not be reached; callers answer 503 and
	// treat nobody as authenticated (fail closed).
	ErrUnavailable = errors.New("store unavailable")
)

// Session is one signed-in browser or device. The token that names it is never
// part of the struct that is stored: only Hash (SHA-256 of the token) is.
type Session struct {
	// ID is public: base64url of the first 16 bytes of Hash. It is the key
	// every store uses and what device lists, X-Session-Id and the sid claim
	// carry.
	ID string
	// Hash is SHA-256 of the session token (32 bytes). Lookups compare it in
	// constant time.
	Hash []byte
	// UserID is the owner.
	UserID string
	// CreatedAt is when the session began (login time).
	CreatedAt time.Time
	// LastSeenAt is the last time the session was used, written at most once
	// per touch interval.
	LastSeenAt time.Time
	// IdleExpiresAt is LastSeenAt plus the idle timeout, never after
	// ExpiresAt. Stores drop the session at min(IdleExpiresAt, ExpiresAt).
	IdleExpiresAt time.Time
	// ExpiresAt is the absolute expiry, fixed at creation.
	ExpiresAt time.Time
	// IP and UserAgent describe the device at sign-in.
	IP        string
	UserAgent string
	// Method says how the user authenticated ("password", "oidc:<provider>").
	Method string
	// Data is the session's mutable JSON object (nil means {}), and
	// DataVersion its version, bumped by every change.
	Data        []byte
	DataVersion int64
	// Assurance is how strongly, and when, the holder authenticated. Every
	// backend stores it; a record written before sessiond kept it reads as
	// the zero Assurance, which the Manager turns into OneFactor(Method,
	// CreatedAt) when it loads the session.
	Assurance Assurance

	// CSRFToken is derived from the session token by the Manager when the
	// session is created or loaded; it is never stored.
	CSRFToken string
}

// Deadline is the moment the session stops being valid: the earlier of its
// idle and absolute expiry (DeadlineOf).
func (s *Session) Deadline() time.Time { return DeadlineOf(s.IdleExpiresAt, s.ExpiresAt) }

// DeadlineOf is the one deadline rule of sessions and refresh families: the
// idle expiry when it is set (not zero) and before the absolute expiry,
// otherwise the absolute expiry. store/redisstore applies it inside Redis in
// Lua; a test runs both on one table of cases through redis-server.
func DeadlineOf(idleExpiresAt, expiresAt time.Time) time.Time {
	if !idleExpiresAt.IsZero() && idleExpiresAt.Before(expiresAt) {
		return idleExpiresAt
	}
	return expiresAt
}

// Valid reports whether s is still valid at now.
func (s *Session) Valid(now time.Time) bool {
	return now.Before(s.Deadline())
}

// Clone returns a deep copy of s, except for Assurance.AMR, which is shared:
// Assurance values never change their AMR slice (Add returns a new one).
func (s *Session) Clone() *Session {
	c := *s
	c.Hash = append([]byte(nil), s.Hash...)
	if s.Data != nil {
		c.Data = append([]byte(nil), s.Data...)
	}
	return &c
}
