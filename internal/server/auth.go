package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
)

// identity is who is calling, established once per request.
type identity struct {
	User *account.User
	// Session is the cookie session (Via "cookie").
	Session *session.Session
	// Via is "cookie" or "bearer".
	Via string
	// Bearer holds what a bearer credential resolved to (Via "bearer").
	Bearer *BearerIdentity
}

// BearerIdentity is what a verified access token says about its caller.
type BearerIdentity struct {
	SessionID string // sid: the cookie session or refresh family it belongs to
	TokenID   string // jti
	ClientID  string
	Scope     string
	ExpiresAt int64
	IssuedAt  int64
	// Assurance is what the token's acr, amr and auth_time say.
	Assurance session.Assurance
}

// sessionID is the cookie session, or the bearer token's sid.
func (id *identity) sessionID() string {
	if id.Session != nil {
		return id.Session.ID
	}
	if id.Bearer != nil {
		return id.Bearer.SessionID
	}
	return ""
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

// authn resolves a request's credential — a bearer access token or the
// session cookie — for every room: the API's authed and admin wrappers, the
// pages and the OpenID Provider (cookieIdentity), and the gateway.
type authn struct {
	*base
	sessions *session.Manager
	users    account.Store
	tokens   *Tokens // nil: no bearer tokens
}

// authenticate resolves the caller's credential. No credential, or a bad
// one, is errUnauthorized; a store failure is returned as is (503).
func (s *authn) authenticate(r *http.Request) (*identity, error) {
	ctx := r.Context()
	if tok, ok := bearerToken(r); ok {
		if tok == "" || s.tokens == nil {
			return nil, errUnauthorized
		}
		u, b, err := s.tokens.AuthenticateBearer(ctx, tok)
		if err != nil {
			return nil, err
		}
		return &identity{User: u, Via: "bearer", Bearer: b}, nil
	}
	tok := s.sessions.CookieToken(r)
	if tok == "" {
		return nil, errUnauthorized
	}
	sess, err := s.sessions.Load(ctx, tok)
	if err != nil {
		if session.IsAuthFailure(err) {
			return nil, errUnauthorized
		}
		return nil, err
	}
	u, err := s.users.UserByID(ctx, sess.UserID)
	if errors.Is(err, account.ErrNotFound) || err == nil && u.Disabled {
		_ = s.sessions.Destroy(ctx, sess.ID)
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if s.mfa != nil {
		if err := s.mfa.gate(r, sess); err != nil {
			return nil, err
		}
	}
	return &identity{User: u, Session: sess, Via: "cookie"}, nil
}

// cookieIdentity authenticates a browser by its session cookie alone:
// pages and the OpenID Provider are for browsers, and an Authorization
// header (Basic, from a proxy in front) must neither stand in for nor hide
// the cookie. No session, or an invalid one, is errUnauthorized; a store
// failure is returned as is.
func (s *authn) cookieIdentity(r *http.Request) (*identity, error) {
	if r.Header.Get("Authorization") != "" {
		r = r.Clone(r.Context())
		r.Header.Del("Authorization")
	}
	return s.authenticate(r)
}

// authedHandler is a handler that needs the caller's identity.
type authedHandler func(w http.ResponseWriter, r *http.Request, id *identity)

// unsafeMethod reports a method that may change state.
func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// authed requires a credential; for cookie-authenticated unsafe methods it
// also requires same-origin and the session's CSRF token.
func (s *authn) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authenticate(r)
		if err != nil {
			if errors.Is(err, errUnauthorized) && s.sessions.CookieToken(r) != "" {
				s.sessions.ClearCookie(w, r)
			}
			s.writeError(w, r, err)
			return
		}
		if id.Via == "cookie" && unsafeMethod(r.Method) {
			if err := s.checkCSRF(r, id.Session); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r.WithContext(context.WithValue(r.Context(), keyIdentity, id)), id)
	}
}

// admin requires the "admin" role.
func (s *authn) admin(h authedHandler) http.HandlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request, id *identity) {
		if !id.User.HasRole("admin") {
			s.writeError(w, r, errf(codeForbidden, "the admin role is required"))
			return
		}
		h(w, r, id)
	})
}

// errCrossSite refuses a cookie-authenticated request from another site.
var errCrossSite = errf(codeCSRF, "cross-site request refused")

// checkCSRF refuses cross-origin requests (Sec-Fetch-Site, Origin) and
// requests whose X-CSRF-Token is not the session's.
func (s *authn) checkCSRF(r *http.Request, sess *session.Session) error {
	if err := s.csrf.Check(r); err != nil {
		return errCrossSite
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
		return errf(codeCSRF, "missing or wrong X-CSRF-Token")
	}
	return nil
}
