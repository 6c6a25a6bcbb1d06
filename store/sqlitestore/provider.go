package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/session"
)

var _ op.Store = (*Store)(nil)

// PutCode stores an authorization code record until purgeAt, and drops
// purged ones. It implements op.CodeStore.
func (s *Store) PutCode(ctx context.Context, id string, data []byte, purgeAt time.Time) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM provider_codes WHERE purge_at <= ?`, ms(s.now())); err != nil {
		return fmt.Errorf("sqlitestore: put code: %w", err)
	}
	if data == nil {
		data = []byte{}
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO provider_codes (id, data, purge_at) VALUES (?, ?, ?)`, id, data, ms(purgeAt)); err != nil {
		if isUnique(err) {
			return fmt.Errorf("sqlitestore: put code: %w", session.ErrConflict)
		}
		return fmt.Errorf("sqlitestore: put code: %w", err)
	}
	return nil
}

// RedeemCode marks a code redeemed, and replayed if it was redeemed
// already, in one statement. It implements op.CodeStore.
func (s *Store) RedeemCode(ctx context.Context, id string) ([]byte, []byte, bool, error) {
	var data, issued []byte
	var replayed int64
	// In an UPDATE, the right-hand sides read the row as it was: replayed
	// becomes the old redeemed.
	err := s.w.QueryRowContext(ctx, `UPDATE provider_codes SET replayed = redeemed, redeemed = 1
		WHERE id = ? AND purge_at > ? RETURNING data, issued, replayed`, id, ms(s.now())).Scan(&data, &issued, &replayed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, false, fmt.Errorf("sqlitestore: redeem code: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("sqlitestore: redeem code: %w", err)
	}
	return data, issued, replayed == 0, nil
}

// SetCodeIssued stores what a code's redemption issued. It implements
// op.CodeStore.
func (s *Store) SetCodeIssued(ctx context.Context, id string, issued []byte) (bool, error) {
	var replayed int64
	err := s.w.QueryRowContext(ctx, `UPDATE provider_codes SET issued = ? WHERE id = ? RETURNING replayed`, issued, id).Scan(&replayed)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("sqlitestore: set code issued: %w", session.ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("sqlitestore: set code issued: %w", err)
	}
	return replayed != 0, nil
}

// AddLogin records that a client signed into a session, and drops expired
// records. It implements op.LoginStore.
func (s *Store) AddLogin(ctx context.Context, l *op.Login) error {
	if _, err := s.w.ExecContext(ctx, `DELETE FROM provider_logins WHERE expires_at <= ?`, ms(s.now())); err != nil {
		return fmt.Errorf("sqlitestore: add login: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `INSERT OR REPLACE INTO provider_logins (session_id, client_id, family_id, user_id, expires_at)
		VALUES (?, ?, ?, ?, ?)`, l.SessionID, l.ClientID, l.FamilyID, l.UserID, ms(l.ExpiresAt)); err != nil {
		return fmt.Errorf("sqlitestore: add login: %w", err)
	}
	return nil
}

// TakeLogins deletes and returns a session's login records in one
// statement. It implements op.LoginStore.
func (s *Store) TakeLogins(ctx context.Context, sessionID string) ([]*op.Login, error) {
	return s.takeLogins(ctx, "take logins", `DELETE FROM provider_logins WHERE session_id = ?
		RETURNING session_id, client_id, family_id, user_id, expires_at`, sessionID)
}

// TakeUserLogins deletes and returns a user's login records except those
// of session keep, in one statement. It implements op.LoginStore.
func (s *Store) TakeUserLogins(ctx context.Context, userID, keep string) ([]*op.Login, error) {
	return s.takeLogins(ctx, "take user logins", `DELETE FROM provider_logins WHERE user_id = ? AND session_id <> ?
		RETURNING session_id, client_id, family_id, user_id, expires_at`, userID, keep)
}

func (s *Store) takeLogins(ctx context.Context, opName, q string, args ...any) ([]*op.Login, error) {
	rows, err := s.w.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", opName, err)
	}
	defer rows.Close()
	var out []*op.Login
	for rows.Next() {
		var l op.Login
		var exp int64
		if err := rows.Scan(&l.SessionID, &l.ClientID, &l.FamilyID, &l.UserID, &exp); err != nil {
			return nil, fmt.Errorf("sqlitestore: %s: %w", opName, err)
		}
		l.ExpiresAt = fromMS(exp)
		out = append(out, &l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: %s: %w", opName, err)
	}
	return out, nil
}

// PutConsent replaces the scopes a user granted a client. It implements
// op.ConsentStore.
func (s *Store) PutConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO provider_consents (user_id, client_id, scope, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at`,
		userID, clientID, strings.Join(scopes, " "), ms(s.now())); err != nil {
		return fmt.Errorf("sqlitestore: put consent: %w", err)
	}
	return nil
}

// Consent returns the scopes a user granted a client, or
// session.ErrNotFound. It implements op.ConsentStore.
func (s *Store) Consent(ctx context.Context, userID, clientID string) ([]string, error) {
	var scope string
	err := s.w.QueryRowContext(ctx, `SELECT scope FROM provider_consents WHERE user_id = ? AND client_id = ?`, userID, clientID).Scan(&scope)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlitestore: consent: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: consent: %w", err)
	}
	return strings.Fields(scope), nil
}
