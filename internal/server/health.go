package server

import (
	"context"
	"net/http"
	"time"
)

// Pinger is a dependency that /readyz checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// handleHealthz: GET /healthz, 200 while the process serves.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz answers 503 while any store is unreachable.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for name, p := range s.opt.Ready {
		if err := p.Ping(ctx); err != nil {
			s.log.Warn("not ready", "store", name, "error", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": codeUnavailable, "message": name + " store is unreachable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
