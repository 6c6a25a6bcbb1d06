package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLoadGateway(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, `
gateway:
  case_insensitive_paths: true
  policies:
    - path_prefix: /healthz
      action: public
    - host: "*.example.com"
      path_prefix: /admin
      methods: [GET, post]
      roles: [admin, ops]
      org: acme
      credentials: cookie
  routes:
    - name: orders
      path_prefix: /orders
      upstream: http://orders.internal:8080
      strip_prefix: true
      internal_jwt: true
      timeout: 5s
      credentials: bearer
`, nil, nil)
	want := Gateway{
		CaseInsensitivePaths: true,
		Policies: []GatewayPolicy{
			{PathPrefix: "/healthz", Action: "public", Credentials: "any"},
			{Host: "*.example.com", PathPrefix: "/admin", Methods: []string{"GET", "post"}, Action: "authenticated",
				Roles: []string{"admin", "ops"}, Org: "acme", Credentials: "cookie"},
		},
		Routes: []GatewayRoute{{
			Name: "orders", PathPrefix: "/orders", Upstream: "http://orders.internal:8080", StripPrefix: true,
			InternalJWT: true, Timeout: d("5s"), Action: "authenticated", Credentials: "bearer",
		}},
	}
	if diff := cmp.Diff(want, c.Gateway); diff != "" {
		t.Errorf("gateway (-want +got):\n%s", diff)
	}
	if again := mustLoad(t, c.String(), nil, nil); !cmp.Equal(c.Gateway, again.Gateway) {
		t.Errorf("gateway does not survive String and Load:\n%s", cmp.Diff(c.Gateway, again.Gateway))
	}
}

func TestLoadGatewayErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		want []string
	}{
		{"action", "gateway:\n  policies:\n    - action: allow\n",
			[]string{`gateway.policies[0].action: "allow" is not one of authenticated, public, deny`}},
		{"credentials", "gateway:\n  policies:\n    - credentials: both\n",
			[]string{`gateway.policies[0].credentials: "both" is not one of any, cookie, bearer`}},
		{"host", "gateway:\n  policies:\n    - host: https://app.example.com\n",
			[]string{`gateway.policies[0].host: "https://app.example.com" is not a hostname or *.domain`}},
		{"wildcard tld", "gateway:\n  policies:\n    - host: '*.com'\n", []string{`gateway.policies[0].host:`}},
		{"prefix relative", "gateway:\n  policies:\n    - path_prefix: admin\n",
			[]string{`gateway.policies[0].path_prefix: "admin" is not a usable path prefix: a path must start with /`}},
		{"prefix encoded slash", "gateway:\n  policies:\n    - path_prefix: /a%2Fb\n",
			[]string{`gateway.policies[0].path_prefix: "/a%2Fb" is not a usable path prefix: the path holds an encoded slash`}},
		{"method", "gateway:\n  policies:\n    - methods: [\"GET POST\"]\n", []string{`gateway.policies[0].methods: "GET POST" is not an HTTP method`}},
		{"roles on public", "gateway:\n  policies:\n    - action: public\n      roles: [admin]\n",
			[]string{`gateway.policies[0].roles: only an authenticated rule may require roles`}},
		{"role with comma", "gateway:\n  policies:\n    - roles: ['a,b']\n", []string{`gateway.policies[0].roles:`}},
		{"route without prefix and upstream", "gateway:\n  routes:\n    - name: x\n",
			[]string{`gateway.routes[0].path_prefix: is required`, `gateway.routes[0].upstream: is required`}},
		{"route shadows the API", "gateway:\n  routes:\n    - path_prefix: /v1/things\n      upstream: http://u\n",
			[]string{`gateway.routes[0].path_prefix: "/v1/things" covers paths sessiond serves itself`}},
		{"route catch-all", "gateway:\n  routes:\n    - path_prefix: /\n      upstream: http://u\n",
			[]string{`gateway.routes[0].path_prefix: "/" covers paths sessiond serves itself`}},
		{"route shadows login in another case", "gateway:\n  routes:\n    - path_prefix: /LOGIN\n      upstream: http://u\n",
			[]string{`gateway.routes[0].path_prefix: "/LOGIN" covers paths sessiond serves itself`}},
		{"route upstream", "gateway:\n  routes:\n    - path_prefix: /a\n      upstream: ftp://u\n",
			[]string{`gateway.routes[0].upstream: "ftp://u" is not an http(s) URL`}},
		{"route upstream userinfo", "gateway:\n  routes:\n    - path_prefix: /a\n      upstream: http://user:pw@u\n",
			[]string{`gateway.routes[0].upstream: "http://user:xxxxx@u" is not an http(s) URL`}},
		{"duplicate prefix", "gateway:\n  routes:\n    - path_prefix: /a\n      upstream: http://u\n    - path_prefix: /a/\n      upstream: http://v\n",
			[]string{`gateway.routes[1].path_prefix: "/a/" (host "") is also the prefix of gateway.routes[0]`}},
		{"duplicate name", "gateway:\n  routes:\n    - {name: n, path_prefix: /a, upstream: 'http://u'}\n    - {name: n, path_prefix: /b, upstream: 'http://v'}\n",
			[]string{`gateway.routes[1].name: "n" is also the name of gateway.routes[0]`}},
		{"name is sessiond's audience", "token:\n  audience: [api]\ngateway:\n  routes:\n    - {name: api, path_prefix: /a, upstream: 'http://u'}\n",
			[]string{`gateway.routes[0].name: "api" is also in token.audience`}},
		{"unknown route key", "gateway:\n  routes:\n    - {path_prefix: /a, upstream: 'http://u', strip: true}\n",
			[]string{`unknown key "gateway.routes[0].strip"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeConfig(t, tt.file), nil, nil)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}
