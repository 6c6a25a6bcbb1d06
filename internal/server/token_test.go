package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// form posts an OAuth form request.
func (c *client) form(path string, v url.Values, hdr ...string) *resp {
	c.e.t.Helper()
	return c.do("POST", path, v.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, hdr...)...)
}

type tokens struct {
	access, refresh string
	expiresIn       float64
}

func passwordGrant(t *testing.T, e *env, email, password string) tokens {
	t.Helper()
	r := e.client().form("/v1/token", url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}})
	want(t, r, 200, "")
	if r.json["token_type"] != "Bearer" || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token response: %s (cache %q)", r.body, r.Header.Get("Cache-Control"))
	}
	return tokens{access: r.json["access_token"].(string), refresh: r.json["refresh_token"].(string), expiresIn: r.json["expires_in"].(float64)}
}

func (e *env) bearer(tok string) *client {
	c := e.client()
	c.bearerTok = tok
	return c
}

func oauthWant(t *testing.T, r *resp, status int, code string) {
	t.Helper()
	if r.StatusCode != status || r.json["error"] != code {
		t.Fatalf("%s: %d %s, want %d %s", r.Request.URL.Path, r.StatusCode, r.body, status, code)
	}
	if _, ok := r.json["error_description"]; !ok {
		t.Fatalf("OAuth error without error_description: %s", r.body)
	}
}

func TestPasswordGrant_BearerOnEveryEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	u := e.addUser("a@example.com", pw, "dev")
	tk := passwordGrant(t, e, "A@example.com", pw)
	if tk.expiresIn <= 0 || tk.expiresIn > 900 || len(tk.refresh) != 43 {
		t.Fatalf("tokens: %+v", tk)
	}
	b := e.bearer(tk.access)
	r := b.do("GET", "/v1/whoami", nil)
	want(t, r, 200, "")
	sess := r.json["session"].(map[string]any)
	if sess["via"] != "bearer" || r.json["user"].(map[string]any)["id"] != u.ID {
		t.Fatalf("whoami by bearer: %s", r.body)
	}
	if _, ok := r.json["csrf_token"]; ok {
		t.Fatal("bearer whoami returned a CSRF token")
	}
	// Devices: the refresh family is listed as a token device, current.
	r = b.do("GET", "/v1/sessions", nil)
	want(t, r, 200, "")
	devs := r.json["sessions"].([]any)
	if len(devs) != 1 || devs[0].(map[string]any)["kind"] != "token" || devs[0].(map[string]any)["current"] != true {
		t.Fatalf("devices: %s", r.body)
	}
	// Session data next to token auth; bearer requests are exempt from CSRF.
	r = b.do("PATCH", "/v1/session/data", `{"cart":[1]}`, "Content-Type", "application/merge-patch+json", "Sec-Fetch-Site", "cross-site")
	want(t, r, 200, "")
	r = b.do("GET", "/v1/session/data", nil)
	if string(mustJSON(r.json["data"])) != `{"cart":[1]}` || r.Header.Get("ETag") != `"v1"` {
		t.Fatalf("data by bearer: %s", r.body)
	}
	// The cookie session and the token family are separate devices.
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	if n := len(c.do("GET", "/v1/sessions", nil).json["sessions"].([]any)); n != 2 {
		t.Fatalf("devices with a cookie and a token: %d", n)
	}
}

func TestRefreshGrant_RotationAndReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	tk := passwordGrant(t, e, "a@example.com", pw)
	c := e.client()
	r := c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}})
	want(t, r, 200, "")
	next := r.json["refresh_token"].(string)
	if next == tk.refresh || r.json["access_token"] == tk.access {
		t.Fatal("refresh did not rotate")
	}
	// A retry inside the grace window gets the same pair.
	e.clock.Advance(5 * time.Second)
	r2 := c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}})
	want(t, r2, 200, "")
	if r2.json["refresh_token"] != next || r2.json["access_token"] != r.json["access_token"] {
		t.Fatal("grace retry got a different pair")
	}
	// After the window, the spent token revokes the whole family.
	e.clock.Advance(10 * time.Second)
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}}), 400, "invalid_grant")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}}), 400, "invalid_grant")
	want(t, e.bearer(r.json["access_token"].(string)).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
}

