package server

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sessiond/sessiond/gateway"
	"github.com/sessiond/sessiond/internal/config"
)

// Identity headers: what /v1/authz answers with and the proxy sends
// upstream. Inbound copies are never trusted (see scrubInbound).
const (
	hdrUserID        = "X-User-Id"
	hdrUserEmail     = "X-User-Email"
	hdrUserRoles     = "X-User-Roles"
	hdrOrgID         = "X-Org-Id"
	hdrSessionID     = "X-Session-Id"
	hdrInternalToken = "X-Internal-Token"
)

// DefaultRecheck is how often a proxied WebSocket re-checks the credential
// it was opened with; a revoked session's connection is closed within it.
const DefaultRecheck = 5 * time.Second

// DefaultRouteTimeout bounds the wait for an upstream's response headers
// when a route sets no timeout.
const DefaultRouteTimeout = 30 * time.Second

// internalTokenTTL is the lifetime of the tokens the proxy sends upstream.
const internalTokenTTL = 60 * time.Second

// Gateway is the compiled gateway configuration: the forward-auth policy
// of /v1/authz and the routes of the reverse proxy. Build it with
// NewGateway and pass it in Options.Gateway; it is immutable and safe for
// concurrent use.
type Gateway struct {
	policy  *gateway.Policy
	routes  []*proxyRoute // longest prefix first, host-specific before any-host
	recheck time.Duration
	fold    bool // gateway.case_insensitive_paths
}

// GatewayOptions are the parts of a Gateway that do not come from the
// gateway.* keys.
type GatewayOptions struct {
	// Recheck is how often a proxied WebSocket re-checks its credential.
	// Default DefaultRecheck.
	Recheck time.Duration
}

// proxyRoute is one compiled gateway.routes entry.
type proxyRoute struct {
	name     string
	aud      string // aud of the internal token
	host     string // canonical host pattern, "" for any
	prefix   string // canonical path prefix
	methods  []string
	policy   *gateway.Policy // gateway.policies, then the route's own rule
	upstream *url.URL
	strip    bool
	jwt      bool
	timeout  time.Duration
}

// NewGateway compiles the gateway.* configuration. Errors name the key at
// fault; config.Validate reports the same problems earlier.
func NewGateway(cfg config.Gateway, opt GatewayOptions) (*Gateway, error) {
	g := &Gateway{recheck: opt.Recheck, fold: cfg.CaseInsensitivePaths}
	if g.recheck <= 0 {
		g.recheck = DefaultRecheck
	}
	c, err := gateway.Compile(cfg.Spec())
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	g.policy = c.Policy
	for _, cr := range c.Routes {
		rt := &proxyRoute{
			name: cr.Name, aud: cr.Name, host: cr.Host, prefix: cr.PathPrefix, methods: cr.Methods, policy: cr.Policy,
			upstream: cr.Upstream, strip: cr.StripPrefix, jwt: cr.InternalJWT, timeout: cr.Timeout,
		}
		if rt.timeout <= 0 {
			rt.timeout = DefaultRouteTimeout
		}
		g.routes = append(g.routes, rt)
	}
	sort.SliceStable(g.routes, func(i, j int) bool {
		a, b := g.routes[i], g.routes[j]
		if len(a.prefix) != len(b.prefix) {
			return len(a.prefix) > len(b.prefix)
		}
		return a.host != "" && b.host == ""
	})
	return g, nil
}

// NeedsTokens reports whether a route sends internal tokens, which need
// the token issuer (Options.Tokens).
func (g *Gateway) NeedsTokens() bool {
	for _, r := range g.routes {
		if r.jwt {
			return true
		}
	}
	return false
}

// checkPrefix refuses a route under base_url's path prefix: sessiond
// serves its own routes there (see origin.route), so the route would never
// be reached. g may be nil.
func (g *Gateway) checkPrefix(prefix string) error {
	if g == nil || prefix == "" {
		return nil
	}
	for _, r := range g.routes {
		if gateway.HasPathPrefix(r.prefix, prefix, true) {
			return fmt.Errorf("server: gateway.routes: path_prefix %q lies under base_url's path %q, where sessiond serves itself", r.prefix, prefix)
		}
	}
	return nil
}

