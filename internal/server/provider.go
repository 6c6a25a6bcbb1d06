package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/web"
	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// ProviderOptions make sessiond an OpenID Provider (Options.Provider).
type ProviderOptions struct {
	// Store keeps authorization codes, which clients each session signed
	// into, and consents; Build uses the users store. Required.
	Store op.Store
	// CodeTTL is how long an authorization code may be redeemed. Default
	// 60 s; at most 10 minutes.
	CodeTTL time.Duration
	// HTTPClient delivers back-channel logout tokens. Default: 5 s timeout
	// per attempt, no redirects followed.
	HTTPClient *http.Client
	// RetryDelays are the pauses between back-channel delivery attempts.
	// Default 1 s, 4 s (three attempts).
	RetryDelays []time.Duration
}

// opServer is the OpenID Provider's HTTP side.
type opServer struct {
	p    *op.Provider
	site *web.Site
}

const grantAuthorizationCode = client.GrantAuthorizationCode

// providerRoutes adds the OpenID Provider endpoints, the authorization_code
// grant and their discovery metadata, when Options.Provider is set (and
// Tokens, which New checks). A configured Provider that cannot start is an
// error: New fails rather than serve without it.
func (s *Server) providerRoutes() error {
	po, t := s.opt.Provider, s.opt.Tokens
	if po == nil {
		return nil
	}
	if po.Store == nil || t.Clients == nil {
		return errors.New("server: openid provider: needs a Store and a client registry (Tokens.Clients)")
	}
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessiond_backchannel_logout_total", Help: "Back-channel logout deliveries by result (ok, failed, error).",
	}, []string{"result"})
	s.metrics.reg.MustRegister(deliveries)
	p, err := op.New(op.Config{Issuer: t.IssuerURL, Store: po.Store, Clients: t.Clients, Signer: t.Issuer,
		Keys: t.Keys, Revoker: opRevoker{t}, CodeTTL: po.CodeTTL, HTTPClient: po.HTTPClient, RetryDelays: po.RetryDelays, Log: s.log,
		OnDelivery: func(result string) { deliveries.WithLabelValues(result).Inc() }, Now: t.Now})
	if err != nil {
		return fmt.Errorf("server: openid provider: %w", err)
	}
	s.op = &opServer{p: p, site: s.newSite()}
	if s.extraGrants == nil {
		s.extraGrants = map[string]grantHandler{}
	}
	s.extraGrants[grantAuthorizationCode] = s.grantAuthorizationCode
	if s.discoveryExtra == nil {
		s.discoveryExtra = map[string]any{}
	}
	base := strings.TrimSuffix(t.IssuerURL, "/")
	for k, v := range map[string]any{
		"authorization_endpoint":                         base + "/v1/authorize",
		"userinfo_endpoint":                              base + "/v1/userinfo",
		"end_session_endpoint":                           base + "/v1/end-session",
		"backchannel_logout_supported":                   true,
		"backchannel_logout_session_supported":           true,
		"frontchannel_logout_supported":                  false,
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"subject_types_supported":                        []string{"public"},
		"code_challenge_methods_supported":               []string{"S256"},
		"scopes_supported":                               op.SupportedScopes(),
		"prompt_values_supported":                        []string{"none", "login", "consent"},
		"claims_parameter_supported":                     false,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"authorization_response_iss_parameter_supported": true,
		"userinfo_signing_alg_values_supported":          []string{"none"},
		"claims_supported": []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "sid", "jti",
			"email", "email_verified", "roles", "org_id", "client_id", "ver", "scope", "act"},
	} {
		s.discoveryExtra[k] = v
	}
	m := s.mux
	m.HandleFunc("GET /v1/authorize", s.handleAuthorize)
	m.HandleFunc("POST /v1/authorize", s.handleAuthorize)
	m.HandleFunc("POST /v1/authorize/consent", s.handleConsent)
	m.HandleFunc("GET /v1/userinfo", s.handleUserinfo)
	m.HandleFunc("POST /v1/userinfo", s.handleUserinfo)
	m.HandleFunc("GET /v1/end-session", s.handleEndSession)
	m.HandleFunc("POST /v1/end-session", s.handleEndSession)
	return nil
}

