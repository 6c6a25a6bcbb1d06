package server

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
)

// OAuth grant type names.
const (
	grantPassword          = "password"
	grantRefresh           = "refresh_token"
	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// oauthServer is the OAuth 2.0 side of sessiond's tokens: the token
// endpoint with its grants, revocation (RFC 7009), introspection (RFC
// 7662), the JWKS, discovery and key rotation.
type oauthServer struct {
	*base
	tokens   *Tokens
	accounts *account.Service
	// grants are the token endpoint's grant types (grants.go).
	grants map[string]grant
	// discoveryExtra are metadata other rooms (the OpenID Provider) add to
	// discovery.
	discoveryExtra map[string]any
}

// routes adds the OAuth endpoints; key rotation is for admins.
func (s *oauthServer) routes(m *http.ServeMux, auth *authn) {
	m.HandleFunc("POST /v1/token", s.handleToken)
	m.HandleFunc("POST /v1/revoke", s.handleRevoke)
	m.HandleFunc("POST /v1/introspect", s.handleIntrospect)
	m.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
	m.HandleFunc("GET /.well-known/openid-configuration", s.handleDiscovery)
	m.HandleFunc("POST /v1/admin/keys/rotate", auth.admin(s.handleRotateKeys))
}

// oauthError is an RFC 6749 §5.2 error.
type oauthError struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration
}

// Error implements error.
func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

// oauthErr is an *oauthError.
func oauthErr(status int, code, desc string) *oauthError {
	return &oauthError{Status: status, Code: code, Description: desc}
}

// errInvalidClient is every failed client authentication's answer.
var errInvalidClient = oauthErr(http.StatusUnauthorized, "invalid_client", "client authentication failed")

// oauthForm reads the request parameters: application/x-www-form-urlencoded
// (RFC 6749) or a flat JSON object of strings. Parameters may not repeat.
func oauthForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "malformed form body")
		}
		for k, vs := range v {
			if len(vs) > 1 {
				return nil, oauthErr(http.StatusBadRequest, "invalid_request", "parameter "+strconv.Quote(k)+" repeated")
			}
		}
		return v, nil
	case "application/json":
		var m map[string]string
		if err := decodeStrict(body, &m); err != nil {
			return nil, oauthErr(http.StatusBadRequest, "invalid_request", "the JSON body must be an object of string parameters")
		}
		v := url.Values{}
		for k, x := range m {
			v.Set(k, x)
		}
		return v, nil
	}
	return nil, oauthErr(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded or application/json")
}

// authenticateClient applies RFC 6749 §2.3.1: HTTP Basic or client_secret
// in the body. No credentials: (nil, nil) and the caller decides whether a
// public client will do.
func (s *oauthServer) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (*client.Client, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || form.Get("client_secret") != "" {
			return nil, errInvalidClient
		}
	} else if form.Get("client_secret") != "" {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	} else {
		return nil, nil
	}
	if id == "" || s.tokens.Clients == nil {
		return nil, errInvalidClient
	}
	c, err := s.tokens.Clients.GetClient(ctx, id)
	if errors.Is(err, client.ErrNotFound) {
		client.HashSecret(secret) // same work as a real check
		return nil, errInvalidClient
	}
	if err != nil {
		return nil, err
	}
	if c.Public || !c.CheckSecret(secret) {
		return nil, errInvalidClient
	}
	return c, nil
}

// publicClient resolves the client of a request without credentials: the
// built-in first-party client, or a registered public client.
func (s *oauthServer) publicClient(ctx context.Context, id string) (*client.Client, error) {
	if id == "" || id == client.FirstPartyID {
		return client.FirstParty(), nil
	}
	if s.tokens.Clients == nil {
		return nil, errInvalidClient
	}
	c, err := s.tokens.Clients.GetClient(ctx, id)
	if errors.Is(err, client.ErrNotFound) {
		return nil, errInvalidClient
	}
	if err != nil {
		return nil, err
	}
	if !c.Public {
		return nil, errInvalidClient // a confidential client must authenticate
	}
	return c, nil
}

