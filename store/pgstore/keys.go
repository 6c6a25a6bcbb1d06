package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiond/sessiond/token"
)

var _ token.KeyStore = (*Store)(nil)

// ListKeys implements token.KeyStore, ordered by NotBefore then ID (unset
// NotBefore first).
func (s *Store) ListKeys(ctx context.Context) ([]token.StoredKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, alg, data, created_at, not_before, retired_at, expires_at
		FROM signing_keys ORDER BY not_before NULLS FIRST, id`)
	if err != nil {
		return nil, wrap(ctx, "list keys", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (token.StoredKey, error) {
		var k token.StoredKey
		var alg string
		var created, nbf, retired, exp pgtype.Timestamptz
		if err := r.Scan(&k.ID, &alg, &k.Data, &created, &nbf, &retired, &exp); err != nil {
			return k, err
		}
		k.Alg = token.Alg(alg)
		k.CreatedAt, k.NotBefore, k.RetiredAt, k.ExpiresAt = fromNull(created), fromNull(nbf), fromNull(retired), fromNull(exp)
		return k, nil
	})
	if err != nil {
		return nil, wrap(ctx, "list keys", err)
	}
	if out == nil {
		out = []token.StoredKey{}
	}
	return out, nil
}

// PutKey implements token.KeyStore: an upsert, where the last write wins.
func (s *Store) PutKey(ctx context.Context, k token.StoredKey) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO signing_keys (id, alg, data, created_at, not_before, retired_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET alg = excluded.alg, data = excluded.data,
		created_at = excluded.created_at, not_before = excluded.not_before, retired_at = excluded.retired_at,
		expires_at = excluded.expires_at`,
		k.ID, string(k.Alg), k.Data, nullTime(k.CreatedAt), nullTime(k.NotBefore), nullTime(k.RetiredAt), nullTime(k.ExpiresAt))
	if err != nil {
		return wrap(ctx, "put key", err)
	}
	return nil
}

// DeleteKey implements token.KeyStore; a missing key is token.ErrNotFound.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1`, id)
	return affected(ctx, "delete key", tag.RowsAffected(), err)
}