// route returns the route for a canonical host and path, or nil.
func (g *Gateway) route(host, path string) *proxyRoute {
	for _, r := range g.routes {
		if gateway.MatchHost(r.host, host) && gateway.HasPathPrefix(path, r.prefix, g.fold) {
			return r
		}
	}
	return nil
}

// gatewayRoutes adds /v1/authz and the proxied prefixes to the mux.
func (s *Server) gatewayRoutes() {
	g := s.opt.Gateway
	if g == nil {
		g = &Gateway{recheck: DefaultRecheck}
	}
	authz := s.handleAuthz(g)
	s.mux.Handle("/v1/authz", authz)
	s.mux.Handle("/v1/authz/", authz)
	if len(g.routes) == 0 {
		return
	}
	if g.NeedsTokens() && s.opt.Tokens == nil {
		s.log.Error("gateway: a route asks for internal_jwt but access tokens are not available; its requests will fail (503)")
	}
	h := s.proxyHandler(g)
	// The mux only brings requests to the proxy handler, which routes on
	// the canonical path itself; it matches unescaped paths, so two
	// prefixes that differ only in escaping ("/a+", "/a%2B") share patterns.
	seen := map[string]bool{}
	for _, r := range g.routes {
		p, err := url.PathUnescape(r.prefix)
		if err != nil || seen[p] {
			continue
		}
		seen[p] = true
		s.mux.Handle(r.prefix, h)
		s.mux.Handle(r.prefix+"/", h)
	}
}

// original is the request a forward-auth call asks about.
type original struct {
	method  string
	rawHost string // as the client sent it, for the cross-origin check
	host    string // canonical
	path    string // canonical
	bare    bool   // the call is /v1/authz itself, so its query (rd=) is its own
}

var errAmbiguousOriginal = errf(codeForbidden, "the original request is ambiguous (both X-Original-URL and X-Forwarded-Uri, or a header given twice)")

// peerTrusted reports whether r's peer is a trusted proxy.
func (s *Server) peerTrusted(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err == nil && s.trusted(a.Unmap())
}

// single returns the one value of header k; more than one is ambiguous.
func single(h http.Header, k string) (string, error) {
	v := h.Values(k)
	switch len(v) {
	case 0:
		return "", nil
	case 1:
		return v[0], nil
	}
	return "", errAmbiguousOriginal
}

// authzOriginal works out the original request of a forward-auth call:
//
//   - /v1/authz/<path> (Envoy ext_authz with a path prefix): the method,
//     Host and path of the call itself, whoever sent it;
//   - /v1/authz from a trusted proxy: X-Original-URL and
//     X-Original-Method (nginx), or X-Forwarded-Uri, -Host and -Method
//     (Traefik, Caddy) — never both kinds;
//   - /v1/authz otherwise: the call's own method and Host, path "/".
func (s *Server) authzOriginal(r *http.Request) (original, error) {
	t, err := gateway.ParseTarget(r.RequestURI)
	if err != nil {
		return original{}, err
	}
	o := original{method: r.Method, rawHost: r.Host, path: "/"}
	rest, pathForm := strings.CutPrefix(t.Path, "/v1/authz/")
	o.bare = !pathForm
	if pathForm {
		o.path = "/" + rest
	} else if s.peerTrusted(r) {
		xou, err := single(r.Header, "X-Original-Url")
		if err != nil {
			return original{}, err
		}
		xfu, err := single(r.Header, "X-Forwarded-Uri")
		if err != nil {
			return original{}, err
		}
		var method string
		switch {
		case xou != "" && xfu != "":
			return original{}, errAmbiguousOriginal
		case xou != "":
			ot, err := gateway.ParseTarget(xou)
			if err != nil {
				return original{}, err
			}
			o.path = ot.Path
			if ot.Host != "" {
				o.rawHost = ot.Host
			}
			if method, err = single(r.Header, "X-Original-Method"); err != nil {
				return original{}, err
			}
		case xfu != "":
			ot, err := gateway.ParseTarget(xfu)
			if err != nil {
				return original{}, err
			}
			o.path = ot.Path
			if ot.Host != "" {
				o.rawHost = ot.Host
			}
			xfh, err := single(r.Header, "X-Forwarded-Host")
			if err != nil {
				return original{}, err
			}
			if xfh != "" {
				o.rawHost = xfh
			}
			if method, err = single(r.Header, "X-Forwarded-Method"); err != nil {
				return original{}, err
			}
		}
		if method != "" {
			if _, err := gateway.CheckRule(gateway.Rule{Methods: []string{method}}); err != nil {
				return original{}, errf(codeForbidden, "the original method is not an HTTP method")
			}
			o.method = method
		}
	}
	if o.path, err = gateway.CleanPath(o.path); err != nil {
		return original{}, err
	}
	if o.host, err = gateway.CleanHost(o.rawHost); err != nil {
		return original{}, err
	}
	return o, nil
}

