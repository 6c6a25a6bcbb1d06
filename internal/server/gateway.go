package server

import (
	"fmt"
	"net/url"
	"sort"
	"time"

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