// opRevoker ends tokens for the provider: refresh families, single access
// tokens (by jti) and every access token of a session (by sid).
type opRevoker struct{ t *Tokens }

func (r opRevoker) RevokeFamily(ctx context.Context, id string) error {
	return r.t.Refresh.RevokeFamily(ctx, id)
}

func (r opRevoker) DenyAccess(ctx context.Context, jti string, exp time.Time) error {
	return r.t.Refresh.DenyAccess(ctx, jti, exp)
}

// DenySession denies "sid:<id>" for as long as an access token issued now
// can live, as refresh.Service does for families.
func (r opRevoker) DenySession(ctx context.Context, sid string) error {
	return r.t.Refresh.Store().Deny(ctx, "sid:"+sid, r.t.now().Add(r.t.AccessTTL+time.Minute))
}

// loggedOut tells the OpenID Provider that cookie sessions ended, so that it
// revokes what their logins were issued and sends back-channel logout tokens
// (in the background). It never fails the caller: the sessions are already
// gone, so a failure is logged.
func (s *Server) loggedOut(ctx context.Context, sessionIDs ...string) {
	if s.op == nil {
		return
	}
	if err := s.op.p.SessionsEnded(ctx, sessionIDs...); err != nil {
		s.log.ErrorContext(ctx, "back-channel logout: sessions ended", slog.String("request_id", requestID(ctx)), slog.Any("error", err))
	}
}

// loggedOutUser is loggedOut for every session of the user except keep.
func (s *Server) loggedOutUser(ctx context.Context, userID, keep string) {
	if s.op == nil {
		return
	}
	if err := s.op.p.UserSessionsEnded(ctx, userID, keep); err != nil {
		s.log.ErrorContext(ctx, "back-channel logout: user sessions ended", slog.String("request_id", requestID(ctx)), slog.Any("error", err))
	}
}

// WaitBackchannel blocks until every back-channel logout delivery started so
// far has ended: for tests and graceful shutdown.
func (s *Server) WaitBackchannel() {
	if s.op != nil {
		s.op.p.Wait()
	}
}

// opNow is the provider's clock (the tokens' clock).
func (s *Server) opNow() time.Time { return s.opt.Tokens.now() }

// cookieIdentity authenticates a browser by its session cookie only (an
// Authorization header from a proxy must neither stand in for nor hide it).
// No session is (nil, nil).
func (s *Server) cookieIdentity(r *http.Request) (*identity, error) {
	if r.Header.Get("Authorization") != "" {
		r = r.Clone(r.Context())
		r.Header.Del("Authorization")
	}
	if s.opt.Sessions.CookieToken(r) == "" {
		return nil, nil
	}
	id, err := s.authenticate(r)
	if errors.Is(err, errUnauthorized) {
		return nil, nil
	}
	return id, err
}

// opPage answers a browser with an HTML error page: for failures that must
// not be redirected to the client (unknown client, unregistered redirect
// URI), and for store failures (503, fail closed).
func (s *Server) opPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	if err := s.op.site.RenderError(w, status, web.ErrorPage{Title: title, Message: msg}); err != nil {
		s.log.ErrorContext(r.Context(), "render error page", slog.Any("error", err))
	}
}

func (s *Server) opUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	s.log.ErrorContext(r.Context(), "openid provider request failed", slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
	s.opPage(w, r, http.StatusServiceUnavailable, "Temporarily unavailable", "Sign-in is unavailable right now. Please try again in a moment.")
}

// opParams reads a request's parameters: the query for GET, a
// form-encoded body of at most 64 KiB for POST. Repeated parameters are left
// for the caller to refuse.
func (s *Server) opParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		s.opPage(w, r, http.StatusBadRequest, "Bad request", "The request could not be read.")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.opPage(w, r, http.StatusBadRequest, "Bad request", "The request could not be read.")
		return nil, false
	}
	return r.PostForm, true
}