// errUnderscoreIdentity refuses a forward-auth call that carries an
// identity header spelled with "_" (X_User_Id): the proxy passed the
// client's headers on, no proxy overwrites that spelling, and upstreams
// that read "_" as "-" would take it for the real one.
var errUnderscoreIdentity = errf(codeForbidden, "the request carries a header posing as an identity header")

// underscoreIdentity reports a header of h whose name has "_" and
// normalises to an identity header.
func underscoreIdentity(h http.Header) bool {
	for k := range h {
		if strings.Contains(k, "_") && gateway.IdentityHeader(k) {
			return true
		}
	}
	return false
}

// handleAuthz: any method, /v1/authz and /v1/authz/<path>. 200 with the
// identity headers, 401, 403 by policy or for an identity header spelled
// with "_", 302 to the login page for a browser with an allowed rd=, 503
// when a store fails (never an identity).
func (s *Server) handleAuthz(g *Gateway) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if underscoreIdentity(r.Header) {
			s.writeError(w, r, errUnderscoreIdentity)
			return
		}
		o, err := s.authzOriginal(r)
		if err != nil {
			if errors.Is(err, gateway.ErrPath) || errors.Is(err, gateway.ErrHost) {
				err = &apiError{Code: codeForbidden, Message: "the original request's path or host is refused", cause: err}
			}
			s.writeError(w, r, err)
			return
		}
		rule, _ := g.policy.Match(gateway.Request{Method: o.method, Host: o.host, Path: o.path})
		id, err := s.gatewayCheck(r, rule, o.method, o.rawHost, o.path)
		if err != nil {
			if o.bare && isUnauthorized(err) && wantsHTML(r) {
				if loc, ok := s.loginRedirect(r.URL.Query().Get("rd")); ok {
					w.Header().Set("Location", loc)
					w.WriteHeader(http.StatusFound)
					return
				}
			}
			s.writeError(w, r, err)
			return
		}
		var vals idHeaders
		if id != nil {
			if vals, err = identityValues(id); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		// Every identity header is always there, empty when it does not
		// apply (public rules): a proxy that copies them over the
		// request's own (Traefik, Envoy) then also overwrites a client's.
		vals.setAll(w.Header())
		w.WriteHeader(http.StatusOK)
	}
}

// isUnauthorized reports an error that answers 401.
func isUnauthorized(err error) bool { return toAPIError(err).Code == codeUnauthorized }

// wantsHTML reports a browser navigation (Accept: text/html).
func wantsHTML(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(strings.ToLower(v), "text/html") {
			return true
		}
	}
	return false
}

// loginRedirect returns the login page's URL (absolute, under base_url)
// with return_to=rd, when rd is an allowed return address.
func (s *Server) loginRedirect(rd string) (string, bool) {
	if rd == "" {
		return "", false
	}
	to, ok := s.origin.returnTo(rd, s.opt.AllowedRedirectHosts)
	if !ok {
		return "", false
	}
	return s.origin.abs("/login?return_to=" + url.QueryEscape(to)), true
}

var errDenied = errf(codeForbidden, "access denied by policy")

