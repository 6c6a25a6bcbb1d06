package server

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/client"
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
	// OIDC enables single sign-on with external OpenID providers. Nil: off.
	OIDC *OIDC
	// Provider makes sessiond an OpenID Provider for registered clients
	// (/v1/authorize, /v1/userinfo, /v1/end-session, back-channel logout).
	// It needs Tokens. Nil: off.
	Provider *ProviderOptions
	// Collectors are further metrics served at /metrics, such as the
	// stores' near-cache counters that app.Build adds. Nil: none.
	Collectors []prometheus.Collector
	// Now is the clock for what the pages show ("5 minutes ago"). Default
	// time.Now.
	Now func() time.Time
}

// Server is the HTTP API. Create it with New; it is an http.Handler.
type Server struct {
	opt       Options
	log       *slog.Logger
	auditLog  *slog.Logger
	accessLog bool
	metrics   *metrics
	csrf      *http.CrossOriginProtection
	mux       *http.ServeMux
	handler   http.Handler

	// extraGrants are token-endpoint grants added by other parts of the
	// server (client credentials, token exchange); discoveryExtra are
	// metadata they add to discovery.
	extraGrants    map[string]grantHandler
	discoveryExtra map[string]any

	// op is the OpenID Provider (Options.Provider); nil when off.
	op *opServer

	// origin is sessiond's own address, from Options.BaseURL.
	origin origin
}

// grantHandler serves one grant_type for an authenticated client.
type grantHandler func(r *http.Request, form url.Values, cl *client.Client) (tokenResponse, error)

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
	s := &Server{opt: opt, origin: own, log: opt.Log, auditLog: opt.Audit, accessLog: opt.AccessLog,
		metrics: newMetrics(), csrf: http.NewCrossOriginProtection(), mux: http.NewServeMux()}
	if s.log == nil {
		s.log = discard
	}
	if s.auditLog == nil {
		s.auditLog = discard
	}
	s.metrics.reg.MustRegister(opt.Collectors...)
	if opt.Tokens != nil {
		s.serviceGrants()
	}
	if err := s.routes(); err != nil {
		return nil, err
	}
	s.mux.HandleFunc("/", s.unmatched)
	s.handler = s.outer(s.mux)
	return s, nil
}

func (s *Server) routes() error {
	m := s.mux
	m.HandleFunc("POST /v1/login", s.handleLogin)
	m.HandleFunc("POST /v1/logout", s.authed(s.handleLogout))
	m.HandleFunc("GET /v1/whoami", s.authed(s.handleWhoami))
	m.HandleFunc("GET /v1/sessions", s.authed(s.handleListSessions))
	m.HandleFunc("DELETE /v1/sessions", s.authed(s.handleDeleteSessions))
	m.HandleFunc("DELETE /v1/sessions/{id}", s.authed(s.handleDeleteSession))
	m.HandleFunc("POST /v1/password", s.authed(s.handlePassword))
	m.HandleFunc("GET /v1/session/data", s.authed(s.handleGetData))
	m.HandleFunc("PATCH /v1/session/data", s.authed(s.handlePatchData))
	m.HandleFunc("POST /v1/admin/users", s.admin(s.handleAdminCreateUser))
	m.HandleFunc("PATCH /v1/admin/users/{id}", s.admin(s.handleAdminPatchUser))
	m.HandleFunc("GET /v1/admin/users/{id}/sessions", s.admin(s.handleAdminListSessions))
	m.HandleFunc("DELETE /v1/admin/users/{id}/sessions", s.admin(s.handleAdminDeleteSessions))
	m.HandleFunc("GET /healthz", s.handleHealthz)
	m.HandleFunc("GET /readyz", s.handleReadyz)
	m.Handle("GET /metrics", s.metrics.handler())
	s.pprofRoutes()
	s.pageRoutes()
	s.gatewayRoutes()
	s.oidcRoutes()
	if s.opt.Tokens != nil {
		m.HandleFunc("POST /v1/token", s.handleToken)
		m.HandleFunc("POST /v1/revoke", s.handleRevoke)
		m.HandleFunc("POST /v1/introspect", s.handleIntrospect)
		m.HandleFunc("GET /.well-known/jwks.json", s.handleJWKS)
		m.HandleFunc("GET /.well-known/openid-configuration", s.handleDiscovery)
		m.HandleFunc("POST /v1/admin/keys/rotate", s.admin(s.handleRotateKeys))
		return s.providerRoutes()
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
		s.writeError(w, r, errf(codeMethodNotAllowed, "method %s is not allowed here", r.Method))
		return
	}
	s.writeError(w, r, errNotFound)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// IsTLS reports whether r reached the deployment over TLS, directly or
// through a trusted proxy (Options.TrustedProxies) that says so. app.Build
// gives it to the session cookie (session.CookieConfig.IsTLS), which is
// made before the Server, so that the cookie and the server agree.
func (s *Server) IsTLS(r *http.Request) bool { return s.isTLS(r) }

func (s *Server) audit(r *http.Request, event string, attrs ...any) {
	attrs = append([]any{slog.String("event", event), slog.String("request_id", requestID(r.Context())),
		slog.String("ip", s.clientIP(r))}, attrs...)
	s.auditLog.InfoContext(r.Context(), "audit", attrs...)
}

func notFoundOr(err error) error {
	if errors.Is(err, account.ErrNotFound) {
		return errNotFound
	}
	return err
}
