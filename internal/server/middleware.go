package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// ctxKey is the type of the server's context keys.
type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyIdentity
)

// requestID is the request's ID, set by outer.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// validRequestID accepts 1–128 printable ASCII characters.
func validRequestID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID is 96 random bits in hex.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusWriter records the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

// WriteHeader records the first status.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status was written, and counts bytes.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// outer wraps every request: request ID, panic recovery, access log and
// metrics, baseline security headers (HSTS over TLS).
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.TLS != nil && s.opt.HSTS != "" {
			w.Header().Set("Strict-Transport-Security", s.opt.HSTS)
		}
		r = s.origin.route(r.WithContext(context.WithValue(r.Context(), keyRequestID, id)))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic serving request", slog.String("request_id", id), slog.Any("panic", p),
					slog.String("stack", string(debug.Stack())))
				if sw.status == 0 {
					s.base.writeError(sw, r, errf(codeUnavailable, "internal error"))
				}
			}
			route := r.Pattern
			if route == "" || route == "/" {
				route = "unmatched"
			}
			d := time.Since(start)
			s.metrics.observe(route, r.Method, sw.status, d)
			if s.accessLog {
				s.log.Info("request", slog.String("request_id", id), slog.String("method", r.Method),
					slog.String("route", route), slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
					slog.Duration("duration", d), slog.String("ip", s.clientIP(r)))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
