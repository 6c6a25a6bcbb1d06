package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/token"
	"github.com/sessiond/sessiond/verifier"
)

// jwtKid reads the kid from a compact JWS header.
func jwtKid(t *testing.T, raw string) string {
	t.Helper()
	h, _, _ := strings.Cut(raw, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ Kid string }
	if err := json.Unmarshal(b, &hdr); err != nil {
		t.Fatal(err)
	}
	return hdr.Kid
}

// jwksKids lists the kids the server publishes.
func jwksKids(t *testing.T, e *env) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(e.client().do("GET", "/.well-known/jwks.json", nil).body, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// A leaked signing key, retired at once: its tokens are refused by the
// server (a token verified and cached before included) and by a resource
// server using the verifier package, the JWKS no longer lists it, and
// another key signs.
func TestKeyCompromise_RetireRefusesItsTokensAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, envOptions{})
	e.addUser("root@example.com", pw, "admin")
	e.addUser("a@example.com", pw)
	admin := e.bearer(passwordGrant(t, e, "root@example.com", pw).access)
	old := passwordGrant(t, e, "a@example.com", pw).access
	leaked := jwtKid(t, old)
	want(t, e.bearer(old).do("GET", "/v1/whoami", nil), 200, "") // now in the verified-token cache
	rs, err := verifier.New(ctx, verifier.Config{Issuer: testIssuer, Audience: testIssuer,
		JWKSURL: e.srv.URL + "/.well-known/jwks.json", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Verify(ctx, old); err != nil {
		t.Fatalf("resource server before retirement: %v", err)
	}

	r := admin.do("POST", "/v1/admin/keys/"+leaked+"/retire", nil)
	want(t, r, 200, "")
	signer, _ := r.json["kid"].(string)
	if r.json["retired"] != leaked || signer == "" || signer == leaked {
		t.Fatalf("retire: %s", r.body)
	}
	want(t, e.bearer(old).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	if kids := jwksKids(t, e); slices.Contains(kids, leaked) || !slices.Equal(kids, []string{signer}) {
		t.Fatalf("JWKS kids %v after retiring %s, want only %s", kids, leaked, signer)
	}
	fresh := passwordGrant(t, e, "a@example.com", pw).access
	if got := jwtKid(t, fresh); got != signer {
		t.Fatalf("new token signed by %s, want %s", got, signer)
	}
	want(t, e.bearer(fresh).do("GET", "/v1/whoami", nil), 200, "")
	// The resource server drops the key once its copy of the JWKS is stale
	// (max-age 300 s); the new kid makes it refetch sooner, once its
	// refetch rate limit allows.
	e.clock.Advance(verifier.DefaultMinRefetchInterval)
	if _, err := rs.Verify(ctx, fresh); err != nil {
		t.Fatalf("resource server, new key: %v", err)
	}
	if _, err := rs.Verify(ctx, old); !errors.Is(err, token.ErrInvalidToken) {
		t.Fatalf("resource server accepted the retired key's token: %v", err)
	}

	// The only key: retiring it creates another. (The admin's own token
	// went with the first key.)
	admin = e.bearer(passwordGrant(t, e, "root@example.com", pw).access)
	r = admin.do("POST", "/v1/admin/keys/"+signer+"/retire", nil)
	want(t, r, 200, "")
	if next, _ := r.json["kid"].(string); next == "" || next == signer || !slices.Equal(jwksKids(t, e), []string{next}) {
		t.Fatalf("retiring the only key: %s, JWKS %v", r.body, jwksKids(t, e))
	}
	// An unknown kid is 404 in the contract's form; a non-admin is 403.
	admin = e.bearer(passwordGrant(t, e, "root@example.com", pw).access)
	want(t, admin.do("POST", "/v1/admin/keys/"+leaked+"/retire", nil), 404, "not_found")
	want(t, admin.do("POST", "/v1/admin/keys/no-such-kid/retire", nil), 404, "not_found")
	want(t, e.bearer(passwordGrant(t, e, "a@example.com", pw).access).do("POST", "/v1/admin/keys/x/retire", nil), 403, "forbidden")
}
