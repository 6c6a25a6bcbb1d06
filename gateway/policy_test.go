package gateway

import (
	"errors"
	"strings"
	"testing"
)

func mustPolicy(t *testing.T, opt Options, rules ...Rule) *Policy {
	t.Helper()
	p, err := NewPolicy(rules, opt)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPolicy_FirstMatchWins(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, Options{},
		Rule{PathPrefix: "/health", Action: Public},
		Rule{PathPrefix: "/admin", Roles: []string{"admin"}},
		Rule{PathPrefix: "/admin/public", Action: Public}, // shadowed by the rule above
		Rule{Host: "*.internal.example.com", Action: Deny},
		Rule{Host: "api.example.com", PathPrefix: "/v2", Methods: []string{"get", "HEAD"}, Credentials: BearerOnly},
		Rule{Host: "api.example.com", PathPrefix: "/v2", Action: Deny},
		Rule{PathPrefix: "/org", Org: "acme", Credentials: CookieOnly},
	)
	tests := []struct {
		method, host, path string
		want               int
	}{
		{"GET", "app.example.com", "/health", 0},
		{"POST", "app.example.com", "/health/deep", 0},
		{"GET", "app.example.com", "/healthz", -1},
		{"GET", "app.example.com", "/admin", 1},
		{"GET", "app.example.com", "/admin/public/x", 1},
		{"GET", "db.internal.example.com", "/x", 3},
		{"GET", "internal.example.com", "/x", -1},
		{"GET", "api.example.com", "/v2/items", 4},
		{"get", "api.example.com", "/v2/items", 4},
		{"DELETE", "api.example.com", "/v2/items", 5},
		{"GET", "api.example.com", "/v20", -1},
		{"GET", "app.example.com", "/org/x", 6},
		{"GET", "app.example.com", "/", -1},
	}
	for _, tt := range tests {
		r, i := p.Match(Request{Method: tt.method, Host: tt.host, Path: tt.path})
		if i != tt.want {
			t.Errorf("Match(%s %s%s) = rule %d, want %d", tt.method, tt.host, tt.path, i, tt.want)
		}
		if i == -1 && (r.Action != Authenticated || r.Credentials != AnyCredential || len(r.Roles) > 0) {
			t.Errorf("default rule %+v is not plain authenticated", r)
		}
	}
}

func TestPolicy_CaseInsensitivePaths(t *testing.T) {
	t.Parallel()
	rules := []Rule{{PathPrefix: "/admin", Action: Deny}}
	sensitive := mustPolicy(t, Options{}, rules...)
	folding := mustPolicy(t, Options{CaseInsensitivePaths: true}, rules...)
	req := Request{Method: "GET", Host: "h", Path: "/ADMIN/x"}
	if _, i := sensitive.Match(req); i != -1 {
		t.Errorf("case-sensitive policy matched %s", req.Path)
	}
	if _, i := folding.Match(req); i != 0 {
		t.Errorf("case-insensitive policy did not match %s", req.Path)
	}
}

func TestPolicy_Canonical(t *testing.T) {
	t.Parallel()
	p := mustPolicy(t, Options{}, Rule{Host: "App.Example.com", PathPrefix: "//api/%761/", Methods: []string{"get"}})
	r := p.Rules()[0]
	if r.Host != "app.example.com" || r.PathPrefix != "/api/v1" || r.Methods[0] != "GET" {
		t.Fatalf("rule not canonical: %+v", r)
	}
	if _, i := p.Match(Request{Method: "GET", Host: "app.example.com", Path: "/api/v1/x"}); i != 0 {
		t.Fatal("canonical rule does not match")
	}
	var nilPolicy *Policy
	if _, i := nilPolicy.Match(Request{Path: "/"}); i != -1 {
		t.Fatal("nil policy matched")
	}
}

