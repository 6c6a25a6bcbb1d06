package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/app"
	"github.com/sessiond/sessiond/session"
)

// The embedded store's near caches show in /metrics: a whoami answered from
// the session cache counts as a hit.
func TestMetrics_NearCache(t *testing.T) {
	ctx := context.Background()
	app, err := app.Build(ctx, buildConfig(t, map[string]string{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	u := &account.User{ID: "u1", Email: "a@example.com", PasswordHash: "x"}
	if err := app.Users.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	_, tok, err := app.Sessions.Create(ctx, "u1", session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r := httptest.NewRequest("GET", "/v1/whoami", nil)
		r.AddCookie(&http.Cookie{Name: "sessiond", Value: tok})
		w := httptest.NewRecorder()
		app.Server.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("whoami: %d %s", w.Code, w.Body)
		}
	}
	w := httptest.NewRecorder()
	app.Server.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	for _, want := range []string{`sessiond_near_cache_hits_total{cache="sessions"} 2`, `sessiond_near_cache_hits_total{cache="users"} 2`, `sessiond_near_cache_entries{cache="sessions"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
