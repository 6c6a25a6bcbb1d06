package session

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

type ctxKey struct{}

// NewContext returns ctx carrying s.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// FromContext returns the session the middleware loaded, if any.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok && s != nil
}

// ErrorFunc writes an error response. status is 401 for a missing or dead
// session and 503 when the store failed.
type ErrorFunc func(w http.ResponseWriter, r *http.Request, status int, err error)

func defaultError(w http.ResponseWriter, _ *http.Request, status int, _ error) {
	http.Error(w, http.StatusText(status), status)
}

// Middleware loads the session named by the request's cookie, if any, into
// the request context (see FromContext). A missing, malformed, unknown or
// expired cookie leaves the request anonymous (and an expired or unknown one
// is cleared). When the store fails, the request is not served as anonymous:
// onError (nil: a plain 503) answers it, so nobody is authenticated by
// accident while the store is away.
func (m *Manager) Middleware(onError ErrorFunc) func(http.Handler) http.Handler {
	if onError == nil {
		onError = defaultError
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			tok := m.CookieToken(r)
			if tok == "" {
				next.ServeHTTP(w, r)
				return
			}
			s, err := m.Load(r.Context(), tok)
			switch {
			case err == nil:
				r = r.WithContext(NewContext(r.Context(), s))
			case IsAuthFailure(err):
				m.ClearCookie(w, r)
			default:
				onError(w, r, http.StatusServiceUnavailable, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Require answers 401 (through onError, nil: plain text) when the request
// carries no live session, and calls next otherwise. Use it after Middleware.
func Require(onError ErrorFunc, next http.Handler) http.Handler {
	if onError == nil {
		onError = defaultError
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := FromContext(r.Context()); !ok {
			onError(w, r, http.StatusUnauthorized, ErrNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// IsAuthFailure reports whether err means "this credential is no good"
// (malformed, unknown, expired) rather than "the store failed".
func IsAuthFailure(err error) bool {
	return errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrExpired)
}

// ErrStepUpRequired is what RequireAAL hands its ErrorFunc when the session
// is below the level asked for, or its authentication at that level is too
// old.
var ErrStepUpRequired = errors.New("session: insufficient user authentication")

// StepUpChallenge is the RFC 9470 WWW-Authenticate challenge asking for level
// within maxAge (maxAge 0: no max_age): Bearer
// error="insufficient_user_authentication", acr_values="aal2", max_age=600.
func StepUpChallenge(level AAL, maxAge time.Duration) string {
	c := `Bearer error="insufficient_user_authentication", acr_values="` + level.ACR() + `"`
	if maxAge > 0 {
		c += ", max_age=" + strconv.FormatInt(int64((maxAge+time.Second-1)/time.Second), 10)
	}
	return c
}

// RequireAAL returns middleware that lets a request through only when the
// session Middleware loaded satisfies level with an authentication at that
// level no older than maxAge (Assurance.Satisfies; maxAge 0: any age).
// Otherwise onError (nil: plain text) answers 401 with ErrStepUpRequired,
// after the WWW-Authenticate header is set to StepUpChallenge(level, maxAge)
// (RFC 9470); a request without a session gets 401 with ErrNotFound. Place
// it behind Middleware.
func (m *Manager) RequireAAL(level AAL, maxAge time.Duration, onError ErrorFunc) func(http.Handler) http.Handler {
	if onError == nil {
		onError = defaultError
	}
	challenge := StepUpChallenge(level, maxAge)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, ok := FromContext(r.Context())
			if !ok {
				onError(w, r, http.StatusUnauthorized, ErrNotFound)
				return
			}
			if !s.Assurance.Satisfies(level, maxAge, m.now()) {
				w.Header().Set("WWW-Authenticate", challenge)
				onError(w, r, http.StatusUnauthorized, ErrStepUpRequired)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
