package server_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	oauthclient "github.com/sessiond/sessiond/client"
)

// addClient registers a confidential client and returns its secret.
func (e *env) addClient(id string, grants ...string) string {
	e.t.Helper()
	secret, err := oauthclient.NewSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	c := &oauthclient.Client{ID: id, Name: id, SecretHash: oauthclient.HashSecret(secret), Grants: grants,
		Audiences: []string{"https://api.example"}, CreatedAt: time.Now()}
	if err := e.store.CreateClient(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func TestRule13_Introspection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw, "dev")
	secret := e.addClient("api", "client_credentials")
	tk := passwordGrant(t, e, "a@example.com", pw)
	c := e.client()
	introspect := func(tok string, hdr ...string) *resp {
		return c.form("/v1/introspect", url.Values{"token": {tok}}, hdr...)
	}
	basic := func(id, sec string) []string {
		return []string{"Authorization", "Basic " + basicAuth(id, sec)}
	}

	// Client authentication is required.
	oauthWant(t, introspect(tk.access), 401, "invalid_client")
	oauthWant(t, introspect(tk.access, basic("api", "wrong-secret-wrong-secret-wrong-secret")...), 401, "invalid_client")
	oauthWant(t, introspect(tk.access, basic("nobody", secret)...), 401, "invalid_client")
	if r := introspect(tk.access); r.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("invalid_client without WWW-Authenticate")
	}

	r := introspect(tk.access, basic("api", secret)...)
	want(t, r, 200, "")
	if r.json["active"] != true || r.json["sub"] == nil || r.json["sid"] == nil || r.json["exp"] == nil || r.json["client_id"] != "sessiond" {
		t.Fatalf("active access token: %s", r.body)
	}
	r = introspect(tk.refresh, basic("api", secret)...)
	if r.json["active"] != true || r.json["token_type"] != "refresh_token" {
		t.Fatalf("active refresh token: %s", r.body)
	}
	// client_secret_post works too.
	r = c.form("/v1/introspect", url.Values{"token": {tk.access}, "client_id": {"api"}, "client_secret": {secret}})
	if r.json["active"] != true {
		t.Fatalf("client_secret_post: %s", r.body)
	}

	// Every inactive token is exactly {"active":false}.
	want(t, c.form("/v1/revoke", url.Values{"token": {tk.refresh}}), 200, "")
	for name, tok := range map[string]string{"revoked access": tk.access, "revoked refresh": tk.refresh, "garbage": "garbage", "jwt-ish": "a.b.c"} {
		r := introspect(tok, basic("api", secret)...)
		if r.StatusCode != 200 || string(r.body) != "{\"active\":false}\n" {
			t.Fatalf("%s: %d %q, want exactly {\"active\":false}", name, r.StatusCode, r.body)
		}
	}
	// Expired.
	tk2 := passwordGrant(t, e, "a@example.com", pw)
	e.clock.Advance(16 * time.Minute)
	if r := introspect(tk2.access, basic("api", secret)...); string(r.body) != "{\"active\":false}\n" {
		t.Fatalf("expired: %s", r.body)
	}
}

func basicAuth(id, secret string) string {
	return b64(url.QueryEscape(id) + ":" + url.QueryEscape(secret))
}
