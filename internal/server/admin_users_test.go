package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/mfa"
)

// adminClient registers root@example.com with role admin and signs it in.
func adminClient(t *testing.T, e *env) *client {
	t.Helper()
	e.addUser("root@example.com", pw, "admin")
	c := e.client()
	want(t, c.login("root@example.com", pw), 200, "")
	return c
}

// Issue 20: erasure leaves nothing behind, and every credential the user
// held is refused at once: cookie, refresh token, access token.
func TestAdminErasure_LeavesNothingAndRefusesEveryCredential(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	e := newEnv(t, envOptions{log: logs})
	admin := adminClient(t, e)
	u := e.addUser("Gone@Example.com", pw, "dev")
	tk := passwordGrant(t, e, "gone@example.com", pw)
	c := e.client()
	want(t, c.login("gone@example.com", pw), 200, "")
	want(t, c.do("PATCH", "/v1/session/data", map[string]any{"cart": "x"}), 200, "")
	ctx := context.Background()
	if err := e.store.ReplaceRecoveryCodes(ctx, u.ID, [][]byte{[]byte("0123456789abcdef0123456789abcdef")}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.PutConsent(ctx, u.ID, "app", []string{"openid"}); err != nil {
		t.Fatal(err)
	}

	// Not for non-admins.
	want(t, c.do("DELETE", "/v1/admin/users/"+u.ID, nil), 403, "forbidden")
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 200, "")

	want(t, admin.do("DELETE", "/v1/admin/users/"+u.ID, nil), 204, "")

	want(t, c.do("GET", "/v1/whoami", nil), 401, "")
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")
	oauthWant(t, e.client().form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.refresh}}), 400, "invalid_grant")
	want(t, admin.do("GET", "/v1/admin/users/"+u.ID, nil), 404, "not_found")
	want(t, admin.do("GET", "/v1/admin/users/"+u.ID+"/export", nil), 404, "not_found")
	want(t, admin.do("DELETE", "/v1/admin/users/"+u.ID, nil), 404, "not_found")
	if n, err := e.store.RecoveryCodesLeft(ctx, u.ID); err != nil || n != 0 {
		t.Errorf("recovery codes after erasure: %d, %v", n, err)
	}
	if _, err := e.store.Consent(ctx, u.ID, "app"); err == nil {
		t.Error("consent survived erasure")
	}
	if sessions, err := e.sessions.List(ctx, u.ID); err != nil || len(sessions) != 0 {
		t.Errorf("sessions after erasure: %d, %v", len(sessions), err)
	}
	r := admin.do("GET", "/v1/admin/users?email_prefix=gone", nil)
	want(t, r, 200, "")
	if us := r.json["users"].([]any); len(us) != 0 {
		t.Errorf("erased user still listed: %s", r.body)
	}

	// The address is free again, and the new account is a stranger to the
	// old credentials.
	again := e.addUser("gone@example.com", pw)
	if again.ID == u.ID {
		t.Fatal("the new account reuses the erased ID")
	}
	want(t, e.bearer(tk.access).do("GET", "/v1/whoami", nil), 401, "unauthorized")

	// The audit record of the erasure names the user only by ID.
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, `"admin.user_erased"`) && strings.Contains(strings.ToLower(line), "gone@") {
			t.Errorf("erasure audit names the email: %s", line)
		}
	}
	if !strings.Contains(logs.String(), `"admin.user_erased"`) {
		t.Error("no admin.user_erased audit event")
	}
}

// Issue 20: users created in a parallel burst are each listed exactly
// once when an admin pages through them.
func TestAdminListUsers_PagingAfterParallelBurst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := adminClient(t, e)
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := admin.do("POST", "/v1/admin/users", map[string]any{"email": fmt.Sprintf("burst%02d@example.com", i),
				"password": pw, "roles": []string{"dev"}, "org_id": "org-burst"})
			if r.StatusCode != 201 {
				t.Errorf("create %d: %d %s", i, r.StatusCode, r.body)
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > n {
			t.Fatal("paging does not end")
		}
		r := admin.do("GET", "/v1/admin/users?org=org-burst&limit=7&cursor="+url.QueryEscape(cursor), nil)
		want(t, r, 200, "")
		for _, v := range r.json["users"].([]any) {
			email := v.(map[string]any)["email"].(string)
			if seen[email] {
				t.Errorf("%s listed twice", email)
			}
			seen[email] = true
		}
		next, _ := r.json["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	for i := range n {
		if email := fmt.Sprintf("burst%02d@example.com", i); !seen[email] {
			t.Errorf("%s never listed", email)
		}
	}
	if len(seen) != n {
		t.Errorf("listed %d users, want %d", len(seen), n)
	}
}

