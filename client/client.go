package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sessiond/sessiond/session"
)

// ErrNotFound and ErrConflict are the session package's sentinels: one
// "missing" and one "taken" for every record in every backend.
var (
	ErrNotFound = session.ErrNotFound
	ErrConflict = session.ErrConflict
)

// ErrInvalid is wrapped by every error Validate and ValidateSecret return.
var ErrInvalid = errors.New("client: invalid registration")

// Grant types a client may be allowed (the token endpoint's grant_type
// values, RFC 6749 §4 and RFC 8693).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	GrantPassword          = "password"
)

// KnownGrants lists every grant type Validate accepts, in a stable order.
func KnownGrants() []string {
	return []string{GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials, GrantTokenExchange, GrantPassword}
}

// Client is a registered OAuth 2 client.
type Client struct {
	// ID is the client_id: 1–128 characters of [A-Za-z0-9._-], never changed.
	ID string
	// Name is for humans (consent screens, listings); may be empty.
	Name string
	// SecretHash is HashSecret of the client secret; nil for public clients.
	SecretHash []byte
	// Public clients (browser and native apps) cannot keep a secret and do
	// not authenticate.
	Public bool
	// FirstParty clients belong to the deployment: consent is skipped, and
	// only they may use the password grant.
	FirstParty bool
	// Grants are the grant types the client may use (Grant* constants).
	Grants []string
	// Audiences are what client_credentials and token exchange may target
	// ("aud" values).
	Audiences []string
	// Scopes the client may request; empty means no scope beyond the
	// server's defaults.
	Scopes []string
	// RedirectURIs are compared exactly (HasRedirectURI): no wildcards, no
	// prefix matching.
	RedirectURIs []string
	// BackchannelLogoutURI, if set, receives OIDC back-channel logout tokens.
	BackchannelLogoutURI string
	CreatedAt            time.Time
}

// Allows reports whether c may use the grant type.
func (c *Client) Allows(grant string) bool { return grant != "" && slices.Contains(c.Grants, grant) }

// AllowsAudience reports whether c may obtain tokens for aud (with
// client_credentials or token exchange).
func (c *Client) AllowsAudience(aud string) bool {
	return aud != "" && slices.Contains(c.Audiences, aud)
}

// HasRedirectURI reports whether uri is exactly one of c's registered
// redirect URIs: byte for byte, without normalisation (RFC 9700 §4.1.3).
func (c *Client) HasRedirectURI(uri string) bool {
	return uri != "" && slices.Contains(c.RedirectURIs, uri)
}

// Clone returns a deep copy of c.
func (c *Client) Clone() *Client {
	d := *c
	d.SecretHash = slices.Clone(c.SecretHash)
	d.Grants = slices.Clone(c.Grants)
	d.Audiences = slices.Clone(c.Audiences)
	d.Scopes = slices.Clone(c.Scopes)
	d.RedirectURIs = slices.Clone(c.RedirectURIs)
	return &d
}

// FirstPartyID is the client_id of the built-in first-party public client
// (FirstParty). Validate refuses it for registered clients.
const FirstPartyID = "sessiond"

// FirstParty returns the built-in client that first-party apps use for the
// password grant without registering: public, first-party, allowed the
// password and refresh_token grants. It is not stored; every call returns a
// fresh copy.
func FirstParty() *Client {
	return &Client{
		ID:         FirstPartyID,
		Name:       "sessiond",
		Public:     true,
		FirstParty: true,
		Grants:     []string{GrantPassword, GrantRefreshToken},
	}
}

// Store keeps registered clients. Implementations are safe for concurrent
// use; missing clients wrap ErrNotFound.
type Store interface {
	// CreateClient stores c; ErrConflict when the ID is taken.
	CreateClient(ctx context.Context, c *Client) error
	// GetClient returns the client with id.
	GetClient(ctx context.Context, id string) (*Client, error)
	// ListClients returns every client, ordered by ID.
	ListClients(ctx context.Context) ([]*Client, error)
	// DeleteClient removes the client with id.
	DeleteClient(ctx context.Context, id string) error
}

// Getter is the part of Store that request handling needs.
type Getter interface {
	GetClient(ctx context.Context, id string) (*Client, error)
}

// Lookup returns FirstParty() for FirstPartyID and st's client otherwise
// (ErrNotFound when there is none). st may be nil, in which case only the
// built-in client exists.
func Lookup(ctx context.Context, st Getter, id string) (*Client, error) {
	if id == FirstPartyID {
		return FirstParty(), nil
	}
	if st == nil {
		return nil, fmt.Errorf("client: lookup %q: %w", id, ErrNotFound)
	}
	return st.GetClient(ctx, id)
}
