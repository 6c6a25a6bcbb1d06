package mfa

import (
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"sync"
)

// Memory is an in-process StepStore and RecoveryStore, for tests and a single
// embedded node; nothing survives a restart. The zero value is not usable:
// call NewMemory. It is safe for concurrent use.
type Memory struct {
	mu    sync.Mutex
	steps map[string]int64
	codes map[string][][]byte
}

var (
	_ StepStore     = (*Memory)(nil)
	_ RecoveryStore = (*Memory)(nil)
)

// NewMemory returns an empty Memory.
func NewMemory() *Memory {
	return &Memory{steps: map[string]int64{}, codes: map[string][][]byte{}}
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
