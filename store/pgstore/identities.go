package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/session"
)

// LinkIdentity links (issuer, subject) to userID; an existing link is
// session.ErrConflict. It implements oidc.IdentityStore.
func (s *Store) LinkIdentity(ctx context.Context, issuer, subject, userID string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)`,
		issuer, subject, userID, s.now())
	if err != nil {
		return wrap(ctx, "link identity", err) // a unique violation wraps session.ErrConflict
	}
	return nil
}

// IdentityUser returns the user (issuer, subject) is linked to, or
// session.ErrNotFound. It implements oidc.IdentityStore.
func (s *Store) IdentityUser(ctx context.Context, issuer, subject string) (string, error) {
	var uid string
	err := s.pool.QueryRow(ctx, `SELECT user_id FROM identities WHERE issuer = $1 AND subject = $2`, issuer, subject).Scan(&uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("pgstore: identity user: %w", session.ErrNotFound)
	}
	if err != nil {
		return "", wrap(ctx, "identity user", err)
	}
	return uid, nil
}

// PutFlow stores a sign-in flow until expires, replacing one under the same
// key. Expired flows are deleted by Sweep. It implements oidc.FlowStore.
func (s *Store) PutFlow(ctx context.Context, key string, data []byte, expires time.Time) error {
	if data == nil {
		data = []byte{} // the column is NOT NULL
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO oidc_flows (key, data, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at`,
		key, data, expires)
	if err != nil {
		return wrap(ctx, "put flow", err)
	}
	return nil
}

// TakeFlow deletes a flow and returns it in one statement (DELETE ...
// RETURNING), so that exactly one of concurrent callers gets it; a missing
// or expired one is session.ErrNotFound. It implements oidc.FlowStore.
func (s *Store) TakeFlow(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	var expires time.Time
	err := s.pool.QueryRow(ctx, `DELETE FROM oidc_flows WHERE key = $1 RETURNING data, expires_at`, key).Scan(&data, &expires)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !expires.After(s.now()) {
		return nil, fmt.Errorf("pgstore: take flow: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "take flow", err)
	}
	return data, nil
}
