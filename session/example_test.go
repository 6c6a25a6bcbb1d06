package session_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
)

// A web application embeds a Manager: log a user in, then let the middleware
// load the session on every request.
func ExampleManager() {
	mgr, err := session.NewManager(session.Config{Store: memstore.New(nil)})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the password first ...
		s, tok, err := mgr.Create(r.Context(), "user-42", session.Meta{IP: r.RemoteAddr, UserAgent: r.UserAgent()})
		if err != nil {
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		mgr.SetCookie(w, r, s, tok)
	})
	mux.Handle("GET /me", session.Require(nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, _ := session.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", s.UserID)
	})))
	h := mgr.Middleware(nil)(mux)

	login := httptest.NewRecorder()
	h.ServeHTTP(login, httptest.NewRequest("POST", "/login", nil))
	me := httptest.NewRequest("GET", "/me", nil)
	for _, c := range login.Result().Cookies() {
		me.AddCookie(c)
	}
	res := httptest.NewRecorder()
	h.ServeHTTP(res, me)
	fmt.Println(res.Body.String())

	anon := httptest.NewRecorder()
	h.ServeHTTP(anon, httptest.NewRequest("GET", "/me", nil))
	fmt.Println(anon.Code)
	// Output:
	// hello user-42
	// 401
}

// Renew gives a session a new ID and token at a privilege change; the old
// token stops working at once.
func ExampleManager_Renew() {
	ctx := context.Background()
	mgr, _ := session.NewManager(session.Config{Store: memstore.New(nil)})
	s, oldTok, _ := mgr.Create(ctx, "user-42", session.Meta{})
	ns, newTok, _ := mgr.Renew(ctx, s)
	_, errOld := mgr.Load(ctx, oldTok)
	_, errNew := mgr.Load(ctx, newTok)
	fmt.Println(ns.ID != s.ID, errOld != nil, errNew == nil)
	// Output: true true true
}

// MergeData applies an RFC 7396 merge patch atomically.
func ExampleManager_MergeData() {
	ctx := context.Background()
	mgr, _ := session.NewManager(session.Config{Store: memstore.New(nil)})
	s, _, _ := mgr.Create(ctx, "user-42", session.Meta{})
	_, _, _ = mgr.MergeData(ctx, s.ID, []byte(`{"cart":{"apples":2},"theme":"dark"}`), nil)
	data, version, _ := mgr.MergeData(ctx, s.ID, []byte(`{"cart":{"pears":1},"theme":null}`), nil)
	fmt.Println(string(data), version)
	// Output: {"cart":{"apples":2,"pears":1}} 2
}
