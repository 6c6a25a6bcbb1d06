package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// ClientStore is what the OAuth endpoints need from the client registry.
type ClientStore interface {
	GetClient(ctx context.Context, id string) (*client.Client, error)
}

// Tokens is the stateless and hybrid half of the server: access tokens
// (issue, verify, revoke) and refresh families. Build fills it from config.
type Tokens struct {
	Keys     *token.Keys
	Issuer   *token.Issuer
	Verifier *token.Verifier
	Refresh  *refresh.Service
	Clients  ClientStore
	Users    account.Store
	// IssuerURL is "iss"; Audience the default "aud" of access tokens.
	IssuerURL string
	Audience  []string
	AccessTTL time.Duration
	// JWKSMaxAge is the Cache-Control max-age of the published key set.
	JWKSMaxAge time.Duration
	Now        func() time.Time

	verified verifiedCache
}

// now is the tokens' clock.
func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// newJTI is a fresh random token ID.
func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// mintFor issues an access token for u in the session or family sid,
// carrying the assurance a of that session or family (acr, amr, auth_time).
func (t *Tokens) mintFor(ctx context.Context, u *account.User, sid, clientID, scope string, a session.Assurance) (string, time.Time, error) {
	exp := t.now().Add(t.AccessTTL).Truncate(time.Second)
	c := token.Claims{
		Subject: u.ID, ExpiresAt: exp, ID: newJTI(), SessionID: sid, ClientID: clientID,
		Email: u.Email, Roles: u.Roles, OrgID: u.OrgID, Version: u.TokenVersion, Scope: scope,
	}
	c.SetAssurance(a)
	tok, err := t.Issuer.Issue(ctx, c)
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, exp, nil
}

// minter returns the refresh.Minter that re-reads the user, so a refreshed
// access token carries current roles and version, and a disabled user gets
// none.
func (t *Tokens) minter(clientID, scope string) refresh.Minter {
	return func(ctx context.Context, f *refresh.Family) (string, time.Time, error) {
		u, err := t.Users.UserByID(ctx, f.UserID)
		if err != nil {
			return "", time.Time{}, err
		}
		if u.Disabled {
			return "", time.Time{}, errUserDisabled
		}
		return t.mintFor(ctx, u, f.ID, clientID, scope, f.Assurance)
	}
}

// errUserDisabled stops a refresh for a disabled user.
var errUserDisabled = errors.New("server: user disabled")

// AuthenticateBearer verifies an access token and applies every revocation
// rule: the jti and sid denylist, the user's token version, disabled users.
func (t *Tokens) AuthenticateBearer(ctx context.Context, raw string) (*account.User, *BearerIdentity, error) {
	now := t.now()
	removals := t.Keys.Removals() // before verifying: a removal meanwhile makes the entry miss
	c, key, hit := t.verified.get(raw, now, removals)
	if !hit {
		var err error
		c, err = t.Verifier.Verify(ctx, raw)
		if err != nil {
			if errors.Is(err, token.ErrInvalidToken) {
				return nil, nil, &apiError{Code: codeUnauthorized, Message: "authentication required", cause: err}
			}
			return nil, nil, err
		}
		t.verified.put(key, c, now, removals)
	}
	denied, err := t.Refresh.Denied(ctx, c.ID, c.SessionID, c.ClientID)
	if err != nil {
		return nil, nil, err
	}
	if denied {
		return nil, nil, errUnauthorized
	}
	u, err := t.Users.UserByID(ctx, c.Subject)
	if errors.Is(err, account.ErrNotFound) {
		return nil, nil, errUnauthorized
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled || c.Version != u.TokenVersion {
		return nil, nil, errUnauthorized
	}
	return u, &BearerIdentity{SessionID: c.SessionID, TokenID: c.ID, ClientID: c.ClientID, Scope: c.Scope,
		ExpiresAt: c.ExpiresAt.Unix(), IssuedAt: c.IssuedAt.Unix(), Assurance: c.Assurance()}, nil
}

// RevokeBearer ends the access token and its refresh family (bearer logout).
func (t *Tokens) RevokeBearer(ctx context.Context, userID string, b *BearerIdentity) error {
	if err := t.Refresh.DenyAccess(ctx, b.TokenID, time.Unix(b.ExpiresAt, 0)); err != nil {
		return err
	}
	if b.SessionID == "" {
		return nil
	}
	_, err := t.RevokeFamily(ctx, userID, b.SessionID)
	return err
}

// RevokeFamily ends the user's refresh family familyID; false if the user
// has no such family.
func (t *Tokens) RevokeFamily(ctx context.Context, userID, familyID string) (bool, error) {
	f, err := t.Refresh.Store().GetFamily(ctx, familyID)
	if errors.Is(err, refresh.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if f.UserID != userID {
		return false, nil
	}
	if err := t.Refresh.RevokeFamily(ctx, familyID); err != nil && !errors.Is(err, refresh.ErrNotFound) {
		return false, err
	}
	return true, nil
}

// RevokeUser ends every refresh family of the user except keep.
func (t *Tokens) RevokeUser(ctx context.Context, userID, keep string) error {
	_, err := t.Refresh.RevokeUser(ctx, userID, keep)
	return err
}

// Devices lists the user's refresh families as devices.
func (t *Tokens) Devices(ctx context.Context, userID, current string) ([]deviceView, error) {
	fams, err := t.Refresh.Store().Families(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]deviceView, 0, len(fams))
	for _, f := range fams {
		out = append(out, deviceView{ID: f.ID, Kind: "token", CreatedAt: rfc3339(f.CreatedAt), LastSeenAt: rfc3339(f.LastUsedAt),
			ExpiresAt: rfc3339(f.Deadline()), IP: f.IP, UserAgent: f.UserAgent, Current: f.ID == current})
	}
	return out, nil
}

// Data returns a family's session data.
func (t *Tokens) Data(ctx context.Context, familyID string) ([]byte, int64, error) {
	f, err := t.Refresh.Store().GetFamily(ctx, familyID)
	if errors.Is(err, refresh.ErrNotFound) {
		return nil, 0, errNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	return f.Data, f.DataVersion, nil
}

// MergeData applies an RFC 7396 merge patch to a family's session data.
func (t *Tokens) MergeData(ctx context.Context, familyID string, patch []byte, ifMatch *int64) ([]byte, int64, error) {
	st := t.Refresh.Store()
	return session.MergeJSON(ctx, func(ctx context.Context) ([]byte, int64, error) { return t.Data(ctx, familyID) },
		func(ctx context.Context, data []byte, expect int64) (int64, error) {
			return st.SetFamilyData(ctx, familyID, data, expect)
		}, patch, ifMatch)
}

// String names the issuer, never a key.
func (t *Tokens) String() string { return fmt.Sprintf("tokens(iss=%s)", t.IssuerURL) }
