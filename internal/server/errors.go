package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/web"
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
	codeMFARequired        = "mfa_required"
	codeStepUpRequired     = "step_up_required"
	codeEmailNotVerified   = "email_not_verified"
	codeInvalidToken       = "invalid_token"
)

// statusOf is the one table from error code to HTTP status.
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
	codeMFARequired:        http.StatusUnauthorized,
	codeStepUpRequired:     http.StatusUnauthorized,
	codeEmailNotVerified:   http.StatusForbidden,
	codeInvalidToken:       http.StatusBadRequest,
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

// Error implements error; it includes the cause, for the log.
func (e *apiError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the logged cause.
func (e *apiError) Unwrap() error { return e.cause }

// errf is an *apiError with a formatted, client-safe message.
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
	case errors.Is(err, account.ErrEmailNotVerified):
		return errEmailNotVerified
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

// The three audiences of an error, each with one way to answer it:
//
//   - the JSON API: base.writeError, {"error","message"} with the status
//     of statusOf;
//   - the OAuth endpoints: base.writeOAuthError, RFC 6749 §5.2
//     {"error","error_description"};
//   - browsers: errorPages, sessiond's HTML error page.
//
// All three map errors through toAPIError (or an *oauthError), set
// Retry-After through retryAfterSeconds, and log the full error while the
// client sees only the contract's message.

// classify maps err to its contract error and status, and logs it (the full
// error goes only to the log).
func (b *base) classify(r *http.Request, err error) (*apiError, int) {
	ae := toAPIError(err)
	status := statusOf[ae.Code]
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	b.log.Log(r.Context(), level, "request failed", slog.String("request_id", requestID(r.Context())),
		slog.String("code", ae.Code), slog.Int("status", status), slog.Any("error", err))
	return ae, status
}

// writeError answers r with err in the contract's form and logs it.
func (b *base) writeError(w http.ResponseWriter, r *http.Request, err error) {
	ae, status := b.classify(r, err)
	setRetryAfter(w.Header(), ae.RetryAfter)
	if ae.Code == codeStepUpRequired { // RFC 9470 step-up challenge
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication", error_description="a second factor is required", acr_values="aal2"`)
	}
	writeJSON(w, status, map[string]string{"error": ae.Code, "message": ae.Message})
}

// writeOAuthError answers in RFC 6749 §5.2 form. Errors that are not OAuth
// errors (a store failure) become 503 with the same shape.
func (b *base) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		var rl *account.RateLimitedError
		switch {
		case errors.As(err, &rl):
			oe = &oauthError{Status: http.StatusTooManyRequests, Code: "rate_limited", Description: "too many failed attempts; try again later", RetryAfter: rl.RetryAfter}
		default:
			ae := toAPIError(err)
			if ae.Code == codeTooLarge {
				oe = oauthErr(http.StatusRequestEntityTooLarge, "invalid_request", ae.Message)
			} else if ae.Code == codeInvalidRequest {
				oe = oauthErr(http.StatusBadRequest, "invalid_request", ae.Message)
			} else {
				b.log.Error("oauth request failed", slog.String("request_id", requestID(r.Context())), slog.Any("error", err))
				oe = oauthErr(http.StatusServiceUnavailable, "temporarily_unavailable", "a backing store is unavailable; try again shortly")
			}
		}
	}
	if oe.Status == http.StatusUnauthorized && oe.Code == "invalid_client" {
		w.Header().Set("WWW-Authenticate", `Basic realm="sessiond"`)
	}
	setRetryAfter(w.Header(), oe.RetryAfter)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, oe.Status, map[string]string{"error": oe.Code, "error_description": oe.Description})
}

// errorPages answers browsers with sessiond's HTML error page, rendered by
// a room's site: the pages' and the OpenID Provider's one way to answer an
// error.
type errorPages struct {
	*base
	site *web.Site
	// backLinks offers the way back to the login or account page (the
	// pages); the OpenID Provider's pages offer none, since the way on is
	// the application that sent the browser.
	backLinks bool
	// unavailable are the title and message of a 503.
	unavailable [2]string
}

// show renders the error page with status, title and msg.
func (e errorPages) show(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	page := web.ErrorPage{Title: title, Message: msg}
	if e.backLinks {
		page.Back, page.BackLabel = e.origin.url("/account"), "Back to your account"
		if strings.HasPrefix(r.URL.Path, "/login") {
			page.Back, page.BackLabel = e.origin.url("/login"), "Back to sign in"
		}
	}
	if err := e.site.RenderError(w, status, page); err != nil {
		e.log.ErrorContext(r.Context(), "render error page", slog.Any("error", err))
	}
}

// fail answers an error the room does not handle itself (a store outage,
// mostly) through the API's one error mapping, as an HTML page.
func (e errorPages) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae, status := e.classify(r, err)
	setRetryAfter(w.Header(), ae.RetryAfter)
	title, msg := http.StatusText(status), ae.Message
	if status == http.StatusServiceUnavailable {
		title, msg = e.unavailable[0], e.unavailable[1]
	}
	e.show(w, r, status, title, msg)
}

// refuse logs err as the API does and answers with its status and a page
// of its own words.
func (e errorPages) refuse(w http.ResponseWriter, r *http.Request, err *apiError, title, msg string) {
	_, status := e.classify(r, err)
	e.show(w, r, status, title, msg)
}

// retryAfterSeconds is the one Retry-After value for a wait of d: whole
// seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	sec := int(d / time.Second)
	if d%time.Second != 0 {
		sec++
	}
	return strconv.Itoa(max(sec, 1))
}

// setRetryAfter sets Retry-After for a wait of d; none when d is zero.
func setRetryAfter(h http.Header, d time.Duration) {
	if d > 0 {
		h.Set("Retry-After", retryAfterSeconds(d))
	}
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
