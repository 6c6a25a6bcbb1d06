package server

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoutes serves Go's profiler under /debug/pprof/ to admins, when
// admin.pprof is on (the caller checks). Off by default: profiles reveal
// internals.
func pprofRoutes(m *http.ServeMux, auth *authn) {
	wrap := func(h http.HandlerFunc) http.HandlerFunc {
		return auth.admin(func(w http.ResponseWriter, r *http.Request, _ *identity) { h(w, r) })
	}
	m.HandleFunc("GET /debug/pprof/", wrap(pprof.Index))
	m.HandleFunc("GET /debug/pprof/cmdline", wrap(pprof.Cmdline))
	m.HandleFunc("GET /debug/pprof/profile", wrap(pprof.Profile))
	m.HandleFunc("GET /debug/pprof/symbol", wrap(pprof.Symbol))
	m.HandleFunc("GET /debug/pprof/trace", wrap(pprof.Trace))
}
