package account

import (
	"context"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// DefaultListLimit and MaxListLimit bound a page of ListUsers.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// UserQuery selects users for Directory.ListUsers. Zero fields match every
// user; set fields must all match.
type UserQuery struct {
	// EmailPrefix matches users whose normalised email starts with it.
	EmailPrefix string
	// Role matches users holding this role.
	Role string
	// OrgID matches users of this organisation.
	OrgID string
	// Disabled, when set, matches users whose Disabled equals it.
	Disabled *bool
	// After is the cursor: only users whose ID sorts after it are listed.
	// Empty starts at the beginning.
	After string
	// Limit is the page size: 0 means DefaultListLimit, at most MaxListLimit.
	Limit int
}

// PageLimit returns q.Limit clamped to [1, MaxListLimit], DefaultListLimit
// for zero.
func (q UserQuery) PageLimit() int {
	switch {
	case q.Limit <= 0:
		return DefaultListLimit
	case q.Limit > MaxListLimit:
		return MaxListLimit
	}
	return q.Limit
}

// Match reports whether u matches every field of q but the cursor; stores
// without a query language filter with it.
func (q UserQuery) Match(u *User) bool {
	return strings.HasPrefix(u.Email, q.EmailPrefix) &&
		(q.Role == "" || u.HasRole(q.Role)) &&
		(q.OrgID == "" || u.OrgID == q.OrgID) &&
		(q.Disabled == nil || u.Disabled == *q.Disabled)
}

// Directory is the extension of Store that operators use to find and erase
// users. The memstore, sqlitestore and pgstore backends implement it.
// Implementations are safe for concurrent use.
type Directory interface {
	// ListUsers returns up to q.PageLimit() users matching q in ascending ID
	// order, each with an ID after q.After. Paging by passing the last ID
	// back as After lists every user that existed throughout exactly once,
	// whatever is created or deleted meanwhile.
	ListUsers(ctx context.Context, q UserQuery) ([]*User, error)
	// DeleteUser erases the user with id and everything this store keeps
	// about them: identity links, consents, provider logins, second factors,
	// account tokens and outbox mail to their address (and their sessions
	// and refresh families, when this store holds them too). ErrNotFound
	// when there is no such user.
	DeleteUser(ctx context.Context, id string) error
}

// FoldEmailPrefix folds the start of an email address the way
// NormalizeEmail folds a whole one (NFKC, Unicode case folding), so that
// UserQuery.EmailPrefix "Alice" finds alice@example.com. Safe for
// concurrent use.
func FoldEmailPrefix(s string) string {
	return norm.NFKC.String(fold(norm.NFKC.String(strings.TrimSpace(s))))
}
