package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/sessiond/sessiond/mfa"
)

var _ mfa.Store = (*Store)(nil)

// AdvanceTOTPStep implements mfa.StepStore: one upsert that only moves the
// step forward.
func (s *Store) AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO mfa_totp_steps (user_id, step) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET step = excluded.step WHERE mfa_totp_steps.step < excluded.step`, userID, step)
	return changed("advance totp step", res, err)
}

// changed reports whether the statement changed a row.
func changed(op string, res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlitestore: %s: %w", op, err)
	}
	return n > 0, nil
}

// ReplaceRecoveryCodes implements mfa.RecoveryStore in one transaction.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO mfa_recovery_codes (user_id, hash) VALUES (?, ?)`, userID, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: replace recovery codes: %w", err)
	}
	return nil
}

// inTx runs f in a write transaction, committed when f returns nil.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// UseRecoveryCode implements mfa.RecoveryStore: the delete is the
// single-use check.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ? AND hash = ?`, userID, hash)
	return changed("use recovery code", res, err)
}

// RecoveryCodesLeft implements mfa.RecoveryStore.
func (s *Store) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlitestore: recovery codes left: %w", err)
	}
	return n, nil
}

// PutTOTP implements mfa.TOTPStore.
func (s *Store) PutTOTP(ctx context.Context, c mfa.TOTPCredential) error {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO mfa_totp (user_id, sealed, created_at, confirmed_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at,
			confirmed_at = excluded.confirmed_at`,
		c.UserID, c.Sealed, ms(c.CreatedAt), ms(c.ConfirmedAt)); err != nil {
		return fmt.Errorf("sqlitestore: put totp: %w", err)
	}
	return nil
}

// GetTOTP implements mfa.TOTPStore.
func (s *Store) GetTOTP(ctx context.Context, userID string) (mfa.TOTPCredential, error) {
	c := mfa.TOTPCredential{UserID: userID}
	var created, confirmed int64
	err := s.r.QueryRowContext(ctx, `SELECT sealed, created_at, confirmed_at FROM mfa_totp WHERE user_id = ?`, userID).
		Scan(&c.Sealed, &created, &confirmed)
	if errors.Is(err, sql.ErrNoRows) {
		return mfa.TOTPCredential{}, fmt.Errorf("sqlitestore: get totp: %w", mfa.ErrNotFound)
	}
	if err != nil {
		return mfa.TOTPCredential{}, fmt.Errorf("sqlitestore: get totp: %w", err)
	}
	c.CreatedAt, c.ConfirmedAt = fromMS(created), fromMS(confirmed)
	return c, nil
}

// ConfirmTOTP implements mfa.TOTPStore: a compare-and-set on the pending
// credential with this sealed secret.
func (s *Store) ConfirmTOTP(ctx context.Context, c mfa.TOTPCredential) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE mfa_totp SET confirmed_at = ?
		WHERE user_id = ? AND sealed = ? AND confirmed_at = 0`, max(ms(c.ConfirmedAt), 1), c.UserID, c.Sealed)
	return changed("confirm totp", res, err)
}

// DeleteTOTP implements mfa.TOTPStore.
func (s *Store) DeleteTOTP(ctx context.Context, userID string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM mfa_totp WHERE user_id = ?`, userID)
	return affected("delete totp", res, err)
}

const passkeyCols = `id, user_id, name, public_key, aaguid, sign_count, transports, attestation_type,
	user_verified, backup_eligible, backup_state, created_at, last_used_at`

// AddPasskey implements mfa.PasskeyStore.
func (s *Store) AddPasskey(ctx context.Context, c mfa.PasskeyCredential) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO mfa_passkeys (`+passkeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.UserID, c.Name, c.PublicKey, c.AAGUID, int64(c.SignCount), strings.Join(c.Transports, " "),
		c.AttestationType, c.UserVerified, c.BackupEligible, c.BackupState, ms(c.CreatedAt), ms(c.LastUsedAt))
	if isUnique(err) || err != nil && strings.Contains(err.Error(), "PRIMARY KEY") {
		return fmt.Errorf("sqlitestore: add passkey: %w", mfa.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: add passkey: %w", err)
	}
	return nil
}

func scanPasskey(row scanner) (mfa.PasskeyCredential, error) {
	var c mfa.PasskeyCredential
	var count, created, used int64
	var transports string
	if err := row.Scan(&c.ID, &c.UserID, &c.Name, &c.PublicKey, &c.AAGUID, &count, &transports, &c.AttestationType,
		&c.UserVerified, &c.BackupEligible, &c.BackupState, &created, &used); err != nil {
		return c, err
	}
	c.SignCount, c.Transports = uint32(count), strings.Fields(transports)
	if len(c.Transports) == 0 {
		c.Transports = nil
	}
	if len(c.AAGUID) == 0 {
		c.AAGUID = nil
	}
	c.CreatedAt, c.LastUsedAt = fromMS(created), fromMS(used)
	return c, nil
}

// Passkeys implements mfa.PasskeyStore.
func (s *Store) Passkeys(ctx context.Context, userID string) ([]mfa.PasskeyCredential, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+passkeyCols+` FROM mfa_passkeys WHERE user_id = ? ORDER BY created_at, rowid`, userID)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: passkeys: %w", err)
	}
	defer rows.Close()
	out := []mfa.PasskeyCredential{}
	for rows.Next() {
		c, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: passkeys: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlitestore: passkeys: %w", err)
	}
	return out, nil
}

// PasskeyByID implements mfa.PasskeyStore.
func (s *Store) PasskeyByID(ctx context.Context, id []byte) (mfa.PasskeyCredential, error) {
	c, err := scanPasskey(s.r.QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM mfa_passkeys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("sqlitestore: passkey by id: %w", mfa.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("sqlitestore: passkey by id: %w", err)
	}
	return c, nil
}

// RemovePasskey implements mfa.PasskeyStore.
func (s *Store) RemovePasskey(ctx context.Context, userID string, id []byte) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM mfa_passkeys WHERE id = ? AND user_id = ?`, id, userID)
	return affected("remove passkey", res, err)
}

// UsePasskey implements mfa.PasskeyStore: the clone rule is the WHERE
// clause of one UPDATE.
func (s *Store) UsePasskey(ctx context.Context, c mfa.PasskeyCredential) error {
	n := int64(c.SignCount)
	res, err := s.w.ExecContext(ctx, `UPDATE mfa_passkeys SET sign_count = ?, backup_state = ?, last_used_at = ?
		WHERE id = ? AND user_id = ? AND (? > sign_count OR (? = 0 AND sign_count = 0))`,
		n, c.BackupState, ms(c.LastUsedAt), c.ID, c.UserID, n, n)
	ok, err := changed("use passkey", res, err)
	if err != nil || ok {
		return err
	}
	var stored int64
	err = s.r.QueryRowContext(ctx, `SELECT sign_count FROM mfa_passkeys WHERE id = ? AND user_id = ?`, c.ID, c.UserID).Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlitestore: use passkey: %w", mfa.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("sqlitestore: use passkey: %w", err)
	}
	return fmt.Errorf("sqlitestore: use passkey: counter %d after %d: %w", n, stored, mfa.ErrClonedAuthenticator)
}

// DeleteFactors implements mfa.FactorEraser in one transaction.
func (s *Store) DeleteFactors(ctx context.Context, userID string) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"mfa_totp", "mfa_passkeys", "mfa_recovery_codes"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE user_id = ?`, userID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlitestore: delete factors: %w", err)
	}
	return nil
}
