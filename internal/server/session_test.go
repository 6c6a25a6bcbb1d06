package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

const pw = "correct horse battery"

func TestLoginWhoamiLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	u := e.addUser("Alice@Example.com", pw, "dev")
	c := e.client()

	want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")
	r := c.login("alice@example.com", pw)
	want(t, r, 200, "")
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("login response Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}
	user := r.json["user"].(map[string]any)
	if user["id"] != u.ID || user["email"] != "alice@example.com" {
		t.Fatalf("login user: %v", user)
	}
	if c.csrf == "" {
		t.Fatal("login returned no csrf_token")
	}
	r = c.do("GET", "/v1/whoami", nil)
	want(t, r, 200, "")
	sess := r.json["session"].(map[string]any)
	if sess["via"] != "cookie" || r.json["csrf_token"] != c.csrf {
		t.Fatalf("whoami: %s", r.body)
	}
	if _, err := time.Parse(time.RFC3339, sess["expires_at"].(string)); err != nil {
		t.Fatalf("expires_at not RFC 3339: %v", err)
	}
	want(t, c.do("POST", "/v1/logout", nil), 204, "")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		tls        bool
		cookieName string
	}{
		{"plain HTTP", false, "sessiond"},
		{"TLS", true, "__Host-sessiond"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{tls: tc.tls, absolute: 48 * time.Hour})
			e.addUser("a@example.com", pw)
			r := e.client().login("a@example.com", pw)
			want(t, r, 200, "")
			cookies := r.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("want one cookie, got %d", len(cookies))
			}
			ck := cookies[0]
			if ck.Name != tc.cookieName {
				t.Errorf("name %q, want %q", ck.Name, tc.cookieName)
			}
			if !ck.HttpOnly || ck.Path != "/" || ck.SameSite != http.SameSiteLaxMode || ck.Domain != "" {
				t.Errorf("attributes: %s", setCookieHeader(r))
			}
			if ck.Secure != tc.tls {
				t.Errorf("Secure=%v over TLS=%v", ck.Secure, tc.tls)
			}
			if ck.MaxAge <= 0 || ck.MaxAge > int((48*time.Hour).Seconds()) {
				t.Errorf("Max-Age %d beyond the absolute timeout", ck.MaxAge)
			}
			if len(ck.Value) < 43 {
				t.Errorf("token too short: %d chars", len(ck.Value))
			}
		})
	}
}

func TestFixation_LoginIssuesFreshID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)

	t.Run("a session sent along at login dies", func(t *testing.T) {
		c := e.client()
		want(t, c.login("a@example.com", pw), 200, "")
		old := c.cookie().Value
		want(t, c.login("a@example.com", pw), 200, "")
		if c.cookie().Value == old {
			t.Fatal("login kept the old session token")
		}
		stale := e.client()
		stale.setCookie("sessiond", old)
		want(t, stale.do("GET", "/v1/whoami", nil), 401, "unauthorized")
	})

	t.Run("an attacker-chosen value is never adopted", func(t *testing.T) {
		planted, _ := session.NewToken(nil)
		victim := e.client()
		victim.setCookie("sessiond", planted)
		want(t, victim.login("a@example.com", pw), 200, "")
		if victim.cookie().Value == planted {
			t.Fatal("server adopted the planted session token")
		}
		attacker := e.client()
		attacker.setCookie("sessiond", planted)
		want(t, attacker.do("GET", "/v1/whoami", nil), 401, "unauthorized")
	})
}