// parseAuthorize validates an authorization request; on failure it has
// answered: an error page when the client or redirect URI cannot be trusted,
// else a redirect carrying the error.
func (s *Server) parseAuthorize(w http.ResponseWriter, r *http.Request, q url.Values) (*op.Request, bool) {
	req, err := s.op.p.ParseRequest(r.Context(), q)
	if err == nil {
		return req, true
	}
	var pe *op.Error
	switch {
	case req != nil:
		s.opRedirect(w, r, req, s.op.p.ErrorRedirect(req, err))
	case errors.As(err, &pe):
		s.opPage(w, r, http.StatusBadRequest, "Invalid sign-in request",
			"The application that sent you here made an invalid request ("+pe.Description+"). Go back to it and try again.")
	default:
		s.opUnavailable(w, r, err)
	}
	return nil, false
}

// opRedirect sends the browser back to the client: a 302, or, when the
// request is a navigation from one of our own pages (the login or consent
// form), a page that moves on by meta refresh: browsers apply the form
// page's CSP form-action to every redirect after a form submission, and the
// client's origin is not in the login page's.
func (s *Server) opRedirect(w http.ResponseWriter, r *http.Request, req *op.Request, to string) {
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		name := req.Client.Name
		if name == "" {
			name = req.Client.ID
		}
		if err := s.op.site.RenderContinue(w, web.ContinuePage{ClientName: name, URL: to}); err != nil {
			s.log.ErrorContext(r.Context(), "render continue page", slog.Any("error", err))
		}
		return
	}
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusFound)
}

// handleAuthorize: GET or POST /v1/authorize (OpenID Connect Core §3.1.2).
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	s.op.site.SetHeaders(w.Header())
	q, ok := s.opParams(w, r)
	if !ok {
		return
	}
	req, ok := s.parseAuthorize(w, r, q)
	if !ok {
		return
	}
	ctx := r.Context()
	id, err := s.cookieIdentity(r)
	if err != nil {
		s.log.ErrorContext(ctx, "authorize: session lookup failed", slog.String("request_id", requestID(ctx)), slog.Any("error", err))
		s.opRedirect(w, r, req, s.op.p.ErrorRedirect(req, &op.Error{Code: "temporarily_unavailable", Description: "try again shortly"}))
		return
	}
	fresh := id != nil && !req.HasPrompt("login") &&
		(req.MaxAge < 0 || s.opNow().Sub(id.Session.CreatedAt) <= time.Duration(req.MaxAge)*time.Second)
	if !fresh {
		if req.HasPrompt("none") {
			s.opRedirect(w, r, req, s.op.p.ErrorRedirect(req, &op.Error{Code: "login_required", Description: "the user is not signed in"}))
			return
		}
		// Back here after the login, without what asked for it (the
		// new session is fresh; the ID token's auth_time says so).
		back := url.Values{}
		for k, v := range q {
			back[k] = v
		}
		back.Del("max_age")
		if req.HasPrompt("login") {
			back.Del("prompt")
		}
		ret := s.origin.url("/v1/authorize?" + back.Encode())
		if id != nil {
			// prompt=login or max_age: sign in again. The login form is
			// shown here (the login page would pass a signed-in browser
			// straight on); posting it replaces the session. Nothing
			// changes on this GET.
			pg := &pages{s: s, site: s.op.site}
			pg.renderLogin(w, r, http.StatusOK, web.LoginPage{Email: id.User.Email, ReturnTo: ret, CSRFToken: pg.loginToken(w, r)})
			return
		}
		seeOther(w, s.origin.url("/login?return_to="+url.QueryEscape(ret)))
		return
	}
	need, err := s.op.p.NeedsConsent(ctx, req, id.User.ID)
	if err != nil {
		s.opUnavailable(w, r, err)
		return
	}
	if need {
		if req.HasPrompt("none") {
			s.opRedirect(w, r, req, s.op.p.ErrorRedirect(req, &op.Error{Code: "consent_required", Description: "the user has not approved this application"}))
			return
		}
		s.renderConsent(w, r, req, id)
		return
	}
	s.issueCode(w, r, req, id)
}

