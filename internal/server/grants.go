package server

import (
	"net/http"
	"net/url"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
)

// grantHandler serves one grant_type for a client the token endpoint has
// resolved (authenticated, or public and named by client_id) and that may
// use the grant (client.Client.Allows).
type grantHandler func(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error)

// grant is one row of the token endpoint's grants table.
type grant struct {
	handle grantHandler
	// public: a request without client credentials may use the grant, as
	// the built-in first-party client or a registered public client named
	// by client_id. Otherwise the client must authenticate
	// (invalid_client).
	public bool
}

// newOAuthServer builds the OAuth room with its grants table: password and
// refresh_token for every client, client_credentials and token exchange for
// confidential clients, and authorization_code when op (the OpenID
// Provider) is on, whose discovery metadata it adds too.
func newOAuthServer(b *base, t *Tokens, accounts *account.Service, op *opServer) *oauthServer {
	s := &oauthServer{base: b, tokens: t, accounts: accounts, discoveryExtra: map[string]any{}}
	s.grants = map[string]grant{
		grantPassword:          {handle: s.grantPassword, public: true},
		grantRefresh:           {handle: s.grantRefresh, public: true},
		grantClientCredentials: {handle: s.grantClientCredentials},
		grantTokenExchange:     {handle: s.grantTokenExchange},
	}
	if op != nil {
		s.grants[grantAuthorizationCode] = grant{handle: op.grantAuthorizationCode, public: true}
		for k, v := range op.discovery() {
			s.discoveryExtra[k] = v
		}
	}
	return s
}
