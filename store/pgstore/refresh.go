package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiond/sessiond/refresh"
)

var _ refresh.Backend = (*Store)(nil)

const familyCols = `id, user_id, client_id, scope, created_at, expires_at, last_used_at, idle_expires_at, ip, user_agent, generation, data, data_version, aal, amr, auth_time, aal2_time`

// familyColsF is familyCols qualified with the alias f.
var familyColsF = "f." + strings.ReplaceAll(familyCols, ", ", ", f.")

// familyScan holds what a family row is scanned into besides the Family.
type familyScan struct {
	idle pgtype.Timestamptz
	a    assuranceCols
}

func familyDest(f *refresh.Family, x *familyScan) []any {
	return append([]any{&f.ID, &f.UserID, &f.ClientID, &f.Scope, &f.CreatedAt, &f.ExpiresAt, &f.LastUsedAt, &x.idle,
		&f.IP, &f.UserAgent, &f.Generation, &f.Data, &f.DataVersion}, x.a.dest()...)
}

func fixFamily(f *refresh.Family, x *familyScan) {
	f.CreatedAt, f.ExpiresAt, f.LastUsedAt = f.CreatedAt.UTC(), f.ExpiresAt.UTC(), f.LastUsedAt.UTC()
	f.IdleExpiresAt = fromNull(x.idle)
	f.Assurance = x.a.assurance()
}

func scanFamily(row pgx.Row) (*refresh.Family, error) {
	var f refresh.Family
	var x familyScan
	if err := row.Scan(familyDest(&f, &x)...); err != nil {
		return nil, err
	}
	fixFamily(&f, &x)
	return &f, nil
}