// gatewayCheck decides r under rule. It returns the caller's identity (nil
// for a public rule), or errUnauthorized, a 403 (deny, roles, org,
// cross-site), or a store failure (503). method, rawHost and path are
// those of the original request.
func (s *Server) gatewayCheck(r *http.Request, rule gateway.Rule, method, rawHost, path string) (*identity, error) {
	switch rule.Decide(nil) {
	case gateway.Allow:
		return nil, nil
	case gateway.Forbidden:
		return nil, errDenied
	}
	id, err := s.gatewayAuthenticate(r, rule.Credentials)
	if err != nil {
		return nil, err
	}
	switch rule.Decide(subjectOf(id)) {
	case gateway.Unauthenticated:
		return nil, errUnauthorized
	case gateway.Forbidden:
		return nil, errDenied
	}
	if id.Via == "cookie" && unsafeMethod(method) {
		chk := &http.Request{Method: method, Host: rawHost, Header: r.Header, URL: &url.URL{Path: path}}
		if err := s.csrf.Check(chk); err != nil {
			return nil, errCrossSite
		}
	}
	return id, nil
}

// gatewayAuthenticate authenticates r counting only the credentials
// creds allows: a bearer token on a cookie-only rule is ignored, and so is
// the cookie on a bearer-only one.
func (s *Server) gatewayAuthenticate(r *http.Request, creds gateway.Credentials) (*identity, error) {
	switch creds {
	case gateway.CookieOnly:
		if _, ok := r.Header["Authorization"]; ok {
			r = r.WithContext(r.Context())
			r.Header = r.Header.Clone()
			r.Header.Del("Authorization")
		}
	case gateway.BearerOnly:
		if _, ok := bearerToken(r); !ok {
			return nil, errUnauthorized
		}
	}
	id, err := s.authenticate(r)
	if err != nil {
		return nil, err
	}
	if id.User == nil {
		return nil, errUnauthorized
	}
	return id, nil
}

func subjectOf(id *identity) *gateway.Subject {
	return &gateway.Subject{Via: id.Via, Roles: id.User.Roles, OrgID: id.User.OrgID}
}

// idHeaders are the identity header values for one caller.
type idHeaders struct {
	userID, email, roles, org, sid string
}

var errUnsafeIdentity = errf(codeForbidden, "the identity cannot be passed on safely")

// identityValues returns the identity headers for id. A user ID, email,
// org or session ID with a control character (CR, LF, ...) refuses the
// request; so do bytes above 0x7E except in the email, which may hold
// printable UTF-8. A role that cannot be sent (a control character,
// non-ASCII, or a comma, which would split it in X-User-Roles) is left
// out: fewer roles never widen access.
func identityValues(id *identity) (idHeaders, error) {
	u := id.User
	v := idHeaders{userID: u.ID, email: u.Email, org: u.OrgID, sid: id.sessionID()}
	if v.userID == "" || !gateway.SafeValue(v.userID) || !gateway.SafeValue(v.org) || !gateway.SafeValue(v.sid) || !safeUTF8(v.email) {
		return idHeaders{}, &apiError{Code: errUnsafeIdentity.Code, Message: errUnsafeIdentity.Message,
			cause: fmt.Errorf("server: user %q has a value unfit for a header", strings.ToValidUTF8(u.ID, "?"))}
	}
	roles := make([]string, 0, len(u.Roles))
	for _, role := range u.Roles {
		if role != "" && gateway.SafeValue(role) && !strings.Contains(role, ",") {
			roles = append(roles, strings.TrimSpace(role))
		}
	}
	v.roles = strings.Join(roles, ",")
	return v, nil
}

// safeUTF8 accepts valid UTF-8 of printable characters and spaces.
func safeUTF8(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, c := range s {
		if c != ' ' && !unicode.IsPrint(c) {
			return false
		}
	}
	return strings.TrimSpace(s) == s
}

func (v idHeaders) pairs() [5][2]string {
	return [...][2]string{
		{hdrUserID, v.userID}, {hdrUserEmail, v.email}, {hdrUserRoles, v.roles}, {hdrOrgID, v.org}, {hdrSessionID, v.sid},
	}
}

// set writes the values into h; empty values are left out.
func (v idHeaders) set(h http.Header) {
	for _, kv := range v.pairs() {
		if kv[1] != "" {
			h[kv[0]] = []string{kv[1]}
		}
	}
}

// setAll writes every value into h, empty ones too.
func (v idHeaders) setAll(h http.Header) {
	for _, kv := range v.pairs() {
		h[kv[0]] = []string{kv[1]}
	}
}
