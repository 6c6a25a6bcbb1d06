package memstore

import (
	"bytes"
	"context"
	"fmt"

	"github.com/sessiond/sessiond/account"
)

var _ account.TokenStore = (*Store)(nil)

func cloneToken(t *account.AccountToken) *account.AccountToken {
	c := *t
	c.Hash, c.Binding = bytes.Clone(t.Hash), bytes.Clone(t.Binding)
	return &c
}

// PutToken implements account.TokenStore.
func (m *Store) PutToken(ctx context.Context, t *account.AccountToken) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: put token: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens == nil {
		m.tokens = map[string]*account.AccountToken{}
	}
	now := m.now()
	for k, old := range m.tokens { // expired tokens go on write
		if !now.Before(old.ExpiresAt) {
			delete(m.tokens, k)
		}
	}
	if _, ok := m.tokens[string(t.Hash)]; ok {
		return fmt.Errorf("memstore: put token: %w", account.ErrConflict)
	}
	m.tokens[string(t.Hash)] = cloneToken(t)
	return nil
}

// liveToken returns the live token with hash and purpose; m.mu is held.
func (m *Store) liveToken(hash []byte, purpose account.Purpose) (*account.AccountToken, bool) {
	t, ok := m.tokens[string(hash)]
	if !ok || t.Purpose != purpose || !m.now().Before(t.ExpiresAt) {
		return nil, false
	}
	return t, true
}

// PeekToken implements account.TokenStore.
func (m *Store) PeekToken(ctx context.Context, hash []byte, purpose account.Purpose) (*account.AccountToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: peek token: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.liveToken(hash, purpose)
	if !ok {
		return nil, fmt.Errorf("memstore: peek token: %w", account.ErrNotFound)
	}
	return cloneToken(t), nil
}

// ConsumeToken implements account.TokenStore.
func (m *Store) ConsumeToken(ctx context.Context, hash []byte, purpose account.Purpose) (*account.AccountToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: consume token: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.liveToken(hash, purpose)
	if !ok {
		return nil, fmt.Errorf("memstore: consume token: %w", account.ErrNotFound)
	}
	delete(m.tokens, string(hash))
	return t, nil
}
