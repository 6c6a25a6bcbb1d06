package sqlitestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sessiond/sessiond/client"
)

var _ client.Store = (*Store)(nil)

const clientCols = `id, name, secret_hash, public, first_party, grants, audiences, scopes, redirect_uris, backchannel_logout_uri, created_at`

func clientArgs(c *client.Client) ([]any, error) {
	var lists [4]string
	for i, l := range [...][]string{c.Grants, c.Audiences, c.Scopes, c.RedirectURIs} {
		b, err := json.Marshal(nonNil(l))
		if err != nil {
			return nil, err
		}
		lists[i] = string(b)
	}
	var hash any // NULL for public clients
	if len(c.SecretHash) > 0 {
		hash = c.SecretHash
	}
	return []any{c.ID, c.Name, hash, c.Public, c.FirstParty, lists[0], lists[1], lists[2], lists[3],
		c.BackchannelLogoutURI, ms(c.CreatedAt)}, nil
}

func scanClient(row scanner) (*client.Client, error) {
	var c client.Client
	var grants, audiences, scopes, redirects string
	var created int64
	if err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.Public, &c.FirstParty, &grants, &audiences, &scopes,
		&redirects, &c.BackchannelLogoutURI, &created); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		name string
		raw  string
		dst  *[]string
	}{
		{"grants", grants, &c.Grants}, {"audiences", audiences, &c.Audiences},
		{"scopes", scopes, &c.Scopes}, {"redirect_uris", redirects, &c.RedirectURIs},
	} {
		if err := json.Unmarshal([]byte(l.raw), l.dst); err != nil {
			return nil, fmt.Errorf("client %s: %s: %w", c.ID, l.name, err)
		}
		if len(*l.dst) == 0 {
			*l.dst = nil
		}
	}
	if len(c.SecretHash) == 0 {
		c.SecretHash = nil
	}
	c.CreatedAt = fromMS(created)
	return &c, nil
}

// CreateClient implements client.Store.
func (s *Store) CreateClient(ctx context.Context, c *client.Client) error {
	args, err := clientArgs(c)
	if err != nil {
		return fmt.Errorf("sqlitestore: create client: %w", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO clients (`+clientCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if isUnique(err) {
		return fmt.Errorf("sqlitestore: create client: %w", client.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: create client: %w", err)
	}
	return nil
}

// GetClient implements client.Store.
func (s *Store) GetClient(ctx context.Context, id string) (*client.Client, error) {
	c, err := scanClient(s.r.QueryRowContext(ctx, `SELECT `+clientCols+` FROM clients WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: get client: %w", client.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: get client: %w", err)
	}
	return c, nil
}

// ListClients implements client.Store.
func (s *Store) ListClients(ctx context.Context) ([]*client.Client, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+clientCols+` FROM clients ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list clients: %w", err)
	}
	defer rows.Close()
	var out []*client.Client
	for rows.Next() {
		c, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list clients: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list clients: %w", err)
	}
	return out, nil
}

// DeleteClient implements client.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlitestore: delete client: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlitestore: delete client: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("sqlitestore: delete client: %w", client.ErrNotFound)
	}
	return nil
}
