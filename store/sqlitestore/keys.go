package sqlitestore

import (
	"context"
	"fmt"

	"github.com/sessiond/sessiond/token"
)

var _ token.KeyStore = (*Store)(nil)

// ListKeys implements token.KeyStore.
func (s *Store) ListKeys(ctx context.Context) ([]token.StoredKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, alg, data, created_at, not_before, retired_at, expires_at FROM signing_keys`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list keys: %w", err)
	}
	defer rows.Close()
	out := []token.StoredKey{}
	for rows.Next() {
		var k token.StoredKey
		var alg string
		var created, nbf, retired, exp int64
		if err := rows.Scan(&k.ID, &alg, &k.Data, &created, &nbf, &retired, &exp); err != nil {
			return nil, fmt.Errorf("sqlitestore: list keys: %w", err)
		}
		k.Alg = token.Alg(alg)
		k.CreatedAt, k.NotBefore, k.RetiredAt, k.ExpiresAt = fromMS(created), fromMS(nbf), fromMS(retired), fromMS(exp)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list keys: %w", err)
	}
	return out, nil
}

// PutKey implements token.KeyStore.
func (s *Store) PutKey(ctx context.Context, k token.StoredKey) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO signing_keys (id, alg, data, created_at, not_before, retired_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET alg = excluded.alg, data = excluded.data,
		created_at = excluded.created_at, not_before = excluded.not_before, retired_at = excluded.retired_at,
		expires_at = excluded.expires_at`,
		k.ID, string(k.Alg), k.Data, ms(k.CreatedAt), ms(k.NotBefore), ms(k.RetiredAt), ms(k.ExpiresAt))
	if err != nil {
		return fmt.Errorf("sqlitestore: put key: %w", err)
	}
	return nil
}

// DeleteKey implements token.KeyStore.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM signing_keys WHERE id = ?`, id)
	return affected("delete key", res, err)
}
