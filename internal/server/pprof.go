package server

import (
	"net/http"
	"net/http/pprof"
)

// pprofRoutes serves Go's profiler under /debug/pprof/ to admins, when
// admin.pprof is on. Off by default: profiles reveal internals.
func (s *Server) pprofRoutes() {
	if !s.opt.Pprof {
		return
	}
	wrap := func(h http.HandlerFunc) http.HandlerFunc {
		return s.admin(func(w http.ResponseWriter, r *http.Request, _ *identity) { h(w, r) })
	}
	s.mux.HandleFunc("GET /debug/pprof/", wrap(pprof.Index))
	s.mux.HandleFunc("GET /debug/pprof/cmdline", wrap(pprof.Cmdline))
	s.mux.HandleFunc("GET /debug/pprof/profile", wrap(pprof.Profile))
	s.mux.HandleFunc("GET /debug/pprof/symbol", wrap(pprof.Symbol))
	s.mux.HandleFunc("GET /debug/pprof/trace", wrap(pprof.Trace))
}