func TestLogout_OldCookieUselessServerSide(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	tok := c.cookie().Value
	r := c.do("POST", "/v1/logout", nil)
	want(t, r, 204, "")
	if !strings.Contains(setCookieHeader(r), "Max-Age=0") {
		t.Errorf("logout did not clear the cookie: %q", setCookieHeader(r))
	}
	replay := e.client()
	replay.setCookie("sessiond", tok)
	want(t, replay.do("GET", "/v1/whoami", nil), 401, "unauthorized")
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	t.Run("idle", func(t *testing.T) {
		e := newEnv(t, envOptions{idle: 30 * time.Minute, absolute: 24 * time.Hour})
		e.addUser("a@example.com", pw)
		c := e.client()
		want(t, c.login("a@example.com", pw), 200, "")
		for range 4 { // activity keeps it alive past one idle period
			e.clock.Advance(20 * time.Minute)
			want(t, c.do("GET", "/v1/whoami", nil), 200, "")
		}
		e.clock.Advance(31 * time.Minute)
		want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")
	})
	t.Run("absolute", func(t *testing.T) {
		e := newEnv(t, envOptions{idle: time.Hour, absolute: 3 * time.Hour})
		e.addUser("a@example.com", pw)
		c := e.client()
		want(t, c.login("a@example.com", pw), 200, "")
		for range 5 {
			e.clock.Advance(35 * time.Minute)
			want(t, c.do("GET", "/v1/whoami", nil), 200, "")
		}
		e.clock.Advance(10 * time.Minute) // 3h05 after login, used every 35 minutes
		want(t, c.do("GET", "/v1/whoami", nil), 401, "unauthorized")
	})
}

func sessionIDs(t *testing.T, r *resp) (ids []string, current string) {
	t.Helper()
	for _, x := range r.json["sessions"].([]any) {
		m := x.(map[string]any)
		ids = append(ids, m["id"].(string))
		if m["current"] == true {
			current = m["id"].(string)
		}
		for _, k := range []string{"kind", "created_at", "last_seen_at", "expires_at", "ip", "user_agent"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("device without %s: %v", k, m)
			}
		}
	}
	return ids, current
}

func TestDevices(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	e.addUser("b@example.com", pw)
	var cs []*client
	for range 4 {
		c := e.client()
		want(t, c.login("a@example.com", pw), 200, "")
		cs = append(cs, c)
	}
	bob := e.client()
	want(t, bob.login("b@example.com", pw), 200, "")

	r := cs[0].do("GET", "/v1/sessions", nil)
	want(t, r, 200, "")
	ids, cur := sessionIDs(t, r)
	if len(ids) != 4 || cur == "" {
		t.Fatalf("want 4 sessions with a current one, got %v (current %q)", ids, cur)
	}
	// Another user's session ID is 404, and stays alive.
	bobIDs, bobCur := sessionIDs(t, bob.do("GET", "/v1/sessions", nil))
	want(t, cs[0].do("DELETE", "/v1/sessions/"+bobCur, nil), 404, "not_found")
	want(t, bob.do("GET", "/v1/whoami", nil), 200, "")
	_ = bobIDs
	want(t, cs[0].do("DELETE", "/v1/sessions/nonexistent", nil), 404, "not_found")

	// End one: client 1's session.
	_, cur1 := sessionIDs(t, cs[1].do("GET", "/v1/sessions", nil))
	want(t, cs[0].do("DELETE", "/v1/sessions/"+cur1, nil), 204, "")
	want(t, cs[1].do("GET", "/v1/whoami", nil), 401, "")
	// End others.
	want(t, cs[0].do("DELETE", "/v1/sessions?scope=others", nil), 204, "")
	want(t, cs[2].do("GET", "/v1/whoami", nil), 401, "")
	want(t, cs[3].do("GET", "/v1/whoami", nil), 401, "")
	want(t, cs[0].do("GET", "/v1/whoami", nil), 200, "")
	// End all.
	c4 := e.client()
	want(t, c4.login("a@example.com", pw), 200, "")
	want(t, cs[0].do("DELETE", "/v1/sessions?scope=all", nil), 204, "")
	want(t, cs[0].do("GET", "/v1/whoami", nil), 401, "")
	want(t, c4.do("GET", "/v1/whoami", nil), 401, "")
	want(t, bob.do("GET", "/v1/whoami", nil), 200, "")
	want(t, bob.do("DELETE", "/v1/sessions?scope=bogus", nil), 400, "invalid_request")
}

