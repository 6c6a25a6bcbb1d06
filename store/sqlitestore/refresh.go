package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sessiond/sessiond/refresh"
)

var _ refresh.Backend = (*Store)(nil)

const familyCols = `id, user_id, client_id, scope, created_at, expires_at, last_used_at, idle_expires_at, ip, user_agent, generation, data, data_version, aal, amr, auth_time, aal2_time`

// familyScan holds what a family row is scanned into besides the Family.
type familyScan struct {
	created, exp, used, idle int64
	a                        assuranceCols
}

func familyDest(f *refresh.Family, x *familyScan) []any {
	return []any{&f.ID, &f.UserID, &f.ClientID, &f.Scope, &x.created, &x.exp, &x.used, &x.idle, &f.IP, &f.UserAgent,
		&f.Generation, &f.Data, &f.DataVersion, &x.a.aal, &x.a.amr, &x.a.authTime, &x.a.aal2Time}
}

func fixFamily(f *refresh.Family, x *familyScan) {
	f.CreatedAt, f.ExpiresAt, f.LastUsedAt, f.IdleExpiresAt = fromMS(x.created), fromMS(x.exp), fromMS(x.used), fromMS(x.idle)
	f.Assurance = x.a.assurance()
}

func scanFamily(row scanner) (*refresh.Family, error) {
	var f refresh.Family
	var x familyScan
	if err := row.Scan(familyDest(&f, &x)...); err != nil {
		return nil, err
	}
	fixFamily(&f, &x)
	return &f, nil
}

// CreateFamily implements refresh.Store.
func (s *Store) CreateFamily(ctx context.Context, f *refresh.Family, first *refresh.Token) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlitestore: create family: %w", err)
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO families (`+familyCols+`, deadline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, f.UserID, f.ClientID, f.Scope, ms(f.CreatedAt), ms(f.ExpiresAt), ms(f.LastUsedAt), ms(f.IdleExpiresAt),
		f.IP, f.UserAgent, f.Generation, f.Data, f.DataVersion, int(f.Assurance.AAL), joinAMR(f.Assurance.AMR),
		ms(f.Assurance.AuthTime), ms(f.Assurance.AAL2Time), ms(f.Deadline()))
	if isUnique(err) || err != nil && strings.Contains(err.Error(), "PRIMARY KEY") {
		return fmt.Errorf("sqlitestore: create family: %w", refresh.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create family: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (id, hash, family_id, generation) VALUES (?, ?, ?, ?)`,
		first.ID, first.Hash, f.ID, first.Generation); err != nil {
		return fmt.Errorf("sqlitestore: create family: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlitestore: create family: %w", err)
	}
	return nil
}

// LookupToken implements refresh.Store.
func (s *Store) LookupToken(ctx context.Context, id string) (*refresh.Token, *refresh.Family, error) {
	row := s.r.QueryRowContext(ctx, `SELECT t.id, t.hash, t.family_id, t.generation, t.spent_at, t.sealed, `+
		prefixCols("f.", familyCols)+` FROM refresh_tokens t JOIN families f ON f.id = t.family_id
		WHERE t.id = ? AND f.deadline > ?`, id, ms(s.now()))
	var t refresh.Token
	var spent int64
	var f refresh.Family
	var x familyScan
	err := row.Scan(append([]any{&t.ID, &t.Hash, &t.FamilyID, &t.Generation, &spent, &t.Sealed}, familyDest(&f, &x)...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("sqlitestore: lookup refresh token: %w", refresh.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sqlitestore: lookup refresh token: %w", err)
	}
	t.SpentAt = fromMS(spent)
	fixFamily(&f, &x)
	return &t, &f, nil
}

func prefixCols(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// Rotate implements refresh.Store, in one immediate transaction.
func (s *Store) Rotate(ctx context.Context, oldID string, next *refresh.Token, sealed []byte, used, idle time.Time) (*refresh.Family, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: rotate refresh token: %w", err)
	}
	defer tx.Rollback()
	var famID string
	var spent int64
	err = tx.QueryRowContext(ctx, `SELECT t.family_id, t.spent_at FROM refresh_tokens t JOIN families f ON f.id = t.family_id
		WHERE t.id = ? AND f.deadline > ?`, oldID, ms(s.now())).Scan(&famID, &spent)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: rotate refresh token: %w", refresh.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: rotate refresh token: %w", err)
	}
	if spent != 0 {
		return nil, fmt.Errorf("sqlitestore: rotate refresh token: %w", refresh.ErrReused)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET spent_at = ?, sealed = ? WHERE id = ?`, ms(used), sealed, oldID); err != nil {
		return nil, fmt.Errorf("sqlitestore: rotate refresh token: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (id, hash, family_id, generation) VALUES (?, ?, ?, ?)`,
		next.ID, next.Hash, famID, next.Generation); err != nil {
		return nil, fmt.Errorf("sqlitestore: rotate refresh token: %w", err)
	}
	f, err := scanFamily(tx.QueryRowContext(ctx, `UPDATE families SET generation = generation + 1, last_used_at = ?,
		idle_expires_at = ?, deadline = min(?, expires_at) WHERE id = ? RETURNING `+familyCols, ms(used), ms(idle), ms(idle), famID))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: rotate refresh token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("sqlitestore: rotate refresh token: %w", err)
	}
	return f, nil
}

