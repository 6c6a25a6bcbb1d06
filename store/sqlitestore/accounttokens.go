package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/sessiond/sessiond/account"
)

var _ account.TokenStore = (*Store)(nil)

const tokenCols = `hash, purpose, user_id, binding, email, expires_at`

// PutToken implements account.TokenStore.
func (s *Store) PutToken(ctx context.Context, t *account.AccountToken) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO account_tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, string(t.Purpose), t.UserID, t.Binding, t.Email, ms(t.ExpiresAt))
	if isUnique(err) {
		return fmt.Errorf("sqlitestore: put token: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: put token: %w", err)
	}
	return nil
}

// PeekToken implements account.TokenStore.
func (s *Store) PeekToken(ctx context.Context, hash []byte, purpose account.Purpose) (*account.AccountToken, error) {
	return s.token(ctx, s.r, "peek token", `SELECT `+tokenCols+` FROM account_tokens`, hash, purpose, "")
}

// ConsumeToken implements account.TokenStore: one DELETE ... RETURNING on
// the single writer connection, so of concurrent consumers (in any process)
// exactly one gets the row.
func (s *Store) ConsumeToken(ctx context.Context, hash []byte, purpose account.Purpose) (*account.AccountToken, error) {
	return s.token(ctx, s.w, "consume token", `DELETE FROM account_tokens`, hash, purpose, ` RETURNING `+tokenCols)
}

// token runs head, restricted to the live token with hash and purpose, then
// tail, and scans the row.
func (s *Store) token(ctx context.Context, db *sql.DB, op, head string, hash []byte, purpose account.Purpose, tail string) (*account.AccountToken, error) {
	q := head + ` WHERE hash = ? AND purpose = ? AND expires_at > ?` + tail
	var t account.AccountToken
	var p string
	var exp int64
	err := db.QueryRowContext(ctx, q, hash, string(purpose), ms(s.now())).
		Scan(&t.Hash, &p, &t.UserID, &t.Binding, &t.Email, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, account.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	t.Purpose, t.ExpiresAt = account.Purpose(p), fromMS(exp)
	return &t, nil
}
