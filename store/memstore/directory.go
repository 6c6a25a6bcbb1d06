package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/sessiond/sessiond/account"
)

var _ account.Directory = (*Store)(nil)

// ListUsers implements account.Directory.
func (m *Store) ListUsers(ctx context.Context, q account.UserQuery) ([]*account.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: list users: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*account.User
	for id, u := range m.users.byID {
		if id > q.After && q.Match(u) {
			out = append(out, u)
		}
	}
	slices.SortFunc(out, func(a, b *account.User) int { return strings.Compare(a.ID, b.ID) })
	out = out[:min(len(out), q.PageLimit())]
	for i, u := range out {
		out[i] = u.Clone()
	}
	return out, nil
}

// DeleteUser implements account.Directory: the user, their sessions,
// refresh families, identity links, consents, provider logins, account
// tokens and second factors.
func (m *Store) DeleteUser(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete user: %w", err)
	}
	if err := m.deleteUserRecords(id); err != nil {
		return err
	}
	if err := m.DeleteFactors(ctx, id); err != nil {
		return fmt.Errorf("memstore: delete user: %w", err)
	}
	return nil
}

func (m *Store) deleteUserRecords(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users.byID[id]
	if !ok {
		return fmt.Errorf("memstore: delete user: %w", account.ErrNotFound)
	}
	delete(m.users.byID, id)
	delete(m.users.byEmail, u.Email)
	for sid := range m.byUser[id] {
		if s, ok := m.sessions[sid]; ok {
			m.remove(s)
		}
	}
	delete(m.byUser, id)
	for fid, f := range m.rt().families {
		if f.UserID == id {
			m.dropFamily(fid)
		}
	}
	it := m.it()
	for k, uid := range it.links {
		if uid == id {
			delete(it.links, k)
		}
	}
	pt := m.pt()
	for k, l := range pt.logins {
		if l.UserID == id {
			delete(pt.logins, k)
		}
	}
	for k := range pt.consents {
		if k[0] == id {
			delete(pt.consents, k)
		}
	}
	for k, t := range m.tokens {
		if t.UserID == id {
			delete(m.tokens, k)
		}
	}
	return nil
}
