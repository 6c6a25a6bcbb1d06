package gateway_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/gateway"
)

// Issue 14 item 5: a gateway configuration is checked in one place, and
// every problem is reported under the key at fault.
func TestCompile_ErrorsKeyedByField(t *testing.T) {
	t.Parallel()
	route := func(prefix, upstream string) gateway.RouteConfig {
		return gateway.RouteConfig{PolicyConfig: gateway.PolicyConfig{PathPrefix: prefix}, Upstream: upstream}
	}
	named := func(name, prefix string) gateway.RouteConfig {
		r := route(prefix, "http://u")
		r.Name = name
		return r
	}
	for name, tc := range map[string]struct {
		cfg  gateway.Config
		want []string
	}{
		"policy action":      {gateway.Config{Policies: []gateway.PolicyConfig{{}, {Action: "allow"}}}, []string{"gateway.policies[1].action"}},
		"policy credentials": {gateway.Config{Policies: []gateway.PolicyConfig{{Credentials: "both"}}}, []string{"gateway.policies[0].credentials"}},
		"policy host":        {gateway.Config{Policies: []gateway.PolicyConfig{{Host: "*.com"}}}, []string{"gateway.policies[0].host"}},
		"policy roles":       {gateway.Config{Policies: []gateway.PolicyConfig{{Action: "public", Roles: []string{"a"}}}}, []string{"gateway.policies[0].roles"}},
		"route empty":        {gateway.Config{Routes: []gateway.RouteConfig{route("", "")}}, []string{"gateway.routes[0].path_prefix", "gateway.routes[0].upstream"}},
		"route reserved":     {gateway.Config{Routes: []gateway.RouteConfig{route("/ok", "http://u"), route("/v1/x", "http://u")}}, []string{"gateway.routes[1].path_prefix"}},
		"route upstream":     {gateway.Config{Routes: []gateway.RouteConfig{route("/a", "ftp://u"), route("/b", "http://u:p@u"), route("/c", "http://u:70000")}}, []string{"gateway.routes[0].upstream", "gateway.routes[1].upstream", "gateway.routes[2].upstream"}},
		"route method":       {gateway.Config{Routes: []gateway.RouteConfig{{PolicyConfig: gateway.PolicyConfig{PathPrefix: "/a", Methods: []string{"GET POST"}}, Upstream: "http://u"}}}, []string{"gateway.routes[0].methods"}},
		"duplicate prefix":   {gateway.Config{Routes: []gateway.RouteConfig{route("/a", "http://u"), route("/b", "http://u"), route("/a/", "http://v")}}, []string{"gateway.routes[2].path_prefix"}},
		"duplicate name":     {gateway.Config{Routes: []gateway.RouteConfig{named("n", "/a"), named("n", "/b")}}, []string{"gateway.routes[1].name"}},
		"unsafe name":        {gateway.Config{Routes: []gateway.RouteConfig{named("a,b", "/a")}}, []string{"gateway.routes[0].name"}},
		"negative timeout":   {gateway.Config{Routes: []gateway.RouteConfig{{PolicyConfig: gateway.PolicyConfig{PathPrefix: "/a"}, Upstream: "http://u", Timeout: -1}}}, []string{"gateway.routes[0].timeout"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := gateway.Compile(tc.cfg)
			if err == nil {
				t.Fatalf("compiled: %+v", c)
			}
			var keys []string
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				var fe *gateway.FieldError
				if !errors.As(e, &fe) {
					t.Fatalf("%v is not a *FieldError", e)
				}
				if fe.Msg == "" || e.Error() != fe.Key+": "+fe.Msg {
					t.Errorf("error %q: want %q and a message", e, fe.Key+": ")
				}
				keys = append(keys, fe.Key)
			}
			slices.Sort(keys)
			if diff := cmp.Diff(tc.want, keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

// A valid configuration compiles to canonical routes, in order, each with
// the policies followed by its own rule.
func TestCompile_Routes(t *testing.T) {
	t.Parallel()
	c, err := gateway.Compile(gateway.Config{
		Policies: []gateway.PolicyConfig{{PathPrefix: "/orders/public", Action: "public"}},
		Routes: []gateway.RouteConfig{
			{PolicyConfig: gateway.PolicyConfig{Host: "App.Example.com", PathPrefix: "/orders/", Methods: []string{"get"}, Roles: []string{"ops"}},
				Upstream: "http://orders:8080/", StripPrefix: true},
			{PolicyConfig: gateway.PolicyConfig{PathPrefix: "/b"}, Name: "bee", Upstream: "https://b", InternalJWT: true},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Routes) != 2 || c.Policy == nil {
		t.Fatalf("compiled %+v", c)
	}
	r := c.Routes[0]
	if r.Name != "http://orders:8080" || r.Host != "app.example.com" || r.PathPrefix != "/orders" ||
		!slices.Equal(r.Methods, []string{"GET"}) || r.Upstream.Host != "orders:8080" || !r.StripPrefix {
		t.Errorf("route 0: %+v", r)
	}
	if rules := r.Policy.Rules(); len(rules) != 2 || rules[1].Roles[0] != "ops" || len(rules[1].Methods) != 0 {
		t.Errorf("route 0 policy: %+v", rules)
	}
	if c.Routes[1].Name != "bee" || !c.Routes[1].InternalJWT {
		t.Errorf("route 1: %+v", c.Routes[1])
	}
}
