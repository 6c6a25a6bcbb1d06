package server_test

import (
	"fmt"
	"net/url"
	"testing"
)

// TestGrantsTable_WhoMayUseWhich pins the token endpoint's grants table:
// which grant types exist, which a client without credentials may use (as
// the first-party or a public client), and which need an authenticated
// confidential client; discovery lists exactly the table.
func TestGrantsTable_WhoMayUseWhich(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	secret := e.addService("svc-cc", []string{grantCC}, []string{"https://api.b"}, nil)
	c := e.client()
	svc := []string{"Authorization", "Basic " + basicAuth("svc-cc", secret)}
	for _, tc := range []struct {
		name   string
		form   url.Values
		hdr    []string
		status int
		code   string
	}{
		// Without credentials the client is resolved first, for every
		// grant that is not confidential-only, the unknown ones included.
		{"unknown grant, unknown public client", url.Values{"grant_type": {"magic"}, "client_id": {"nobody"}}, nil, 401, "invalid_client"},
		{"unknown grant, first-party client", url.Values{"grant_type": {"magic"}}, nil, 400, "unsupported_grant_type"},
		{"no grant_type", url.Values{}, nil, 400, "invalid_request"},
		{"authorization_code without a provider", url.Values{"grant_type": {"authorization_code"}}, nil, 400, "unsupported_grant_type"},
		// Confidential-only grants need credentials, whatever client_id says.
		{"client_credentials without credentials", url.Values{"grant_type": {grantCC}, "client_id": {"svc-cc"}}, nil, 401, "invalid_client"},
		{"token exchange without credentials", url.Values{"grant_type": {grantExchange}, "subject_token": {"x"}, "subject_token_type": {typeAccess}}, nil, 401, "invalid_client"},
		// An authenticated client may use only the grants it was given.
		{"password by a client_credentials client", url.Values{"grant_type": {"password"}, "username": {"a@example.com"}, "password": {pw}}, svc, 400, "unauthorized_client"},
		{"exchange by a client_credentials client", url.Values{"grant_type": {grantExchange}}, svc, 400, "unauthorized_client"},
		{"client_credentials by its client", url.Values{"grant_type": {grantCC}}, svc, 200, ""},
		{"password by the first-party client", url.Values{"grant_type": {"password"}, "username": {"a@example.com"}, "password": {pw}}, nil, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.form("/v1/token", tc.form, tc.hdr...)
			if tc.code == "" {
				want(t, r, tc.status, "")
				return
			}
			oauthWant(t, r, tc.status, tc.code)
		})
	}
	r := c.do("GET", "/.well-known/openid-configuration", nil)
	want(t, r, 200, "")
	got := fmt.Sprint(r.json["grant_types_supported"])
	if w := fmt.Sprint([]string{"password", "refresh_token", grantCC, grantExchange}); got != w {
		t.Fatalf("grant_types_supported %s, want %s", got, w)
	}
}
