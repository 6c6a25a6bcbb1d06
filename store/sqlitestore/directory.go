package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sessiond/sessiond/account"
)

var _ account.Directory = (*Store)(nil)

// ListUsers implements account.Directory.
func (s *Store) ListUsers(ctx context.Context, q account.UserQuery) ([]*account.User, error) {
	where, args := []string{"id > ?"}, []any{q.After}
	if q.EmailPrefix != "" {
		where, args = append(where, "substr(email, 1, ?) = ?"), append(args, len(q.EmailPrefix), q.EmailPrefix)
	}
	if q.Role != "" {
		where, args = append(where, "EXISTS (SELECT 1 FROM json_each(users.roles) WHERE value = ?)"), append(args, q.Role)
	}
	if q.OrgID != "" {
		where, args = append(where, "org_id = ?"), append(args, q.OrgID)
	}
	if q.Disabled != nil {
		where, args = append(where, "disabled = ?"), append(args, *q.Disabled)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE `+strings.Join(where, " AND ")+
		` ORDER BY id LIMIT ?`, append(args, q.PageLimit())...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list users: %w", err)
	}
	defer rows.Close()
	var out []*account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: list users: %w", err)
	}
	return out, nil
}

// userTables are the tables with a user_id column that DeleteUser empties
// of the user (refresh_tokens go with their families).
var userTables = []string{"sessions", "families", "identities", "provider_logins", "provider_consents",
	"mfa_totp_steps", "account_tokens"}

// DeleteUser implements account.Directory. Sessions and second factors go
// through DeleteByUser and DeleteFactors; the rest, and last the user row,
// in one transaction, so a failed erasure can be retried.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	u, err := s.userWhere(ctx, s.r, "delete user", "id = ?", id)
	if err != nil {
		return err
	}
	if _, err := s.DeleteByUser(ctx, id, ""); err != nil {
		return fmt.Errorf("sqlitestore: delete user: %w", err)
	}
	if err := s.DeleteFactors(ctx, id); err != nil {
		return fmt.Errorf("sqlitestore: delete user: %w", err)
	}
	defer s.cache.users.Invalidate(id)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, table := range userTables {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = ?`, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mail_outbox WHERE recipient = ?`, u.Email); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, account.ErrNotFound) // a concurrent erasure won
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete user: %w", err)
	}
	return nil
}
