package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/session"
)

var _ op.Store = (*Store)(nil)

// PutCode stores an authorization code record until purgeAt, and drops
// purged ones. It implements op.CodeStore.
func (s *Store) PutCode(ctx context.Context, id string, data []byte, purgeAt time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM provider_codes WHERE purge_at <= $1`, s.now()); err != nil {
		return wrap(ctx, "put code", err)
	}
	if data == nil {
		data = []byte{} // the column is NOT NULL
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO provider_codes (id, data, purge_at) VALUES ($1, $2, $3)`, id, data, purgeAt); err != nil {
		return wrap(ctx, "put code", err) // a unique violation wraps session.ErrConflict
	}
	return nil
}

// RedeemCode marks a code redeemed, and replayed if it was redeemed
// already, in one statement (the row lock serialises concurrent callers).
// It implements op.CodeStore.
func (s *Store) RedeemCode(ctx context.Context, id string) ([]byte, []byte, bool, error) {
	var data, issued []byte
	var replayed bool
	// The right-hand sides read the row as it was: replayed becomes the
	// old redeemed.
	err := s.pool.QueryRow(ctx, `UPDATE provider_codes SET replayed = redeemed, redeemed = true
		WHERE id = $1 AND purge_at > $2 RETURNING data, issued, replayed`, id, s.now()).Scan(&data, &issued, &replayed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, false, fmt.Errorf("pgstore: redeem code: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, nil, false, wrap(ctx, "redeem code", err)
	}
	return data, issued, !replayed, nil
}

// SetCodeIssued stores what a code's redemption issued. It implements
// op.CodeStore.
func (s *Store) SetCodeIssued(ctx context.Context, id string, issued []byte) (bool, error) {
	var replayed bool
	err := s.pool.QueryRow(ctx, `UPDATE provider_codes SET issued = $1 WHERE id = $2 RETURNING replayed`, issued, id).Scan(&replayed)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("pgstore: set code issued: %w", session.ErrNotFound)
	}
	if err != nil {
		return false, wrap(ctx, "set code issued", err)
	}
	return replayed, nil
}

// AddLogin records that a client signed into a session, and drops expired
// records. It implements op.LoginStore.
func (s *Store) AddLogin(ctx context.Context, l *op.Login) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM provider_logins WHERE expires_at <= $1`, s.now()); err != nil {
		return wrap(ctx, "add login", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO provider_logins (session_id, client_id, family_id, user_id, expires_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, client_id, family_id)
		DO UPDATE SET user_id = EXCLUDED.user_id, expires_at = EXCLUDED.expires_at`,
		l.SessionID, l.ClientID, l.FamilyID, l.UserID, l.ExpiresAt); err != nil {
		return wrap(ctx, "add login", err)
	}
	return nil
}

// TakeLogins deletes and returns a session's login records in one
// statement. It implements op.LoginStore.
func (s *Store) TakeLogins(ctx context.Context, sessionID string) ([]*op.Login, error) {
	return s.takeLogins(ctx, "take logins", `DELETE FROM provider_logins WHERE session_id = $1
		RETURNING session_id, client_id, family_id, user_id, expires_at`, sessionID)
}

// TakeUserLogins deletes and returns a user's login records except those
// of session keep, in one statement. It implements op.LoginStore.
func (s *Store) TakeUserLogins(ctx context.Context, userID, keep string) ([]*op.Login, error) {
	return s.takeLogins(ctx, "take user logins", `DELETE FROM provider_logins WHERE user_id = $1 AND session_id <> $2
		RETURNING session_id, client_id, family_id, user_id, expires_at`, userID, keep)
}

func (s *Store) takeLogins(ctx context.Context, opName, q string, args ...any) ([]*op.Login, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap(ctx, opName, err)
	}
	defer rows.Close()
	var out []*op.Login
	for rows.Next() {
		var l op.Login
		if err := rows.Scan(&l.SessionID, &l.ClientID, &l.FamilyID, &l.UserID, &l.ExpiresAt); err != nil {
			return nil, wrap(ctx, opName, err)
		}
		l.ExpiresAt = l.ExpiresAt.UTC()
		out = append(out, &l)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, opName, err)
	}
	return out, nil
}

// PutConsent replaces the scopes a user granted a client. It implements
// op.ConsentStore.
func (s *Store) PutConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO provider_consents (user_id, client_id, scope, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id, client_id) DO UPDATE SET scope = EXCLUDED.scope, updated_at = EXCLUDED.updated_at`,
		userID, clientID, strings.Join(scopes, " "), s.now()); err != nil {
		return wrap(ctx, "put consent", err)
	}
	return nil
}

// Consent returns the scopes a user granted a client, or
// session.ErrNotFound. It implements op.ConsentStore.
func (s *Store) Consent(ctx context.Context, userID, clientID string) ([]string, error) {
	var scope string
	err := s.pool.QueryRow(ctx, `SELECT scope FROM provider_consents WHERE user_id = $1 AND client_id = $2`, userID, clientID).Scan(&scope)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("pgstore: consent: %w", session.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "consent", err)
	}
	return strings.Fields(scope), nil
}
