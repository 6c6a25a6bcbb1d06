package gateway

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Action is what a rule does with the requests it matches.
type Action int

const (
	// Authenticated (the zero value, and the default when no rule
	// matches) lets a request pass with a valid credential of an allowed
	// kind, and the rule's roles and organisation.
	Authenticated Action = iota
	// Public lets every request pass, with or without a credential; no
	// identity is established or passed on.
	Public
	// Deny refuses every request.
	Deny
)

var actionNames = [...]string{Authenticated: "authenticated", Public: "public", Deny: "deny"}

func (a Action) String() string {
	if a >= 0 && int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// ParseAction reads "authenticated", "public" or "deny" (any case); ""
// is Authenticated.
func ParseAction(s string) (Action, error) {
	if s == "" {
		return Authenticated, nil
	}
	for i, n := range actionNames {
		if strings.EqualFold(s, n) {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("gateway: %q is not an action (use authenticated, public or deny)", s)
}

// Credentials says which kinds of credential a rule counts.
type Credentials int

const (
	// AnyCredential (the zero value) counts the session cookie and bearer
	// access tokens.
	AnyCredential Credentials = iota
	// CookieOnly counts only the session cookie; a bearer token is ignored.
	CookieOnly
	// BearerOnly counts only "Authorization: Bearer"; the cookie is ignored.
	BearerOnly
)

var credentialNames = [...]string{AnyCredential: "any", CookieOnly: "cookie", BearerOnly: "bearer"}

func (c Credentials) String() string {
	if c >= 0 && int(c) < len(credentialNames) {
		return credentialNames[c]
	}
	return fmt.Sprintf("Credentials(%d)", int(c))
}

// ParseCredentials reads "any", "cookie" or "bearer" (any case); "" is
// AnyCredential.
func ParseCredentials(s string) (Credentials, error) {
	if s == "" {
		return AnyCredential, nil
	}
	for i, n := range credentialNames {
		if strings.EqualFold(s, n) {
			return Credentials(i), nil
		}
	}
	return 0, fmt.Errorf("gateway: %q is not a credential kind (use any, cookie or bearer)", s)
}

// Allows reports whether a credential of kind via ("cookie" or "bearer")
// counts under c.
func (c Credentials) Allows(via string) bool {
	switch c {
	case CookieOnly:
		return via == "cookie"
	case BearerOnly:
		return via == "bearer"
	}
	return via == "cookie" || via == "bearer"
}

// Rule is one entry of a policy. The zero Rule matches every request and
// requires authentication with any credential.
type Rule struct {
	// Host restricts the rule to one host ("app.example.com") or the
	// names below a domain ("*.example.com"); "" matches every host.
	Host string
	// PathPrefix restricts the rule to a path and the paths below it
	// (whole segments); "" or "/" matches every path.
	PathPrefix string
	// Methods restricts the rule to these methods (compared without
	// regard to case); empty matches every method.
	Methods []string
	// Action is what the rule does. Default Authenticated.
	Action Action
	// Roles, when set, requires any one of these roles (Authenticated
	// only).
	Roles []string
	// Org, when set, requires this organisation (Authenticated only).
	Org string
	// Credentials are the credential kinds that count (Authenticated
	// only). Default AnyCredential.
	Credentials Credentials
}

// RuleError is a problem with one rule given to NewPolicy.
type RuleError struct {
	// Index is the rule's position, from 0.
	Index int
	// Field names the problem field: "host", "path_prefix", "methods",
	// "action", "roles", "org" or "credentials" (the names of the config
	// keys).
	Field string
	Err   error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("gateway: rule %d: %s: %v", e.Index, e.Field, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }

// Options change how a Policy matches.
type Options struct {
	// CaseInsensitivePaths matches path prefixes without regard to ASCII
	// case, for backends that fold case (IIS, macOS file systems). Default
	// false: "/Admin" is not "/admin".
	CaseInsensitivePaths bool
}

// Policy is an ordered list of rules; the first rule that matches a request
// decides it. It is immutable and safe for concurrent use.
type Policy struct {
	rules []Rule
	fold  bool
}

// NewPolicy checks the rules and returns them as a Policy, each in
// canonical form (hosts and path prefixes cleaned, methods upper case).
// Errors are *RuleError: a bad host pattern or path prefix, a method that
// is not an HTTP token, an unknown action or credential kind, roles, org or
// credentials on a public or deny rule, or a role or org that is empty or
// holds a comma or a character outside printable ASCII.
func NewPolicy(rules []Rule, opt Options) (*Policy, error) {
	p := &Policy{rules: make([]Rule, len(rules)), fold: opt.CaseInsensitivePaths}
	var errs []error
	for i, r := range rules {
		c, err := CheckRule(r)
		if err != nil {
			var re *RuleError
			if errors.As(err, &re) {
				re.Index = i
			}
			errs = append(errs, err)
			continue
		}
		p.rules[i] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// CheckRule returns r in canonical form, or the first problem as a
// *RuleError with Index 0 (see NewPolicy).
func CheckRule(r Rule) (Rule, error) {
	bad := func(field string, err error) (Rule, error) { return Rule{}, &RuleError{Field: field, Err: err} }
	var err error
	if r.Host, err = ParseHostPattern(r.Host); err != nil {
		return bad("host", err)
	}
	if r.PathPrefix, err = CleanPrefix(r.PathPrefix); err != nil {
		return bad("path_prefix", err)
	}
	methods := make([]string, 0, len(r.Methods))
	for _, m := range r.Methods {
		if !isToken(m) {
			return bad("methods", fmt.Errorf("%q is not an HTTP method", m))
		}
		methods = append(methods, strings.ToUpper(m))
	}
	r.Methods = methods
	if r.Action < Authenticated || r.Action > Deny {
		return bad("action", fmt.Errorf("unknown action %d", int(r.Action)))
	}
	if r.Credentials < AnyCredential || r.Credentials > BearerOnly {
		return bad("credentials", fmt.Errorf("unknown credential kind %d", int(r.Credentials)))
	}
	if r.Action != Authenticated {
		switch {
		case len(r.Roles) > 0:
			return bad("roles", fmt.Errorf("only an authenticated rule may require roles (this one is %s)", r.Action))
		case r.Org != "":
			return bad("org", fmt.Errorf("only an authenticated rule may require an org (this one is %s)", r.Action))
		case r.Credentials != AnyCredential:
			return bad("credentials", fmt.Errorf("only an authenticated rule may restrict credentials (this one is %s)", r.Action))
		}
	}
	for _, role := range r.Roles {
		if !SafeValue(role) || role == "" || strings.Contains(role, ",") {
			return bad("roles", fmt.Errorf("%q is not a role name (printable ASCII without commas)", role))
		}
	}
	r.Roles = slices.Clone(r.Roles)
	if r.Org != "" && !SafeValue(r.Org) {
		return bad("org", fmt.Errorf("%q is not an org ID (printable ASCII)", r.Org))
	}
	return r, nil
}

// isToken reports an RFC 9110 token (the syntax of a method).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			continue
		}
		switch c {
		case '!', '#', '$', '%', '&', '\'', '*', '+', '^', '`', '|':
			continue
		}
		return false
	}
	return true
}

// SafeValue reports whether s may be sent as an HTTP header value as it
// is: printable ASCII and spaces only (no CR, LF, other control characters
// or bytes above 0x7E), without leading or trailing space.
func SafeValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return s == "" || s[0] != ' ' && s[len(s)-1] != ' '
}

// Rules returns a copy of the policy's rules in canonical form.
func (p *Policy) Rules() []Rule {
	out := make([]Rule, len(p.rules))
	for i, r := range p.rules {
		r.Methods = slices.Clone(r.Methods)
		r.Roles = slices.Clone(r.Roles)
		out[i] = r
	}
	return out
}

// Request is what a policy matches on: the method, the canonical host
// (CleanHost) and the canonical path (CleanPath).
type Request struct {
	Method string
	Host   string
	Path   string
}

// DefaultRule is what decides a request no rule matches: authentication
// with any credential.
var DefaultRule = Rule{PathPrefix: "/"}

// Match returns the first rule that matches req and its index, or
// DefaultRule and -1. A nil Policy has no rules.
func (p *Policy) Match(req Request) (Rule, int) {
	if p != nil {
		for i, r := range p.rules {
			if r.matches(req, p.fold) {
				return r, i
			}
		}
	}
	return DefaultRule, -1
}

func (r *Rule) matches(req Request, fold bool) bool {
	if r.Host != "" && !MatchHost(r.Host, req.Host) {
		return false
	}
	if len(r.Methods) > 0 && !slices.ContainsFunc(r.Methods, func(m string) bool { return strings.EqualFold(m, req.Method) }) {
		return false
	}
	return HasPathPrefix(req.Path, r.PathPrefix, fold)
}

// Subject is who a request is authenticated as, for Rule.Decide.
type Subject struct {
	// Via is the credential that authenticated it: "cookie" or "bearer".
	Via string
	// Roles are the subject's roles.
	Roles []string
	// OrgID is the subject's organisation.
	OrgID string
}

// Decision is the outcome of Rule.Decide.
type Decision int

const (
	// Allow lets the request pass.
	Allow Decision = iota
	// Unauthenticated refuses it for want of a credential that counts
	// (HTTP 401).
	Unauthenticated
	// Forbidden refuses it whoever is asking (HTTP 403).
	Forbidden
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Unauthenticated:
		return "unauthenticated"
	case Forbidden:
		return "forbidden"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// NeedsIdentity reports whether deciding under r needs the caller's
// identity (the rule is Authenticated).
func (r Rule) NeedsIdentity() bool { return r.Action == Authenticated }

// Decide applies r to the caller s (nil: no valid credential): Public
// allows, Deny forbids; Authenticated needs s with a credential that
// counts (else Unauthenticated), then any one of the roles and the org
// (else Forbidden).
func (r Rule) Decide(s *Subject) Decision {
	switch r.Action {
	case Public:
		return Allow
	case Deny:
		return Forbidden
	}
	if s == nil || !r.Credentials.Allows(s.Via) {
		return Unauthenticated
	}
	if len(r.Roles) > 0 && !slices.ContainsFunc(r.Roles, func(role string) bool { return slices.Contains(s.Roles, role) }) {
		return Forbidden
	}
	if r.Org != "" && r.Org != s.OrgID {
		return Forbidden
	}
	return Allow
}

// reserved are the top-level paths sessiond serves itself (the API, OAuth
// and OpenID metadata, probes, pages and their assets).
var reserved = []string{
	"/v1", "/.well-known", "/healthz", "/readyz", "/metrics", "/login", "/logout", "/account", "/debug",
	"/static", "/assets", "/favicon.ico", "/robots.txt", "/oauth2",
}

// Reserved reports whether a proxy route at the canonical prefix would
// cover a path sessiond serves itself: "/" covers everything, "/v1/x" lies
// under the API. Case is ignored, so that no spelling slips through.
func Reserved(prefix string) bool {
	if strings.TrimSuffix(prefix, "/") == "" {
		return true
	}
	for _, r := range reserved {
		if HasPathPrefix(prefix, r, true) {
			return true
		}
	}
	return false
}
