package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/verifier"
)

func postForm(t *testing.T, u string, v url.Values) map[string]any {
	t.Helper()
	res, err := http.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	if res.StatusCode != 200 {
		t.Fatalf("POST %s: %d %v", u, res.StatusCode, m)
	}
	return m
}

// A resource server using package verifier accepts sessiond's tokens
// through discovery and the published JWKS, without a lookup, and with the
// introspection checker sees a revocation at once.
func TestVerifierAgainstRealServer(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if out, err := run(t, "a long enough pass\n", "user", "add", "--data", data, "--email", "v@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	const secret = "0123456789abcdefghijklmnopqrstuvwxyzABCD"
	if out, err := run(t, secret+"\n", "client", "add", "--data", data, "--id", "resource-server", "--secret-stdin",
		"--grant", "client_credentials", "--audience", "https://api.example"); err != nil {
		t.Fatalf("client add: %v\n%s", err, out)
	}
	p := serve(t, data)
	tok := postForm(t, p.url+"/v1/token", url.Values{"grant_type": {"password"}, "username": {"v@example.com"}, "password": {"a long enough pass"}})
	access := tok["access_token"].(string)

	ctx := context.Background()
	plain, err := verifier.New(ctx, verifier.Config{Issuer: p.url, Audience: p.url})
	if err != nil {
		t.Fatalf("verifier from discovery: %v", err)
	}
	c, err := plain.Verify(ctx, access)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if c.Email != "v@example.com" || c.SessionID == "" {
		t.Fatalf("claims: %+v", c)
	}
	intro, err := verifier.NewIntrospection(verifier.IntrospectionConfig{Issuer: p.url, ClientID: "resource-server", ClientSecret: secret, CacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	checked, err := verifier.New(ctx, verifier.Config{Issuer: p.url, Audience: p.url, Revocation: intro})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checked.Verify(ctx, access); err != nil {
		t.Fatalf("verify with introspection: %v", err)
	}
	postForm(t, p.url+"/v1/revoke", url.Values{"token": {access}})
	if _, err := checked.Verify(ctx, access); !errors.Is(err, verifier.ErrRevoked) {
		t.Fatalf("revoked token with introspection: want ErrRevoked, got %v", err)
	}
	// Without the revocation check the token stays valid until it expires:
	// that is the stateless trade-off, documented.
	if _, err := plain.Verify(ctx, access); err != nil {
		t.Fatalf("stateless verify of a revoked token: %v", err)
	}
	if _, err := plain.Verify(ctx, strings.Replace(access, ".", ".x", 1)); err == nil {
		t.Fatal("tampered token verified")
	}
}
