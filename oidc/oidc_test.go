package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/oidc/oidctest"
	"github.com/sessiond/sessiond/store/memstore"
)

// A provider that is down when the set is built is not fatal: discovery is
// retried when a sign-in starts, at most once per RetryInterval.
func TestSet_DiscoveryRetriedLazily(t *testing.T) {
	t.Parallel()
	op := oidctest.New(t, "rp", "secret-secret-secret-secret-secret")
	target, _ := url.Parse(op.Issuer)
	var up atomic.Bool
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	// The discovery document names the provider's own issuer, so the
	// issuer configured here is the real one, reached through the front.
	clock := time.Now()
	now := func() time.Time { return clock }
	set, err := oidc.NewSet(context.Background(), []oidc.ProviderConfig{{Name: "idp", Issuer: op.Issuer, ClientID: "rp"}},
		oidc.Options{Flows: memstore.New(nil), RedirectURL: func(string) string { return "http://rp/cb" }, Now: now,
			HTTPClient: &http.Client{Transport: redirectTo(front.URL)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set.Start(context.Background(), "idp", oidc.NewBinding(), ""); !errors.Is(err, oidc.ErrUnavailable) {
		t.Fatalf("start while down: %v, want ErrUnavailable", err)
	}
	up.Store(true)
	if _, err := set.Start(context.Background(), "idp", oidc.NewBinding(), ""); !errors.Is(err, oidc.ErrUnavailable) {
		t.Fatalf("start inside the retry interval: %v, want ErrUnavailable", err)
	}
	clock = clock.Add(oidc.DefaultRetryInterval)
	to, err := set.Start(context.Background(), "idp", oidc.NewBinding(), "")
	if err != nil || !strings.HasPrefix(to, op.Issuer+"/authorize?") {
		t.Fatalf("start after recovery: %q, %v", to, err)
	}
	if _, err := set.Start(context.Background(), "nope", oidc.NewBinding(), ""); !errors.Is(err, oidc.ErrUnknownProvider) {
		t.Fatalf("unknown provider: %v", err)
	}
}

// redirectTo sends every request to base's host instead.
type redirectTo string

func (b redirectTo) RoundTrip(r *http.Request) (*http.Response, error) {
	u, _ := url.Parse(string(b))
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, u.Host
	return http.DefaultTransport.RoundTrip(r)
}

func TestNewSet_Validates(t *testing.T) {
	t.Parallel()
	opt := oidc.Options{Flows: memstore.New(nil), RedirectURL: func(string) string { return "" }}
	for name, cfgs := range map[string][]oidc.ProviderConfig{
		"no issuer": {{Name: "a", ClientID: "c"}},
		"duplicate": {{Name: "a", Issuer: "http://127.0.0.1:1", ClientID: "c"}, {Name: "a", Issuer: "http://127.0.0.1:1", ClientID: "c"}},
		"no openid": {{Name: "a", Issuer: "http://127.0.0.1:1", ClientID: "c", Scopes: []string{"email"}}},
		"no client": {{Name: "a", Issuer: "http://127.0.0.1:1"}},
	} {
		if _, err := oidc.NewSet(context.Background(), cfgs, opt); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
