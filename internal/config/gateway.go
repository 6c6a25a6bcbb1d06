package config

import "github.com/sessiond/sessiond/gateway"

// Spec returns the gateway.* keys in the form gateway.Compile checks and
// compiles, which both Validate and the server use.
func (g Gateway) Spec() gateway.Config {
	out := gateway.Config{CaseInsensitivePaths: g.CaseInsensitivePaths}
	for _, p := range g.Policies {
		out.Policies = append(out.Policies, gateway.PolicyConfig{Host: p.Host, PathPrefix: p.PathPrefix, Methods: p.Methods,
			Action: p.Action, Credentials: p.Credentials, Roles: p.Roles, Org: p.Org})
	}
	for _, r := range g.Routes {
		out.Routes = append(out.Routes, gateway.RouteConfig{
			PolicyConfig: gateway.PolicyConfig{Host: r.Host, PathPrefix: r.PathPrefix, Methods: r.Methods,
				Action: r.Action, Credentials: r.Credentials, Roles: r.Roles, Org: r.Org},
			Name: r.Name, Upstream: r.Upstream, StripPrefix: r.StripPrefix, InternalJWT: r.InternalJWT, Timeout: r.Timeout.Duration,
		})
	}
	return out
}
