package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/internal/web"
	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/token"
)

// loggedOut tells the OpenID Provider that cookie sessions ended, so that it
// revokes what their logins were issued and sends back-channel logout tokens
// (in the background). A nil s (no provider) does nothing. It never fails the caller: the sessions are already
// gone, so a failure is logged.
func (s *opServer) loggedOut(ctx context.Context, sessionIDs ...string) {
	if s == nil {
		return
	}
	if err := s.p.SessionsEnded(ctx, sessionIDs...); err != nil {
		s.log.ErrorContext(ctx, "back-channel logout: sessions ended", slog.String("request_id", requestID(ctx)), slog.Any("error", err))
	}
}

// loggedOutUser is loggedOut for every session of the user except keep.
func (s *opServer) loggedOutUser(ctx context.Context, userID, keep string) {
	if s == nil {
		return
	}
	if err := s.p.UserSessionsEnded(ctx, userID, keep); err != nil {
		s.log.ErrorContext(ctx, "back-channel logout: user sessions ended", slog.String("request_id", requestID(ctx)), slog.Any("error", err))
	}
}

// handleEndSession: GET or POST /v1/end-session (OpenID Connect
// RP-Initiated Logout 1.0). With a valid id_token_hint for the signed-in
// user the session ends at once; otherwise the user confirms on a page
// whose form carries the session's CSRF token (no logout CSRF). A
// post_logout_redirect_uri must be one of the client's registered redirect
// URIs, exactly; state is passed back.
func (s *opServer) handleEndSession(w http.ResponseWriter, r *http.Request) {
	s.errs.site.SetHeaders(w.Header())
	q, ok := s.opParams(w, r)
	if !ok {
		return
	}
	for k, v := range q {
		if len(v) > 1 || len(v[0]) > token.MaxTokenSize {
			s.errs.show(w, r, http.StatusBadRequest, "Invalid sign-out request", "The parameter "+truncate(k, 64)+" is repeated or too long.")
			return
		}
	}
	ctx := r.Context()
	var hint *op.Hint
	if raw := q.Get("id_token_hint"); raw != "" {
		h, err := s.p.VerifyHint(ctx, raw)
		if errors.Is(err, op.ErrInvalidHint) {
			s.errs.show(w, r, http.StatusBadRequest, "Invalid sign-out request", "The application sent an ID token that was not issued here.")
			return
		}
		if err != nil {
			s.errs.fail(w, r, err)
			return
		}
		hint = h
	}
	clientID := q.Get("client_id")
	if hint != nil {
		if clientID != "" && clientID != hint.ClientID {
			s.errs.show(w, r, http.StatusBadRequest, "Invalid sign-out request", "client_id does not match the ID token.")
			return
		}
		clientID = hint.ClientID
	}
	var cl *client.Client
	if clientID != "" {
		c, err := client.Lookup(ctx, s.tokens.Clients, clientID)
		if err != nil && !errors.Is(err, client.ErrNotFound) {
			s.errs.fail(w, r, err)
			return
		}
		cl = c
	}
	target := ""
	if pl := q.Get("post_logout_redirect_uri"); pl != "" {
		if cl == nil || !cl.HasRedirectURI(pl) {
			s.errs.show(w, r, http.StatusBadRequest, "Invalid sign-out request",
				"The address to return to after signing out is not registered for the application.")
			return
		}
		target = withState(pl, q.Get("state"))
	}
	id, err := s.browser(r)
	if err != nil {
		s.errs.fail(w, r, err)
		return
	}
	if id != nil {
		confirmed := hint != nil && hint.UserID == id.User.ID
		if !confirmed && r.Method == http.MethodPost {
			got := q.Get("csrf_token")
			confirmed = s.csrf.Check(r) == nil && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(id.Session.CSRFToken)) == 1
		}
		if !confirmed {
			s.renderLogoutConfirm(w, r, id, cl, q, target)
			return
		}
		s.endBrowserSession(w, r, id, "end_session")
	} else if hint != nil && hint.SessionID != "" {
		// No cookie came along (a cross-site POST does not carry a
		// SameSite=Lax cookie): end the session the hint names, if it is
		// still the hint's user's.
		if err := s.endHintedSession(r, hint); err != nil {
			s.errs.fail(w, r, err)
			return
		}
	}
	if target == "" {
		target = s.origin.url("/login?done=signed-out")
	}
	seeOther(w, target)
}

// renderLogoutConfirm asks the signed-in user to confirm signing out.
func (s *opServer) renderLogoutConfirm(w http.ResponseWriter, r *http.Request, id *identity, cl *client.Client, q url.Values, target string) {
	page := web.LogoutPage{Email: id.User.Email, CSRFToken: id.Session.CSRFToken}
	if cl != nil {
		page.ClientName = cl.Name
		if page.ClientName == "" {
			page.ClientName = cl.ID
		}
		page.Params = append(page.Params, web.Param{Name: "client_id", Value: cl.ID})
	}
	for _, k := range []string{"post_logout_redirect_uri", "state"} {
		if v := q.Get(k); v != "" && (k != "post_logout_redirect_uri" || target != "") {
			page.Params = append(page.Params, web.Param{Name: k, Value: v})
		}
	}
	if target != "" {
		s.errs.site.SetHeadersFormTo(w.Header(), target)
	}
	if err := s.errs.site.RenderLogout(w, http.StatusOK, page); err != nil {
		s.log.ErrorContext(r.Context(), "render logout page", slog.Any("error", err))
	}
}

// endBrowserSession ends the caller's cookie session as POST /v1/logout
// does, clears the cookie and notifies the clients it signed into.
func (s *opServer) endBrowserSession(w http.ResponseWriter, r *http.Request, id *identity, reason string) {
	ctx := r.Context()
	if err := s.sessions.Destroy(ctx, id.Session.ID); err != nil && !session.IsAuthFailure(err) {
		s.log.ErrorContext(ctx, "end session", slog.String("request_id", requestID(ctx)), slog.Any("error", err))
	}
	s.loggedOut(ctx, id.Session.ID)
	s.sessions.ClearCookie(w, r)
	s.metrics.revoked.WithLabelValues(reason).Inc()
	s.audit(r, "logout", slog.String("user_id", id.User.ID), slog.String("session_id", id.Session.ID), slog.String("via", reason))
}

// endHintedSession ends the session an id_token_hint names when it is
// live and belongs to the hint's subject.
func (s *opServer) endHintedSession(r *http.Request, hint *op.Hint) error {
	ctx := r.Context()
	sess, err := s.sessions.Get(ctx, hint.SessionID)
	if err != nil {
		if session.IsAuthFailure(err) {
			return nil
		}
		return err
	}
	if sess.UserID != hint.UserID {
		return nil
	}
	if err := s.sessions.Destroy(ctx, sess.ID); err != nil && !session.IsAuthFailure(err) {
		return err
	}
	s.loggedOut(ctx, sess.ID)
	s.metrics.revoked.WithLabelValues("end_session").Inc()
	s.audit(r, "logout", slog.String("user_id", sess.UserID), slog.String("session_id", sess.ID), slog.String("via", "end_session_hint"))
	return nil
}

// withState adds state to a post-logout redirect URI.
func withState(uri, state string) string {
	if state == "" {
		return uri
	}
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	v := u.Query()
	v.Set("state", state)
	u.RawQuery = v.Encode()
	return u.String()
}
