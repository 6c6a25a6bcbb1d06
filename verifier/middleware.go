package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// claimsKey is the context key of the verified claims.
type claimsKey struct{}

// ContextWithClaims returns a copy of ctx carrying c, as Middleware does.
// Tests of handlers behind the middleware use it to fake a caller.
func ContextWithClaims(ctx context.Context, c *token.Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFromContext returns the claims that Middleware verified for this
// request, and whether there are any.
func ClaimsFromContext(ctx context.Context) (*token.Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(*token.Claims)
	return c, ok && c != nil
}

// Middleware authenticates every request by its bearer access token
// (RFC 6750 §2.1, the Authorization header only: never a query parameter or
// form field) and calls next with the claims in the request context
// (ClaimsFromContext). Otherwise it answers, without calling next:
//   - 401 with WWW-Authenticate: Bearer and {"error":"unauthorized",...}
//     when there is no bearer token, and the same with
//     error="invalid_token" when the token is invalid, expired or revoked.
//     Every such failure looks the same from outside; the reason goes to
//     the Logger.
//   - 503 with {"error":"unavailable",...} when the keys or the revocation
//     status cannot be loaded (fail closed).
//
// Put CORS handling in front of it: a preflight request carries no token.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := bearerToken(r.Header)
		if !ok {
			writeError(w, r, errNoToken, v.logger)
			return
		}
		c, err := v.Verify(r.Context(), raw)
		if err != nil {
			writeError(w, r, err, v.logger)
			return
		}
		next.ServeHTTP(w, r.WithContext(ContextWithClaims(r.Context(), c)))
	})
}

// bearerToken returns the token of the request's single "Authorization:
// Bearer <token>" header. The scheme is matched case-insensitively.
func bearerToken(h http.Header) (string, bool) {
	vals := h.Values("Authorization")
	if len(vals) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

// RequireRoles returns middleware that lets a request through only when the
// claims that Middleware put in its context hold every one of roles (403
// forbidden otherwise; 401 without claims). Place it behind Middleware.
func RequireRoles(roles ...string) func(http.Handler) http.Handler {
	roles = slices.Clone(roles)
	return guard(func(_ http.Header, c *token.Claims) error {
		for _, role := range roles {
			if !slices.Contains(c.Roles, role) {
				return errForbidden
			}
		}
		return nil
	})
}

// guard returns middleware that answers 401 without claims, and otherwise
// lets the request through when check returns nil; check may set response
// headers (a challenge) before it returns its error.
func guard(check func(h http.Header, c *token.Claims) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := ClaimsFromContext(r.Context())
			if !ok {
				writeError(w, r, errNoToken, nil)
				return
			}
			if err := check(w.Header(), c); err != nil {
				writeError(w, r, err, nil)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RequireScope returns middleware that lets a request through only when the
// space-separated scope claim holds every one of scopes (403 forbidden with
// WWW-Authenticate: Bearer error="insufficient_scope", scope="..."
// otherwise; 401 without claims). Place it behind Middleware. It panics if
// a scope is empty or not an RFC 6749 scope-token (a wiring mistake).
func RequireScope(scopes ...string) func(http.Handler) http.Handler {
	for _, s := range scopes {
		if !validScopeToken(s) {
			panic("verifier: RequireScope: invalid scope " + strconv.Quote(s))
		}
	}
	scopes = slices.Clone(scopes)
	challenge := `Bearer error="insufficient_scope", scope="` + strings.Join(scopes, " ") + `"`
	return guard(func(h http.Header, c *token.Claims) error {
		have := strings.Fields(c.Scope)
		for _, s := range scopes {
			if !slices.Contains(have, s) {
				h.Set("WWW-Authenticate", challenge)
				return errForbidden
			}
		}
		return nil
	})
}

// RequireAAL returns middleware that lets a request through only when the
// claims that Middleware put in its context show level (acr "aal1" or
// "aal2") with an auth_time no older than maxAge by the Verifier's clock
// (maxAge 0: any age). Otherwise it answers 401 with error
// "insufficient_user_authentication" and the RFC 9470 challenge
// WWW-Authenticate: Bearer error="insufficient_user_authentication",
// acr_values="aal2", max_age=N; 401 without claims. The client gets a new
// token after the user steps up. Place it behind Middleware.
func (v *Verifier) RequireAAL(level session.AAL, maxAge time.Duration) func(http.Handler) http.Handler {
	challenge := session.StepUpChallenge(level, maxAge)
	return guard(func(h http.Header, c *token.Claims) error {
		if !c.Assurance().Satisfies(level, maxAge, v.now()) {
			h.Set("WWW-Authenticate", challenge)
			return errStepUp
		}
		return nil
	})
}

// validScopeToken: 1*( %x21 / %x23-5B / %x5D-7E ) (RFC 6749 §3.3).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

var (
	errNoToken   = errors.New("verifier: no bearer token")
	errForbidden = errors.New("verifier: insufficient permissions")
	errStepUp    = errors.New("verifier: insufficient user authentication")
)

// httpError is one row of the table that maps errors to responses.
type httpError struct {
	status    int
	code      string
	message   string
	challenge string // WWW-Authenticate, if any
}

// errorFor maps an error to the response clients see. The order matters:
// unavailability is checked first so that an unknown error fails closed
// with 503, never 401 or 200.
func errorFor(err error) httpError {
	switch {
	case errors.Is(err, errNoToken):
		return httpError{http.StatusUnauthorized, "unauthorized", "a bearer access token is required", "Bearer"}
	case errors.Is(err, errStepUp):
		return httpError{http.StatusUnauthorized, "insufficient_user_authentication", "a stronger or more recent authentication is required", ""}
	case errors.Is(err, errForbidden):
		return httpError{http.StatusForbidden, "forbidden", "the access token does not grant this request", ""}
	case errors.Is(err, ErrUnavailable):
		return httpError{http.StatusServiceUnavailable, "unavailable", "the access token cannot be checked now; try again later", ""}
	case errors.Is(err, token.ErrInvalidToken):
		return httpError{http.StatusUnauthorized, "unauthorized", "the access token is invalid", `Bearer error="invalid_token"`}
	default:
		return httpError{http.StatusServiceUnavailable, "unavailable", "the access token cannot be checked now; try again later", ""}
	}
}

// writeError answers err as JSON {"error","message"} and logs its full text.
func writeError(w http.ResponseWriter, r *http.Request, err error, logger *slog.Logger) {
	he := errorFor(err)
	if logger != nil {
		level := slog.LevelDebug
		if he.status >= 500 {
			level = slog.LevelWarn
		}
		logger.Log(r.Context(), level, "verifier: request refused", "status", he.status, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h := w.Header()
	if he.challenge != "" && h.Get("WWW-Authenticate") == "" {
		h.Set("WWW-Authenticate", he.challenge)
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(he.status)
	_ = json.NewEncoder(w).Encode(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{he.code, he.message})
}
