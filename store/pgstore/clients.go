package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/client"
)

var _ client.Store = (*Store)(nil)

const clientCols = `id, name, secret_hash, public, first_party, grants, audiences, scopes, redirect_uris, backchannel_logout_uri, created_at`

// nonNil returns l, or an empty list for nil (the list columns are NOT NULL).
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// nilIfEmpty returns nil for an empty list, as the other stores read back.
func nilIfEmpty[T any](l []T) []T {
	if len(l) == 0 {
		return nil
	}
	return l
}

func scanClient(row pgx.Row) (*client.Client, error) {
	var c client.Client
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.FirstParty, &c.Grants, &c.Audiences, &c.Scopes,
		&c.RedirectURIs, &c.BackchannelLogoutURI, &c.CreatedAt); err != nil {
		return nil, err
	}
	c.SecretHash = nilIfEmpty(c.SecretHash)
	c.Grants, c.Audiences = nilIfEmpty(c.Grants), nilIfEmpty(c.Audiences)
	c.Scopes, c.RedirectURIs = nilIfEmpty(c.Scopes), nilIfEmpty(c.RedirectURIs)
	c.CreatedAt = c.CreatedAt.UTC()
	return &c, nil
}

// CreateClient implements client.Store; a taken ID is ErrConflict.
func (s *Store) CreateClient(ctx context.Context, c *client.Client) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO clients (`+clientCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.ID, c.Name, nilIfEmpty(c.SecretHash), c.Public, c.FirstParty, nonNil(c.Grants), nonNil(c.Audiences),
		nonNil(c.Scopes), nonNil(c.RedirectURIs), c.BackchannelLogoutURI, c.CreatedAt)
	if err != nil {
		return wrap(ctx, "create client", err)
	}
	return nil
}

// GetClient implements client.Store.
func (s *Store) GetClient(ctx context.Context, id string) (*client.Client, error) {
	c, err := scanClient(s.pool.QueryRow(ctx, `SELECT `+clientCols+` FROM clients WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: get client: %w", client.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "get client", err)
	}
	return c, nil
}

// ListClients implements client.Store, ordered by ID (byte order, whatever
// the database's collation).
func (s *Store) ListClients(ctx context.Context) ([]*client.Client, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientCols+` FROM clients ORDER BY id COLLATE "C"`)
	if err != nil {
		return nil, wrap(ctx, "list clients", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*client.Client, error) { return scanClient(r) })
	if err != nil {
		return nil, wrap(ctx, "list clients", err)
	}
	return out, nil
}

// DeleteClient implements client.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM clients WHERE id = $1`, id)
	return affected(ctx, "delete client", tag.RowsAffected(), err)
}
