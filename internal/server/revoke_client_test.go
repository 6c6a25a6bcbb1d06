package server_test

import (
	"net/url"
	"sync"
	"testing"
)

// confidentialTokens starts an env with a user, a confidential client "app"
// allowed the password grant and a second confidential client of the given
// ID, and returns the env, both secrets and a token pair issued to "app".
func confidentialTokens(t *testing.T, otherID string) (e *env, secret, other string, tk tokens) {
	t.Helper()
	e = newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	secret = e.addClient("app", "password", "refresh_token")
	other = e.addClient(otherID, "client_credentials")
	r := e.client().form("/v1/token", url.Values{"grant_type": {"password"}, "username": {"a@example.com"}, "password": {pw}},
		"Authorization", "Basic "+basicAuth("app", secret))
	want(t, r, 200, "")
	return e, secret, other, tokens{access: r.json["access_token"].(string), refresh: r.json["refresh_token"].(string)}
}

// RFC 7009 §2.1: a token issued to a confidential client is revoked only
// with that client's authentication. Without credentials, or as another
// client, the answer is 200 and nothing is revoked; bad credentials are
// 401 invalid_client.
func TestRule13_RevokeOnlyByTheTokensClient(t *testing.T) {
	t.Parallel()
	e, secret, other, tk := confidentialTokens(t, "other")
	c := e.client()
	refreshWith := func(tok string) *resp {
		return c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}},
			"Authorization", "Basic "+basicAuth("app", secret))
	}

	// A burst of unauthenticated and wrong-client revocations, in parallel:
	// every one 200, none takes effect.
	attempts := []func() *resp{
		func() *resp { return c.form("/v1/revoke", url.Values{"token": {tk.refresh}}) },
		func() *resp { return c.form("/v1/revoke", url.Values{"token": {tk.access}}) },
		func() *resp {
			return c.form("/v1/revoke", url.Values{"token": {tk.refresh}, "client_id": {"sessiond"}})
		},
		func() *resp {
			return c.form("/v1/revoke", url.Values{"token": {tk.refresh}, "token_type_hint": {"refresh_token"}},
				"Authorization", "Basic "+basicAuth("other", other))
		},
		func() *resp {
			return c.form("/v1/revoke", url.Values{"token": {tk.access}}, "Authorization", "Basic "+basicAuth("other", other))
		},
	}
	var wg sync.WaitGroup
	res := make([]*resp, 4*len(attempts))
	for i := range res {
		wg.Go(func() { res[i] = attempts[i%len(attempts)]() })
	}
	wg.Wait()
	for i, r := range res {
		if r.StatusCode != 200 {
			t.Fatalf("attempt %d: %d %s, want 200", i%len(attempts), r.StatusCode, r.body)
		}
	}
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 200, "")
	r := refreshWith(tk.refresh)
	want(t, r, 200, "")
	tk = tokens{access: r.json["access_token"].(string), refresh: r.json["refresh_token"].(string)}

	// Claiming to be the confidential client without its secret: 401.
	oauthWant(t, c.form("/v1/revoke", url.Values{"token": {tk.refresh}, "client_id": {"app"}}), 401, "invalid_client")
	oauthWant(t, c.form("/v1/revoke", url.Values{"token": {tk.refresh}}, "Authorization", "Basic "+basicAuth("app", other)), 401, "invalid_client")

	// The client itself revokes its tokens.
	want(t, c.form("/v1/revoke", url.Values{"token": {tk.access}}, "Authorization", "Basic "+basicAuth("app", secret)), 200, "")
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	want(t, c.form("/v1/revoke", url.Values{"token": {tk.refresh}, "client_id": {"app"}, "client_secret": {secret}}), 200, "")
	oauthWant(t, refreshWith(tk.refresh), 400, "invalid_grant")
}

// RFC 7662: a confidential client's refresh token is introspected only by
// that client; to anyone else it is {"active":false}. Access tokens are
// presented to resource servers, which may introspect them.
func TestRule13_IntrospectRefreshOnlyByItsClient(t *testing.T) {
	t.Parallel()
	e, secret, other, tk := confidentialTokens(t, "api")
	c := e.client()
	introspect := func(tok, id, sec string) *resp {
		return c.form("/v1/introspect", url.Values{"token": {tok}}, "Authorization", "Basic "+basicAuth(id, sec))
	}
	if r := introspect(tk.refresh, "api", other); r.StatusCode != 200 || string(r.body) != "{\"active\":false}\n" {
		t.Fatalf("another client's refresh token: %d %s, want {\"active\":false}", r.StatusCode, r.body)
	}
	if r := introspect(tk.refresh, "app", secret); r.json["active"] != true || r.json["client_id"] != "app" {
		t.Fatalf("own refresh token: %s", r.body)
	}
	if r := introspect(tk.access, "api", other); r.json["active"] != true || r.json["client_id"] != "app" {
		t.Fatalf("access token at a resource server: %s", r.body)
	}
}
