package server_test

import (
	"strings"
	"testing"
)

func TestPprof_AdminsOnlyAndOffByDefault(t *testing.T) {
	t.Parallel()
	off := newEnv(t, envOptions{})
	off.addUser("root@example.com", pw, "admin")
	c := off.client()
	want(t, c.login("root@example.com", pw), 200, "")
	want(t, c.do("GET", "/debug/pprof/", nil), 404, "not_found")

	on := newEnv(t, envOptions{pprof: true})
	on.addUser("root@example.com", pw, "admin")
	on.addUser("a@example.com", pw)
	want(t, on.client().do("GET", "/debug/pprof/", nil), 401, "unauthorized")
	user := on.client()
	want(t, user.login("a@example.com", pw), 200, "")
	want(t, user.do("GET", "/debug/pprof/", nil), 403, "forbidden")
	admin := on.client()
	want(t, admin.login("root@example.com", pw), 200, "")
	r := admin.do("GET", "/debug/pprof/", nil)
	if r.StatusCode != 200 || !strings.Contains(string(r.body), "goroutine") {
		t.Fatalf("pprof index for an admin: %d", r.StatusCode)
	}
}
