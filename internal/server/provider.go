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

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/web"
	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/session"
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

// opServer is sessiond as an OpenID Provider: /v1/authorize and its
// consent form, the authorization_code grant (served by the token endpoint
// through the grants table), /v1/userinfo, /v1/end-session and back-channel
// logout to the clients a session signed into. Its HTML errors are
// errorPages without back links.
type opServer struct {
	*base
	p        *op.Provider
	errs     errorPages
	auth     *authn
	sessions *session.Manager
	tokens   *Tokens
	// login renders the login form for a re-authentication (prompt=login,
	// max_age) with the provider's site.
	login *pages
}

// grantAuthorizationCode is the grant the OpenID Provider adds.
const grantAuthorizationCode = client.GrantAuthorizationCode

// newOPServer builds the OpenID Provider when Options.Provider is set (and
// opt.Tokens, which New checks); nil when off. A configured Provider that
// cannot start is an error: New fails rather than serve without it.
func newOPServer(b *base, opt Options, auth *authn) (*opServer, error) {
	po, t := opt.Provider, opt.Tokens
	if po == nil {
		return nil, nil
	}
	if po.Store == nil || t.Clients == nil {
		return nil, errors.New("server: openid provider: needs a Store and a client registry (Tokens.Clients)")
	}
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sessiond_backchannel_logout_total", Help: "Back-channel logout deliveries by result (ok, failed, error).",
	}, []string{"result"})
	b.metrics.reg.MustRegister(deliveries)
	p, err := op.New(op.Config{Issuer: t.IssuerURL, Store: po.Store, Clients: t.Clients, Signer: t.Issuer,
		Keys: t.Keys, Revoker: opRevoker{t}, CodeTTL: po.CodeTTL, HTTPClient: po.HTTPClient, RetryDelays: po.RetryDelays, Log: b.log,
		OnDelivery: func(result string) { deliveries.WithLabelValues(result).Inc() }, Now: t.Now})
	if err != nil {
		return nil, fmt.Errorf("server: openid provider: %w", err)
	}
	errs := errorPages{base: b, site: newSite(b, opt.Branding),
		unavailable: [2]string{"Temporarily unavailable", "Sign-in is unavailable right now. Please try again in a moment."}}
	return &opServer{base: b, p: p, errs: errs, auth: auth, sessions: opt.Sessions, tokens: t}, nil
}

// discovery is the provider's part of the discovery document.
func (s *opServer) discovery() map[string]any {
	base := strings.TrimSuffix(s.tokens.IssuerURL, "/")
	return map[string]any{
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
	}
}

// routes adds the provider's endpoints.
func (s *opServer) routes(m *http.ServeMux) {
	m.HandleFunc("GET /v1/authorize", s.handleAuthorize)
	m.HandleFunc("POST /v1/authorize", s.handleAuthorize)
	m.HandleFunc("POST /v1/authorize/consent", s.handleConsent)
	m.HandleFunc("GET /v1/userinfo", s.handleUserinfo)
	m.HandleFunc("POST /v1/userinfo", s.handleUserinfo)
	m.HandleFunc("GET /v1/end-session", s.handleEndSession)
	m.HandleFunc("POST /v1/end-session", s.handleEndSession)
}

// opRevoker ends tokens for the provider: refresh families, single access
// tokens (by jti) and every access token of a session (by sid).
type opRevoker struct{ t *Tokens }

// RevokeFamily ends a refresh family.
func (r opRevoker) RevokeFamily(ctx context.Context, id string) error {
	return r.t.Refresh.RevokeFamily(ctx, id)
}

// DenyAccess refuses one access token until it expires.
func (r opRevoker) DenyAccess(ctx context.Context, jti string, exp time.Time) error {
	return r.t.Refresh.DenyAccess(ctx, jti, exp)
}

// DenySession denies "sid:<id>" for as long as an access token issued now
// can live, as refresh.Service does for families.
func (r opRevoker) DenySession(ctx context.Context, sid string) error {
	return r.t.Refresh.Store().Deny(ctx, "sid:"+sid, r.t.now().Add(r.t.AccessTTL+time.Minute))
}

// browser is the signed-in browser's identity (authn.cookieIdentity), or
// nil when it has no valid session.
func (s *opServer) browser(r *http.Request) (*identity, error) {
	id, err := s.auth.cookieIdentity(r)
	if errors.Is(err, errUnauthorized) {
		return nil, nil
	}
	return id, err
}

// opParams reads a request's parameters: the query for GET, a
// form-encoded body of at most 64 KiB for POST. Repeated parameters are left
// for the caller to refuse.
func (s *opServer) opParams(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	if r.Method != http.MethodPost {
		return r.URL.Query(), true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		s.errs.show(w, r, http.StatusBadRequest, "Bad request", "The request could not be read.")
		return nil, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.errs.show(w, r, http.StatusBadRequest, "Bad request", "The request could not be read.")
		return nil, false
	}
	return r.PostForm, true
}

// parseAuthorize validates an authorization request; on failure it has
// answered: an error page when the client or redirect URI cannot be trusted,
// else a redirect carrying the error.
func (s *opServer) parseAuthorize(w http.ResponseWriter, r *http.Request, q url.Values) (*op.Request, bool) {
	req, err := s.p.ParseRequest(r.Context(), q)
	if err == nil {
		return req, true
	}
	var pe *op.Error
	switch {
	case req != nil:
		s.opRedirect(w, r, req, s.p.ErrorRedirect(req, err))
	case errors.As(err, &pe):
		s.errs.show(w, r, http.StatusBadRequest, "Invalid sign-in request",
			"The application that sent you here made an invalid request ("+pe.Description+"). Go back to it and try again.")
	default:
		s.errs.fail(w, r, err)
	}
	return nil, false
}

