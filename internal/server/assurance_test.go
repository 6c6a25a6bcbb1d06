package server_test

import (
	"net/url"
	"slices"
	"testing"
)

// amrOf reads an amr array from a JSON object.
func amrOf(m map[string]any) []string {
	var out []string
	raw, _ := m["amr"].([]any)
	for _, v := range raw {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// A password login is one factor, and every view of it says so: the login
// answer, whoami by cookie and by bearer token, the access token's
// introspection, and the refresh family after rotation.
func TestAssurance_PasswordLoginIsAAL1Everywhere(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	secret := e.addClient("api", "client_credentials")
	basic := []string{"Authorization", "Basic " + basicAuth("api", secret)}
	isAAL1 := func(what string, m map[string]any) {
		t.Helper()
		if m["aal"] != float64(1) || !slices.Equal(amrOf(m), []string{"pwd"}) || m["auth_time"] == nil || m["auth_time"] == "" {
			t.Fatalf("%s: want aal 1, amr [pwd] and auth_time: %v", what, m)
		}
		if v, ok := m["aal2_time"]; ok && v != "" {
			t.Fatalf("%s: aal2_time without a second factor: %v", what, m)
		}
	}

	c := e.client()
	r := c.login("a@example.com", pw)
	want(t, r, 200, "")
	isAAL1("login", r.json["session"].(map[string]any))
	r = c.do("GET", "/v1/whoami", nil)
	want(t, r, 200, "")
	isAAL1("whoami (cookie)", r.json["session"].(map[string]any))

	tk := passwordGrant(t, e, "a@example.com", pw)
	r = e.bearer(tk.access).do("GET", "/v1/whoami", nil)
	want(t, r, 200, "")
	isAAL1("whoami (bearer)", r.json["session"].(map[string]any))

	r = c.form("/v1/introspect", url.Values{"token": {tk.access}}, basic...)
	want(t, r, 200, "")
	if r.json["acr"] != "aal1" || !slices.Equal(amrOf(r.json), []string{"pwd"}) || r.json["auth_time"] == nil {
		t.Fatalf("introspection of the access token: %s", r.body)
	}
	r = c.form("/v1/introspect", url.Values{"token": {tk.refresh}}, basic...)
	if r.json["acr"] != "aal1" || !slices.Equal(amrOf(r.json), []string{"pwd"}) {
		t.Fatalf("introspection of the refresh token: %s", r.body)
	}

	// The refresh grant keeps the family's assurance.
	r = e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}})
	want(t, r, 200, "")
	r = c.form("/v1/introspect", url.Values{"token": {r.json["access_token"].(string)}}, basic...)
	if r.json["acr"] != "aal1" || !slices.Equal(amrOf(r.json), []string{"pwd"}) {
		t.Fatalf("introspection of a refreshed access token: %s", r.body)
	}
}
