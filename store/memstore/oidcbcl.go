package memstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sessiond/sessiond/session"
)

// bclTables hold OpenID Connect back-channel logout state: accepted logout
// tokens by (issuer, jti), and local sessions by the provider session
// (issuer, sid) they began from. Made on first use, under m.mu.
type bclTables struct {
	jtis     map[[2]string]time.Time
	upstream map[[2]string]map[string]time.Time // (issuer, sid) → session ID → expiry
}

// bcl returns the back-channel logout tables after dropping expired
// entries; m.mu held. The tables are small: a jti lives minutes, an entry
// per OIDC sign-in until its session's absolute expiry.
func (m *Store) bcl() *bclTables {
	t := &m.identity.bcl
	if t.jtis == nil {
		t.jtis = map[[2]string]time.Time{}
		t.upstream = map[[2]string]map[string]time.Time{}
	}
	now := m.now()
	for k, exp := range t.jtis {
		if !exp.After(now) {
			delete(t.jtis, k)
		}
	}
	for k, ids := range t.upstream {
		for id, exp := range ids {
			if !exp.After(now) {
				delete(ids, id)
			}
		}
		if len(ids) == 0 {
			delete(t.upstream, k)
		}
	}
	return t
}

// UseLogoutToken records (issuer, jti) until expires; a live record is
// session.ErrConflict. It implements oidc.LogoutStore.
func (m *Store) UseLogoutToken(ctx context.Context, issuer, jti string, expires time.Time) error {
	if err := ctxErr(ctx, "use logout token"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.bcl()
	k := [2]string{issuer, jti}
	if _, ok := t.jtis[k]; ok {
		return fmt.Errorf("memstore: use logout token: %w", session.ErrConflict)
	}
	t.jtis[k] = expires
	return nil
}

// AddUpstreamSession records that sessionID began from the provider
// session (issuer, sid), until expires. It implements oidc.LogoutStore.
func (m *Store) AddUpstreamSession(ctx context.Context, issuer, sid, sessionID string, expires time.Time) error {
	if err := ctxErr(ctx, "add upstream session"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.bcl()
	k := [2]string{issuer, sid}
	if t.upstream[k] == nil {
		t.upstream[k] = map[string]time.Time{}
	}
	t.upstream[k][sessionID] = expires
	return nil
}

// UpstreamSessions returns the session IDs recorded for (issuer, sid),
// sorted. It implements oidc.LogoutStore.
func (m *Store) UpstreamSessions(ctx context.Context, issuer, sid string) ([]string, error) {
	if err := ctxErr(ctx, "upstream sessions"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := []string{}
	for id := range m.bcl().upstream[[2]string{issuer, sid}] {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}