// scopeText says what a scope gives away, for the consent page.
var scopeText = map[string]string{
	op.ScopeOpenID:        "Your account ID",
	op.ScopeEmail:         "Your email address",
	op.ScopeProfile:       "Your roles and organisation",
	op.ScopeOfflineAccess: "Access while you are signed out",
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, req *op.Request, id *identity) {
	page := web.ConsentPage{ClientName: req.Client.Name, Email: id.User.Email, CSRFToken: id.Session.CSRFToken}
	if page.ClientName == "" {
		page.ClientName = req.Client.ID
	}
	for _, sc := range req.Scopes {
		txt, ok := scopeText[sc]
		if !ok {
			txt = "Permission " + sc
		}
		page.Scopes = append(page.Scopes, txt)
	}
	keys := make([]string, 0, len(req.Params))
	for k := range req.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k == "csrf_token" || k == "decision" {
			continue
		}
		page.Params = append(page.Params, web.Param{Name: k, Value: req.Params.Get(k)})
	}
	s.op.site.SetHeadersFormTo(w.Header(), req.RedirectURI)
	if err := s.op.site.RenderConsent(w, http.StatusOK, page); err != nil {
		s.log.ErrorContext(r.Context(), "render consent page", slog.Any("error", err))
	}
}

// handleConsent: POST /v1/authorize/consent, the consent page's form:
// same-origin, the session's CSRF token, then the request is validated
// again and approved or denied.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	s.op.site.SetHeaders(w.Header())
	if err := s.csrf.Check(r); err != nil {
		s.opPage(w, r, http.StatusForbidden, "Request refused", "A cross-site request was refused.")
		return
	}
	form, ok := s.opParams(w, r)
	if !ok {
		return
	}
	id, err := s.cookieIdentity(r)
	if err != nil {
		s.opUnavailable(w, r, err)
		return
	}
	got := form.Get("csrf_token")
	if id == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.Session.CSRFToken)) != 1 {
		s.opPage(w, r, http.StatusForbidden, "This page has expired",
			"The form was out of date, so nothing was approved. Go back to the application and sign in again.")
		return
	}
	decision := form.Get("decision")
	q := url.Values{}
	for k, v := range form {
		if k != "csrf_token" && k != "decision" {
			q[k] = v
		}
	}
	req, ok := s.parseAuthorize(w, r, q)
	if !ok {
		return
	}
	if decision != "allow" {
		s.audit(r, "oidc.consent_denied", slog.String("user_id", id.User.ID), slog.String("client_id", req.Client.ID))
		s.opRedirect(w, r, req, s.op.p.ErrorRedirect(req, &op.Error{Code: "access_denied", Description: "the user denied the request"}))
		return
	}
	if err := s.op.p.GrantConsent(r.Context(), req, id.User.ID); err != nil {
		s.opUnavailable(w, r, err)
		return
	}
	s.audit(r, "oidc.consent_granted", slog.String("user_id", id.User.ID), slog.String("client_id", req.Client.ID), slog.String("scope", req.Scope()))
	s.issueCode(w, r, req, id)
}

