package server

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/token"
)

// OAuth grant type names.
const (
	grantPassword          = "password"
	grantRefresh           = "refresh_token"
	grantClientCredentials = "client_credentials"
	grantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// oauthError is an RFC 6749 §5.2 error.
type oauthError struct {
	Status      int
	Code        string
	Description string
	RetryAfter  time.Duration
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(status int, code, desc string) *oauthError {
	return &oauthError{Status: status, Code: code, Description: desc}
}

var errInvalidClient = oauthErr(http.StatusUnauthorized, "invalid_client", "client authentication failed")

// writeOAuthError answers in RFC 6749 §5.2 form. Errors that are not OAuth
// errors (a store failure) become 503 with the same shape.
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		var rl *account.RateLimitedError
		switch {
		case errors.As(err, &rl):
			oe = &oauthError{Status: http.StatusTooManyRequests, Code: "rate_limited", Description: "too many failed attempts; try again later", RetryAfter: rl.RetryAfter}
		default:
			ae := toAPIError(err)
			if ae.Code == codeTooLarge {
				oe = oauthErr(http.StatusRequestEntityTooLarge, "invalid_request", ae.Message)
			} else if ae.Code == codeInvalidRequest {
				oe = oauthErr(http.StatusBadRequest, "invalid_request", ae.Message)
			} else {
				s.log.Error("oauth request failed", slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
				oe = oauthErr(http.StatusServiceUnavailable, "temporarily_unavailable", "a backing store is unavailable; try again shortly")
			}
		}
	}
	if oe.Status == http.StatusUnauthorized && oe.Code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="sessiond"`)
	}
	if oe.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(oe.RetryAfter))
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, oe.Status, map[string]string{"error": oe.Code, "error_description": oe.Description})
}

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
func (s *Server) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (*client.Client, error) {
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
	if id == "" || s.opt.Tokens.Clients == nil {
		return nil, errInvalidClient
	}
	c, err := s.opt.Tokens.Clients.GetClient(ctx, id)
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
func (s *Server) publicClient(ctx context.Context, id string) (*client.Client, error) {
	if id == "" || id == client.FirstPartyID {
		return client.FirstParty(), nil
	}
	if s.opt.Tokens.Clients == nil {
		return nil, errInvalidClient
	}
	c, err := s.opt.Tokens.Clients.GetClient(ctx, id)
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

type tokenResponse struct {
	AccessToken     string `json:"access_token"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	RefreshToken    string `json:"refresh_token,omitempty"`
	Scope           string `json:"scope,omitempty"`
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	IDToken         string `json:"id_token,omitempty"`
}

func (s *Server) writeToken(w http.ResponseWriter, resp tokenResponse) {
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
func (s *Server) oauthRequest(w http.ResponseWriter, r *http.Request) (url.Values, *client.Client, bool) {
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

// handleToken: POST /v1/token.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	form, cl, ok := s.oauthRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var err error
	grant := form.Get("grant_type")
	if cl == nil && grant != grantClientCredentials && grant != grantTokenExchange {
		if cl, err = s.publicClient(ctx, form.Get("client_id")); err != nil {
			s.writeOAuthError(w, r, err)
			return
		}
	}
	if grant == "" {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "grant_type is required"))
		return
	}
	if _, extra := s.extraGrants[grant]; grant != grantPassword && grant != grantRefresh && !extra {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type "+strconv.Quote(grant)+" is not supported"))
		return
	}
	if cl != nil && !cl.Allows(grant) {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "unauthorized_client", "this client may not use grant "+grant))
		return
	}
	var resp tokenResponse
	switch grant {
	case grantPassword:
		resp, err = s.grantPassword(r, form, cl)
	case grantRefresh:
		resp, err = s.grantRefresh(r, form, cl)
	default:
		if s.extraGrants != nil {
			if h, ok := s.extraGrants[grant]; ok {
				if cl == nil {
					s.writeOAuthError(w, r, errInvalidClient)
					return
				}
				resp, err = h(r, form, cl)
				break
			}
		}
		err = oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type "+strconv.Quote(grant)+" is not supported")
	}
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	s.writeToken(w, resp)
}