func TestTokenEndpoint_Errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"password"}, "username": {"a@example.com"}, "password": {"wrong pass!"}}), 400, "invalid_grant")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"password"}, "username": {"nobody@example.com"}, "password": {pw}}), 400, "invalid_grant")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"magic"}}), 400, "unsupported_grant_type")
	oauthWant(t, c.form("/v1/token", url.Values{}), 400, "invalid_request")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}}), 400, "invalid_request")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"garbage"}}), 400, "invalid_grant")
	oauthWant(t, c.do("POST", "/v1/token", "grant_type=password&grant_type=refresh_token", "Content-Type", "application/x-www-form-urlencoded"), 400, "invalid_request")
	oauthWant(t, c.do("POST", "/v1/token", `{"grant_type":`, "Content-Type", "application/json"), 400, "invalid_request")
	oauthWant(t, c.do("POST", "/v1/token", "x", "Content-Type", "text/plain"), 400, "invalid_request")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"password"}, "username": {"a@example.com"}, "password": {pw}, "client_id": {"unknown"}}), 401, "invalid_client")
	// JSON bodies are accepted too.
	r := c.do("POST", "/v1/token", `{"grant_type":"password","username":"a@example.com","password":"`+pw+`"}`, "Content-Type", "application/json")
	want(t, r, 200, "")
}

func TestRule13_RevokeEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	// Unknown and garbage tokens: 200 all the same.
	want(t, c.form("/v1/revoke", url.Values{"token": {"garbage"}}), 200, "")
	want(t, c.form("/v1/revoke", url.Values{"token": {strings.Repeat("A", 43)}, "token_type_hint": {"refresh_token"}}), 200, "")
	oauthWant(t, c.form("/v1/revoke", url.Values{}), 400, "invalid_request")

	// Revoking a refresh token ends its family and the family's access tokens.
	tk := passwordGrant(t, e, "a@example.com", pw)
	want(t, c.form("/v1/revoke", url.Values{"token": {tk.refresh}, "token_type_hint": {"refresh_token"}}), 200, "")
	oauthWant(t, c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}}), 400, "invalid_grant")
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// Revoking an access token refuses it at once; its family lives on.
	tk = passwordGrant(t, e, "a@example.com", pw)
	want(t, c.form("/v1/revoke", url.Values{"token": {tk.access}}), 200, "")
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	want(t, c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}}), 200, "")
}

func TestRule10_RevokedTokenReencodedStillRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	tk := passwordGrant(t, e, "a@example.com", pw)
	want(t, e.client().form("/v1/revoke", url.Values{"token": {tk.access}}), 200, "")
	// The same token with its payload re-encoded in another (padded or
	// reordered) form is a different string: revocation keys on jti, and
	// strict base64url refuses the variant anyway.
	parts := strings.Split(tk.access, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	re, _ := json.MarshalIndent(m, "", " ")
	for _, variant := range []string{
		parts[0] + "." + base64.URLEncoding.EncodeToString(raw) + "." + parts[2],
		parts[0] + "." + base64.RawURLEncoding.EncodeToString(re) + "." + parts[2],
		tk.access + "=",
	} {
		want(t, e.bearer(variant).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	}
}

func TestBearerLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	tk := passwordGrant(t, e, "a@example.com", pw)
	want(t, e.bearer(tk.access).do("POST", "/v1/logout", nil), 204, "")
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	oauthWant(t, e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}}), 400, "invalid_grant")
}

func TestRule5_EverywhereReachesTokens(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		do   func(t *testing.T, e *env, c *client, userID string)
	}{
		{"log out everywhere", func(t *testing.T, e *env, c *client, _ string) {
			want(t, c.do("DELETE", "/v1/sessions?scope=all", nil), 204, "")
		}},
		{"password change", func(t *testing.T, e *env, c *client, _ string) {
			want(t, c.do("POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "another good passphrase"}), 204, "")
		}},
		{"admin disable", func(t *testing.T, e *env, _ *client, userID string) {
			e.addUser("root@example.com", pw, "admin")
			admin := e.client()
			want(t, admin.login("root@example.com", pw), 200, "")
			want(t, admin.do("PATCH", "/v1/admin/users/"+userID, map[string]any{"disabled": true}), 200, "")
		}},
		{"admin kill", func(t *testing.T, e *env, _ *client, userID string) {
			e.addUser("root@example.com", pw, "admin")
			admin := e.client()
			want(t, admin.login("root@example.com", pw), 200, "")
			want(t, admin.do("DELETE", "/v1/admin/users/"+userID+"/sessions", nil), 204, "")
		}},
		{"log out others by bearer", func(t *testing.T, e *env, _ *client, _ string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			u := e.addUser("a@example.com", pw)
			tk := passwordGrant(t, e, "a@example.com", pw)
			c := e.client()
			want(t, c.login("a@example.com", pw), 200, "")
			if tc.name == "log out others by bearer" {
				other := passwordGrant(t, e, "a@example.com", pw)
				want(t, e.bearer(other.access).do("DELETE", "/v1/sessions?scope=others", nil), 204, "")
				want(t, e.bearer(other.access).do("GET", "/v1/whoami", nil), 200, "")
				want(t, c.do("GET", "/v1/whoami", nil), 401, "")
				oauthWant(t, e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}}), 400, "invalid_grant")
				want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
				return
			}
			tc.do(t, e, c, u.ID)
			want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
			oauthWant(t, e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}}), 400, "invalid_grant")
		})
	}
}

