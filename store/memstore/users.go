package memstore

import (
	"context"
	"fmt"

	"github.com/sessiond/sessiond/account"
)

var _ account.Store = (*Store)(nil)

type userTables struct {
	byID    map[string]*account.User
	byEmail map[string]string
}

func newUserTables() userTables {
	return userTables{byID: map[string]*account.User{}, byEmail: map[string]string{}}
}

// CreateUser implements account.Store.
func (m *Store) CreateUser(ctx context.Context, u *account.User) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create user: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users.byID[u.ID]; ok {
		return fmt.Errorf("memstore: create user: %w", account.ErrConflict)
	}
	if _, ok := m.users.byEmail[u.Email]; ok {
		return fmt.Errorf("memstore: create user: %w", account.ErrConflict)
	}
	m.users.byID[u.ID] = u.Clone()
	m.users.byEmail[u.Email] = u.ID
	return nil
}

// UserByID implements account.Store.
func (m *Store) UserByID(ctx context.Context, id string) (*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: user by id: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users.byID[id]
	if !ok {
		return nil, fmt.Errorf("memstore: user by id: %w", account.ErrNotFound)
	}
	return u.Clone(), nil
}

// UserByEmail implements account.Store.
func (m *Store) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: user by email: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id, ok := m.users.byEmail[email]
	if !ok {
		return nil, fmt.Errorf("memstore: user by email: %w", account.ErrNotFound)
	}
	return m.users.byID[id].Clone(), nil
}

// UpdateUser implements account.Store.
func (m *Store) UpdateUser(ctx context.Context, id string, fn func(*account.User) error) (*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: update user: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.users.byID[id]
	if !ok {
		return nil, fmt.Errorf("memstore: update user: %w", account.ErrNotFound)
	}
	u := cur.Clone()
	if err := fn(u); err != nil {
		return nil, err
	}
	u.ID = id
	if u.Email != cur.Email {
		if _, taken := m.users.byEmail[u.Email]; taken {
			return nil, fmt.Errorf("memstore: update user: %w", account.ErrConflict)
		}
		delete(m.users.byEmail, cur.Email)
		m.users.byEmail[u.Email] = id
	}
	m.users.byID[id] = u
	return u.Clone(), nil
}
