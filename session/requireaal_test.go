package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

// TestManager_RequireAAL_StepUp: a cookie session at aal1 is refused by a
// route needing aal2 within 10 minutes (401, RFC 9470 challenge,
// ErrStepUpRequired); after Raise with a one-time code it passes; ten
// minutes and a second later it is refused again.
func TestManager_RequireAAL_StepUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, clk, _ := newManager(t, session.Config{})
	var lastErr atomic.Pointer[error]
	onError := func(w http.ResponseWriter, _ *http.Request, status int, err error) {
		lastErr.Store(&err)
		w.WriteHeader(status)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(m.Middleware(nil)(m.RequireAAL(session.AAL2, 10*time.Minute, onError)(ok)))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	var gotErr error
	get := func(tok string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		if tok != "" {
			req.AddCookie(&http.Cookie{Name: session.CookieName, Value: tok})
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if p := lastErr.Swap(nil); p != nil {
			gotErr = *p
		}
		return resp
	}
	const challenge = `Bearer error="insufficient_user_authentication", acr_values="aal2", max_age=600`

	if resp := get(""); resp.StatusCode != http.StatusUnauthorized || !errors.Is(gotErr, session.ErrNotFound) {
		t.Fatalf("anonymous: %d, %v", resp.StatusCode, gotErr)
	}
	s, tok, err := m.Create(ctx, "alice", session.Meta{Method: "password"})
	if err != nil {
		t.Fatal(err)
	}
	resp := get(tok)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != challenge ||
		!errors.Is(gotErr, session.ErrStepUpRequired) {
		t.Fatalf("aal1: %d %q %v", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), gotErr)
	}
	_, tok2, err := m.Raise(ctx, s, session.FactorOTP)
	if err != nil {
		t.Fatal(err)
	}
	if resp := get(tok2); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("after step-up: %d", resp.StatusCode)
	}
	clk.Advance(10*time.Minute + time.Second)
	if resp := get(tok2); resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != challenge {
		t.Fatalf("stale step-up: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}
