package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	oauthclient "github.com/sessiond/sessiond/client"
)

func (e *env) addService(id string, grants, audiences, scopes []string) string {
	e.t.Helper()
	secret, _ := oauthclient.NewSecret()
	c := &oauthclient.Client{ID: id, Name: id, SecretHash: oauthclient.HashSecret(secret), Grants: grants,
		Audiences: audiences, Scopes: scopes, CreatedAt: time.Now()}
	if err := e.store.CreateClient(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

func claimsOf(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	grantCC       = "client_credentials"
	grantExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	typeAccess    = "urn:ietf:params:oauth:token-type:access_token"
)

func TestClientCredentials(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	secret := e.addService("svc-a", []string{grantCC}, []string{"https://api.b", "https://api.c"}, []string{"read", "write"})
	xsecret := e.addService("svc-x", []string{grantExchange}, []string{"https://api.b"}, nil)
	c := e.client()
	auth := []string{"Authorization", "Basic " + basicAuth("svc-a", secret)}

	r := c.form("/v1/token", url.Values{"grant_type": {grantCC}, "audience": {"https://api.b"}, "scope": {"read"}}, auth...)
	want(t, r, 200, "")
	if _, ok := r.json["refresh_token"]; ok {
		t.Fatal("client_credentials issued a refresh token")
	}
	cl := claimsOf(t, r.json["access_token"].(string))
	if cl["sub"] != "svc-a" || cl["client_id"] != "svc-a" || cl["aud"] != "https://api.b" || cl["scope"] != "read" {
		t.Fatalf("claims: %v", cl)
	}
	// A service token for api.b is no credential at sessiond itself.
	want(t, e.bearer(r.json["access_token"].(string)).do("GET", "/v1/whoami", nil), 401, "unauthorized")

	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {grantCC}, "audience": {"https://evil"}}, auth...), 400, "invalid_target")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {grantCC}}, auth...), 400, "invalid_target") // two audiences: must choose
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {grantCC}, "audience": {"https://api.b"}, "scope": {"read admin"}}, auth...), 400, "invalid_scope")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {grantCC}, "audience": {"https://api.b"}}), 401, "invalid_client")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {grantCC}, "audience": {"https://api.b"}}, "Authorization", "Basic "+basicAuth("svc-a", "not-the-secret-not-the-secret-xx")), 401, "invalid_client")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {grantCC}, "audience": {"https://api.b"}}, "Authorization", "Basic "+basicAuth("svc-x", xsecret)), 400, "unauthorized_client")
}

func TestRule14_TokenExchange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw, "dev", "ops")
	aSecret := e.addService("svc-a", []string{grantExchange}, []string{"svc-b"}, nil)
	bSecret := e.addService("svc-b", []string{grantExchange}, []string{"svc-c"}, nil)
	c := e.client()
	exchange := func(id, secret, subject, aud, scope string) *resp {
		v := url.Values{"grant_type": {grantExchange}, "subject_token": {subject}, "subject_token_type": {typeAccess}, "audience": {aud}}
		if scope != "" {
			v.Set("scope", scope)
		}
		return c.form("/v1/token", v, "Authorization", "Basic "+basicAuth(id, secret))
	}
	user := passwordGrant(t, e, "a@example.com", pw)
	userClaims := claimsOf(t, user.access)

	e.clock.Advance(10 * time.Minute) // the subject token has 5 minutes left
	r := exchange("svc-a", aSecret, user.access, "svc-b", "read")
	want(t, r, 200, "")
	if r.json["issued_token_type"] != typeAccess || r.json["token_type"] != "Bearer" {
		t.Fatalf("exchange response: %s", r.body)
	}
	ab := r.json["access_token"].(string)
	cl := claimsOf(t, ab)
	if cl["aud"] != "svc-b" || cl["sub"] != userClaims["sub"] || cl["scope"] != "read" || cl["client_id"] != "svc-a" {
		t.Fatalf("exchanged claims: %v", cl)
	}
	if cl["exp"].(float64) > userClaims["exp"].(float64) {
		t.Fatalf("exchanged token outlives its subject: %v > %v", cl["exp"], userClaims["exp"])
	}
	if fmt.Sprint(cl["roles"]) != fmt.Sprint(userClaims["roles"]) {
		t.Fatalf("roles changed: %v vs %v", cl["roles"], userClaims["roles"])
	}
	if act := cl["act"].(map[string]any); act["sub"] != "svc-a" {
		t.Fatalf("act: %v", cl["act"])
	}

	// svc-b, holding a token for itself, exchanges onward: act nests.
	r = exchange("svc-b", bSecret, ab, "svc-c", "")
	want(t, r, 200, "")
	bc := claimsOf(t, r.json["access_token"].(string))
	act := bc["act"].(map[string]any)
	if act["sub"] != "svc-b" || act["act"].(map[string]any)["sub"] != "svc-a" || bc["scope"] != "read" {
		t.Fatalf("chained claims: %v", bc)
	}

	// Refusals.
	oauthWant(t, exchange("svc-b", bSecret, ab, "svc-c", "read write"), 400, "invalid_scope") // wider scope
	oauthWant(t, exchange("svc-a", aSecret, user.access, "svc-c", ""), 400, "invalid_target") // audience not allowed
	oauthWant(t, exchange("svc-a", aSecret, ab, "svc-b", ""), 400, "invalid_grant")           // a token for svc-b presented by svc-a
	oauthWant(t, exchange("svc-a", aSecret, "garbage", "svc-b", ""), 400, "invalid_grant")    // not a token
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {grantExchange}, "subject_token": {user.access}, "subject_token_type": {typeAccess}, "audience": {"svc-b"}}), 401, "invalid_client")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {grantExchange}, "subject_token": {user.access}, "subject_token_type": {"urn:x"}, "audience": {"svc-b"}},
		"Authorization", "Basic "+basicAuth("svc-a", aSecret)), 400, "invalid_request")
	// A revoked subject (the user logged out everywhere) cannot be exchanged.
	cookie := e.client()
	want(t, cookie.login("a@example.com", pw), 200, "")
	want(t, cookie.do("DELETE", "/v1/sessions?scope=all", nil), 204, "")
	oauthWant(t, exchange("svc-a", aSecret, user.access, "svc-b", ""), 400, "invalid_grant")
}

func TestRule14_ExchangeChainsAreBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	const n = 6
	secrets := make([]string, n)
	for i := range n {
		secrets[i] = e.addService(fmt.Sprintf("s%d", i), []string{grantExchange}, []string{fmt.Sprintf("s%d", i+1)}, nil)
	}
	tok := passwordGrant(t, e, "a@example.com", pw).access
	c := e.client()
	for i := range n {
		r := c.form("/v1/token", url.Values{"grant_type": {grantExchange}, "subject_token": {tok}, "subject_token_type": {typeAccess},
			"audience": {fmt.Sprintf("s%d", i+1)}}, "Authorization", "Basic "+basicAuth(fmt.Sprintf("s%d", i), secrets[i]))
		if i < 4 {
			want(t, r, 200, "")
			tok = r.json["access_token"].(string)
			continue
		}
		oauthWant(t, r, 400, "invalid_grant")
		return
	}
}