func (s *Server) grantPassword(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error) {
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "username and password are required")
	}
	ctx := r.Context()
	ip := s.clientIP(r)
	u, err := s.opt.Accounts.Authenticate(ctx, username, password, ip)
	if errors.Is(err, account.ErrInvalidCredentials) {
		s.metrics.logins.WithLabelValues("failure").Inc()
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", "the username or password is incorrect")
	}
	if err != nil {
		return tokenResponse{}, err
	}
	t := s.opt.Tokens
	scope := form.Get("scope")
	fam, rt, err := t.Refresh.Start(ctx, u.ID, cl.ID, scope, refresh.Meta{IP: ip, UserAgent: truncate(r.UserAgent(), 512)})
	if err != nil {
		return tokenResponse{}, err
	}
	at, exp, err := t.mintFor(ctx, u, fam.ID, cl.ID, scope)
	if err != nil {
		return tokenResponse{}, err
	}
	s.metrics.logins.WithLabelValues("success").Inc()
	s.audit(r, "token.issued", slog.String("user_id", u.ID), slog.String("family_id", fam.ID), slog.String("client_id", cl.ID), slog.String("grant", grantPassword))
	return tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(t.now()).Seconds()), RefreshToken: rt, Scope: scope}, nil
}

var errInvalidGrant = oauthErr(http.StatusBadRequest, "invalid_grant", "the refresh token is invalid, expired or revoked")

func (s *Server) grantRefresh(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error) {
	rt := form.Get("refresh_token")
	if rt == "" {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "refresh_token is required")
	}
	ctx := r.Context()
	t := s.opt.Tokens
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

var errWrongClient = errors.New("server: refresh token of another client")

// handleRevoke: POST /v1/revoke (RFC 7009). 200 for every well-formed
// request, known token or not.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	form, cl, ok := s.oauthRequest(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var err error
	if cl == nil {
		if cl, err = s.publicClient(ctx, form.Get("client_id")); err != nil {
			s.writeOAuthError(w, r, err)
			return
		}
	}
	tok := form.Get("token")
	if tok == "" {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "token is required"))
		return
	}
	t := s.opt.Tokens
	hint := form.Get("token_type_hint")
	tryAccess := func() error {
		c, err := t.Verifier.Verify(ctx, tok)
		if err != nil {
			if errors.Is(err, token.ErrInvalidToken) {
				return nil
			}
			return err
		}
		if c.ClientID != cl.ID {
			return nil // not the caller's to revoke (RFC 7009 §2.1): 200, nothing done
		}
		if err := t.Refresh.DenyAccess(ctx, c.ID, c.ExpiresAt); err != nil {
			return err
		}
		s.audit(r, "token.revoked", slog.String("user_id", c.Subject), slog.String("kind", "access_token"))
		return nil
	}
	tryRefresh := func() (bool, error) {
		ok, err := s.revokeRefreshOf(ctx, tok, cl)
		if ok {
			s.audit(r, "token.revoked", slog.String("kind", "refresh_token"), slog.String("client_id", cl.ID))
		}
		return ok, err
	}
	if strings.Count(tok, ".") == 2 && hint != "refresh_token" {
		err = tryAccess()
	} else {
		var ok bool
		if ok, err = tryRefresh(); err == nil && !ok && strings.Count(tok, ".") == 2 {
			err = tryAccess()
		}
	}
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// revokeRefreshOf revokes tok's family if it was issued to cl: RFC 7009
// §2.1. A request without credentials is the built-in or a registered public
// client, and so reaches only that public client's tokens.
func (s *Server) revokeRefreshOf(ctx context.Context, tok string, cl *client.Client) (bool, error) {
	rs := s.opt.Tokens.Refresh
	return rs.RevokeTokenIf(ctx, tok, func(f *refresh.Family) bool { return f.ClientID == cl.ID })
}