// issueCode hands an authorization code for the signed-in session to the
// client.
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *op.Request, id *identity) {
	code, err := s.op.p.NewCode(r.Context(), req, op.Approval{SessionID: id.Session.ID, UserID: id.User.ID,
		AuthTime: id.Session.CreatedAt, SessionExpiresAt: id.Session.ExpiresAt})
	if err != nil {
		s.log.ErrorContext(r.Context(), "authorize: issue code", slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
		s.opRedirect(w, r, req, s.op.p.ErrorRedirect(req, &op.Error{Code: "temporarily_unavailable", Description: "try again shortly"}))
		return
	}
	s.audit(r, "oidc.code_issued", slog.String("user_id", id.User.ID), slog.String("client_id", req.Client.ID),
		slog.String("session_id", id.Session.ID))
	s.opRedirect(w, r, req, s.op.p.SuccessRedirect(req, code))
}

// grantAuthorizationCode: grant_type=authorization_code at POST /v1/token.
// The client is authenticated (confidential) or named by client_id
// (public); PKCE binds the code to whoever started the flow either way.
func (s *Server) grantAuthorizationCode(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error) {
	code, redirect, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	if code == "" || redirect == "" || verifier == "" {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_request", "code, redirect_uri and code_verifier are required")
	}
	ctx := r.Context()
	p, t := s.op.p, s.opt.Tokens
	c, err := p.Redeem(ctx, code, cl.ID, redirect, verifier)
	if err != nil {
		return tokenResponse{}, s.codeError(r, err, cl)
	}
	u, err := t.Users.UserByID(ctx, c.UserID)
	if errors.Is(err, account.ErrNotFound) || err == nil && u.Disabled {
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", op.ErrInvalidGrant.Description)
	}
	if err != nil {
		return tokenResponse{}, err
	}
	// The session that approved the code must still be live: a code
	// redeemed after logout signs nobody in.
	if sess, err := s.opt.Sessions.Get(ctx, c.SessionID); err != nil || sess.UserID != u.ID {
		if err != nil && !isGone(err) {
			return tokenResponse{}, err
		}
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", op.ErrInvalidGrant.Description)
	}
	scopes := strings.Fields(c.Scope)
	offline := slices.Contains(scopes, op.ScopeOfflineAccess)
	var fam *refresh.Family
	var rt string
	if offline || cl.Allows(grantRefresh) {
		fam, rt, err = t.Refresh.Start(ctx, u.ID, cl.ID, c.Scope, refresh.Meta{IP: s.clientIP(r), UserAgent: truncate(r.UserAgent(), 512)})
		if err != nil {
			return tokenResponse{}, err
		}
	}
	// Access tokens carry the family as sid (so refreshing and revoking
	// work as for every family), or the session when there is none.
	sid := c.SessionID
	if fam != nil {
		sid = fam.ID
	}
	jti := newJTI()
	exp := t.now().Add(t.AccessTTL).Truncate(time.Second)
	at, err := t.Issuer.Issue(ctx, token.Claims{Subject: u.ID, ExpiresAt: exp, ID: jti, SessionID: sid, ClientID: cl.ID,
		Email: u.Email, Roles: u.Roles, OrgID: u.OrgID, Version: u.TokenVersion, Scope: c.Scope})
	if err != nil {
		return tokenResponse{}, err
	}
	idt, err := p.IDToken(ctx, c, u)
	if err != nil {
		return tokenResponse{}, err
	}
	issued := op.Issued{AccessTokenID: jti, AccessExpiresAt: exp}
	if fam != nil {
		issued.FamilyID = fam.ID
	}
	if err := p.Issued(ctx, c, issued); err != nil {
		return tokenResponse{}, s.codeError(r, err, cl)
	}
	// The login ends with the session: its family too, unless
	// offline_access asked for one that outlives it.
	tied := ""
	if fam != nil && !offline {
		tied = fam.ID
	}
	if err := p.RecordLogin(ctx, c, tied); err != nil {
		return tokenResponse{}, err
	}
	// The session may have ended between the check above and the record:
	// then nobody will take the record, so end what was issued here.
	if _, err := s.opt.Sessions.Get(ctx, c.SessionID); err != nil {
		if !isGone(err) {
			return tokenResponse{}, err
		}
		s.loggedOut(ctx, c.SessionID)
		return tokenResponse{}, oauthErr(http.StatusBadRequest, "invalid_grant", op.ErrInvalidGrant.Description)
	}
	s.audit(r, "token.issued", slog.String("user_id", u.ID), slog.String("client_id", cl.ID), slog.String("grant", grantAuthorizationCode),
		slog.String("session_id", c.SessionID))
	return tokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(exp.Sub(t.now()).Seconds()), RefreshToken: rt,
		Scope: c.Scope, IDToken: idt}, nil
}

