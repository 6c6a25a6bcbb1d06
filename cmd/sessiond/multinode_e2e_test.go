package main_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sessiond/sessiond/internal/testenv"
)

// cluster is N sessiond processes sharing one Redis (sessions, limits) and
// one PostgreSQL database (users, keys).
type cluster struct {
	nodes []*proc
	cfg   string
	data  string
}

func startCluster(t *testing.T, n int, extra string) *cluster {
	t.Helper()
	rd := testenv.StartRedis(t)
	dsn := testenv.Postgres(t)
	dir := t.TempDir()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	cfg := writeConfig(t, dir, fmt.Sprintf(`store:
  users: %q
  sessions: %q
token:
  key_encryption_key: %q
  issuer: "http://sessiond.cluster.test"
%s`, dsn, rd.URL, base64.StdEncoding.EncodeToString(kek), extra))
	if out, err := run(t, "", "migrate", "--config", cfg, "--data", dir); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for _, u := range []struct{ email, role string }{{"root@example.com", "admin"}, {"a@example.com", "dev"}} {
		if out, err := run(t, "a long enough pass\n", "user", "add", "--config", cfg, "--data", dir, "--email", u.email, "--role", u.role, "--password-stdin"); err != nil {
			t.Fatalf("user add: %v\n%s", err, out)
		}
	}
	c := &cluster{cfg: cfg, data: dir}
	for range n {
		c.nodes = append(c.nodes, serve(t, dir, "--config", cfg))
	}
	return c
}

func (b *browser) at(base string) *browser {
	b.rebase(base)
	return b
}

func TestMultiNode_OneTruth(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, "ratelimit:\n  login_per_account: 5/1m\n")
	n1, n2, n3 := c.nodes[0].url, c.nodes[1].url, c.nodes[2].url

	// A login on node 1 is valid on nodes 2 and 3.
	a := newBrowser(t, n1)
	a.login("a@example.com", "a long enough pass")
	for _, n := range []string{n2, n3} {
		if code := a.at(n).whoami(); code != 200 {
			t.Fatalf("session from node 1 on %s: %d", n, code)
		}
	}

	// A revocation on node 3 is refused on node 1 at once.
	_, m := a.at(n3).do("GET", "/v1/sessions", nil)
	id := m["sessions"].([]any)[0].(map[string]any)["id"].(string)
	other := newBrowser(t, n2)
	other.login("a@example.com", "a long enough pass")
	if code, _ := other.at(n3).do("DELETE", "/v1/sessions/"+id, nil); code != 204 {
		t.Fatalf("revoke on node 3: %d", code)
	}
	if code := a.at(n1).whoami(); code != 401 {
		t.Fatalf("session revoked on node 3 still valid on node 1: %d", code)
	}

	// Log out everywhere on node 3 reaches node 1.
	b1 := newBrowser(t, n1)
	b1.login("a@example.com", "a long enough pass")
	if code, _ := other.at(n3).do("DELETE", "/v1/sessions?scope=all", nil); code != 204 {
		t.Fatalf("logout everywhere: %d", code)
	}
	if code := b1.at(n1).whoami(); code != 401 {
		t.Fatalf("logout everywhere on node 3 not seen on node 1: %d", code)
	}

	// 60 concurrent session-data merges spread over the three nodes lose nothing.
	d := newBrowser(t, n1)
	d.login("a@example.com", "a long enough pass")
	clients := []*browser{d, cloneBrowser(d, n2), cloneBrowser(d, n3)}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			br := clients[i%3]
			req, _ := http.NewRequest("PATCH", br.base+"/v1/session/data", stringsReader(fmt.Sprintf(`{"k%d":%d}`, i, i)))
			req.Header.Set("Content-Type", "application/merge-patch+json")
			req.Header.Set("X-CSRF-Token", br.csrf)
			res, err := br.hc.Do(req)
			if err != nil {
				t.Errorf("merge %d: %v", i, err)
				return
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("merge %d on %s: %d", i, br.base, res.StatusCode)
			}
		}()
	}
	wg.Wait()
	_, m = d.at(n2).do("GET", "/v1/session/data", nil)
	if data := m["data"].(map[string]any); len(data) != 60 {
		t.Fatalf("lost merges across nodes: %d keys, want 60", len(data))
	}

	// A user disabled on node 3 is refused on node 1 at once.
	admin := newBrowser(t, n3)
	admin.login("root@example.com", "a long enough pass")
	_, who := d.at(n1).do("GET", "/v1/whoami", nil)
	uid := who["user"].(map[string]any)["id"].(string)
	if code, _ := admin.do("PATCH", "/v1/admin/users/"+uid, map[string]any{"disabled": true}); code != 200 {
		t.Fatalf("disable: %d", code)
	}
	if code := d.at(n1).whoami(); code != 401 {
		t.Fatalf("user disabled on node 3 still served on node 1: %d", code)
	}

	// The failed-login limit counts across nodes: 5 failures spread over the
	// nodes, then the sixth attempt on any node is 429.
	for i := range 5 {
		code, _ := newBrowser(t, c.nodes[i%3].url).do("POST", "/v1/login", map[string]string{"email": "root@example.com", "password": "wrong password!"})
		if code != 401 {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	if code, _ := newBrowser(t, n2).do("POST", "/v1/login", map[string]string{"email": "root@example.com", "password": "a long enough pass"}); code != 429 {
		t.Fatalf("sixth attempt across nodes: %d, want 429", code)
	}
}

// cloneBrowser returns a browser with b's cookies and CSRF token pointed at base.
func cloneBrowser(b *browser, base string) *browser {
	nb := newBrowser(b.t, b.base)
	u, _ := http.NewRequest("GET", b.base, nil)
	nb.hc.Jar.SetCookies(u.URL, b.hc.Jar.Cookies(u.URL))
	nb.csrf = b.csrf
	nb.rebase(base)
	return nb
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
