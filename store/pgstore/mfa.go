package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiond/sessiond/mfa"
)

var _ mfa.Store = (*Store)(nil)

// changed runs the statement and reports whether it changed a row.
func (s *Store) changed(ctx context.Context, op, sql string, args ...any) (bool, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return false, wrap(ctx, op, err)
	}
	return tag.RowsAffected() > 0, nil
}

// AdvanceTOTPStep implements mfa.StepStore: one upsert that only moves the
// step forward (PostgreSQL re-checks the WHERE on the locked row, so of
// concurrent calls with one step exactly one changes it).
func (s *Store) AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	return s.changed(ctx, "advance totp step", `INSERT INTO mfa_totp_steps (user_id, step) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET step = excluded.step WHERE mfa_totp_steps.step < excluded.step`, userID, step)
}

// ReplaceRecoveryCodes implements mfa.RecoveryStore in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = $1`, userID); err != nil {
			return err
		}
		if len(hashes) == 0 {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO mfa_recovery_codes (user_id, hash) SELECT $1, h FROM unnest($2::bytea[]) AS h
			ON CONFLICT DO NOTHING`, userID, hashes)
		return err
	})
	if err != nil {
		return wrap(ctx, "replace recovery codes", err)
	}
	return nil
}

// UseRecoveryCode implements mfa.RecoveryStore: the delete is the
// single-use check.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error) {
	return s.changed(ctx, "use recovery code", `DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND hash = $2`, userID, hash)
}

// RecoveryCodesLeft implements mfa.RecoveryStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = $1`, userID).Scan(&n); err != nil {
		return 0, wrap(ctx, "recovery codes left", err)
	}
	return n, nil
}

// PutTOTP implements mfa.TOTPStore.
func (s *Store) PutTOTP(ctx context.Context, c mfa.TOTPCredential) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO mfa_totp (user_id, sealed, created_at, confirmed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at,
			confirmed_at = excluded.confirmed_at`,
		c.UserID, c.Sealed, c.CreatedAt, nullTime(c.ConfirmedAt)); err != nil {
		return wrap(ctx, "put totp", err)
	}
	return nil
}

// GetTOTP implements mfa.TOTPStore.
func (s *Store) GetTOTP(ctx context.Context, userID string) (mfa.TOTPCredential, error) {
	c := mfa.TOTPCredential{UserID: userID}
	var confirmed pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT sealed, created_at, confirmed_at FROM mfa_totp WHERE user_id = $1`, userID).
		Scan(&c.Sealed, &c.CreatedAt, &confirmed)
	if err != nil {
		return mfa.TOTPCredential{}, wrap(ctx, "get totp", err)
	}
	c.CreatedAt, c.ConfirmedAt = c.CreatedAt.UTC(), fromNull(confirmed)
	return c, nil
}

// ConfirmTOTP implements mfa.TOTPStore: a compare-and-set on the pending
// credential with this sealed secret.
func (s *Store) ConfirmTOTP(ctx context.Context, c mfa.TOTPCredential) (bool, error) {
	return s.changed(ctx, "confirm totp", `UPDATE mfa_totp SET confirmed_at = $1
		WHERE user_id = $2 AND sealed = $3 AND confirmed_at IS NULL`, c.ConfirmedAt, c.UserID, c.Sealed)
}

// DeleteTOTP implements mfa.TOTPStore.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	ok, err := s.changed(ctx, "delete totp", `DELETE FROM mfa_totp WHERE user_id = $1`, userID)
	return found("delete totp", ok, err)
}

// found turns "no row changed" into ErrNotFound.
func found(op string, ok bool, err error) error {
	if err == nil && !ok {
		return fmt.Errorf("pgstore: %s: %w", op, mfa.ErrNotFound)
	}
	return err
}

const passkeyCols = `id, user_id, name, public_key, aaguid, sign_count, transports, attestation_type,
	user_verified, backup_eligible, backup_state, created_at, last_used_at`

