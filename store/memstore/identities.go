package memstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/session"
)

// identityTables hold single sign-on state: external identities linked to
// users, by issuer and subject, and sign-in flows between start and
// callback. The maps are made on first use, under m.mu.
type identityTables struct {
	links map[[2]string]string
	flows map[string]memFlow
	bcl   bclTables // back-channel logout: oidcbcl.go
}

type memFlow struct {
	data    []byte
	expires time.Time
}

// it returns the identity tables; m.mu held.
func (m *Store) it() *identityTables {
	if m.identity.links == nil {
		m.identity.links = map[[2]string]string{}
		m.identity.flows = map[string]memFlow{}
	}
	return &m.identity
}

// LinkIdentity links (issuer, subject) to userID; an existing link is
// session.ErrConflict. It implements oidc.IdentityStore.
func (m *Store) LinkIdentity(ctx context.Context, issuer, subject, userID string) error {
	if err := ctxErr(ctx, "link identity"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.it()
	k := [2]string{issuer, subject}
	if _, ok := t.links[k]; ok {
		return fmt.Errorf("memstore: link identity: %w", session.ErrConflict)
	}
	t.links[k] = userID
	return nil
}

// IdentityUser returns the user (issuer, subject) is linked to, or
// session.ErrNotFound. It implements oidc.IdentityStore.
func (m *Store) IdentityUser(ctx context.Context, issuer, subject string) (string, error) {
	if err := ctxErr(ctx, "identity user"); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	uid, ok := m.it().links[[2]string{issuer, subject}]
	if !ok {
		return "", fmt.Errorf("memstore: identity user: %w", session.ErrNotFound)
	}
	return uid, nil
}

// PutFlow stores a sign-in flow until expires. It implements
// oidc.FlowStore.
func (m *Store) PutFlow(ctx context.Context, key string, data []byte, expires time.Time) error {
	if err := ctxErr(ctx, "put flow"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.it()
	now := m.now()
	for k, f := range t.flows { // flows are few and short-lived
		if !f.expires.After(now) {
			delete(t.flows, k)
		}
	}
	t.flows[key] = memFlow{data: bytes.Clone(data), expires: expires}
	return nil
}

// TakeFlow returns and deletes a flow; a missing or expired one is
// session.ErrNotFound. It implements oidc.FlowStore.
func (m *Store) TakeFlow(ctx context.Context, key string) ([]byte, error) {
	if err := ctxErr(ctx, "take flow"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.it()
	f, ok := t.flows[key]
	delete(t.flows, key)
	if !ok || !f.expires.After(m.now()) {
		return nil, fmt.Errorf("memstore: take flow: %w", session.ErrNotFound)
	}
	return f.data, nil
}
