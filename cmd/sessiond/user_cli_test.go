package main_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// runJSON runs a CLI command with --json and decodes its output.
func runJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out, err := run(t, "", append(args, "--json")...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%s --json: not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type cliUser struct {
	ID       string   `json:"id"`
	Email    string   `json:"email"`
	Roles    []string `json:"roles"`
	Disabled bool     `json:"disabled"`
}

// Issue 20: the user commands work against the stores of a running server,
// print parseable JSON, and what they end is refused by that server at
// once.
func TestUserCLI_WhileServerRuns(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const pass = "a long enough pass"
	for _, email := range []string{"u1@example.com", "u2@example.com"} {
		if out, err := run(t, pass+"\n", "user", "add", "--data", data, "--email", email, "--role", "dev", "--org", "acme", "--password-stdin"); err != nil {
			t.Fatalf("user add: %v\n%s", err, out)
		}
	}
	p := serve(t, data)
	b := newBrowser(t, p.url)
	b.login("u1@example.com", pass)
	code, tok := postClient(t, p.url+"/v1/token", url.Values{"grant_type": {"password"}, "username": {"u1@example.com"}, "password": {pass}}, "", "")
	if code != 200 {
		t.Fatalf("password grant: %d %v", code, tok)
	}

	var list struct{ Users []cliUser }
	runJSON(t, &list, "user", "list", "--data", data, "--org", "acme", "--email-prefix", "U")
	if len(list.Users) != 2 || list.Users[0].Email == list.Users[1].Email {
		t.Fatalf("user list: %+v", list)
	}
	runJSON(t, &list, "user", "list", "--data", data, "--org", "acme", "--limit", "1")
	if len(list.Users) != 1 {
		t.Fatalf("user list --limit 1: %+v", list)
	}
	var shown struct{ User cliUser }
	runJSON(t, &shown, "user", "show", "--data", data, "--email", "u1@example.com")
	id := shown.User.ID
	if id == "" || shown.User.Email != "u1@example.com" {
		t.Fatalf("user show: %+v", shown)
	}
	var sessions struct{ Sessions []map[string]any }
	runJSON(t, &sessions, "session", "list", "--data", data, "--email", "u1@example.com")
	if len(sessions.Sessions) != 2 { // the cookie session and the refresh family
		t.Fatalf("session list: %+v", sessions)
	}

	runJSON(t, &shown, "user", "roles", "--data", data, "--id", id, "--role", "ops")
	if strings.Join(shown.User.Roles, ",") != "ops" {
		t.Fatalf("user roles: %+v", shown)
	}
	if code := b.whoami(); code != 401 {
		t.Fatalf("cookie after a role change by the CLI: %d, want 401", code)
	}
	runJSON(t, &shown, "user", "disable", "--data", data, "--id", id)
	if !shown.User.Disabled {
		t.Fatalf("user disable: %+v", shown)
	}
	runJSON(t, &shown, "user", "enable", "--data", data, "--id", id)
	if shown.User.Disabled {
		t.Fatalf("user enable: %+v", shown)
	}
	b = newBrowser(t, p.url)
	b.login("u1@example.com", pass)
	code, tok = postClient(t, p.url+"/v1/token", url.Values{"grant_type": {"password"}, "username": {"u1@example.com"}, "password": {pass}}, "", "")
	if code != 200 {
		t.Fatalf("password grant: %d %v", code, tok)
	}

	var export struct {
		User     cliUser
		Sessions []map[string]any
	}
	runJSON(t, &export, "user", "export", "--data", data, "--id", id)
	if export.User.ID != id || len(export.Sessions) != 2 {
		t.Fatalf("user export: %+v", export)
	}
	if out, _ := run(t, "", "user", "export", "--data", data, "--id", id); strings.Contains(out, "argon2") {
		t.Fatalf("export holds the password hash:\n%s", out)
	}

	if out, err := run(t, "", "user", "delete", "--data", data, "--id", id); err == nil {
		t.Fatalf("user delete without --yes succeeded:\n%s", out)
	}
	var erased struct{ Erased string }
	runJSON(t, &erased, "user", "delete", "--data", data, "--id", id, "--yes")
	if erased.Erased != id {
		t.Fatalf("user delete: %+v", erased)
	}
	if code := b.whoami(); code != 401 {
		t.Fatalf("cookie after erasure by the CLI: %d, want 401", code)
	}
	if code, m := postClient(t, p.url+"/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "", ""); code != 400 {
		t.Fatalf("refresh token after erasure: %d %v", code, m)
	}
	if out, err := run(t, "", "user", "show", "--data", data, "--id", id); err == nil {
		t.Fatalf("user show after erasure succeeded:\n%s", out)
	}
	runJSON(t, &list, "user", "list", "--data", data, "--org", "acme")
	if len(list.Users) != 1 || list.Users[0].Email != "u2@example.com" {
		t.Fatalf("user list after erasure: %+v", list)
	}

	var clients struct{ Clients []map[string]any }
	runJSON(t, &clients, "client", "list", "--data", data)
	var keys struct{ Keys []struct{ KID, State string } }
	runJSON(t, &keys, "keys", "list", "--data", data)
	if len(keys.Keys) != 1 || keys.Keys[0].State != "signing" {
		t.Fatalf("keys list: %+v", keys)
	}
}

// SECURITY.md rule 5: `session revoke --all` from the CLI ends the user's
// refresh families too, not only cookie sessions and access tokens: a
// refresh token held before is refused by the running server.
func TestRule5_SessionRevokeAllCLIEndsRefreshFamilies(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	const pass = "a long enough pass"
	if out, err := run(t, pass+"\n", "user", "add", "--data", data, "--email", "r5@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	p := serve(t, data)
	code, tok := postClient(t, p.url+"/v1/token", url.Values{"grant_type": {"password"}, "username": {"r5@example.com"}, "password": {pass}}, "", "")
	if code != 200 {
		t.Fatalf("password grant: %d %v", code, tok)
	}
	if out, err := run(t, "", "session", "revoke", "--data", data, "--email", "r5@example.com", "--all"); err != nil {
		t.Fatalf("session revoke: %v\n%s", err, out)
	}
	if code, m := postClient(t, p.url+"/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "", ""); code != 400 {
		t.Fatalf("refresh token after session revoke --all: %d %v, want 400", code, m)
	}
}
