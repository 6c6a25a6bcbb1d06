package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiond/sessiond/session"
)

var _ session.Backend = (*Store)(nil)

const sessionCols = `id, hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, ip, user_agent, method, data, data_version, aal, amr, auth_time, aal2_time`

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

func fromNull(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// Create implements session.Store. An expired row with the same ID is
// replaced; a live one is ErrConflict.
func (s *Store) Create(ctx context.Context, ss *session.Session) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO sessions (`+sessionCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, user_id = excluded.user_id,
			created_at = excluded.created_at, last_seen_at = excluded.last_seen_at,
			idle_expires_at = excluded.idle_expires_at, expires_at = excluded.expires_at,
			ip = excluded.ip, user_agent = excluded.user_agent, method = excluded.method,
			data = excluded.data, data_version = excluded.data_version, aal = excluded.aal, amr = excluded.amr,
			auth_time = excluded.auth_time, aal2_time = excluded.aal2_time
		WHERE sessions.deadline <= $17`,
		append(append([]any{ss.ID, ss.Hash, ss.UserID, ss.CreatedAt, ss.LastSeenAt, nullTime(ss.IdleExpiresAt), ss.ExpiresAt,
			ss.IP, ss.UserAgent, ss.Method, ss.Data, ss.DataVersion}, assuranceArgs(ss.Assurance)...), s.now())...)
	if err != nil {
		return wrap(ctx, "create session", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: create session: %w", session.ErrConflict)
	}
	return nil
}

func scanSession(row pgx.Row) (*session.Session, error) {
	var ss session.Session
	var idle pgtype.Timestamptz
	var a assuranceCols
	if err := row.Scan(append([]any{&ss.ID, &ss.Hash, &ss.UserID, &ss.CreatedAt, &ss.LastSeenAt, &idle, &ss.ExpiresAt,
		&ss.IP, &ss.UserAgent, &ss.Method, &ss.Data, &ss.DataVersion}, a.dest()...)...); err != nil {
		return nil, err
	}
	ss.Assurance = a.assurance()
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = ss.CreatedAt.UTC(), ss.LastSeenAt.UTC(), ss.ExpiresAt.UTC()
	ss.IdleExpiresAt = fromNull(idle)
	return &ss, nil
}

// Get implements session.Store.
func (s *Store) Get(ctx context.Context, id string) (*session.Session, error) {
	ss, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1 AND deadline > $2`,
		id, s.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: get session: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "get session", err)
	}
	return ss, nil
}

// Touch implements session.Store. The deadline follows from the new idle
// expiry (never beyond the absolute one).
func (s *Store) Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2
		WHERE id = $3 AND deadline > $4`, lastSeen, nullTime(idleExpires), id, s.now())
	return affected(ctx, "touch session", tag.RowsAffected(), err)
}

func affected(ctx context.Context, op string, n int64, err error) error {
	if err != nil {
		return wrap(ctx, op, err)
	}
	if n == 0 {
		return fmt.Errorf("pgstore: %s: %w", op, session.ErrNotFound)
	}
	return nil
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1 AND deadline > $2`, id, s.now())
	return affected(ctx, "delete session", tag.RowsAffected(), err)
}

// ListByUser implements session.UserSessions.
func (s *Store) ListByUser(ctx context.Context, userID string) ([]*session.Session, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND deadline > $2 ORDER BY created_at, id`, userID, s.now())
	if err != nil {
		return nil, wrap(ctx, "list sessions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*session.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, wrap(ctx, "list sessions", err)
	}
	return out, nil
}

// DeleteByUser implements session.UserSessions, in one statement.
func (s *Store) DeleteByUser(ctx context.Context, userID, keep string) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2 AND deadline > $3`,
		userID, keep, s.now())
	if err != nil {
		return 0, wrap(ctx, "delete user sessions", err)
	}
	return int(tag.RowsAffected()), nil
}

// SetData implements session.DataStore with one compare-and-set UPDATE. Only
// when it changes nothing does a second query tell a stale version
// (ErrConflict) from a missing session (ErrNotFound).
func (s *Store) SetData(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	now := s.now()
	var v int64
	err := s.pool.QueryRow(ctx, `UPDATE sessions SET data = $1, data_version = data_version + 1
		WHERE id = $2 AND data_version = $3 AND deadline > $4 RETURNING data_version`,
		data, id, expect, now).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		var live bool
		err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND deadline > $2)`,
			id, now).Scan(&live)
		switch {
		case err != nil:
			return 0, wrap(ctx, "set session data", err)
		case !live:
			return 0, fmt.Errorf("pgstore: set session data: %w", session.ErrNotFound)
		}
		return 0, fmt.Errorf("pgstore: set session data: %w", session.ErrConflict)
	}
	if err != nil {
		return 0, wrap(ctx, "set session data", err)
	}
	return v, nil
}
