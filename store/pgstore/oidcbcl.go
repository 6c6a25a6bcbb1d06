package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/session"
)

// bclSweepBatch bounds the expired back-channel logout rows one write
// deletes along the way.
const bclSweepBatch = 100

// UseLogoutToken records (issuer, jti) until expires, in one statement: an
// expired record is replaced, a live one is left and reported as
// session.ErrConflict, so exactly one of concurrent callers succeeds. It
// implements oidc.LogoutStore.
func (s *Store) UseLogoutToken(ctx context.Context, issuer, jti string, expires time.Time) error {
	now := s.now()
	if _, err := s.pool.Exec(ctx, `DELETE FROM oidc_logout_jtis WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM oidc_logout_jtis WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`, now, bclSweepBatch); err != nil {
		return wrap(ctx, "use logout token", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO oidc_logout_jtis (issuer, jti, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE oidc_logout_jtis.expires_at <= $4`,
		issuer, jti, expires, now)
	if err != nil {
		return wrap(ctx, "use logout token", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: use logout token: %w", session.ErrConflict)
	}
	return nil
}

// AddUpstreamSession records that sessionID began from the provider
// session (issuer, sid), until expires. It implements oidc.LogoutStore.
func (s *Store) AddUpstreamSession(ctx context.Context, issuer, sid, sessionID string, expires time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM oidc_upstream_sessions WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM oidc_upstream_sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`, s.now(), bclSweepBatch); err != nil {
		return wrap(ctx, "add upstream session", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO oidc_upstream_sessions (issuer, sid, session_id, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (issuer, sid, session_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`,
		issuer, sid, sessionID, expires); err != nil {
		return wrap(ctx, "add upstream session", err)
	}
	return nil
}

// UpstreamSessions returns the live session IDs recorded for (issuer,
// sid), sorted. It implements oidc.LogoutStore.
func (s *Store) UpstreamSessions(ctx context.Context, issuer, sid string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT session_id FROM oidc_upstream_sessions
		WHERE issuer = $1 AND sid = $2 AND expires_at > $3 ORDER BY session_id`, issuer, sid, s.now())
	if err != nil {
		return nil, wrap(ctx, "upstream sessions", err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap(ctx, "upstream sessions", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "upstream sessions", err)
	}
	return ids, nil
}
