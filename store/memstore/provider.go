package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/session"
)

var _ op.Store = (*Store)(nil)

// providerTables hold the OpenID Provider's state: authorization codes,
// which clients each session signed into, and consents. The maps are made
// on first use, under m.mu.
type providerTables struct {
	codes    map[string]*memCode
	logins   map[loginKey]op.Login
	consents map[[2]string][]string
}

type memCode struct {
	data, issued       []byte
	redeemed, replayed bool
	purgeAt            time.Time
}

type loginKey struct{ session, client, family string }

// pt returns the provider tables; m.mu held.
func (m *Store) pt() *providerTables {
	if m.provider.codes == nil {
		m.provider.codes = map[string]*memCode{}
		m.provider.logins = map[loginKey]op.Login{}
		m.provider.consents = map[[2]string][]string{}
	}
	return &m.provider
}

// PutCode stores an authorization code record until purgeAt, dropping
// purged ones. It implements op.CodeStore.
func (m *Store) PutCode(ctx context.Context, id string, data []byte, purgeAt time.Time) error {
	if err := ctxErr(ctx, "put code"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.pt()
	now := m.now()
	for k, c := range t.codes {
		if !c.purgeAt.After(now) {
			delete(t.codes, k)
		}
	}
	t.codes[id] = &memCode{data: bytes.Clone(data), purgeAt: purgeAt}
	return nil
}

// RedeemCode marks a code redeemed (and replayed, if it was already). It
// implements op.CodeStore.
func (m *Store) RedeemCode(ctx context.Context, id string) ([]byte, []byte, bool, error) {
	if err := ctxErr(ctx, "redeem code"); err != nil {
		return nil, nil, false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.pt().codes[id]
	if !ok || !c.purgeAt.After(m.now()) {
		return nil, nil, false, fmt.Errorf("memstore: redeem code: %w", session.ErrNotFound)
	}
	first := !c.redeemed
	c.replayed = c.replayed || c.redeemed
	c.redeemed = true
	return bytes.Clone(c.data), bytes.Clone(c.issued), first, nil
}

// SetCodeIssued stores what a code's redemption issued. It implements
// op.CodeStore.
func (m *Store) SetCodeIssued(ctx context.Context, id string, issued []byte) (bool, error) {
	if err := ctxErr(ctx, "set code issued"); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.pt().codes[id]
	if !ok {
		return false, fmt.Errorf("memstore: set code issued: %w", session.ErrNotFound)
	}
	c.issued = bytes.Clone(issued)
	return c.replayed, nil
}

// AddLogin records that a client signed into a session. It implements
// op.LoginStore.
func (m *Store) AddLogin(ctx context.Context, l *op.Login) error {
	if err := ctxErr(ctx, "add login"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.pt()
	now := m.now()
	for k, x := range t.logins {
		if !x.ExpiresAt.After(now) {
			delete(t.logins, k)
		}
	}
	t.logins[loginKey{l.SessionID, l.ClientID, l.FamilyID}] = *l
	return nil
}

// TakeLogins deletes and returns a session's login records. It implements
// op.LoginStore.
func (m *Store) TakeLogins(ctx context.Context, sessionID string) ([]*op.Login, error) {
	return m.takeLogins(ctx, func(l op.Login) bool { return l.SessionID == sessionID })
}

// TakeUserLogins deletes and returns a user's login records except those of
// session keep. It implements op.LoginStore.
func (m *Store) TakeUserLogins(ctx context.Context, userID, keep string) ([]*op.Login, error) {
	return m.takeLogins(ctx, func(l op.Login) bool { return l.UserID == userID && (keep == "" || l.SessionID != keep) })
}

func (m *Store) takeLogins(ctx context.Context, match func(op.Login) bool) ([]*op.Login, error) {
	if err := ctxErr(ctx, "take logins"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.pt()
	var out []*op.Login
	for k, l := range t.logins {
		if match(l) {
			delete(t.logins, k)
			out = append(out, &l)
		}
	}
	return out, nil
}

// PutConsent replaces the scopes a user granted a client. It implements
// op.ConsentStore.
func (m *Store) PutConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	if err := ctxErr(ctx, "put consent"); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pt().consents[[2]string{userID, clientID}] = slices.Clone(scopes)
	return nil
}

// Consent returns the scopes a user granted a client, or
// session.ErrNotFound. It implements op.ConsentStore.
func (m *Store) Consent(ctx context.Context, userID, clientID string) ([]string, error) {
	if err := ctxErr(ctx, "consent"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.pt().consents[[2]string{userID, clientID}]
	if !ok {
		return nil, fmt.Errorf("memstore: consent: %w", session.ErrNotFound)
	}
	return slices.Clone(s), nil
}
