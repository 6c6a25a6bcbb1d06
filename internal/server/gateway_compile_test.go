package server_test

import (
	"strings"
	"testing"

	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/server"
)

// Issue 14 item 5: the server and the configuration check refuse a gateway
// configuration with the same errors, keyed by field, because both compile
// it with gateway.Compile. Route names used to be checked only by the
// configuration.
func TestNewGateway_SameKeyedErrorsAsConfig(t *testing.T) {
	t.Parallel()
	route := func(name, prefix, upstream string) config.GatewayRoute {
		return config.GatewayRoute{Name: name, PathPrefix: prefix, Upstream: upstream, Action: "authenticated", Credentials: "any"}
	}
	for name, tc := range map[string]struct {
		gw   config.Gateway
		want string
	}{
		"unsafe name":      {config.Gateway{Routes: []config.GatewayRoute{route("a,b", "/a", "http://u")}}, "gateway.routes[0].name: "},
		"duplicate name":   {config.Gateway{Routes: []config.GatewayRoute{route("n", "/a", "http://u"), route("n", "/b", "http://u")}}, "gateway.routes[1].name: "},
		"duplicate prefix": {config.Gateway{Routes: []config.GatewayRoute{route("", "/a", "http://u"), route("", "/a/", "http://v")}}, "gateway.routes[1].path_prefix: "},
		"reserved prefix":  {config.Gateway{Routes: []config.GatewayRoute{route("", "/v1/x", "http://u")}}, "gateway.routes[0].path_prefix: "},
		"upstream":         {config.Gateway{Routes: []config.GatewayRoute{route("", "/a", "http://u:p@u")}}, "gateway.routes[0].upstream: "},
		"policy action":    {config.Gateway{Policies: []config.GatewayPolicy{{Action: "allow", Credentials: "any"}}}, "gateway.policies[0].action: "},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := server.NewGateway(tc.gw, server.GatewayOptions{})
			if err == nil {
				t.Fatal("NewGateway succeeded")
			}
			got, ok := strings.CutPrefix(err.Error(), "server: ")
			if !ok || !strings.HasPrefix(got, tc.want) {
				t.Fatalf("NewGateway: %q, want %q", err, "server: "+tc.want+"...")
			}
			cfg, err := config.Load("", nil, map[string]string{"data": t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Gateway = tc.gw
			verr := cfg.Validate()
			if verr == nil || !strings.Contains(verr.Error(), "config: "+got) {
				t.Fatalf("config.Validate: %v\nwant it to hold %q", verr, "config: "+got)
			}
		})
	}
}
