package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sessiond/sessiond/account"
)

var _ account.Store = (*Store)(nil)

const userCols = `id, email, password_hash, roles, org_id, disabled, token_version, failed_logins, locked_until, created_at, updated_at,
	email_verified, email_verified_at`

func userArgs(u *account.User) ([]any, error) {
	roles, err := json.Marshal(nonNil(u.Roles))
	if err != nil {
		return nil, err
	}
	return []any{u.ID, u.Email, u.PasswordHash, string(roles), u.OrgID, u.Disabled, u.TokenVersion,
		u.FailedLogins, ms(u.LockedUntil), ms(u.CreatedAt), ms(u.UpdatedAt), u.EmailVerified, ms(u.EmailVerifiedAt)}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func scanUser(row scanner) (*account.User, error) {
	var u account.User
	var roles string
	var locked, created, updated, verified int64
	if err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &roles, &u.OrgID, &u.Disabled, &u.TokenVersion,
		&u.FailedLogins, &locked, &created, &updated, &u.EmailVerified, &verified); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(roles), &u.Roles); err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	u.LockedUntil, u.CreatedAt, u.UpdatedAt, u.EmailVerifiedAt = fromMS(locked), fromMS(created), fromMS(updated), fromMS(verified)
	return &u, nil
}

// CreateUser implements account.Store.
func (s *Store) CreateUser(ctx context.Context, u *account.User) error {
	args, err := userArgs(u)
	if err != nil {
		return fmt.Errorf("sqlitestore: create user: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if isUnique(err) {
		return fmt.Errorf("sqlitestore: create user: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create user: %w", err)
	}
	return nil
}

func (s *Store) userWhere(ctx context.Context, q queryer, op, where string, arg any) (*account.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, account.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	return u, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// UserByID implements account.Store, from the near cache when it can.
func (s *Store) UserByID(ctx context.Context, id string) (*account.User, error) {
	if u, ok := s.cache.users.Get(id); ok {
		return u.Clone(), nil
	}
	gen := s.cache.users.Generation()
	u, err := scanUser(s.userByID.QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: user by id: %w", account.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: user by id: %w", err)
	}
	if s.cache.enabled() {
		s.cache.users.Put(id, u, gen)
		return u.Clone(), nil
	}
	return u, nil
}

// UserByEmail implements account.Store.
func (s *Store) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	return s.userWhere(ctx, s.r, "user by email", "email = ?", email)
}

// UpdateUser implements account.Store, in one immediate transaction.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(*account.User) error) (*account.User, error) {
	defer s.cache.users.Invalidate(id) // runs after the commit (or rollback)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: update user: %w", err)
	}
	defer tx.Rollback()
	u, err := s.userWhere(ctx, tx, "update user", "id = ?", id)
	if err != nil {
		return nil, err
	}
	if err := fn(u); err != nil {
		return nil, err
	}
	u.ID = id
	args, err := userArgs(u)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: update user: %w", err)
	}
	_, err = tx.ExecContext(ctx, `UPDATE users SET email = ?, password_hash = ?, roles = ?, org_id = ?, disabled = ?,
		token_version = ?, failed_logins = ?, locked_until = ?, created_at = ?, updated_at = ?,
		email_verified = ?, email_verified_at = ? WHERE id = ?`,
		append(args[1:], id)...)
	if isUnique(err) {
		return nil, fmt.Errorf("sqlitestore: update user: %w", account.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: update user: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlitestore: update user: %w", err)
	}
	return u, nil
}