// tokenResponse is the token endpoint's answer (RFC 6749 §5.1, RFC 8693
// §2.2.1, OpenID Connect Core §3.1.3.3).
type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	Scope           string `json:"scope,omitempty"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	IDToken         string `json:"id_token,omitempty"`
}

// writeToken answers with resp, never cached.
func (s *oauthServer) writeToken(w http.ResponseWriter, resp tokenResponse) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if resp.ExpiresIn < 0 {
		resp.ExpiresIn = 0
	}
	writeJSON(w, http.StatusOK, resp)
}

// oauthRequest reads an OAuth endpoint's parameters and authenticates its
// client (nil when none presented credentials). On failure it has answered
// and returns ok false.
func (s *oauthServer) oauthRequest(w http.ResponseWriter, r *http.Request) (url.Values, *client.Client, bool) {
	form, err := oauthForm(w, r)
	if err == nil {
		var cl *client.Client
		if cl, err = s.authenticateClient(r.Context(), r, form); err == nil {
			return form, cl, true
		}
	}
	s.writeOAuthError(w, r, err)
	return nil, nil, false
}

// handleToken: POST /v1/token. The grants table decides everything
// about a grant type: whether it exists, whether a client without
// credentials may use it, and which handler serves it.
func (s *oauthServer) handleToken(w http.ResponseWriter, r *http.Request) {
	form, cl, ok := s.oauthRequest(w, r)
	if !ok {
		return
	}
	grant := form.Get("grant_type")
	g, known := s.grants[grant]
	if cl == nil && (!known || g.public) {
		var err error
		if cl, err = s.publicClient(r.Context(), form.Get("client_id")); err != nil {
			s.writeOAuthError(w, r, err)
			return
		}
	}
	switch {
	case grant == "":
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "grant_type is required"))
	case !known:
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type "+strconv.Quote(grant)+" is not supported"))
	case cl == nil:
		s.writeOAuthError(w, r, errInvalidClient) // a confidential grant needs credentials
	case !cl.Allows(grant):
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "unauthorized_client", "this client may not use grant "+grant))
	default:
		resp, err := g.handle(r, form, cl)
		if err != nil {
			s.writeOAuthError(w, r, err)
			return
		}
		s.writeToken(w, resp)
	}
}

// grantPassword: the resource owner password grant, for the first-party
// client and clients allowed it. A new refresh family per login.
func (s *oauthServer) grantPassword(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error) {
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "username and password are required")
	}
	ctx := r.Context()
	ip := s.clientIP(r)
	u, err := s.accounts.Authenticate(ctx, username, password, ip)
	if errors.Is(err, account.ErrInvalidCredentials) {
		s.metrics.logins.WithLabelValues("failure").Inc()
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", "the username or password is incorrect")
	}
	if errors.Is(err, account.ErrEmailNotVerified) {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", "the email address is not verified yet")
	}
	if err != nil {
		return tokenResponse{}, err
	}
	if factors, err := s.factorsOf(ctx, u.ID); err != nil || len(factors) > 0 {
		if err != nil {
			return tokenResponse{}, err
		}
		s.metrics.logins.WithLabelValues("mfa_required").Inc()
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "mfa_required",
			"this user signs in with a second factor: use the browser login or the authorization code flow")
	}
	t := s.tokens
	scope := form.Get("scope")
	fam, rt, err := t.Refresh.Start(ctx, u.ID, cl.ID, scope, refresh.Meta{IP: ip, UserAgent: truncate(r.UserAgent(), 512),
		Assurance: session.OneFactor("password", t.now())})
	if err != nil {
		return tokenResponse{}, err
	}
	at, exp, err := t.mintFor(ctx, u, fam.ID, cl.ID, scope, fam.Assurance)
	if err != nil {
		return tokenResponse{}, err
	}
	s.metrics.logins.WithLabelValues("success").Inc()
	s.audit(r, "token.issued", slog.String("user_id", u.ID), slog.String("family_id", fam.ID), slog.String("client_id", cl.ID), slog.String("grant", grantPassword))
	return tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(t.now()).Seconds()), RefreshToken: rt, Scope: scope}, nil
}

// errInvalidGrant is every refused refresh token's answer.
var errInvalidGrant = oauthErr(http.StatusBadRequest, "invalid_grant", "the refresh token is invalid, expired or revoked")

// grantRefresh rotates a refresh token of the calling client's family; a
// replayed one ends the family.
func (s *oauthServer) grantRefresh(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "refresh_token is required")
	}
	ctx := r.Context()
	t := s.tokens
	// The family's client must be the caller: peek before spending.
	fam, pair, err := t.Refresh.Refresh(ctx, rt, func(ctx context.Context, f *refresh.Family) (string, time.Time, error) {
		if f.ClientID != cl.ID {
			return "", time.Time{}, errWrongClient
		}
		return t.minter(f.ClientID, f.Scope)(ctx, f)
	})
	switch {
	case errors.Is(err, refresh.ErrReused):
		s.audit(r, "refresh.reuse_detected", slog.String("family_id", fam.ID), slog.String("user_id", fam.UserID))
		return tokenResponse{}, errInvalidGrant
	case errors.Is(err, refresh.ErrInvalid), errors.Is(err, errWrongClient), errors.Is(err, account.ErrNotFound):
		return tokenResponse{}, errInvalidGrant
	case errors.Is(err, errUserDisabled):
		_ = t.Refresh.RevokeFamily(ctx, fam.ID)
		return tokenResponse{}, errInvalidGrant
	case err != nil:
		return tokenResponse{}, err
	}
	if fam.ClientID != cl.ID {
		return tokenResponse{}, errInvalidGrant
	}
	return tokenResponse{AccessToken: pair.AccessToken, TokenType: "Bearer", ExpiresIn: int64(pair.AccessExpiresAt.Sub(t.now()).Seconds()),
		RefreshToken: pair.RefreshToken, Scope: fam.Scope}, nil
}

// errWrongClient refuses a refresh token presented by another client.
var errWrongClient = errors.New("server: refresh token of another client")
