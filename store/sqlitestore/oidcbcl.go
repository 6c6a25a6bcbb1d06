package sqlitestore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/session"
)

// UseLogoutToken records (issuer, jti) until expires, in one statement: an
// expired record is replaced, a live one is left and reported as
// session.ErrConflict. Expired records are deleted first. It implements
// oidc.LogoutStore.
func (s *Store) UseLogoutToken(ctx context.Context, issuer, jti string, expires time.Time) error {
	now := ms(s.now())
	if _, err := s.w.ExecContext(ctx, `DELETE FROM oidc_logout_jtis WHERE expires_at <= ?`, now); err != nil {
		return fmt.Errorf("sqlitestore: use logout token: %w", err)
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO oidc_logout_jtis (issuer, jti, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE oidc_logout_jtis.expires_at <= ?`,
		issuer, jti, ms(expires), now)
	if err != nil {
		return fmt.Errorf("sqlitestore: use logout token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("sqlitestore: use logout token: %w", err)
	} else if n == 0 {
		return fmt.Errorf("sqlitestore: use logout token: %w", session.ErrConflict)
	}
	return nil
}

// AddUpstreamSession records that sessionID began from the provider
// session (issuer, sid), until expires; expired records are deleted first.
// It implements oidc.LogoutStore.
func (s *Store) AddUpstreamSession(ctx context.Context, issuer, sid, sessionID string, expires time.Time) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM oidc_upstream_sessions WHERE expires_at <= ?`, ms(s.now())); err != nil {
		return fmt.Errorf("sqlitestore: add upstream session: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT OR REPLACE INTO oidc_upstream_sessions (issuer, sid, session_id, expires_at)
		VALUES (?, ?, ?, ?)`, issuer, sid, sessionID, ms(expires)); err != nil {
		return fmt.Errorf("sqlitestore: add upstream session: %w", err)
	}
	return nil
}

// UpstreamSessions returns the live session IDs recorded for (issuer,
// sid), sorted. It implements oidc.LogoutStore.
func (s *Store) UpstreamSessions(ctx context.Context, issuer, sid string) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT session_id FROM oidc_upstream_sessions
		WHERE issuer = ? AND sid = ? AND expires_at > ? ORDER BY session_id`, issuer, sid, ms(s.now()))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: upstream sessions: %w", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("sqlitestore: upstream sessions: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: upstream sessions: %w", err)
	}
	return ids, nil
}
