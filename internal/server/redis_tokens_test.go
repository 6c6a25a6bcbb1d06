package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/internal/config"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/redisstore"
)

// TestRedisSessions_TokensEndToEnd: with store.sessions on Redis (and users
// in SQLite), app.Build puts refresh families and the denylist on Redis
// too, and the whole token flow works there: password grant, bearer whoami,
// rotation, a retry inside the grace window, then reuse after it revokes
// the family and its access tokens.
func TestRedisSessions_TokensEndToEnd(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	dir := t.TempDir()
	cfg, err := config.Load("", nil, map[string]string{
		"data":                dir,
		"store.users":         "sqlite:" + filepath.Join(dir, "users.db"),
		"store.sessions":      r.URL,
		"store.redis.prefix":  "e2e:",
		"token.refresh_grace": "3s",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	app, err := app.Build(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	if app.Tokens == nil {
		t.Fatal("no token endpoint with Redis sessions")
	}
	if _, ok := app.Tokens.Refresh.Store().(*redisstore.Store); !ok {
		t.Fatalf("refresh families are kept in %T, want *redisstore.Store", app.Tokens.Refresh.Store())
	}
	if _, err := app.Accounts.Register(ctx, "a@example.com", pw, nil, "org-1"); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(app.Server)
	t.Cleanup(hs.Close)
	e := &env{t: t, srv: hs}

	// Password grant: the family lives in Redis.
	tk := passwordGrant(t, e, "a@example.com", pw)
	sid := unverifiedClaim(t, tk.access, "sid")
	if got := r.Do(t, "EXISTS", "e2e:f:{"+sid+"}"); got != "1" {
		t.Fatalf("family %s not in Redis", sid)
	}
	whoami := func(access string) *resp {
		t.Helper()
		return e.bearer(access).do("GET", "/v1/whoami", nil)
	}
	res := whoami(tk.access)
	want(t, res, 200, "")
	if via := res.json["session"].(map[string]any)["via"]; via != "bearer" {
		t.Fatalf("whoami by bearer: %s", res.body)
	}

	// Rotation, and a retry inside the grace window gets the same pair.
	c := e.client()
	grant := func(refreshToken string) *resp {
		t.Helper()
		return c.form("/v1/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}})
	}
	res = grant(tk.refresh)
	want(t, res, 200, "")
	next, nextAccess := res.json["refresh_token"].(string), res.json["access_token"].(string)
	if next == tk.refresh || nextAccess == tk.access || unverifiedClaim(t, nextAccess, "sid") != sid {
		t.Fatal("refresh did not rotate within the family")
	}
	want(t, whoami(nextAccess), 200, "")
	res = grant(tk.refresh)
	want(t, res, 200, "")
	if res.json["refresh_token"] != next || res.json["access_token"] != nextAccess {
		t.Fatal("grace retry got a different pair")
	}

	// After the window the spent token is reuse: the family is revoked,
	// with its refresh tokens and access tokens.
	time.Sleep(3300 * time.Millisecond)
	oauthWant(t, grant(tk.refresh), 400, "invalid_grant")
	oauthWant(t, grant(next), 400, "invalid_grant")
	want(t, whoami(nextAccess), 401, "unauthorized")
	want(t, whoami(tk.access), 401, "unauthorized")
	if got := r.Do(t, "EXISTS", "e2e:f:{"+sid+"}"); got != "0" {
		t.Fatal("revoked family still in Redis")
	}
	if got := r.Do(t, "EXISTS", "e2e:deny:{sid:"+sid+"}"); got != "1" {
		t.Fatal("revoked family's access tokens not denied in Redis")
	}
}

// unverifiedClaim returns a string claim of a JWT, unverified.
func unverifiedClaim(t *testing.T, jwt, name string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	v, _ := m[name].(string)
	if v == "" {
		t.Fatalf("JWT without %s: %s", name, raw)
	}
	return v
}