func TestMaxPerUserEvictsOldest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxPer: 2})
	e.addUser("a@example.com", pw)
	var cs []*client
	for range 3 {
		c := e.client()
		want(t, c.login("a@example.com", pw), 200, "")
		cs = append(cs, c)
		e.clock.Advance(time.Second)
	}
	want(t, cs[0].do("GET", "/v1/whoami", nil), 401, "")
	want(t, cs[1].do("GET", "/v1/whoami", nil), 200, "")
	want(t, cs[2].do("GET", "/v1/whoami", nil), 200, "")
}

func TestPasswordChange_EndsOthersAndRenews(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	c, other := e.client(), e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	want(t, other.login("a@example.com", pw), 200, "")
	oldTok := c.cookie().Value
	_, oldID := sessionIDs(t, c.do("GET", "/v1/sessions", nil))

	want(t, c.do("POST", "/v1/password", map[string]string{"current_password": "wrong one!", "new_password": "another good passphrase"}), 401, "invalid_credentials")
	want(t, c.do("POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "password"}), 400, "invalid_request")
	r := c.do("POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "another good passphrase"})
	want(t, r, 204, "")
	if c.cookie().Value == oldTok {
		t.Fatal("password change did not renew the session token")
	}
	c.csrf = r.Header.Get("X-CSRF-Token")
	r = c.do("GET", "/v1/whoami", nil)
	want(t, r, 200, "")
	if id := r.json["session"].(map[string]any)["id"]; id == oldID {
		t.Fatal("password change kept the session ID")
	}
	want(t, other.do("GET", "/v1/whoami", nil), 401, "")
	stale := e.client()
	stale.setCookie("sessiond", oldTok)
	want(t, stale.do("GET", "/v1/whoami", nil), 401, "")
	want(t, e.client().login("a@example.com", pw), 401, "invalid_credentials")
	want(t, e.client().login("a@example.com", "another good passphrase"), 200, "")
}

func TestAdminDisable_EndsEverything(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("root@example.com", pw, "admin")
	u := e.addUser("a@example.com", pw)
	admin, c1, c2 := e.client(), e.client(), e.client()
	want(t, admin.login("root@example.com", pw), 200, "")
	want(t, c1.login("a@example.com", pw), 200, "")
	want(t, c2.login("a@example.com", pw), 200, "")

	// A non-admin is refused.
	want(t, c1.do("PATCH", "/v1/admin/users/"+u.ID, map[string]any{"disabled": true}), 403, "forbidden")

	r := admin.do("GET", "/v1/admin/users/"+u.ID+"/sessions", nil)
	want(t, r, 200, "")
	if ids, _ := sessionIDs(t, r); len(ids) != 2 {
		t.Fatalf("admin list: %d sessions, want 2", len(ids))
	}
	r = admin.do("PATCH", "/v1/admin/users/"+u.ID, map[string]any{"disabled": true})
	want(t, r, 200, "")
	if r.json["user"].(map[string]any)["disabled"] != true {
		t.Fatalf("patch result: %s", r.body)
	}
	want(t, c1.do("GET", "/v1/whoami", nil), 401, "")
	want(t, c2.do("GET", "/v1/whoami", nil), 401, "")
	want(t, e.client().login("a@example.com", pw), 401, "invalid_credentials")
	want(t, admin.do("PATCH", "/v1/admin/users/nobody", map[string]any{"disabled": true}), 404, "not_found")
}

func TestAdminCreateUserAndKill(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("root@example.com", pw, "admin")
	admin := e.client()
	want(t, admin.login("root@example.com", pw), 200, "")
	r := admin.do("POST", "/v1/admin/users", map[string]any{"email": "New@Example.com", "password": pw, "roles": []string{"dev"}, "org_id": "o"})
	want(t, r, 201, "")
	id := r.json["user"].(map[string]any)["id"].(string)
	want(t, admin.do("POST", "/v1/admin/users", map[string]any{"email": "new@example.com", "password": pw}), 409, "conflict")
	want(t, admin.do("POST", "/v1/admin/users", map[string]any{"email": "x@example.com", "password": "12345678"}), 400, "invalid_request")
	want(t, admin.do("POST", "/v1/admin/users", map[string]any{"email": "not-an-email", "password": pw}), 400, "invalid_request")
	c := e.client()
	want(t, c.login("new@example.com", pw), 200, "")
	want(t, admin.do("DELETE", "/v1/admin/users/"+id+"/sessions", nil), 204, "")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "")
}

func TestRoleChange_EndsSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("root@example.com", pw, "admin")
	u := e.addUser("a@example.com", pw, "viewer")
	admin, c := e.client(), e.client()
	want(t, admin.login("root@example.com", pw), 200, "")
	want(t, c.login("a@example.com", pw), 200, "")
	r := admin.do("PATCH", "/v1/admin/users/"+u.ID, map[string]any{"roles": []string{"editor"}})
	want(t, r, 200, "")
	want(t, c.do("GET", "/v1/whoami", nil), 401, "")
	r = c.login("a@example.com", pw)
	if roles := r.json["user"].(map[string]any)["roles"].([]any); len(roles) != 1 || roles[0] != "editor" {
		t.Fatalf("roles after change: %v", roles)
	}
}

func TestSessionData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	r := c.do("GET", "/v1/session/data", nil)
	want(t, r, 200, "")
	if r.Header.Get("ETag") != `"v0"` || string(mustJSON(r.json["data"])) != "{}" {
		t.Fatalf("empty data: %s etag %s", r.body, r.Header.Get("ETag"))
	}
	patch := func(body, ifMatch string) *resp {
		return c.do("PATCH", "/v1/session/data", body, "Content-Type", "application/merge-patch+json", "If-Match", ifMatch)
	}
	want(t, patch(`{"cart":{"apples":2,"pears":1},"theme":"dark"}`, ""), 200, "")
	r = patch(`{"cart":{"pears":null,"plums":3}}`, `"v1"`)
	want(t, r, 200, "")
	if got := string(mustJSON(r.json["data"])); got != `{"cart":{"apples":2,"plums":3},"theme":"dark"}` {
		t.Fatalf("merge result %s", got)
	}
	if r.Header.Get("ETag") != `"v2"` {
		t.Fatalf("etag %s", r.Header.Get("ETag"))
	}
	want(t, patch(`{"theme":"light"}`, `"v1"`), 412, "precondition_failed")
	want(t, patch(`[1,2]`, ""), 400, "invalid_request")
	want(t, patch(`{"a":`, ""), 400, "invalid_request")
	want(t, c.do("PATCH", "/v1/session/data", `{"a":1}`, "Content-Type", "text/plain"), 400, "invalid_request")
	want(t, patch(`{"a":1}`, `garbage`), 400, "invalid_request")
}

func TestSessionData_ConcurrentMergesLoseNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do("PATCH", "/v1/session/data", fmt.Sprintf(`{"k%d":%d}`, i, i), "Content-Type", "application/merge-patch+json")
			if r.StatusCode != 200 {
				t.Errorf("merge %d: %d %s", i, r.StatusCode, r.body)
			}
		}()
	}
	wg.Wait()
	r := c.do("GET", "/v1/session/data", nil)
	data := r.json["data"].(map[string]any)
	if len(data) != n {
		t.Fatalf("lost merges: %d keys, want %d", len(data), n)
	}
	if v := r.json["version"].(float64); v != n {
		t.Fatalf("version %v, want %d", v, n)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	token := c.csrf

	c.csrf = ""
	want(t, c.do("POST", "/v1/logout", nil), 403, "csrf")
	c.csrf = "wrong"
	want(t, c.do("DELETE", "/v1/sessions?scope=others", nil), 403, "csrf")
	c.csrf = token
	want(t, c.do("POST", "/v1/logout", nil, "Origin", "https://evil.example"), 403, "csrf")
	want(t, c.do("POST", "/v1/logout", nil, "Sec-Fetch-Site", "cross-site"), 403, "csrf")
	want(t, c.do("PATCH", "/v1/session/data", `{"a":1}`, "Content-Type", "application/merge-patch+json", "Sec-Fetch-Site", "cross-site"), 403, "csrf")
	// Safe methods need no token.
	c.csrf = ""
	want(t, c.do("GET", "/v1/whoami", nil), 200, "")
	// Login is protected by the cross-site check.
	want(t, e.client().do("POST", "/v1/login", map[string]string{"email": "a@example.com", "password": pw}, "Sec-Fetch-Site", "cross-site"), 403, "csrf")
	want(t, e.client().do("POST", "/v1/login", map[string]string{"email": "a@example.com", "password": pw}, "Origin", "https://evil.example"), 403, "csrf")
	// Same-origin with the right token passes.
	c.csrf = token
	want(t, c.do("POST", "/v1/logout", nil, "Sec-Fetch-Site", "same-origin"), 204, "")
}