// AddPasskey implements mfa.PasskeyStore.
func (s *Store) AddPasskey(ctx context.Context, c mfa.PasskeyCredential) error {
	transports := c.Transports
	if transports == nil {
		transports = []string{}
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO mfa_passkeys (`+passkeyCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		c.ID, c.UserID, c.Name, c.PublicKey, c.AAGUID, int64(c.SignCount), transports, c.AttestationType,
		c.UserVerified, c.BackupEligible, c.BackupState, c.CreatedAt, nullTime(c.LastUsedAt)); err != nil {
		return wrap(ctx, "add passkey", err)
	}
	return nil
}

func scanPasskey(row pgx.Row) (mfa.PasskeyCredential, error) {
	var c mfa.PasskeyCredential
	var count int64
	var used pgtype.Timestamptz
	if err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &c.AAGUID, &count, &c.Transports, &c.AttestationType,
		&c.UserVerified, &c.BackupEligible, &c.BackupState, &c.CreatedAt, &used); err != nil {
		return c, err
	}
	c.SignCount, c.CreatedAt, c.LastUsedAt = uint32(count), c.CreatedAt.UTC(), fromNull(used)
	if len(c.Transports) == 0 {
		c.Transports = nil
	}
	if len(c.AAGUID) == 0 {
		c.AAGUID = nil
	}
	return c, nil
}

// Passkeys implements mfa.PasskeyStore.
func (s *Store) Passkeys(ctx context.Context, userID string) ([]mfa.PasskeyCredential, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+passkeyCols+` FROM mfa_passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, wrap(ctx, "passkeys", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mfa.PasskeyCredential, error) { return scanPasskey(r) })
	if err != nil {
		return nil, wrap(ctx, "passkeys", err)
	}
	if out == nil {
		out = []mfa.PasskeyCredential{}
	}
	return out, nil
}

// PasskeyByID implements mfa.PasskeyStore.
func (s *Store) PasskeyByID(ctx context.Context, id []byte) (mfa.PasskeyCredential, error) {
	c, err := scanPasskey(s.pool.QueryRow(ctx, `SELECT `+passkeyCols+` FROM mfa_passkeys WHERE id = $1`, id))
	if err != nil {
		return mfa.PasskeyCredential{}, wrap(ctx, "passkey by id", err)
	}
	return c, nil
}

// RemovePasskey implements mfa.PasskeyStore.
func (s *Store) RemovePasskey(ctx context.Context, userID string, id []byte) error {
	ok, err := s.changed(ctx, "remove passkey", `DELETE FROM mfa_passkeys WHERE id = $1 AND user_id = $2`, id, userID)
	return found("remove passkey", ok, err)
}

// UsePasskey implements mfa.PasskeyStore: the clone rule is the WHERE
// clause of one UPDATE, re-checked by PostgreSQL on the locked row.
func (s *Store) UsePasskey(ctx context.Context, c mfa.PasskeyCredential) error {
	n := int64(c.SignCount)
	ok, err := s.changed(ctx, "use passkey", `UPDATE mfa_passkeys SET sign_count = $1, backup_state = $2, last_used_at = $3
		WHERE id = $4 AND user_id = $5 AND ($1 > sign_count OR ($1 = 0 AND sign_count = 0))`,
		n, c.BackupState, nullTime(c.LastUsedAt), c.ID, c.UserID)
	if err != nil || ok {
		return err
	}
	var stored int64
	err = s.pool.QueryRow(ctx, `SELECT sign_count FROM mfa_passkeys WHERE id = $1 AND user_id = $2`, c.ID, c.UserID).Scan(&stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: use passkey: %w", mfa.ErrNotFound)
	}
	if err != nil {
		return wrap(ctx, "use passkey", err)
	}
	return fmt.Errorf("pgstore: use passkey: counter %d after %d: %w", n, stored, mfa.ErrClonedAuthenticator)
}

// DeleteFactors implements mfa.FactorEraser in one transaction.
func (s *Store) DeleteFactors(ctx context.Context, userID string) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, table := range []string{"mfa_totp", "mfa_passkeys", "mfa_recovery_codes"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE user_id = $1`, userID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return wrap(ctx, "delete factors", err)
	}
	return nil
}
