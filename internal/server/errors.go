package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
)

// Error codes of the API contract, and the one table mapping them to status.
const (
	codeInvalidRequest     = "invalid_request"
	codeInvalidCredentials = "invalid_credentials"
	codeUnauthorized       = "unauthorized"
	codeForbidden          = "forbidden"
	codeCSRF               = "csrf"
	codeNotFound           = "not_found"
	codeConflict           = "conflict"
	codePrecondition       = "precondition_failed"
	codeRateLimited        = "rate_limited"
	codeTooLarge           = "payload_too_large"
	codeUnavailable        = "unavailable"
	codeMethodNotAllowed   = "method_not_allowed"
)

var statusOf = map[string]int{
	codeInvalidRequest:     http.StatusBadRequest,
	codeInvalidCredentials: http.StatusUnauthorized,
	codeUnauthorized:       http.StatusUnauthorized,
	codeForbidden:          http.StatusForbidden,
	codeCSRF:               http.StatusForbidden,
	codeNotFound:           http.StatusNotFound,
	codeConflict:           http.StatusConflict,
	codePrecondition:       http.StatusPreconditionFailed,
	codeRateLimited:        http.StatusTooManyRequests,
	codeTooLarge:           http.StatusRequestEntityTooLarge,
	codeUnavailable:        http.StatusServiceUnavailable,
	codeMethodNotAllowed:   http.StatusMethodNotAllowed,
}

// apiError is an error with a contract code and a message safe for clients.
type apiError struct {
	Code    string
	Message string
	// RetryAfter, when set, becomes a Retry-After header.
	RetryAfter time.Duration
	// cause is logged, never shown.
	cause error
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return e.Code + ": " + e.Message
}

func (e *apiError) Unwrap() error { return e.cause }

func errf(code, format string, args ...any) *apiError {
	return &apiError{Code: code, Message: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = errf(codeUnauthorized, "authentication required")
	errNotFound     = errf(codeNotFound, "no such resource")
)

// toAPIError maps any error to the contract's form. Unknown errors are store
// or dependency failures: 503, fail closed.
func toAPIError(err error) *apiError {
	var ae *apiError
	var rl *account.RateLimitedError
	var pe *account.PasswordError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &rl):
		return &apiError{Code: codeRateLimited, Message: "too many failed attempts; try again later", RetryAfter: rl.RetryAfter}
	case errors.Is(err, account.ErrInvalidCredentials):
		return errf(codeInvalidCredentials, "the email or password is incorrect")
	case errors.As(err, &pe):
		return errf(codeInvalidRequest, "the new password is too weak: %s", pe.Reason)
	case errors.Is(err, account.ErrInvalidEmail):
		return errf(codeInvalidRequest, "the email address is not valid")
	case errors.Is(err, session.ErrPrecondition):
		return errf(codePrecondition, "the session data changed since the version in If-Match")
	case errors.Is(err, session.ErrNotObject):
		return errf(codeInvalidRequest, "the merge patch must be a JSON object")
	case session.IsAuthFailure(err):
		return errUnauthorized
	case errors.Is(err, session.ErrConflict):
		return errf(codeConflict, "the resource exists already")
	case errors.Is(err, context.Canceled):
		return errf(codeUnavailable, "the request was canceled")
	}
	return &apiError{Code: codeUnavailable, Message: "a backing store is unavailable; try again shortly", cause: err}
}

// classify maps err to its contract error and status, and logs it (the full
// error goes only to the log).
func (s *Server) classify(r *http.Request, err error) (*apiError, int) {
	ae := toAPIError(err)
	status := statusOf[ae.Code]
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(r.Context(), level, "request failed", slog.String("request_id", requestID(r.Context())),
		slog.String("code", ae.Code), slog.Int("status", status), slog.Any("error", err))
	return ae, status
}

// writeError answers r with err in the contract's form and logs it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae, status := s.classify(r, err)
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ae.RetryAfter.Seconds()))))
	}
	writeJSON(w, status, map[string]string{"error": ae.Code, "message": ae.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
