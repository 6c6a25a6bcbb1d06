package server

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
)

// signouts ends sessions for the API, the pages and the relying party, in
// one way: cookie sessions, refresh families and (with a token version
// bump) access tokens, with metrics, audit events and the OpenID Provider
// told (back-channel logout).
type signouts struct {
	*base
	sessions *session.Manager
	accounts *account.Service
	tokens   *Tokens   // nil: no refresh families
	op       *opServer // nil: no OpenID Provider to tell
}

// endPresented ends the session whose cookie came with r, valid or not, for
// every login (POST /v1/login, the login page, the SSO callback): a new
// session never inherits an ID the client held before (no fixation). It
// reports whether a cookie came along.
func (s *signouts) endPresented(r *http.Request) bool {
	old := s.sessions.CookieToken(r)
	if old == "" {
		return false
	}
	if hash, err := session.ParseToken(old); err == nil {
		if err := s.sessions.Destroy(r.Context(), session.IDFromHash(hash)); err == nil {
			s.metrics.revoked.WithLabelValues("login_replaced").Inc()
			s.op.loggedOut(r.Context(), session.IDFromHash(hash))
		}
	}
	return true
}

// endEverything ends every cookie session and refresh family of the user
// except keep, and with bump also refuses every access token issued so far.
func (s *signouts) endEverything(r *http.Request, userID, keep string, bump bool, reason string) error {
	ctx := r.Context()
	if bump {
		if _, err := s.accounts.BumpTokenVersion(ctx, userID); err != nil {
			return err
		}
	}
	n, err := s.sessions.DestroyUser(ctx, userID, keep)
	if err != nil {
		return err
	}
	s.op.loggedOutUser(ctx, userID, keep)
	if s.tokens != nil {
		if err := s.tokens.RevokeUser(ctx, userID, keep); err != nil {
			return err
		}
	}
	s.metrics.revoked.WithLabelValues(reason).Add(float64(n))
	s.audit(r, "sessions.revoked", slog.String("user_id", userID), slog.String("reason", reason),
		slog.Int("sessions", n), slog.Bool("tokens_refused", bump))
	return nil
}

// endDevice ends target if it is one of the user's cookie sessions or
// refresh families (DELETE /v1/sessions/{id}, the account page's sign-out
// button); another user's, or none, is (false, nil) either way.
func (s *signouts) endDevice(r *http.Request, id *identity, target string) (bool, error) {
	ctx := r.Context()
	ss, err := s.sessions.Get(ctx, target)
	switch {
	case err == nil && ss.UserID == id.User.ID:
		if err := s.sessions.Destroy(ctx, target); err != nil && !errors.Is(err, session.ErrNotFound) {
			return false, err
		}
		s.op.loggedOut(ctx, target)
	case err == nil || session.IsAuthFailure(err):
		if s.tokens == nil {
			return false, nil
		}
		ok, err := s.tokens.RevokeFamily(ctx, id.User.ID, target)
		if err != nil || !ok {
			return false, err
		}
	default:
		return false, err
	}
	s.metrics.revoked.WithLabelValues("user_revoked").Inc()
	s.audit(r, "session.revoked", slog.String("user_id", id.User.ID), slog.String("session_id", target))
	return true, nil
}

// devices lists the user's cookie sessions and refresh families; current
// is marked as such.
func (s *signouts) devices(r *http.Request, userID, current string) ([]deviceView, error) {
	sessions, err := s.sessions.List(r.Context(), userID)
	if err != nil {
		return nil, err
	}
	out := make([]deviceView, 0, len(sessions))
	for _, ss := range sessions {
		out = append(out, viewDevice(ss, current))
	}
	if s.tokens != nil {
		fams, err := s.tokens.Devices(r.Context(), userID, current)
		if err != nil {
			return nil, err
		}
		out = append(out, fams...)
	}
	return out, nil
}