// isGone reports whether a session lookup failed because the session does
// not exist (any more).
func isGone(err error) bool { return session.IsAuthFailure(err) }

// codeError maps a code redemption failure to the token endpoint's answer,
// auditing replays.
func (s *Server) codeError(r *http.Request, err error, cl *client.Client) error {
	if errors.Is(err, op.ErrCodeReplayed) {
		s.audit(r, "oidc.code_replayed", slog.String("client_id", cl.ID))
	}
	var pe *op.Error
	if errors.As(err, &pe) {
		return oauthErr(http.StatusBadRequest, pe.Code, pe.Description)
	}
	return err
}

// handleUserinfo: GET or POST /v1/userinfo (OpenID Connect Core §5.3) with a
// bearer access token whose scope includes openid.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	tok, ok := bearerToken(r)
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "a bearer access token is required"})
		return
	}
	u, b, err := s.opt.Tokens.AuthenticateBearer(r.Context(), tok)
	if err != nil {
		if toAPIError(err).Code == codeUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond", error="invalid_token"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "the access token is invalid, expired or revoked"})
			return
		}
		s.writeOAuthError(w, r, err)
		return
	}
	if !slices.Contains(strings.Fields(b.Scope), op.ScopeOpenID) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sessiond", error="insufficient_scope", scope="openid"`)
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "insufficient_scope", "error_description": "the access token was not issued for openid"})
		return
	}
	writeJSON(w, http.StatusOK, op.UserClaims(u, b.Scope))
}

// handleEndSession: GET or POST /v1/end-session (OpenID Connect
// RP-Initiated Logout 1.0). With a valid id_token_hint for the signed-in
// user the session ends at once; otherwise the user confirms on a page
// whose form carries the session's CSRF token (no logout CSRF). A
// post_logout_redirect_uri must be one of the client's registered redirect
// URIs, exactly; state is passed back.
func (s *Server) handleEndSession(w http.ResponseWriter, r *http.Request) {
	s.op.site.SetHeaders(w.Header())
	q, ok := s.opParams(w, r)
	if !ok {
		return
	}
	for k, v := range q {
		if len(v) > 1 || len(v[0]) > token.MaxTokenSize {
			s.opPage(w, r, http.StatusBadRequest, "Invalid sign-out request", "The parameter "+truncate(k, 64)+" is repeated or too long.")
			return
		}
	}
	ctx := r.Context()
	var hint *op.Hint
	if raw := q.Get("id_token_hint"); raw != "" {
		h, err := s.op.p.VerifyHint(ctx, raw)
		if errors.Is(err, op.ErrInvalidHint) {
			s.opPage(w, r, http.StatusBadRequest, "Invalid sign-out request", "The application sent an ID token that was not issued here.")
			return
		}
		if err != nil {
			s.opUnavailable(w, r, err)
			return
		}
		hint = h
	}
	clientID := q.Get("client_id")
	if hint != nil {
		if clientID != "" && clientID != hint.ClientID {
			s.opPage(w, r, http.StatusBadRequest, "Invalid sign-out request", "client_id does not match the ID token.")
			return
		}
		clientID = hint.ClientID
	}
	var cl *client.Client
	if clientID != "" {
		c, err := client.Lookup(ctx, s.opt.Tokens.Clients, clientID)
		if err != nil && !errors.Is(err, client.ErrNotFound) {
			s.opUnavailable(w, r, err)
			return
		}
		cl = c
	}
	target := ""
	if pl := q.Get("post_logout_redirect_uri"); pl != "" {
		if cl == nil || !cl.HasRedirectURI(pl) {
			s.opPage(w, r, http.StatusBadRequest, "Invalid sign-out request",
				"The address to return to after signing out is not registered for the application.")
			return
		}
		target = withState(pl, q.Get("state"))
	}
	id, err := s.cookieIdentity(r)
	if err != nil {
		s.opUnavailable(w, r, err)
		return
	}
	if id != nil {
		confirmed := hint != nil && hint.UserID == id.User.ID
		if !confirmed && r.Method == http.MethodPost {
			got := q.Get("csrf_token")
			confirmed = s.csrf.Check(r) == nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(id.Session.CSRFToken)) == 1
		}
		if !confirmed {
			s.renderLogoutConfirm(w, r, id, cl, q, target)
			return
		}
		s.endBrowserSession(w, r, id, "end_session")
	} else if hint != nil && hint.SessionID != "" {
		// No cookie came along (a cross-site POST does not carry a
		// SameSite=Lax cookie): end the session the hint names, if it is
		// still the hint's user's.
		if err := s.endHintedSession(r, hint); err != nil {
			s.opUnavailable(w, r, err)
			return
		}
	}
	if target == "" {
		target = s.origin.url("/login?done=signed-out")
	}
	seeOther(w, target)
}

