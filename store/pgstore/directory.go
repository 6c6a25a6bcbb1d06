package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/account"
)

var _ account.Directory = (*Store)(nil)

// ListUsers implements account.Directory.
func (s *Store) ListUsers(ctx context.Context, q account.UserQuery) ([]*account.User, error) {
	where, args := []string{`id COLLATE "C" > $1`}, []any{q.After}
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if q.EmailPrefix != "" {
		add("starts_with(email, $%d)", q.EmailPrefix)
	}
	if q.Role != "" {
		add("$%d = ANY (roles)", q.Role)
	}
	if q.OrgID != "" {
		add("org_id = $%d", q.OrgID)
	}
	if q.Disabled != nil {
		add("disabled = $%d", *q.Disabled)
	}
	args = append(args, q.PageLimit())
	rows, err := s.pool.Query(ctx, fmt.Sprintf(`SELECT `+userCols+` FROM users WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id COLLATE "C" LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, wrap(ctx, "list users", err)
	}
	defer rows.Close()
	var out []*account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap(ctx, "list users", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list users", err)
	}
	return out, nil
}

// userTables are the tables with a user_id column that DeleteUser empties
// of the user (refresh_tokens go with their families).
var userTables = []string{"sessions", "families", "identities", "provider_logins", "provider_consents",
	"mfa_totp_steps", "account_tokens"}

// DeleteUser implements account.Directory. Sessions and second factors go
// through DeleteByUser and DeleteFactors; the rest, and last the user row,
// in one transaction, so a failed erasure can be retried. Every node's near
// cache drops the user through the users trigger.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	u, err := userWhere(ctx, s.pool, "delete user", "id = $1", id)
	if err != nil {
		return err
	}
	if _, err := s.DeleteByUser(ctx, id, ""); err != nil {
		return fmt.Errorf("pgstore: delete user: %w", err)
	}
	if err := s.DeleteFactors(ctx, id); err != nil {
		return fmt.Errorf("pgstore: delete user: %w", err)
	}
	defer s.users.Invalidate(id)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, table := range userTables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mail_outbox WHERE recipient = $1`, u.Email); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err == nil && tag.RowsAffected() == 0 {
			err = pgx.ErrNoRows // a concurrent erasure won: wrap makes it ErrNotFound
		}
		return err
	})
	if err != nil {
		return wrap(ctx, "delete user", err)
	}
	return nil
}