// opRedirect sends the browser back to the client: a 302, or, when the
// request is a navigation from one of our own pages (the login or consent
// form), a page that moves on by meta refresh: browsers apply the form
// page's CSP form-action to every redirect after a form submission, and the
// client's origin is not in the login page's.
func (s *opServer) opRedirect(w http.ResponseWriter, r *http.Request, req *op.Request, to string) {
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" && r.Header.Get("Sec-Fetch-Mode") == "navigate" {
		name := req.Client.Name
		if name == "" {
			name = req.Client.ID
		}
		if err := s.errs.site.RenderContinue(w, web.ContinuePage{ClientName: name, URL: to}); err != nil {
			s.log.ErrorContext(r.Context(), "render continue page", slog.Any("error", err))
		}
		return
	}
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusFound)
}

// handleAuthorize: GET or POST /v1/authorize (OpenID Connect Core §3.1.2).
func (s *opServer) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	s.errs.site.SetHeaders(w.Header())
	q, ok := s.opParams(w, r)
	if !ok {
		return
	}
	req, ok := s.parseAuthorize(w, r, q)
	if !ok {
		return
	}
	ctx := r.Context()
	id, err := s.browser(r)
	if err != nil {
		s.log.ErrorContext(ctx, "authorize: session lookup failed", slog.String("request_id", requestID(ctx)), slog.Any("error", err))
		s.opRedirect(w, r, req, s.p.ErrorRedirect(req, &op.Error{Code: "temporarily_unavailable", Description: "try again shortly"}))
		return
	}
	fresh := id != nil && !req.HasPrompt("login") &&
		(req.MaxAge < 0 || s.tokens.now().Sub(id.Session.CreatedAt) <= time.Duration(req.MaxAge)*time.Second)
	if !fresh {
		if req.HasPrompt("none") {
			s.opRedirect(w, r, req, s.p.ErrorRedirect(req, &op.Error{Code: "login_required", Description: "the user is not signed in"}))
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
			s.login.renderLogin(w, r, http.StatusOK, web.LoginPage{Email: id.User.Email, ReturnTo: ret, CSRFToken: s.login.loginToken(w, r)})
			return
		}
		seeOther(w, s.origin.url("/login?return_to="+url.QueryEscape(ret)))
		return
	}
	need, err := s.p.NeedsConsent(ctx, req, id.User.ID)
	if err != nil {
		s.errs.fail(w, r, err)
		return
	}
	if need {
		if req.HasPrompt("none") {
			s.opRedirect(w, r, req, s.p.ErrorRedirect(req, &op.Error{Code: "consent_required", Description: "the user has not approved this application"}))
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

// renderConsent shows the consent page for req; its form carries the
// request's parameters and the session's CSRF token.
func (s *opServer) renderConsent(w http.ResponseWriter, r *http.Request, req *op.Request, id *identity) {
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
	s.errs.site.SetHeadersFormTo(w.Header(), req.RedirectURI)
	if err := s.errs.site.RenderConsent(w, http.StatusOK, page); err != nil {
		s.log.ErrorContext(r.Context(), "render consent page", slog.Any("error", err))
	}
}

// handleConsent: POST /v1/authorize/consent, the consent page's form:
// same-origin, the session's CSRF token, then the request is validated
// again and approved or denied.
func (s *opServer) handleConsent(w http.ResponseWriter, r *http.Request) {
	s.errs.site.SetHeaders(w.Header())
	if err := s.csrf.Check(r); err != nil {
		s.errs.show(w, r, http.StatusForbidden, "Request refused", "A cross-site request was refused.")
		return
	}
	form, ok := s.opParams(w, r)
	if !ok {
		return
	}
	id, err := s.browser(r)
	if err != nil {
		s.errs.fail(w, r, err)
		return
	}
	got := form.Get("csrf_token")
	if id == nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.Session.CSRFToken)) != 1 {
		s.errs.show(w, r, http.StatusForbidden, "This page has expired",
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
		s.opRedirect(w, r, req, s.p.ErrorRedirect(req, &op.Error{Code: "access_denied", Description: "the user denied the request"}))
		return
	}
	if err := s.p.GrantConsent(r.Context(), req, id.User.ID); err != nil {
		s.errs.fail(w, r, err)
		return
	}
	s.audit(r, "oidc.consent_granted", slog.String("user_id", id.User.ID), slog.String("client_id", req.Client.ID), slog.String("scope", req.Scope()))
	s.issueCode(w, r, req, id)
}

// issueCode hands an authorization code for the signed-in session to the
// client.
func (s *opServer) issueCode(w http.ResponseWriter, r *http.Request, req *op.Request, id *identity) {
	code, err := s.p.NewCode(r.Context(), req, op.Approval{SessionID: id.Session.ID, UserID: id.User.ID,
		AuthTime: id.Session.CreatedAt, SessionExpiresAt: id.Session.ExpiresAt})
	if err != nil {
		s.log.ErrorContext(r.Context(), "authorize: issue code", slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
		s.opRedirect(w, r, req, s.p.ErrorRedirect(req, &op.Error{Code: "temporarily_unavailable", Description: "try again shortly"}))
		return
	}
	s.audit(r, "oidc.code_issued", slog.String("user_id", id.User.ID), slog.String("client_id", req.Client.ID),
		slog.String("session_id", id.Session.ID))
	s.opRedirect(w, r, req, s.p.SuccessRedirect(req, code))
}