func TestNewPolicy_Refuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule  Rule
		field string
	}{
		{Rule{Host: "*.com"}, "host"},
		{Rule{Host: "a.example.com:443"}, "host"},
		{Rule{PathPrefix: "admin"}, "path_prefix"},
		{Rule{PathPrefix: "/a%2Fb"}, "path_prefix"},
		{Rule{PathPrefix: "/a;b"}, "path_prefix"},
		{Rule{Methods: []string{"GET POST"}}, "methods"},
		{Rule{Methods: []string{""}}, "methods"},
		{Rule{Action: Action(7)}, "action"},
		{Rule{Credentials: Credentials(9)}, "credentials"},
		{Rule{Action: Public, Roles: []string{"admin"}}, "roles"},
		{Rule{Action: Deny, Org: "acme"}, "org"},
		{Rule{Action: Public, Credentials: CookieOnly}, "credentials"},
		{Rule{Roles: []string{"a,b"}}, "roles"},
		{Rule{Roles: []string{""}}, "roles"},
		{Rule{Roles: []string{"adm\r\nin"}}, "roles"},
		{Rule{Org: "ac\nme"}, "org"},
	}
	for _, tt := range tests {
		_, err := NewPolicy([]Rule{{}, tt.rule}, Options{})
		var re *RuleError
		if !errors.As(err, &re) || re.Index != 1 || re.Field != tt.field {
			t.Errorf("NewPolicy(%+v) = %v; want a RuleError for rule 1 field %s", tt.rule, err, tt.field)
		}
		if err != nil && !strings.Contains(err.Error(), "rule 1: "+tt.field) {
			t.Errorf("error %q does not name rule 1 and %s", err, tt.field)
		}
	}
}

func TestParseEnums(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]Action{"": Authenticated, "authenticated": Authenticated, "PUBLIC": Public, "deny": Deny} {
		if got, err := ParseAction(s); err != nil || got != want {
			t.Errorf("ParseAction(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseAction("allow"); err == nil {
		t.Error("ParseAction(allow) succeeded")
	}
	for s, want := range map[string]Credentials{"": AnyCredential, "any": AnyCredential, "Cookie": CookieOnly, "bearer": BearerOnly} {
		if got, err := ParseCredentials(s); err != nil || got != want {
			t.Errorf("ParseCredentials(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseCredentials("both"); err == nil {
		t.Error("ParseCredentials(both) succeeded")
	}
	if Public.String() != "public" || BearerOnly.String() != "bearer" || Forbidden.String() != "forbidden" {
		t.Error("String methods")
	}
}

func TestRuleDecide(t *testing.T) {
	t.Parallel()
	cookieAdmin := &Subject{Via: "cookie", Roles: []string{"user", "admin"}, OrgID: "acme"}
	bearerUser := &Subject{Via: "bearer", Roles: []string{"user"}, OrgID: "other"}
	tests := []struct {
		name string
		rule Rule
		sub  *Subject
		want Decision
	}{
		{"public anonymous", Rule{Action: Public}, nil, Allow},
		{"deny admin", Rule{Action: Deny}, cookieAdmin, Forbidden},
		{"deny anonymous", Rule{Action: Deny}, nil, Forbidden},
		{"authenticated anonymous", Rule{}, nil, Unauthenticated},
		{"authenticated cookie", Rule{}, cookieAdmin, Allow},
		{"authenticated bearer", Rule{}, bearerUser, Allow},
		{"cookie only, bearer", Rule{Credentials: CookieOnly}, bearerUser, Unauthenticated},
		{"bearer only, cookie", Rule{Credentials: BearerOnly}, cookieAdmin, Unauthenticated},
		{"bearer only, bearer", Rule{Credentials: BearerOnly}, bearerUser, Allow},
		{"unknown via", Rule{}, &Subject{Via: "basic"}, Unauthenticated},
		{"role any-of hit", Rule{Roles: []string{"ops", "admin"}}, cookieAdmin, Allow},
		{"role miss", Rule{Roles: []string{"admin"}}, bearerUser, Forbidden},
		{"org hit", Rule{Org: "acme"}, cookieAdmin, Allow},
		{"org miss", Rule{Org: "acme"}, bearerUser, Forbidden},
		{"org and role", Rule{Org: "acme", Roles: []string{"admin"}}, cookieAdmin, Allow},
		{"empty org never matches a set org", Rule{Org: "acme"}, &Subject{Via: "cookie"}, Forbidden},
	}
	for _, tt := range tests {
		if got := tt.rule.Decide(tt.sub); got != tt.want {
			t.Errorf("%s: Decide = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSafeValue(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "abc", "a b", "user@example.com", "!~"} {
		if !SafeValue(s) {
			t.Errorf("SafeValue(%q) = false", s)
		}
	}
	for _, s := range []string{"a\r\nb", "a\nb", "a\x00", "\x7f", "é", " lead", "trail ", "a\tb"} {
		if SafeValue(s) {
			t.Errorf("SafeValue(%q) = true", s)
		}
	}
}

func TestReserved(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{
		"/": true, "": true, "/v1": true, "/v1/authz": true, "/V1/x": true, "/.well-known/x": true, "/login": true,
		"/app": false, "/v10": false, "/loginx": false, "/api/v1": false,
	} {
		if got := Reserved(p); got != want {
			t.Errorf("Reserved(%q) = %v, want %v", p, got, want)
		}
	}
}
