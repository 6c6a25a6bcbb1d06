package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/session"
)

var _ session.Backend = (*Store)(nil)

const sessionCols = `id, hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at, ip, user_agent, method, data, data_version, aal, amr, auth_time, aal2_time`

func deadline(s *session.Session) int64 { return ms(s.Deadline()) }

// Create implements session.Store. An expired row with the same ID is
// replaced; a live one is ErrConflict.
func (s *Store) Create(ctx context.Context, ss *session.Session) error {
	res, err := s.w.ExecContext(ctx, `INSERT INTO sessions (`+sessionCols+`, deadline)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, user_id = excluded.user_id,
			created_at = excluded.created_at, last_seen_at = excluded.last_seen_at,
			idle_expires_at = excluded.idle_expires_at, expires_at = excluded.expires_at,
			ip = excluded.ip, user_agent = excluded.user_agent, method = excluded.method,
			data = excluded.data, data_version = excluded.data_version, aal = excluded.aal, amr = excluded.amr,
			auth_time = excluded.auth_time, aal2_time = excluded.aal2_time, deadline = excluded.deadline
		WHERE sessions.deadline <= ?`,
		ss.ID, ss.Hash, ss.UserID, ms(ss.CreatedAt), ms(ss.LastSeenAt), ms(ss.IdleExpiresAt), ms(ss.ExpiresAt),
		ss.IP, ss.UserAgent, ss.Method, ss.Data, ss.DataVersion, int(ss.Assurance.AAL), joinAMR(ss.Assurance.AMR),
		ms(ss.Assurance.AuthTime), ms(ss.Assurance.AAL2Time), deadline(ss), ms(s.now()))
	if err != nil {
		return fmt.Errorf("sqlitestore: create session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlitestore: create session: %w", session.ErrConflict)
	}
	return nil
}

type scanner interface{ Scan(...any) error }

func scanSession(row scanner) (*session.Session, error) {
	var ss session.Session
	var created, seen, idle, exp int64
	var a assuranceCols
	if err := row.Scan(&ss.ID, &ss.Hash, &ss.UserID, &created, &seen, &idle, &exp, &ss.IP, &ss.UserAgent,
		&ss.Method, &ss.Data, &ss.DataVersion, &a.aal, &a.amr, &a.authTime, &a.aal2Time); err != nil {
		return nil, err
	}
	ss.CreatedAt, ss.LastSeenAt, ss.IdleExpiresAt, ss.ExpiresAt = fromMS(created), fromMS(seen), fromMS(idle), fromMS(exp)
	ss.Assurance = a.assurance()
	return &ss, nil
}

// Get implements session.Store, from the near cache when it can.
func (s *Store) Get(ctx context.Context, id string) (*session.Session, error) {
	now := s.now()
	if ss, ok := s.cachedSession(id, now); ok {
		return ss, nil
	}
	gen := s.cache.sessions.Generation()
	ss, err := s.loadSession(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if s.cache.enabled() {
		s.cache.sessions.Put(id, ss, gen)
		return copySession(ss), nil
	}
	return ss, nil
}

// loadSession reads session id from the database, bypassing the cache.
func (s *Store) loadSession(ctx context.Context, id string, now time.Time) (*session.Session, error) {
	row := s.getSession.QueryRowContext(ctx, id, ms(now))
	ss, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: get session: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get session: %w", err)
	}
	return ss, nil
}

// Touch implements session.Store.
func (s *Store) Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	defer s.cache.sessions.Invalidate(id)
	res, err := s.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ?, idle_expires_at = ?,
		deadline = min(?, expires_at) WHERE id = ? AND deadline > ?`,
		ms(lastSeen), ms(idleExpires), ms(idleExpires), id, ms(s.now()))
	return affected("touch session", res, err)
}

func affected(op string, res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: %s: %w", op, session.ErrNotFound)
	}
	return nil
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	defer s.cache.sessions.Invalidate(id)
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = ? AND deadline > ?`, id, ms(s.now()))
	return affected("delete session", res, err)
}

// ListByUser implements session.UserSessions.
func (s *Store) ListByUser(ctx context.Context, userID string) ([]*session.Session, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = ? AND deadline > ? ORDER BY created_at, id`, userID, ms(s.now()))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
	}
	defer rows.Close()
	var out []*session.Session
	for rows.Next() {
		ss, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
		}
		out = append(out, ss)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list sessions: %w", err)
	}
	return out, nil
}

// DeleteByUser implements session.UserSessions.
func (s *Store) DeleteByUser(ctx context.Context, userID, keep string) (int, error) {
	defer s.cache.sessions.Flush() // the IDs are not known here; this is rare
	res, err := s.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ? AND deadline > ?`,
		userID, keep, ms(s.now()))
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete user sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: delete user sessions: %w", err)
	}
	return int(n), nil
}

// SetData implements session.DataStore.
func (s *Store) SetData(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	defer s.cache.sessions.Invalidate(id)
	var v int64
	err := s.w.QueryRowContext(ctx, `UPDATE sessions SET data = ?, data_version = data_version + 1
		WHERE id = ? AND data_version = ? AND deadline > ? RETURNING data_version`,
		data, id, expect, ms(s.now())).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, gerr := s.loadSession(ctx, id, s.now()); gerr != nil {
			return 0, fmt.Errorf("sqlitestore: set session data: %w", gerr)
		}
		return 0, fmt.Errorf("sqlitestore: set session data: %w", session.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: set session data: %w", err)
	}
	return v, nil
}