func TestAdminListUsers_Filters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := adminClient(t, e)
	a := e.addUser("alice@example.com", pw, "dev")
	b := e.addUser("albert@example.com", pw, "ops")
	want(t, admin.do("PATCH", "/v1/admin/users/"+b.ID, map[string]any{"disabled": true}), 200, "")
	ids := func(query string) string {
		t.Helper()
		r := admin.do("GET", "/v1/admin/users?"+query, nil)
		want(t, r, 200, "")
		var out []string
		for _, v := range r.json["users"].([]any) {
			u := v.(map[string]any)
			if _, ok := u["password_hash"]; ok {
				t.Fatalf("listing shows a password hash: %s", r.body)
			}
			out = append(out, u["id"].(string))
		}
		return strings.Join(out, ",")
	}
	sorted := func(x, y string) string {
		if x > y {
			x, y = y, x
		}
		return x + "," + y
	}
	for query, wantIDs := range map[string]string{
		"email_prefix=AL":                    sorted(a.ID, b.ID),
		"email_prefix=ali":                   a.ID,
		"role=ops":                           b.ID,
		"disabled=true":                      b.ID,
		"disabled=false&email_prefix=al":     a.ID,
		"org=org-1&role=dev&email_prefix=al": a.ID,
		"org=nope":                           "",
	} {
		if got := ids(query); got != wantIDs {
			t.Errorf("%s: got %s, want %s", query, got, wantIDs)
		}
	}
	r := admin.do("GET", "/v1/admin/users?email_prefix=al&limit=1", nil)
	want(t, r, 200, "")
	if r.json["next_cursor"] == nil {
		t.Fatalf("a full page has no next_cursor: %s", r.body)
	}
	for _, bad := range []string{"limit=0", "limit=501", "limit=x", "disabled=maybe", "cursor=!!", "cursor=%00"} {
		want(t, admin.do("GET", "/v1/admin/users?"+bad, nil), 400, "invalid_request")
	}
	want(t, e.client().do("GET", "/v1/admin/users", nil), 401, "unauthorized")
}

// Issue 20: the export holds the user, their sessions and second factors,
// never a secret or hash.
func TestAdminExport_EverythingButSecrets(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	admin := adminClient(t, e)
	u := e.addUser("subject@example.com", pw)
	c := e.client()
	want(t, c.login("subject@example.com", pw), 200, "")
	passwordGrant(t, e, "subject@example.com", pw)
	ctx := context.Background()
	if err := e.store.PutTOTP(ctx, mfa.TOTPCredential{UserID: u.ID, Sealed: []byte("SEALED-SECRET"), CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	r := admin.do("GET", "/v1/admin/users/"+u.ID+"/export", nil)
	want(t, r, 200, "")
	var got struct {
		User struct {
			ID, Email string
		}
		Sessions      []map[string]any
		SecondFactors *struct {
			TOTP *struct {
				CreatedAt string `json:"created_at"`
			}
		} `json:"second_factors"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.User.ID != u.ID || got.User.Email != "subject@example.com" || len(got.Sessions) != 2 ||
		got.SecondFactors == nil || got.SecondFactors.TOTP == nil {
		t.Fatalf("export: %s", r.body)
	}
	body := string(r.body)
	for _, secret := range []string{u.PasswordHash, "argon2", "SEALED", "U0VBTEVE", "hash"} {
		if strings.Contains(body, secret) {
			t.Errorf("export holds %q: %s", secret, body)
		}
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Error("export may be cached")
	}
}
