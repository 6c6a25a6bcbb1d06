package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/internal/redact"
)

// PolicyConfig is one gateway.policies entry as written in the
// configuration: the fields of a Rule, action and credentials by name.
type PolicyConfig struct {
	Host, PathPrefix    string
	Methods             []string
	Action, Credentials string // "" means authenticated, any
	Roles               []string
	Org                 string
}

// RouteConfig is one gateway.routes entry as written in the configuration.
type RouteConfig struct {
	PolicyConfig
	Name, Upstream string
	StripPrefix    bool
	InternalJWT    bool
	Timeout        time.Duration // 0: the server's default
}

// Config is the gateway.* configuration as written.
type Config struct {
	Policies             []PolicyConfig
	Routes               []RouteConfig
	CaseInsensitivePaths bool
}

// Route is one compiled gateway.routes entry.
type Route struct {
	// Name is the route's name: as configured, else the upstream URL as
	// written, without a trailing slash. It names the route in metrics and
	// is the audience of its internal tokens.
	Name string
	// Host and PathPrefix are in canonical form (see CheckRule).
	Host, PathPrefix string
	// Methods are the methods the route proxies, upper case; empty: all.
	Methods []string
	// Policy is gateway.policies followed by the route's own rule.
	Policy *Policy
	// Upstream is the http(s) URL requests are proxied to.
	Upstream    *url.URL
	StripPrefix bool
	InternalJWT bool
	Timeout     time.Duration
}

// Compiled is a checked gateway configuration: the forward-auth policy and
// the routes, in configuration order. It is immutable.
type Compiled struct {
	Policy *Policy
	Routes []Route
}

// FieldError is one problem of a Config, keyed by the configuration key at
// fault, such as "gateway.routes[2].path_prefix".
type FieldError struct {
	Key, Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// Compile checks cfg and compiles it. It reports every problem found, each
// a *FieldError, joined with errors.Join; the configuration check and the
// server both use it, so that a configuration is checked one way.
func Compile(cfg Config) (*Compiled, error) {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	opt := Options{CaseInsensitivePaths: cfg.CaseInsensitivePaths}
	rules := make([]Rule, 0, len(cfg.Policies))
	for i, p := range cfg.Policies {
		if r, ok := compileRule(fmt.Sprintf("gateway.policies[%d]", i), p, bad); ok {
			rules = append(rules, r)
		}
	}
	out := &Compiled{}
	if len(errs) == 0 {
		var err error
		if out.Policy, err = NewPolicy(rules, opt); err != nil {
			bad("gateway.policies", "%s", strings.TrimPrefix(err.Error(), "gateway: "))
		}
	}
	names := map[string]int{}
	prefixes := map[string]int{}
	for i, rc := range cfg.Routes {
		key := fmt.Sprintf("gateway.routes[%d]", i)
		rule, ok := compileRule(key, rc.PolicyConfig, bad)
		switch {
		case rc.PathPrefix == "":
			bad(key+".path_prefix", "is required (e.g. /orders)")
		case ok && Reserved(rule.PathPrefix):
			bad(key+".path_prefix", "%q covers paths sessiond serves itself (/, /v1, /.well-known, /login, /account, /healthz, ...); use a prefix of its own, e.g. /app", rc.PathPrefix)
		case ok:
			id := rule.Host + " " + rule.PathPrefix
			if j, dup := prefixes[id]; dup {
				bad(key+".path_prefix", "%q (host %q) is also the prefix of gateway.routes[%d]; prefixes must differ", rc.PathPrefix, rc.Host, j)
			}
			prefixes[id] = i
		}
		up, upOK := upstreamURL(rc.Upstream)
		if rc.Upstream == "" {
			bad(key+".upstream", "is required (an http(s) URL, e.g. http://orders.internal:8080)")
		} else if !upOK {
			bad(key+".upstream", "%q is not an http(s) URL without user info, query or fragment (e.g. http://orders.internal:8080)", redact.URL(rc.Upstream))
		}
		if rc.Name != "" {
			if !SafeValue(rc.Name) || strings.ContainsAny(rc.Name, " ,") {
				bad(key+".name", "%q may hold only printable ASCII without spaces or commas", rc.Name)
			} else if j, dup := names[rc.Name]; dup {
				bad(key+".name", "%q is also the name of gateway.routes[%d]; names must differ", rc.Name, j)
			} else {
				names[rc.Name] = i
			}
		}
		if rc.Timeout < 0 {
			bad(key+".timeout", "must be a positive duration (like 30s)")
		}
		if len(errs) > 0 {
			continue
		}
		methods := rule.Methods
		rule.Methods = nil // the route's methods choose the route; its rule covers them all
		pol, err := NewPolicy(append(append([]Rule(nil), rules...), rule), opt)
		if err != nil {
			bad(key, "%s", strings.TrimPrefix(err.Error(), "gateway: "))
			continue
		}
		name := rc.Name
		if name == "" {
			name = strings.TrimSuffix(rc.Upstream, "/")
		}
		out.Routes = append(out.Routes, Route{Name: name, Host: rule.Host, PathPrefix: rule.PathPrefix, Methods: methods,
			Policy: pol, Upstream: up, StripPrefix: rc.StripPrefix, InternalJWT: rc.InternalJWT, Timeout: rc.Timeout})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// compileRule checks the policy fields of a policy or route at key,
// reporting each problem to bad, and returns the rule in canonical form.
func compileRule(key string, p PolicyConfig, bad func(key, format string, args ...any)) (Rule, bool) {
	a, errA := ParseAction(p.Action)
	if errA != nil {
		bad(key+".action", "%q is not one of authenticated, public, deny", p.Action)
	}
	cr, errC := ParseCredentials(p.Credentials)
	if errC != nil {
		bad(key+".credentials", "%q is not one of any, cookie, bearer", p.Credentials)
	}
	if errA != nil || errC != nil {
		return Rule{}, false
	}
	r, err := CheckRule(Rule{Host: p.Host, PathPrefix: p.PathPrefix, Methods: p.Methods, Action: a, Roles: p.Roles, Org: p.Org, Credentials: cr})
	var re *RuleError
	if errors.As(err, &re) {
		msg := re.Err.Error()
		switch re.Field {
		case "host":
			msg = fmt.Sprintf("%q is not a hostname or *.domain (no scheme, port or path; e.g. app.example.com or *.example.com)", p.Host)
		case "path_prefix":
			msg = fmt.Sprintf("%q is not a usable path prefix: %s (e.g. /admin)", p.PathPrefix, strings.TrimPrefix(msg, "gateway: path refused: "))
		}
		bad(key+"."+re.Field, "%s", strings.TrimPrefix(msg, "gateway: "))
		return Rule{}, false
	}
	return r, err == nil
}

// upstreamURL parses an upstream: an absolute http(s) URL with a valid host
// and port, and no user info, query or fragment.
func upstreamURL(s string) (*url.URL, bool) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" ||
		u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return nil, false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, false
		}
	}
	if h, err := CleanHost(u.Host); err != nil || h == "" {
		return nil, false
	}
	return u, true
}
