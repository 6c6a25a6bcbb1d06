package server_test

import (
	"net/url"
	"testing"
	"time"
)

// A bearer token verified once is served from the verified-token cache, but
// every revocation rule still applies on each request, and the cache never
// outlives the token.
func TestVerifiedTokenCache_RevocationAndExpiryStillApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)

	// jti revocation after the token is cached.
	tk := passwordGrant(t, e, "a@example.com", pw)
	b := e.bearer(tk.access)
	want(t, b.do("GET", "/v1/whoami", nil), 200, "")
	want(t, b.do("GET", "/v1/whoami", nil), 200, "")
	want(t, e.client().form("/v1/revoke", url.Values{"token": {tk.access}}), 200, "")
	want(t, b.do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// Token version bump (log out everywhere) after the token is cached.
	tk = passwordGrant(t, e, "a@example.com", pw)
	b = e.bearer(tk.access)
	want(t, b.do("GET", "/v1/whoami", nil), 200, "")
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	want(t, c.do("DELETE", "/v1/sessions?scope=all", nil), 204, "")
	want(t, b.do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// Expiry: a cached token stops working when it expires (plus leeway).
	tk = passwordGrant(t, e, "a@example.com", pw)
	b = e.bearer(tk.access)
	want(t, b.do("GET", "/v1/whoami", nil), 200, "")
	e.clock.Advance(15*time.Minute + 31*time.Second)
	want(t, b.do("GET", "/v1/whoami", nil), 401, "unauthorized")
}