func TestRule11_JWKSAndDiscovery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.client()
	r := c.do("GET", "/.well-known/jwks.json", nil)
	want(t, r, 200, "")
	if cc := r.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
		t.Fatalf("JWKS Cache-Control %q", cc)
	}
	var set struct{ Keys []map[string]any }
	_ = json.Unmarshal(r.body, &set)
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS: %s", r.body)
	}
	k := set.Keys[0]
	if k["kid"] == nil || k["alg"] != "EdDSA" || k["use"] != "sig" || k["d"] != nil {
		t.Fatalf("JWK: %v", k)
	}
	r = c.do("GET", "/.well-known/openid-configuration", nil)
	want(t, r, 200, "")
	for _, f := range []string{"issuer", "jwks_uri", "token_endpoint", "revocation_endpoint", "introspection_endpoint", "grant_types_supported"} {
		if r.json[f] == nil {
			t.Errorf("discovery lacks %s", f)
		}
	}
	if r.json["issuer"] != testIssuer || r.json["token_endpoint"] != testIssuer+"/v1/token" {
		t.Fatalf("discovery: %s", r.body)
	}
}

func TestRule11_KeyRotationKeepsOldTokensValid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("root@example.com", pw, "admin")
	tk := passwordGrant(t, e, "root@example.com", pw)
	b := e.bearer(tk.access)
	r := b.do("POST", "/v1/admin/keys/rotate", nil)
	want(t, r, 200, "")
	if r.json["kid"] == "" {
		t.Fatalf("rotate: %s", r.body)
	}
	want(t, b.do("GET", "/v1/whoami", nil), 200, "")
	var set struct{ Keys []map[string]any }
	_ = json.Unmarshal(e.client().do("GET", "/.well-known/jwks.json", nil).body, &set)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS after rotation has %d keys, want 2", len(set.Keys))
	}
	// A non-admin may not rotate.
	e.addUser("a@example.com", pw)
	want(t, e.bearer(passwordGrant(t, e, "a@example.com", pw).access).do("POST", "/v1/admin/keys/rotate", nil), 403, "forbidden")
}

func TestRule7_ForgedBearerTokensRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	tk := passwordGrant(t, e, "a@example.com", pw)
	parts := strings.Split(tk.access, ".")
	hdr := func(h string) string { return base64.RawURLEncoding.EncodeToString([]byte(h)) }
	other := newEnv(t, envOptions{}) // another deployment, another key set
	other.addUser("a@example.com", pw)
	foreign := passwordGrant(t, other, "a@example.com", pw)
	for name, tok := range map[string]string{
		"alg none":           hdr(`{"alg":"none","typ":"at+jwt"}`) + "." + parts[1] + ".",
		"alg NoNe":           hdr(`{"alg":"NoNe","typ":"at+jwt"}`) + "." + parts[1] + ".",
		"stripped signature": parts[0] + "." + parts[1] + ".",
		"tampered payload":   parts[0] + "." + hdr(`{"sub":"someone-else"}`) + "." + parts[2],
		"another deployment": foreign.access,
		"oversized":          tk.access + strings.Repeat("A", 9000),
		"garbage":            "a.b.c",
	} {
		t.Run(name, func(t *testing.T) {
			want(t, e.bearer(tok).do("GET", "/v1/whoami", nil), 401, "unauthorized")
		})
	}
	// Expired: beyond the 30 s leeway.
	e.clock.Advance(16 * time.Minute)
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
}
