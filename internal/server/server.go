package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
)

// Options are the parts a Server is built from. Sessions, Accounts and Users
// are required.
type Options struct {
	Sessions *session.Manager
	Accounts *account.Service
	Users    account.Store
	// Tokens, when set, enables access and refresh tokens: bearer
	// authentication, the OAuth endpoints, JWKS and discovery.
	Tokens *Tokens
	// Ready are the dependencies /readyz pings, by name.
	Ready map[string]Pinger
	// TrustedProxies may set X-Forwarded-For and X-Forwarded-Proto.
	TrustedProxies []netip.Prefix
	// Log receives operational logs, Audit security events. Nil: discarded.
	Log, Audit *slog.Logger
	// HSTS is the Strict-Transport-Security value sent on every response
	// served over TLS by this server (r.TLS set), e.g. "max-age=31536000".
	// Empty: none. Never sent over plain HTTP, whatever X-Forwarded-Proto
	// says: the proxy that terminates TLS sends its own.
	HSTS string
	// AccessLog logs every request at info level.
	AccessLog bool
	// Pprof serves Go's profiler under /debug/pprof/ to admins.
	Pprof bool
	// Gateway configures /v1/authz (forward auth) and the reverse proxy;
	// see NewGateway. Nil: /v1/authz with the default policy (a valid
	// credential passes) and no proxied routes.
	Gateway *Gateway
	// Branding styles the HTML pages (/login, /account). Zero: sessiond's look.
	Branding Branding
	// BaseURL is sessiond's external URL (base_url), such as
	// "https://auth.example.com" or "https://example.com/auth": the only
	// source of its own origin (never the Host or X-Forwarded-* headers).
	// Its path is the prefix of every link, form action, redirect and flow
	// cookie, and every route answers both under it and at the root. Empty:
	// root paths, and no absolute URL counts as same-origin.
	BaseURL string
	// AllowedRedirectHosts are the hosts a return address (return_to=, rd=)
	// may name besides BaseURL's origin: "app.example.com", or
	// "*.example.com" for any subdomain. See safeRedirect.
	AllowedRedirectHosts []string
	// MFA enables second factors (TOTP, recovery codes) and step-up. Nil: off.
	MFA *MFA
	// OIDC enables single sign-on with external OpenID providers. Nil: off.
	OIDC *OIDC
	// Provider makes sessiond an OpenID Provider for registered clients
	// (/v1/authorize, /v1/userinfo, /v1/end-session, back-channel logout).
	// It needs Tokens. Nil: off.
	Provider *ProviderOptions
	// Lifecycle enables sign-up, email verification, password recovery and
	// email change (lifecycle.go). Nil: off.
	Lifecycle *Lifecycle
	// Collectors are further metrics served at /metrics, such as the
	// stores' near-cache counters that app.Build adds. Nil: none.
	Collectors []prometheus.Collector
	// Now is the clock for what the pages show ("5 minutes ago"). Default
	// time.Now.
	Now func() time.Time
}

// Server is the HTTP API. Create it with New; it is an http.Handler.
//
// Server itself is only the front door: the outer middleware (request ID,
// recovery, metrics, access log, HSTS), the routing table and the answer to
// requests no route claims. The work is done in rooms, one per feature,
// each holding only what it uses:
//
//   - api (handlers.go), adminAPI (admin.go, admin_users.go): the session and account JSON API;
//   - pages (pages.go): the login and account HTML pages;
//   - oauthServer (oauth.go, grants.go, exchange.go, introspect.go,
//     keys.go): the OAuth token, revocation, introspection, JWKS and
//     discovery endpoints, with one table of grants;
//   - opServer (provider*.go): sessiond as an OpenID Provider;
//   - ssoServer (oidc.go): sign-in with external OpenID providers;
//   - gatewayServer (authz.go, proxy.go): forward auth and the reverse
//     proxy.
//
// They share authn (auth.go), which resolves a request's credential,
// signouts (signouts.go), which ends sessions and tells the OpenID
// Provider, and base (base.go, errors.go): logs, metrics, the cross-origin
// check, sessiond's own origin, trusted proxies and the error answers.
type Server struct {
	opt       Options
	log       *slog.Logger
	metrics   *metrics
	accessLog bool
	origin    origin
	mux       *http.ServeMux
	handler   http.Handler

	// base is what the rooms share; the front door answers with it too.
	base *base
	// op is the OpenID Provider (Options.Provider); nil when off.
	op *opServer
}

// discard is the logger of an unset Options.Log or Options.Audit.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// New builds a Server from opt. It fails when a required part is missing,
// BaseURL is not an absolute http(s) URL, or a gateway route lies under
// BaseURL's path.
func New(opt Options) (*Server, error) {
	if opt.Sessions == nil || opt.Accounts == nil || opt.Users == nil {
		return nil, errors.New("server: new: Sessions, Accounts and Users are required")
	}
	own, err := newOrigin(opt.BaseURL)
	if err != nil {
		return nil, err
	}
	if err := opt.Gateway.checkPrefix(own.prefix); err != nil {
		return nil, err
	}
	if opt.Provider != nil && opt.Tokens == nil {
		return nil, errors.New("server: new: the OpenID Provider (Provider) needs Tokens")
	}
	b := &base{log: opt.Log, auditLog: opt.Audit, metrics: newMetrics(), csrf: http.NewCrossOriginProtection(),
		origin: own, proxies: opt.TrustedProxies, allowedHosts: opt.AllowedRedirectHosts}
	if b.log == nil {
		b.log = discard
	}
	if b.auditLog == nil {
		b.auditLog = discard
	}
	s := &Server{opt: opt, log: b.log, metrics: b.metrics, accessLog: opt.AccessLog, origin: own, base: b, mux: http.NewServeMux()}
	b.metrics.reg.MustRegister(opt.Collectors...)
	if err := s.routes(); err != nil {
		return nil, err
	}
	s.mux.HandleFunc("/", s.unmatched)
	s.handler = s.outer(s.mux)
	return s, nil
}