// CreateFamily implements refresh.Store: the family and its first token in
// one transaction. A taken family ID is ErrConflict, even when that family
// has expired but is not swept yet.
func (s *Store) CreateFamily(ctx context.Context, f *refresh.Family, first *refresh.Token) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap(ctx, "create family", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO families (`+familyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		append([]any{f.ID, f.UserID, f.ClientID, f.Scope, f.CreatedAt, f.ExpiresAt, f.LastUsedAt, nullTime(f.IdleExpiresAt),
			f.IP, f.UserAgent, f.Generation, f.Data, f.DataVersion}, assuranceArgs(f.Assurance)...)...); err != nil {
		return wrap(ctx, "create family", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (id, hash, family_id, generation) VALUES ($1, $2, $3, $4)`,
		first.ID, first.Hash, f.ID, first.Generation); err != nil {
		return wrap(ctx, "create family", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap(ctx, "create family", err)
	}
	return nil
}

// LookupToken implements refresh.Store.
func (s *Store) LookupToken(ctx context.Context, id string) (*refresh.Token, *refresh.Family, error) {
	var t refresh.Token
	var spent pgtype.Timestamptz
	var f refresh.Family
	var x familyScan
	err := s.pool.QueryRow(ctx, `SELECT t.id, t.hash, t.family_id, t.generation, t.spent_at, t.sealed, `+familyColsF+`
		FROM refresh_tokens t JOIN families f ON f.id = t.family_id WHERE t.id = $1 AND f.deadline > $2`, id, s.now()).
		Scan(append([]any{&t.ID, &t.Hash, &t.FamilyID, &t.Generation, &spent, &t.Sealed}, familyDest(&f, &x)...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("pgstore: lookup refresh token: %w", refresh.ErrNotFound)
	}
	if err != nil {
		return nil, nil, wrap(ctx, "lookup refresh token", err)
	}
	t.SpentAt = fromNull(spent)
	fixFamily(&f, &x)
	return &t, &f, nil
}

// Rotate implements refresh.Store in one transaction. It first locks the
// token's live family row (FOR NO KEY UPDATE), which serialises concurrent
// rotations of the family's tokens on every node; then it spends the token
// only if it is still unspent, so of several concurrent calls exactly one
// succeeds and the others get ErrReused. Taking the family's lock before the
// token's is the order in which RevokeFamily, RevokeFamilies and the sweeper
// take them (a family's delete cascades to its tokens), so a rotation
// racing a revocation never deadlocks.
func (s *Store) Rotate(ctx context.Context, oldID string, next *refresh.Token, sealed []byte, used, idle time.Time) (*refresh.Family, error) {
	const op = "rotate refresh token"
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var famID string
	var spent bool
	err = tx.QueryRow(ctx, `SELECT f.id, t.spent_at IS NOT NULL FROM refresh_tokens t JOIN families f ON f.id = t.family_id
		WHERE t.id = $1 AND f.deadline > $2 FOR NO KEY UPDATE OF f`, oldID, s.now()).Scan(&famID, &spent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: %s: %w", op, refresh.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	if spent {
		return nil, fmt.Errorf("pgstore: %s: %w", op, refresh.ErrReused)
	}
	// The three writes go to the server in one round trip. spent_at IS NULL
	// is the compare-and-set: after waiting for the family's lock, the
	// SELECT above may have seen the token as it was before the winner
	// spent it.
	b := &pgx.Batch{}
	b.Queue(`UPDATE refresh_tokens SET spent_at = $1, sealed = $2 WHERE id = $3 AND spent_at IS NULL`, used, sealed, oldID)
	b.Queue(`INSERT INTO refresh_tokens (id, hash, family_id, generation) VALUES ($1, $2, $3, $4)`,
		next.ID, next.Hash, famID, next.Generation)
	b.Queue(`UPDATE families SET generation = generation + 1, last_used_at = $1, idle_expires_at = $2
		WHERE id = $3 RETURNING `+familyCols, used, nullTime(idle), famID)
	br := tx.SendBatch(ctx, b)
	tag, err := br.Exec()
	var f *refresh.Family
	switch {
	case err != nil:
	case tag.RowsAffected() == 0:
		err = refresh.ErrReused
	default:
		if _, err = br.Exec(); err == nil {
			f, err = scanFamily(br.QueryRow())
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, refresh.ErrReused) {
		return nil, fmt.Errorf("pgstore: %s: %w", op, err)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return f, nil
}

// RevokeFamily implements refresh.Store: the family's tokens go with it
// (ON DELETE CASCADE).
func (s *Store) RevokeFamily(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM families WHERE id = $1 AND deadline > $2`, id, s.now())
	return affected(ctx, "revoke family", tag.RowsAffected(), err)
}

// Families implements refresh.Index.
func (s *Store) Families(ctx context.Context, userID string) ([]*refresh.Family, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+familyCols+` FROM families WHERE user_id = $1 AND deadline > $2
		ORDER BY created_at, id`, userID, s.now())
	if err != nil {
		return nil, wrap(ctx, "list families", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*refresh.Family, error) { return scanFamily(r) })
	if err != nil {
		return nil, wrap(ctx, "list families", err)
	}
	return out, nil
}

// GetFamily implements refresh.Index.
func (s *Store) GetFamily(ctx context.Context, id string) (*refresh.Family, error) {
	f, err := scanFamily(s.pool.QueryRow(ctx, `SELECT `+familyCols+` FROM families WHERE id = $1 AND deadline > $2`,
		id, s.now()))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: get family: %w", refresh.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "get family", err)
	}
	return f, nil
}

// RevokeFamilies implements refresh.Index in one statement. Expired
// families of the user go too, but only live ones are reported. The rows are
// locked in ID order, so that two of these for one user (logout everywhere
// on two nodes) wait for each other instead of deadlocking.
func (s *Store) RevokeFamilies(ctx context.Context, userID, keep string) ([]string, error) {
	return s.deleteFamilies(ctx, "revoke families", `DELETE FROM families WHERE id IN (
		SELECT id FROM families WHERE user_id = $2 AND id <> $3 ORDER BY id FOR UPDATE)
		RETURNING id, deadline > $1`, userID, keep)
}

// RevokeFamiliesByClient implements refresh.Index in one statement, locking
// the rows in ID order like RevokeFamilies. It scans the families (removing
// a client is rare).
func (s *Store) RevokeFamiliesByClient(ctx context.Context, clientID string) ([]string, error) {
	return s.deleteFamilies(ctx, "revoke client families", `DELETE FROM families WHERE id IN (
		SELECT id FROM families WHERE client_id = $2 ORDER BY id FOR UPDATE)
		RETURNING id, deadline > $1`, clientID)
}

// deleteFamilies runs a DELETE … RETURNING id, deadline > $1 (now) and
// returns the IDs of the live families it deleted; args are $2 on.
func (s *Store) deleteFamilies(ctx context.Context, op, query string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, query, append([]any{s.now()}, args...)...)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	var ids []string
	var id string
	var live bool
	_, err = pgx.ForEachRow(rows, []any{&id, &live}, func() error {
		if live {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return ids, nil
}

// SetFamilyData implements refresh.Index with one compare-and-set UPDATE.
// Only when it changes nothing does a second query tell a stale version
// (ErrConflict) from a missing family (ErrNotFound).
func (s *Store) SetFamilyData(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	now := s.now()
	var v int64
	err := s.pool.QueryRow(ctx, `UPDATE families SET data = $1, data_version = data_version + 1
		WHERE id = $2 AND data_version = $3 AND deadline > $4 RETURNING data_version`,
		data, id, expect, now).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		var live bool
		err = s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM families WHERE id = $1 AND deadline > $2)`,
			id, now).Scan(&live)
		switch {
		case err != nil:
			return 0, wrap(ctx, "set family data", err)
		case !live:
			return 0, fmt.Errorf("pgstore: set family data: %w", refresh.ErrNotFound)
		}
		return 0, fmt.Errorf("pgstore: set family data: %w", refresh.ErrConflict)
	}
	if err != nil {
		return 0, wrap(ctx, "set family data", err)
	}
	return v, nil
}

// Deny implements refresh.Denylist. Denying a key again keeps the later of
// the two times.
func (s *Store) Deny(ctx context.Context, key string, until time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO denylist (key, until) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET until = GREATEST(denylist.until, excluded.until)`, key, until)
	if err != nil {
		return wrap(ctx, "deny", err)
	}
	return nil
}

// Denied implements refresh.Denylist in one indexed query.
func (s *Store) Denied(ctx context.Context, keys ...string) (bool, error) {
	if len(keys) == 0 {
		return false, nil
	}
	var denied bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM denylist WHERE key = ANY ($1) AND until > $2)`,
		keys, s.now()).Scan(&denied)
	if err != nil {
		return false, wrap(ctx, "denied", err)
	}
	return denied, nil
}
