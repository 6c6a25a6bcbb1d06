package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sessiond/sessiond/refresh"
)

var _ refresh.Backend = (*Store)(nil)

type refreshTables struct {
	families map[string]*refresh.Family
	tokens   map[string]*refresh.Token
	famToks  map[string][]string
	deny     map[string]time.Time
}

func (m *Store) rt() *refreshTables {
	if m.refresh.families == nil {
		m.refresh = refreshTables{families: map[string]*refresh.Family{}, tokens: map[string]*refresh.Token{},
			famToks: map[string][]string{}, deny: map[string]time.Time{}}
	}
	return &m.refresh
}

// liveFamily returns the family if it exists and is valid; m.mu held.
func (m *Store) liveFamily(id string) (*refresh.Family, bool) {
	t := m.rt()
	f, ok := t.families[id]
	if !ok {
		return nil, false
	}
	if !m.now().Before(f.Deadline()) {
		m.dropFamily(id)
		return nil, false
	}
	return f, true
}

func (m *Store) dropFamily(id string) {
	t := m.rt()
	for _, tid := range t.famToks[id] {
		delete(t.tokens, tid)
	}
	delete(t.famToks, id)
	delete(t.families, id)
}

func ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	return nil
}

// CreateFamily implements refresh.Store.
func (m *Store) CreateFamily(ctx context.Context, f *refresh.Family, first *refresh.Token) error {
	if err := ctxErr(ctx, "create family"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.rt()
	if _, ok := t.families[f.ID]; ok {
		return fmt.Errorf("memstore: create family: %w", refresh.ErrConflict)
	}
	t.families[f.ID] = f.Clone()
	t.tokens[first.ID] = first.Clone()
	t.famToks[f.ID] = []string{first.ID}
	return nil
}

// LookupToken implements refresh.Store.
func (m *Store) LookupToken(ctx context.Context, id string) (*refresh.Token, *refresh.Family, error) {
	if err := ctxErr(ctx, "lookup refresh token"); err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	tok, ok := m.rt().tokens[id]
	if !ok {
		return nil, nil, fmt.Errorf("memstore: lookup refresh token: %w", refresh.ErrNotFound)
	}
	f, ok := m.liveFamily(tok.FamilyID)
	if !ok {
		return nil, nil, fmt.Errorf("memstore: lookup refresh token: %w", refresh.ErrNotFound)
	}
	return tok.Clone(), f.Clone(), nil
}

// Rotate implements refresh.Store.
func (m *Store) Rotate(ctx context.Context, oldID string, next *refresh.Token, sealed []byte, used, idle time.Time) (*refresh.Family, error) {
	if err := ctxErr(ctx, "rotate refresh token"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.rt()
	old, ok := t.tokens[oldID]
	if !ok {
		return nil, fmt.Errorf("memstore: rotate refresh token: %w", refresh.ErrNotFound)
	}
	f, ok := m.liveFamily(old.FamilyID)
	if !ok {
		return nil, fmt.Errorf("memstore: rotate refresh token: %w", refresh.ErrNotFound)
	}
	if !old.SpentAt.IsZero() {
		return nil, fmt.Errorf("memstore: rotate refresh token: %w", refresh.ErrReused)
	}
	old.SpentAt = used
	old.Sealed = append([]byte(nil), sealed...)
	t.tokens[next.ID] = next.Clone()
	t.famToks[f.ID] = append(t.famToks[f.ID], next.ID)
	f.Generation++
	f.LastUsedAt, f.IdleExpiresAt = used, idle
	return f.Clone(), nil
}

// RevokeFamily implements refresh.Store.
func (m *Store) RevokeFamily(ctx context.Context, id string) error {
	if err := ctxErr(ctx, "revoke family"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.liveFamily(id); !ok {
		return fmt.Errorf("memstore: revoke family: %w", refresh.ErrNotFound)
	}
	m.dropFamily(id)
	return nil
}

// Families implements refresh.Index.
func (m *Store) Families(ctx context.Context, userID string) ([]*refresh.Family, error) {
	if err := ctxErr(ctx, "list families"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*refresh.Family
	for id, f := range m.rt().families {
		if f.UserID == userID {
			if f, ok := m.liveFamily(id); ok {
				out = append(out, f.Clone())
			}
		}
	}
	slices.SortFunc(out, func(a, b *refresh.Family) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

// GetFamily implements refresh.Index.
func (m *Store) GetFamily(ctx context.Context, id string) (*refresh.Family, error) {
	if err := ctxErr(ctx, "get family"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.liveFamily(id)
	if !ok {
		return nil, fmt.Errorf("memstore: get family: %w", refresh.ErrNotFound)
	}
	return f.Clone(), nil
}

// RevokeFamilies implements refresh.Index.
func (m *Store) RevokeFamilies(ctx context.Context, userID, keep string) ([]string, error) {
	return m.revokeFamiliesWhere(ctx, "revoke families", func(f *refresh.Family) bool { return f.UserID == userID && f.ID != keep })
}

// RevokeFamiliesByClient implements refresh.Index.
func (m *Store) RevokeFamiliesByClient(ctx context.Context, clientID string) ([]string, error) {
	return m.revokeFamiliesWhere(ctx, "revoke client families", func(f *refresh.Family) bool { return f.ClientID == clientID })
}

// revokeFamiliesWhere drops every family match selects and returns the
// IDs of the live ones.
func (m *Store) revokeFamiliesWhere(ctx context.Context, op string, match func(*refresh.Family) bool) ([]string, error) {
	if err := ctxErr(ctx, op); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []string
	for id, f := range m.rt().families {
		if match(f) {
			if _, ok := m.liveFamily(id); ok {
				ids = append(ids, id)
			}
			m.dropFamily(id)
		}
	}
	return ids, nil
}

// SetFamilyData implements refresh.Index.
func (m *Store) SetFamilyData(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	if err := ctxErr(ctx, "set family data"); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.liveFamily(id)
	if !ok {
		return 0, fmt.Errorf("memstore: set family data: %w", refresh.ErrNotFound)
	}
	if f.DataVersion != expect {
		return 0, fmt.Errorf("memstore: set family data: %w", refresh.ErrConflict)
	}
	f.Data = append([]byte(nil), data...)
	f.DataVersion++
	return f.DataVersion, nil
}

// Deny implements refresh.Denylist.
func (m *Store) Deny(ctx context.Context, key string, until time.Time) error {
	if err := ctxErr(ctx, "deny"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.rt()
	if cur, ok := t.deny[key]; !ok || until.After(cur) {
		t.deny[key] = until
	}
	return nil
}

// Denied implements refresh.Denylist.
func (m *Store) Denied(ctx context.Context, keys ...string) (bool, error) {
	if err := ctxErr(ctx, "denied"); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for _, k := range keys {
		if until, ok := m.rt().deny[k]; ok {
			if now.Before(until) {
				return true, nil
			}
			delete(m.rt().deny, k)
		}
	}
	return false, nil
}