// routes builds the rooms from s.opt and gives each its routes.
func (s *Server) routes() error {
	opt, b, m := s.opt, s.base, s.mux
	auth := &authn{base: b, sessions: opt.Sessions, users: opt.Users, tokens: opt.Tokens}
	if opt.Tokens != nil {
		op, err := newOPServer(b, opt, auth)
		if err != nil {
			return err
		}
		s.op = op
	}
	ends := &signouts{base: b, sessions: opt.Sessions, accounts: opt.Accounts, tokens: opt.Tokens, op: s.op}
	site := newSite(b, opt.Branding)
	pg := newPages(b, site, opt, auth, ends)

	a := &api{base: b, auth: auth, ends: ends, sessions: opt.Sessions, accounts: opt.Accounts, users: opt.Users, tokens: opt.Tokens}
	m.HandleFunc("POST /v1/login", a.handleLogin)
	m.HandleFunc("POST /v1/logout", auth.authed(a.handleLogout))
	m.HandleFunc("GET /v1/whoami", auth.authed(a.handleWhoami))
	m.HandleFunc("GET /v1/sessions", auth.authed(a.handleListSessions))
	m.HandleFunc("DELETE /v1/sessions", auth.authed(a.handleDeleteSessions))
	m.HandleFunc("DELETE /v1/sessions/{id}", auth.authed(a.handleDeleteSession))
	m.HandleFunc("POST /v1/password", auth.authed(a.handlePassword))
	m.HandleFunc("GET /v1/session/data", auth.authed(a.handleGetData))
	m.HandleFunc("PATCH /v1/session/data", auth.authed(a.handlePatchData))
	m.HandleFunc("GET /healthz", s.handleHealthz)
	m.HandleFunc("GET /readyz", s.handleReadyz)
	m.Handle("GET /metrics", b.metrics.handler())
	if opt.Pprof {
		pprofRoutes(m, auth)
	}
	pg.routes(m)
	if err := mfaRoutes(b, opt, auth, m); err != nil {
		return err
	}
	factorPages{pg}.routes(m)
	newAdminAPI(b, opt, ends).routes(m, auth)
	newLifecycle(b, opt, site, auth, ends).routes(m)
	gw := &gatewayServer{base: b, g: opt.Gateway, auth: auth, tokens: opt.Tokens}
	gw.routes(m)
	if o := opt.OIDC; o != nil && o.Providers != nil && o.Identities != nil {
		sso := &ssoServer{base: b, oidc: o, sessions: opt.Sessions, users: opt.Users, ends: ends}
		sso.routes(m)
	}
	if opt.Tokens != nil {
		o := newOAuthServer(b, opt.Tokens, opt.Accounts, s.op)
		o.routes(m, auth)
		if s.op != nil {
			s.op.login = pg.withSite(s.op.errs.site)
			s.op.routes(m)
		}
	}
	return nil
}

// probeMethods are the methods tried to tell 405 from 404 on a miss.
var probeMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// unmatched answers requests no route claims (the mux's catch-all "/"), in
// the contract's error form: 405 with Allow when the path exists for other
// methods, else 404. Only misses pay for the probing; a matched request is
// routed once.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range probeMethods {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" && pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.base.writeError(w, r, errf(codeMethodNotAllowed, "method %s is not allowed here", r.Method))
		return
	}
	s.base.writeError(w, r, errNotFound)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// IsTLS reports whether r reached the deployment over TLS, directly or
// through a trusted proxy (Options.TrustedProxies) that says so. app.Build
// gives it to the session cookie (session.CookieConfig.IsTLS), which is
// made before the Server, so that the cookie and the server agree.
func (s *Server) IsTLS(r *http.Request) bool { return s.isTLS(r) }

// isTLS reports whether r reached the deployment over TLS, directly or
// through a trusted proxy (the session cookie's Secure and __Host-).
func (s *Server) isTLS(r *http.Request) bool { return trustedProxies(s.opt.TrustedProxies).isTLS(r) }

// clientIP is the caller's address, for the access log.
func (s *Server) clientIP(r *http.Request) string {
	return trustedProxies(s.opt.TrustedProxies).clientIP(r)
}

// WaitBackchannel blocks until every back-channel logout delivery started so
// far has ended: for tests and graceful shutdown.
func (s *Server) WaitBackchannel() {
	if s.op != nil {
		s.op.p.Wait()
	}
}

// notFoundOr maps a missing user to the contract's 404.
func notFoundOr(err error) error {
	if errors.Is(err, account.ErrNotFound) {
		return errNotFound
	}
	return err
}
