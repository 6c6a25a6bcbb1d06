package op_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/token"
)

// A client removed while a back-channel logout to it is being retried gets
// no further attempt: its registration, and so its logout URI, is gone.
func TestBackchannel_RemovedClientGetsNoMoreDeliveries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := memstore.New(nil)
	var hits atomic.Int32
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			// The operator runs `sessiond client remove` while this first
			// delivery is under way; the client answers 503, which would
			// be retried.
			if err := st.DeleteClient(r.Context(), "rp"); err != nil {
				t.Errorf("delete client: %v", err)
			}
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(rp.Close)
	if err := st.CreateClient(ctx, &client.Client{ID: "rp", Public: true, Grants: []string{client.GrantAuthorizationCode},
		RedirectURIs: []string{"https://rp.example/cb"}, BackchannelLogoutURI: rp.URL}); err != nil {
		t.Fatal(err)
	}
	keys, err := token.NewKeys(token.NewMemKeyStore(), token.KeysConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	signer, err := token.NewIssuer(keys, token.IssuerConfig{Issuer: iss, Audience: []string{iss}})
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	p, err := op.New(op.Config{Issuer: iss, Store: st, Clients: st, Signer: signer, Keys: keys, Revoker: &revoked{},
		RetryDelays: []time.Duration{0, 0, 0}, OnDelivery: func(r string) { results = append(results, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddLogin(ctx, &op.Login{SessionID: "s1", UserID: "u1", ClientID: "rp", ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := p.SessionsEnded(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	p.Wait()
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d deliveries to a client removed during the first one, want 1", n)
	}
	if len(results) != 1 || results[0] != "failed" {
		t.Fatalf("delivery results %v, want [failed]", results)
	}
}
