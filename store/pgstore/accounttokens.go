package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/account"
)

var _ account.TokenStore = (*Store)(nil)

const tokenCols = `hash, purpose, user_id, binding, email, expires_at`

// PutToken implements account.TokenStore.
func (s *Store) PutToken(ctx context.Context, t *account.AccountToken) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO account_tokens (`+tokenCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, string(t.Purpose), t.UserID, t.Binding, t.Email, t.ExpiresAt)
	if err != nil {
		return wrap(ctx, "put token", err)
	}
	return nil
}

// PeekToken implements account.TokenStore.
func (s *Store) PeekToken(ctx context.Context, hash []byte, purpose account.Purpose) (*account.AccountToken, error) {
	return s.token(ctx, "peek token", `SELECT `+tokenCols+` FROM account_tokens`, hash, purpose, "")
}

// ConsumeToken implements account.TokenStore: one DELETE ... RETURNING, so
// of concurrent consumers on any node exactly one gets the row (the others
// wait for its row lock, then find it gone).
func (s *Store) ConsumeToken(ctx context.Context, hash []byte, purpose account.Purpose) (*account.AccountToken, error) {
	return s.token(ctx, "consume token", `DELETE FROM account_tokens`, hash, purpose, ` RETURNING `+tokenCols)
}

// token runs head, restricted to the live token with hash and purpose, then
// tail, and scans the row.
func (s *Store) token(ctx context.Context, op, head string, hash []byte, purpose account.Purpose, tail string) (*account.AccountToken, error) {
	var t account.AccountToken
	var p string
	err := s.pool.QueryRow(ctx, head+` WHERE hash = $1 AND purpose = $2 AND expires_at > $3`+tail,
		hash, string(purpose), s.now()).
		Scan(&t.Hash, &p, &t.UserID, &t.Binding, &t.Email, &t.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: %s: %w", op, account.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	t.Purpose, t.ExpiresAt = account.Purpose(p), t.ExpiresAt.UTC()
	return &t, nil
}
