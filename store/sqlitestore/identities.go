package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/session"
)

// LinkIdentity links (issuer, subject) to userID; an existing link is
// session.ErrConflict. It implements oidc.IdentityStore.
func (s *Store) LinkIdentity(ctx context.Context, issuer, subject, userID string) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO identities (issuer, subject, user_id, created_at) VALUES (?, ?, ?, ?)`,
		issuer, subject, userID, ms(s.now()))
	if isUnique(err) {
		return fmt.Errorf("sqlitestore: link identity: %w", session.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: link identity: %w", err)
	}
	return nil
}

// IdentityUser returns the user (issuer, subject) is linked to, or
// session.ErrNotFound. It implements oidc.IdentityStore.
func (s *Store) IdentityUser(ctx context.Context, issuer, subject string) (string, error) {
	var uid string
	err := s.r.QueryRowContext(ctx, `SELECT user_id FROM identities WHERE issuer = ? AND subject = ?`, issuer, subject).Scan(&uid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("sqlitestore: identity user: %w", session.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("sqlitestore: identity user: %w", err)
	}
	return uid, nil
}

// PutFlow stores a sign-in flow until expires, and drops expired ones. It
// implements oidc.FlowStore.
func (s *Store) PutFlow(ctx context.Context, key string, data []byte, expires time.Time) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM oidc_flows WHERE expires_at <= ?`, ms(s.now())); err != nil {
		return fmt.Errorf("sqlitestore: put flow: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT OR REPLACE INTO oidc_flows (key, data, expires_at) VALUES (?, ?, ?)`,
		key, data, ms(expires)); err != nil {
		return fmt.Errorf("sqlitestore: put flow: %w", err)
	}
	return nil
}

// TakeFlow deletes a flow and returns it, in one statement, so exactly one
// caller gets it; a missing or expired one is session.ErrNotFound. It
// implements oidc.FlowStore.
func (s *Store) TakeFlow(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	var expires int64
	err := s.w.QueryRowContext(ctx, `DELETE FROM oidc_flows WHERE key = ? RETURNING data, expires_at`, key).Scan(&data, &expires)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !fromMS(expires).After(s.now()) {
		return nil, fmt.Errorf("sqlitestore: take flow: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: take flow: %w", err)
	}
	return data, nil
}