// RevokeFamily implements refresh.Store.
func (s *Store) RevokeFamily(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM families WHERE id = ? AND deadline > ?`, id, ms(s.now()))
	return affected("revoke family", res, err)
}

// Families implements refresh.Index.
func (s *Store) Families(ctx context.Context, userID string) ([]*refresh.Family, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+familyCols+` FROM families WHERE user_id = ? AND deadline > ?
		ORDER BY created_at, id`, userID, ms(s.now()))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list families: %w", err)
	}
	defer rows.Close()
	var out []*refresh.Family
	for rows.Next() {
		f, err := scanFamily(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list families: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list families: %w", err)
	}
	return out, nil
}

// GetFamily implements refresh.Index.
func (s *Store) GetFamily(ctx context.Context, id string) (*refresh.Family, error) {
	f, err := scanFamily(s.r.QueryRowContext(ctx, `SELECT `+familyCols+` FROM families WHERE id = ? AND deadline > ?`, id, ms(s.now())))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: get family: %w", refresh.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get family: %w", err)
	}
	return f, nil
}

// RevokeFamilies implements refresh.Index.
func (s *Store) RevokeFamilies(ctx context.Context, userID, keep string) ([]string, error) {
	return s.deleteFamilies(ctx, "revoke families", `DELETE FROM families WHERE user_id = ? AND id <> ? RETURNING id, deadline`, userID, keep)
}

// RevokeFamiliesByClient implements refresh.Index in one statement (a scan
// of the families: removing a client is rare).
func (s *Store) RevokeFamiliesByClient(ctx context.Context, clientID string) ([]string, error) {
	return s.deleteFamilies(ctx, "revoke client families", `DELETE FROM families WHERE client_id = ? RETURNING id, deadline`, clientID)
}

// deleteFamilies runs a DELETE … RETURNING id, deadline and returns the IDs
// of the live families it deleted (their tokens go with them: ON DELETE
// CASCADE).
func (s *Store) deleteFamilies(ctx context.Context, op, query string, args ...any) ([]string, error) {
	rows, err := s.w.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	defer rows.Close()
	now := ms(s.now())
	var ids []string
	for rows.Next() {
		var id string
		var deadline int64
		if err := rows.Scan(&id, &deadline); err != nil {
			return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
		}
		if deadline > now {
			ids = append(ids, id)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	return ids, nil
}

// SetFamilyData implements refresh.Index.
func (s *Store) SetFamilyData(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	var v int64
	err := s.w.QueryRowContext(ctx, `UPDATE families SET data = ?, data_version = data_version + 1
		WHERE id = ? AND data_version = ? AND deadline > ? RETURNING data_version`, data, id, expect, ms(s.now())).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, gerr := s.GetFamily(ctx, id); gerr != nil {
			return 0, fmt.Errorf("sqlitestore: set family data: %w", gerr)
		}
		return 0, fmt.Errorf("sqlitestore: set family data: %w", refresh.ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: set family data: %w", err)
	}
	return v, nil
}

// Deny implements refresh.Denylist.
func (s *Store) Deny(ctx context.Context, key string, until time.Time) error {
	defer s.cache.denied.Invalidate(key)
	_, err := s.w.ExecContext(ctx, `INSERT INTO denylist (key, until) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET until = max(until, excluded.until)`, key, ms(until))
	if err != nil {
		return fmt.Errorf("sqlitestore: deny: %w", err)
	}
	return nil
}

// Denied implements refresh.Denylist.
func (s *Store) Denied(ctx context.Context, keys ...string) (bool, error) {
	if len(keys) == 0 {
		return false, nil
	}
	if s.cache.enabled() {
		return s.deniedCached(ctx, keys)
	}
	var n int
	var err error
	switch len(keys) {
	case 1:
		err = s.deniedOneKey.QueryRowContext(ctx, ms(s.now()), keys[0]).Scan(&n)
	case 2:
		err = s.deniedTwoKeys.QueryRowContext(ctx, ms(s.now()), keys[0], keys[1]).Scan(&n)
	default:
		return s.deniedAny(ctx, keys)
	}
	if err != nil {
		return false, fmt.Errorf("sqlitestore: denied: %w", err)
	}
	return n > 0, nil
}

func (s *Store) deniedAny(ctx context.Context, keys []string) (bool, error) {
	args := make([]any, 0, len(keys)+1)
	args = append(args, ms(s.now()))
	for _, k := range keys {
		args = append(args, k)
	}
	var n int
	err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM denylist WHERE until > ? AND key IN (?`+
		strings.Repeat(", ?", len(keys)-1)+`)`, args...).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("sqlitestore: denied: %w", err)
	}
	return n > 0, nil
}

// deniedCached answers Denied key by key through the near cache, which
// keeps each key's until (0: not denied), so that an entry stays right as
// time passes.
func (s *Store) deniedCached(ctx context.Context, keys []string) (bool, error) {
	now := ms(s.now())
	for _, k := range keys {
		until, ok := s.cache.denied.Get(k)
		if !ok {
			gen := s.cache.denied.Generation()
			if err := s.denyUntil.QueryRowContext(ctx, k).Scan(&until); err != nil {
				return false, fmt.Errorf("sqlitestore: denied: %w", err)
			}
			s.cache.denied.Put(k, until, gen)
		}
		if until > now {
			return true, nil
		}
	}
	return false, nil
}