func TestEnumeration_SameAnswerForUnknownAndWrong(t *testing.T) {
	t.Parallel()
	h := realCostHasher(t)
	e := newEnv(t, envOptions{hasher: h})
	e.addUser("a@example.com", pw)
	root := e.addUser("locked@example.com", pw)
	off := true
	if _, err := e.accounts.Update(context.Background(), root.ID, &off, nil); err != nil {
		t.Fatal(err)
	}
	attempt := func(email, password string) (*resp, time.Duration) {
		start := time.Now()
		r := e.client().login(email, password)
		return r, time.Since(start)
	}
	wrong, _ := attempt("a@example.com", "not the password")
	for _, email := range []string{"nobody@example.com", "locked@example.com"} {
		other, _ := attempt(email, pw)
		if other.StatusCode != wrong.StatusCode || string(other.body) != string(wrong.body) {
			t.Fatalf("%s answers differently from a wrong password:\n%d %s\n%d %s", email, other.StatusCode, other.body, wrong.StatusCode, wrong.body)
		}
	}
	want(t, wrong, 401, "invalid_credentials")
	// Timing: an unknown email must cost a password verification too. The
	// bound is loose (a third of the median), far from noise: without the
	// dummy hash an unknown email answers in well under 1% of the time.
	// Samples alternate between the two, so that load from other tests
	// falls on both alike.
	var ks, us []time.Duration
	for range 7 {
		_, d := attempt("a@example.com", "not the password")
		ks = append(ks, d)
		_, d = attempt("nobody@example.com", "not the password")
		us = append(us, d)
	}
	slicesSort(ks)
	slicesSort(us)
	known, unknown := ks[3], us[3]
	t.Logf("median failed login: known email %v, unknown email %v", known, unknown)
	if unknown < known/3 || known < unknown/3 {
		t.Fatalf("timing differs: known %v unknown %v", known, unknown)
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	t.Run("per account", func(t *testing.T) {
		e := newEnv(t, envOptions{perAcct: mustRate("3/1m")})
		e.addUser("a@example.com", pw)
		for range 3 {
			want(t, e.client().login("a@example.com", "bad password!"), 401, "invalid_credentials")
		}
		r := e.client().login("a@example.com", pw)
		want(t, r, 429, "rate_limited")
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}
		// Another account is not limited.
		e.addUser("b@example.com", pw)
		want(t, e.client().login("b@example.com", pw), 200, "")
		e.clock.Advance(21 * time.Second)
		want(t, e.client().login("a@example.com", pw), 200, "")
		// Successful logins are not counted.
		for range 5 {
			want(t, e.client().login("a@example.com", pw), 200, "")
		}
	})
	t.Run("per IP", func(t *testing.T) {
		e := newEnv(t, envOptions{perIP: mustRate("5/1m")})
		for i := range 5 {
			want(t, e.client().login(fmt.Sprintf("u%d@example.com", i), "bad password!"), 401, "invalid_credentials")
		}
		want(t, e.client().login("someone@example.com", "bad password!"), 429, "rate_limited")
	})
}

func TestLockout_After100ConsecutiveFailures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{lockAfter: 100})
	e.addUser("a@example.com", pw)
	for i := range 100 {
		r := e.client().login("a@example.com", "bad password!")
		want(t, r, 401, "invalid_credentials")
		if i%10 == 0 {
			e.clock.Advance(time.Second)
		}
	}
	// Locked: even the right password answers exactly like a wrong one.
	r := e.client().login("a@example.com", pw)
	want(t, r, 401, "invalid_credentials")
	e.clock.Advance(61 * time.Minute)
	want(t, e.client().login("a@example.com", pw), 200, "")
}