func (s *Server) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, id *identity, cl *client.Client, q url.Values, target string) {
	page := web.LogoutPage{Email: id.User.Email, CSRFToken: id.Session.CSRFToken}
	if cl != nil {
		page.ClientName = cl.Name
		if page.ClientName == "" {
			page.ClientName = cl.ID
		}
		page.Params = append(page.Params, web.Param{Name: "client_id", Value: cl.ID})
	}
	for _, k := range []string{"post_logout_redirect_uri", "state"} {
		if v := q.Get(k); v != "" && (k != "post_logout_redirect_uri" || target != "") {
			page.Params = append(page.Params, web.Param{Name: k, Value: v})
		}
	}
	if target != "" {
		s.op.site.SetHeadersFormTo(w.Header(), target)
	}
	if err := s.op.site.RenderLogout(w, http.StatusOK, page); err != nil {
		s.log.ErrorContext(r.Context(), "render logout page", slog.Any("error", err))
	}
}

// endBrowserSession ends the caller's cookie session as POST /v1/logout
// does, clears the cookie and notifies the clients it signed into.
func (s *Server) endBrowserSession(w http.ResponseWriter, r *http.Request, id *identity, reason string) {
	ctx := r.Context()
	if err := s.opt.Sessions.Destroy(ctx, id.Session.ID); err != nil && !isGone(err) {
		s.log.ErrorContext(ctx, "end session", slog.String("request_id", requestID(ctx)), slog.Any("error", err))
	}
	s.loggedOut(ctx, id.Session.ID)
	s.opt.Sessions.ClearCookie(w, r)
	s.metrics.revoked.WithLabelValues(reason).Inc()
	s.audit(r, "logout", slog.String("user_id", id.User.ID), slog.String("session_id", id.Session.ID), slog.String("via", reason))
}

// endHintedSession ends the session an id_token_hint names when it is
// live and belongs to the hint's subject.
func (s *Server) endHintedSession(r *http.Request, hint *op.Hint) error {
	ctx := r.Context()
	sess, err := s.opt.Sessions.Get(ctx, hint.SessionID)
	if err != nil {
		if isGone(err) {
			return nil
		}
		return err
	}
	if sess.UserID != hint.UserID {
		return nil
	}
	if err := s.opt.Sessions.Destroy(ctx, sess.ID); err != nil && !isGone(err) {
		return err
	}
	s.loggedOut(ctx, sess.ID)
	s.metrics.revoked.WithLabelValues("end_session").Inc()
	s.audit(r, "logout", slog.String("user_id", sess.UserID), slog.String("session_id", sess.ID), slog.String("via", "end_session_hint"))
	return nil
}

// withState adds state to a post-logout redirect URI.
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	v := u.Query()
	v.Set("state", state)
	u.RawQuery = v.Encode()
	return u.String()
}