// handleIntrospect: POST /v1/introspect (RFC 7662), for authenticated
// confidential clients. Anything inactive is exactly {"active":false}.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	form, cl, ok := s.oauthRequest(w, r)
	if !ok {
		return
	}
	if cl == nil {
		s.writeOAuthError(w, r, errInvalidClient)
		return
	}
	ctx := r.Context()
	tok := form.Get("token")
	if tok == "" {
		s.writeOAuthError(w, r, oauthErr(http.StatusBadRequest, "invalid_request", "token is required"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	t := s.opt.Tokens
	if strings.Count(tok, ".") == 2 {
		u, b, err := t.AuthenticateBearer(ctx, tok)
		if err != nil {
			if toAPIError(err).Code == codeUnauthorized {
				writeJSON(w, http.StatusOK, map[string]bool{"active": false})
				return
			}
			s.writeOAuthError(w, r, err)
			return
		}
		c, _ := t.Verifier.Verify(ctx, tok)
		out := map[string]any{"active": true, "token_type": "Bearer", "sub": u.ID, "exp": b.ExpiresAt, "iat": b.IssuedAt,
			"scope": b.Scope, "client_id": b.ClientID, "sid": b.SessionID, "jti": b.TokenID, "iss": t.IssuerURL,
			"email": u.Email, "roles": u.Roles, "org_id": u.OrgID}
		if c != nil {
			out["aud"] = c.Audience
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	f, err := t.Refresh.Inspect(ctx, tok)
	if err == nil {
		var may bool
		if may, err = s.mayInspectRefresh(ctx, cl, f); err == nil && !may {
			err = refresh.ErrInvalid
		}
	}
	if errors.Is(err, refresh.ErrInvalid) {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": true, "token_type": "refresh_token", "sub": f.UserID,
		"client_id": f.ClientID, "scope": f.Scope, "sid": f.ID, "iat": f.CreatedAt.Unix(), "exp": f.Deadline().Unix(), "iss": t.IssuerURL})
}

// mayInspectRefresh reports whether cl may learn about a refresh token of
// family f: a confidential client's refresh tokens only to that client (no
// one else has a use for them); public clients' (the built-in one's
// included) to every authenticated client. A removed client's tokens are
// nobody's.
func (s *Server) mayInspectRefresh(ctx context.Context, cl *client.Client, f *refresh.Family) (bool, error) {
	if f.ClientID == cl.ID {
		return true, nil
	}
	owner, err := client.Lookup(ctx, s.opt.Tokens.Clients, f.ClientID)
	if errors.Is(err, client.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return owner.Public, nil
}

// handleJWKS: GET /.well-known/jwks.json.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	b, err := s.opt.Tokens.Keys.JWKS()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	maxAge := s.opt.Tokens.JWKSMaxAge
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge.Seconds())))
	_, _ = w.Write(b)
}

// handleDiscovery: GET /.well-known/openid-configuration.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	t := s.opt.Tokens
	base := strings.TrimSuffix(t.IssuerURL, "/")
	doc := map[string]any{
		"issuer":                                        t.IssuerURL,
		"jwks_uri":                                      base + "/.well-known/jwks.json",
		"token_endpoint":                                base + "/v1/token",
		"revocation_endpoint":                           base + "/v1/revoke",
		"introspection_endpoint":                        base + "/v1/introspect",
		"grant_types_supported":                         s.grantTypes(),
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post", "none"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"id_token_signing_alg_values_supported":         []string{string(s.signingAlg())},
		"claims_supported":                              []string{"iss", "sub", "aud", "exp", "iat", "jti", "sid", "client_id", "email", "roles", "org_id", "ver", "scope", "act"},
	}
	for k, v := range s.discoveryExtra {
		doc[k] = v
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) grantTypes() []string {
	g := []string{grantPassword, grantRefresh}
	for name := range s.extraGrants {
		g = append(g, name)
	}
	return g
}

func (s *Server) signingAlg() token.Alg {
	if k, err := s.opt.Tokens.Keys.Signer(); err == nil {
		return k.Alg
	}
	return token.EdDSA
}

// handleRotateKeys: POST /v1/admin/keys/rotate.
func (s *Server) handleRotateKeys(w http.ResponseWriter, r *http.Request, id *identity) {
	kid, err := s.opt.Tokens.Keys.Rotate(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.audit(r, "keys.rotated", slog.String("admin_id", id.User.ID), slog.String("kid", kid))
	writeJSON(w, http.StatusOK, map[string]string{"kid": kid})
}
