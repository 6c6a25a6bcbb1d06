package oidc_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/store/memstore"
)

// Issue 16: an account created by a first single sign-on carries the email
// the provider marked verified (Identity.Email is empty otherwise), so it
// counts as verified; sign-in rules that require a verified email hold.
func TestLink_FirstSignInCreatesVerifiedUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	st := memstore.New(nil)
	// The provider is never reached: Link needs no discovery.
	set, err := oidc.NewSet(ctx, []oidc.ProviderConfig{{Name: "idp", Issuer: "http://127.0.0.1:1", ClientID: "rp"}},
		oidc.Options{Flows: st, RedirectURL: func(string) string { return "http://rp/cb" }, Now: func() time.Time { return now },
			HTTPClient: &http.Client{Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	u, created, err := set.Link(ctx, st, st, &oidc.Identity{Provider: "idp", Issuer: "http://127.0.0.1:1", Subject: "s1", Email: "sso@example.com"})
	if err != nil || !created {
		t.Fatalf("link: created %v, %v", created, err)
	}
	stored, err := st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !stored.EmailVerified || !stored.EmailVerifiedAt.Equal(now) {
		t.Fatalf("user from single sign-on: verified %v at %v, want true at %v", stored.EmailVerified, stored.EmailVerifiedAt, now)
	}
}
