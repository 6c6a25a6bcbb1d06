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
}

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

// authenticate resolves the caller's credential. No credential, or a bad
// one, is errUnauthorized; a store failure is returned as is (503).
func (s *Server) authenticate(r *http.Request) (*identity, error) {
	ctx := r.Context()
	if tok, ok := bearerToken(r); ok {
		if tok == "" || s.opt.Tokens == nil {
			return nil, errUnauthorized
		}
		u, b, err := s.opt.Tokens.AuthenticateBearer(ctx, tok)
		if err != nil {
			return nil, err
		}
		return &identity{User: u, Via: "bearer", Bearer: b}, nil
	}
	tok := s.opt.Sessions.CookieToken(r)
	if tok == "" {
		return nil, errUnauthorized
	}
	sess, err := s.opt.Sessions.Load(ctx, tok)
	if err != nil {
		if session.IsAuthFailure(err) {
			return nil, errUnauthorized
		}
		return nil, err
	}
	u, err := s.opt.Users.UserByID(ctx, sess.UserID)
	if errors.Is(err, account.ErrNotFound) || err == nil && u.Disabled {
		_ = s.opt.Sessions.Destroy(ctx, sess.ID)
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	return &identity{User: u, Session: sess, Via: "cookie"}, nil
}

type authedHandler func(w http.ResponseWriter, r *http.Request, id *identity)

func unsafeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

// authed requires a credential; for cookie-authenticated unsafe methods it
// also requires same-origin and the session's CSRF token.
func (s *Server) authed(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.authenticate(r)
		if err != nil {
			if errors.Is(err, errUnauthorized) && s.opt.Sessions.CookieToken(r) != "" {
				s.opt.Sessions.ClearCookie(w, r)
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
func (s *Server) admin(h authedHandler) http.HandlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request, id *identity) {
		if !id.User.HasRole("admin") {
			s.writeError(w, r, errf(codeForbidden, "the admin role is required"))
			return
		}
		h(w, r, id)
	})
}

var errCrossSite = errf(codeCSRF, "cross-site request refused")

// checkCSRF refuses cross-origin requests (Sec-Fetch-Site, Origin) and
// requests whose X-CSRF-Token is not the session's.
func (s *Server) checkCSRF(r *http.Request, sess *session.Session) error {
	if err := s.csrf.Check(r); err != nil {
		return errCrossSite
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRFToken)) != 1 {
		return errf(codeCSRF, "missing or wrong X-CSRF-Token")
	}
	return nil
}