func TestBadInput_Always4xx(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	e.addUser("a@example.com", pw)
	c := e.client()
	big := `{"email":"a@example.com","password":"` + strings.Repeat("x", 100<<10) + `"}`
	for _, tc := range []struct {
		name, body, ct string
		status         int
		code           string
	}{
		{"malformed JSON", `{"email":`, "application/json", 400, "invalid_request"},
		{"not an object", `[]`, "application/json", 400, "invalid_request"},
		{"unknown field", `{"email":"a@example.com","password":"x","admin":true}`, "application/json", 400, "invalid_request"},
		{"wrong type", `{"email":1,"password":"x"}`, "application/json", 400, "invalid_request"},
		{"trailing data", `{"email":"a@example.com","password":"x"} {}`, "application/json", 400, "invalid_request"},
		{"100 KiB body", big, "application/json", 413, "payload_too_large"},
		{"form body", `email=a`, "application/x-www-form-urlencoded", 400, "invalid_request"},
		{"empty", ``, "application/json", 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want(t, c.do("POST", "/v1/login", tc.body, "Content-Type", tc.ct), tc.status, tc.code)
		})
	}
	for _, v := range []string{"garbage", strings.Repeat("A", 43), strings.Repeat("A", 4000), "a;b", "%00%ff", "=="} {
		bad := e.client()
		bad.setCookie("sessiond", v)
		want(t, bad.do("GET", "/v1/whoami", nil), 401, "unauthorized")
	}
	want(t, c.do("GET", "/v1/nope", nil), 404, "not_found")
	r := c.do("PUT", "/v1/whoami", nil)
	want(t, r, 405, "method_not_allowed")
	want(t, e.client().do("GET", "/v1/whoami", nil, "Authorization", "Bearer not-a-jwt"), 401, "unauthorized")
	want(t, e.client().do("GET", "/v1/whoami", nil, "Authorization", "Basic Zm9vOmJhcg=="), 401, "unauthorized")
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.client()
	if r := c.do("GET", "/healthz", nil, "X-Request-Id", "abc-123"); r.Header.Get("X-Request-Id") != "abc-123" {
		t.Fatalf("request id not echoed: %q", r.Header.Get("X-Request-Id"))
	}
	for _, bad := range []string{strings.Repeat("x", 129), "with space", "tab\there"} {
		r := c.do("GET", "/healthz", nil, "X-Request-Id", bad)
		if got := r.Header.Get("X-Request-Id"); got == bad || got == "" {
			t.Fatalf("bad request id %q: got %q", bad, got)
		}
	}
	if r := c.do("GET", "/v1/nope", nil); r.Header.Get("X-Request-Id") == "" {
		t.Fatal("error response without X-Request-Id")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	c := e.client()
	want(t, c.do("GET", "/healthz", nil), 200, "")
	want(t, c.do("GET", "/readyz", nil), 200, "")
	e.addUser("a@example.com", pw)
	c.login("a@example.com", pw)
	r := c.do("GET", "/metrics", nil)
	want(t, r, 200, "")
	for _, m := range []string{`sessiond_logins_total{result="success"} 1`, `sessiond_http_requests_total{code="200",method="POST",route="POST /v1/login"} 1`} {
		if !strings.Contains(string(r.body), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

// A stolen session is no password-guessing oracle: wrong current passwords
// count against the per-account limit, like failed logins.
func TestPasswordChange_WrongCurrentPasswordIsRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{perAcct: mustRate("3/1m")})
	e.addUser("a@example.com", pw)
	c := e.client()
	want(t, c.login("a@example.com", pw), 200, "")
	for range 3 {
		want(t, c.do("POST", "/v1/password", map[string]string{"current_password": "guess guess", "new_password": "another good passphrase"}), 401, "invalid_credentials")
	}
	r := c.do("POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "another good passphrase"})
	want(t, r, 429, "rate_limited")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	e.clock.Advance(21 * time.Second)
	want(t, c.do("POST", "/v1/password", map[string]string{"current_password": pw, "new_password": "another good passphrase"}), 204, "")
}
