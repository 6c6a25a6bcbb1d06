package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/server"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
)

// Issue 14 item 1: a configured OpenID Provider that cannot start is a
// start-up error, never a logged warning with the feature silently off.
func TestNew_ConfiguredProviderThatCannotStartIsAnError(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		provider  server.ProviderOptions
		noClients bool
		noTokens  bool
		want      string
	}{
		"code TTL over the maximum": {provider: server.ProviderOptions{CodeTTL: 11 * time.Minute}, want: "code TTL"},
		"no client registry":        {noClients: true, want: "client registry"},
		"no tokens":                 {noTokens: true, want: "Tokens"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			st := memstore.New(clk.Now)
			mgr, err := session.NewManager(session.Config{Store: st, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			tokens := newTokens(t, st, clk, st)
			if tc.noClients {
				tokens.Clients = nil
			}
			if tc.noTokens {
				tokens = nil
			}
			po := tc.provider
			po.Store = st
			s, err := server.New(server.Options{Sessions: mgr, Users: st, Tokens: tokens, Now: clk.Now, Provider: &po,
				Accounts: &account.Service{Store: st, Hasher: cheapHasher(), Now: clk.Now}})
			if err == nil {
				s.WaitBackchannel()
				t.Fatal("New started without the configured OpenID Provider")
			}
			if !strings.HasPrefix(err.Error(), "server: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want it to start with %q and name %q", err, "server: ", tc.want)
			}
		})
	}
}
