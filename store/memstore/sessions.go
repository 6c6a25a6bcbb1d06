package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/session"
)

// Store is an in-memory store. The zero value is not usable; call New.
// It is safe for concurrent use.
type Store struct {
	now func() time.Time

	mu       sync.Mutex
	sessions map[string]*session.Session
	byUser   map[string]map[string]struct{}
	users    userTables
	refresh  refreshTables
	clients  clientTables
	identity identityTables
	provider providerTables
	tokens   map[string]*account.AccountToken // account tokens by hash; see accounttokens.go

	// Memory keeps second factors (TOTP, passkeys, recovery codes, TOTP
	// steps): the Store implements mfa.Store through it.
	*mfa.Memory
}

var (
	_ session.Backend = (*Store)(nil)
	_ mfa.Store       = (*Store)(nil)
)

// New returns an empty store. now is its clock (nil: time.Now); expiry is
// judged by it.
func New(now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{
		now:      now,
		sessions: map[string]*session.Session{},
		byUser:   map[string]map[string]struct{}{},
		users:    newUserTables(),
		Memory:   mfa.NewMemory(),
	}
}

// Create implements session.Store.
func (m *Store) Create(ctx context.Context, s *session.Session) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create session: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.sessions[s.ID]; ok && old.Valid(m.now()) {
		return fmt.Errorf("memstore: create session: %w", session.ErrConflict)
	}
	m.sessions[s.ID] = s.Clone()
	idx := m.byUser[s.UserID]
	if idx == nil {
		idx = map[string]struct{}{}
		m.byUser[s.UserID] = idx
	}
	idx[s.ID] = struct{}{}
	return nil
}

// live returns the session if it exists and is valid, dropping it if expired.
// m.mu must be held.
func (m *Store) live(id string) (*session.Session, bool) {
	s, ok := m.sessions[id]
	if !ok {
		return nil, false
	}
	if !s.Valid(m.now()) {
		m.remove(s)
		return nil, false
	}
	return s, true
}

func (m *Store) remove(s *session.Session) {
	delete(m.sessions, s.ID)
	if idx := m.byUser[s.UserID]; idx != nil {
		delete(idx, s.ID)
		if len(idx) == 0 {
			delete(m.byUser, s.UserID)
		}
	}
}

// Get implements session.Store.
func (m *Store) Get(ctx context.Context, id string) (*session.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: get session: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.live(id)
	if !ok {
		return nil, fmt.Errorf("memstore: get session: %w", session.ErrNotFound)
	}
	return s.Clone(), nil
}

// Touch implements session.Store.
func (m *Store) Touch(ctx context.Context, id string, lastSeen, idleExpires time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: touch session: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.live(id)
	if !ok {
		return fmt.Errorf("memstore: touch session: %w", session.ErrNotFound)
	}
	s.LastSeenAt, s.IdleExpiresAt = lastSeen, idleExpires
	return nil
}

// Delete implements session.Store.
func (m *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete session: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.live(id)
	if !ok {
		return fmt.Errorf("memstore: delete session: %w", session.ErrNotFound)
	}
	m.remove(s)
	return nil
}

// ListByUser implements session.UserSessions.
func (m *Store) ListByUser(ctx context.Context, userID string) ([]*session.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list sessions: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*session.Session
	for id := range m.byUser[userID] {
		if s, ok := m.live(id); ok {
			out = append(out, s.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *session.Session) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DeleteByUser implements session.UserSessions.
func (m *Store) DeleteByUser(ctx context.Context, userID, keep string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: delete user sessions: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id := range m.byUser[userID] {
		if id == keep {
			continue
		}
		if s, ok := m.live(id); ok {
			m.remove(s)
			n++
		}
	}
	return n, nil
}

// SetData implements session.DataStore.
func (m *Store) SetData(ctx context.Context, id string, data []byte, expect int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: set session data: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.live(id)
	if !ok {
		return 0, fmt.Errorf("memstore: set session data: %w", session.ErrNotFound)
	}
	if s.DataVersion != expect {
		return 0, fmt.Errorf("memstore: set session data: %w", session.ErrConflict)
	}
	s.Data = append([]byte(nil), data...)
	s.DataVersion++
	return s.DataVersion, nil
}
