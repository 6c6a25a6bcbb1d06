package mfa

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"sync"
)

// Memory is an in-process Store (steps, recovery codes, TOTP credentials,
// passkeys), for tests and a single embedded node; nothing survives a
// restart. The zero value is not usable:
// call NewMemory. It is safe for concurrent use.
type Memory struct {
	mu    sync.Mutex
	steps map[string]int64
	codes map[string][][]byte
	totp  map[string]TOTPCredential
	keys  []PasskeyCredential // in the order added
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{steps: map[string]int64{}, codes: map[string][][]byte{}, totp: map[string]TOTPCredential{}}
}

// PutTOTP implements TOTPStore.
func (m *Memory) PutTOTP(ctx context.Context, c TOTPCredential) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mfa: memory: put totp: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.totp[c.UserID] = c.Clone()
	return nil
}

// GetTOTP implements TOTPStore.
func (m *Memory) GetTOTP(ctx context.Context, userID string) (TOTPCredential, error) {
	if err := ctx.Err(); err != nil {
		return TOTPCredential{}, fmt.Errorf("mfa: memory: get totp: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.totp[userID]
	if !ok {
		return TOTPCredential{}, fmt.Errorf("mfa: memory: get totp: %w", ErrNotFound)
	}
	return c.Clone(), nil
}

// ConfirmTOTP implements TOTPStore.
func (m *Memory) ConfirmTOTP(ctx context.Context, c TOTPCredential) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("mfa: memory: confirm totp: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.totp[c.UserID]
	if !ok || !cur.Pending() || subtle.ConstantTimeCompare(cur.Sealed, c.Sealed) != 1 {
		return false, nil
	}
	cur.ConfirmedAt = c.ConfirmedAt
	m.totp[c.UserID] = cur
	return true, nil
}

// DeleteTOTP implements TOTPStore.
func (m *Memory) DeleteTOTP(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mfa: memory: delete totp: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.totp[userID]; !ok {
		return fmt.Errorf("mfa: memory: delete totp: %w", ErrNotFound)
	}
	delete(m.totp, userID)
	return nil
}

// AddPasskey implements PasskeyStore.
func (m *Memory) AddPasskey(ctx context.Context, c PasskeyCredential) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mfa: memory: add passkey: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.passkey(c.ID) >= 0 {
		return fmt.Errorf("mfa: memory: add passkey: %w", ErrConflict)
	}
	m.keys = append(m.keys, c.Clone())
	return nil
}

// passkey returns the index of the credential with id, or -1. m.mu is held.
func (m *Memory) passkey(id []byte) int {
	return slices.IndexFunc(m.keys, func(k PasskeyCredential) bool { return bytes.Equal(k.ID, id) })
}

// Passkeys implements PasskeyStore.
func (m *Memory) Passkeys(ctx context.Context, userID string) ([]PasskeyCredential, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mfa: memory: passkeys: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []PasskeyCredential{}
	for _, k := range m.keys {
		if k.UserID == userID {
			out = append(out, k.Clone())
		}
	}
	return out, nil
}

// PasskeyByID implements PasskeyStore.
func (m *Memory) PasskeyByID(ctx context.Context, id []byte) (PasskeyCredential, error) {
	if err := ctx.Err(); err != nil {
		return PasskeyCredential{}, fmt.Errorf("mfa: memory: passkey by id: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.passkey(id)
	if i < 0 {
		return PasskeyCredential{}, fmt.Errorf("mfa: memory: passkey by id: %w", ErrNotFound)
	}
	return m.keys[i].Clone(), nil
}

// RemovePasskey implements PasskeyStore.
func (m *Memory) RemovePasskey(ctx context.Context, userID string, id []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mfa: memory: remove passkey: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.passkey(id)
	if i < 0 || m.keys[i].UserID != userID {
		return fmt.Errorf("mfa: memory: remove passkey: %w", ErrNotFound)
	}
	m.keys = slices.Delete(m.keys, i, i+1)
	return nil
}

// UsePasskey implements PasskeyStore.
func (m *Memory) UsePasskey(ctx context.Context, c PasskeyCredential) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mfa: memory: use passkey: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.passkey(c.ID)
	if i < 0 || m.keys[i].UserID != c.UserID {
		return fmt.Errorf("mfa: memory: use passkey: %w", ErrNotFound)
	}
	k := &m.keys[i]
	if !CounterAccepted(k.SignCount, c.SignCount) {
		return fmt.Errorf("mfa: memory: use passkey: counter %d after %d: %w", c.SignCount, k.SignCount, ErrClonedAuthenticator)
	}
	k.SignCount, k.BackupState, k.LastUsedAt = c.SignCount, c.BackupState, c.LastUsedAt
	return nil
}

// DeleteFactors implements FactorEraser.
func (m *Memory) DeleteFactors(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mfa: memory: delete factors: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.totp, userID)
	delete(m.codes, userID)
	m.keys = slices.DeleteFunc(m.keys, func(k PasskeyCredential) bool { return k.UserID == userID })
	return nil
}

// AdvanceTOTPStep implements StepStore.
func (m *Memory) AdvanceTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("mfa: memory: advance totp step: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if last, ok := m.steps[userID]; ok && step <= last {
		return false, nil
	}
	m.steps[userID] = step
	return true, nil
}

// ReplaceRecoveryCodes implements RecoveryStore.
func (m *Memory) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes [][]byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mfa: memory: replace recovery codes: %w", err)
	}
	set := make([][]byte, 0, len(hashes))
	for _, h := range hashes {
		set = append(set, slices.Clone(h))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(set) == 0 {
		delete(m.codes, userID)
		return nil
	}
	m.codes[userID] = set
	return nil
}

// UseRecoveryCode implements RecoveryStore. It compares hash with every
// stored hash in constant time.
func (m *Memory) UseRecoveryCode(ctx context.Context, userID string, hash []byte) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("mfa: memory: use recovery code: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.codes[userID]
	found := -1
	for i, h := range set {
		if subtle.ConstantTimeCompare(h, hash) == 1 {
			found = i
		}
	}
	if found < 0 {
		return false, nil
	}
	m.codes[userID] = slices.Delete(set, found, found+1)
	return true, nil
}

// RecoveryCodesLeft implements RecoveryStore.
func (m *Memory) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("mfa: memory: recovery codes left: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.codes[userID]), nil
}
