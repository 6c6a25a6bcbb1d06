package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiond/sessiond/account"
)

var _ account.Store = (*Store)(nil)

const userCols = `id, email, password_hash, roles, org_id, disabled, token_version, failed_logins, locked_until, created_at, updated_at,
	email_verified, email_verified_at`

func userArgs(u *account.User) []any {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return []any{u.ID, u.Email, u.PasswordHash, roles, u.OrgID, u.Disabled, u.TokenVersion,
		u.FailedLogins, nullTime(u.LockedUntil), u.CreatedAt, u.UpdatedAt, u.EmailVerified, nullTime(u.EmailVerifiedAt)}
}

func scanUser(row pgx.Row) (*account.User, error) {
	var u account.User
	var locked, verified pgtype.Timestamptz
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Roles, &u.OrgID, &u.Disabled, &u.TokenVersion,
		&u.FailedLogins, &locked, &u.CreatedAt, &u.UpdatedAt, &u.EmailVerified, &verified); err != nil {
		return nil, err
	}
	if u.Roles == nil {
		u.Roles = []string{}
	}
	u.LockedUntil, u.CreatedAt, u.UpdatedAt = fromNull(locked), u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	u.EmailVerifiedAt = fromNull(verified)
	return &u, nil
}

// CreateUser implements account.Store.
func (s *Store) CreateUser(ctx context.Context, u *account.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (`+userCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		userArgs(u)...)
	if err != nil {
		return wrap(ctx, "create user", err)
	}
	return nil
}

func userWhere(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, op, where string, arg any) (*account.User, error) {
	u, err := scanUser(q.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: %s: %w", op, account.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return u, nil
}

// UserByID implements account.Store.
// It is served from the near cache when it can (see cache.go).
func (s *Store) UserByID(ctx context.Context, id string) (*account.User, error) {
	if u, ok := s.cachedUser(id); ok {
		return u, nil
	}
	gen := s.users.Generation()
	u, err := userWhere(ctx, s.pool, "user by id", "id = $1", id)
	if err != nil || s.users == nil {
		return u, err
	}
	s.users.Put(id, u, gen)
	return u.Clone(), nil
}

// UserByEmail implements account.Store.
func (s *Store) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	return userWhere(ctx, s.pool, "user by email", "email = $1", email)
}

// UpdateUser implements account.Store in one transaction: the row is read
// with SELECT ... FOR UPDATE, so concurrent updates of one user (on any
// node) apply one after another and none is lost.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*account.User) error) (*account.User, error) {
	// After the commit (or rollback), before the notification comes back:
	// this node reads its own write at once.
	defer s.users.Invalidate(id)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, wrap(ctx, "update user", err)
	}
	// A no-op after Commit. With ctx canceled pgx closes the connection
	// instead, which ends the transaction just the same.
	defer func() { _ = tx.Rollback(ctx) }()
	u, err := userWhere(ctx, tx, "update user", "id = $1 FOR UPDATE", id)
	if err != nil {
		return nil, err
	}
	if err := fn(u); err != nil {
		return nil, err
	}
	u.ID = id
	if u.Roles == nil {
		u.Roles = []string{}
	}
	args := userArgs(u)
	_, err = tx.Exec(ctx, `UPDATE users SET email = $2, password_hash = $3, roles = $4, org_id = $5, disabled = $6,
		token_version = $7, failed_logins = $8, locked_until = $9, created_at = $10, updated_at = $11,
		email_verified = $12, email_verified_at = $13 WHERE id = $1`,
		args...)
	if err != nil {
		return nil, wrap(ctx, "update user", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, wrap(ctx, "update user", err)
	}
	return u, nil
}
