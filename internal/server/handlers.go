package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
)

// api is the session and account JSON API (/v1/login, /v1/logout,
// /v1/whoami, /v1/sessions, /v1/password, /v1/session/data and the admin
// endpoints): JSON in, JSON out, errors in the contract's form.
type api struct {
	*base
	auth     *authn
	ends     *signouts
	sessions *session.Manager
	accounts *account.Service
	users    account.Store
	tokens   *Tokens // nil: no bearer sessions
}

// loginRequest is the body of POST /v1/login.
type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// handleLogin: POST /v1/login. A new session every time; any session the
// request carried is ended first (no fixation).
func (s *api) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := s.csrf.Check(r); err != nil {
		s.writeError(w, r, errCrossSite)
		return
	}
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Email == "" || req.Password == "" {
		s.writeError(w, r, errf(codeInvalidRequest, "email and password are required"))
		return
	}
	ctx := r.Context()
	// End whatever session came along, valid or not: the new one never
	// inherits an ID the client chose or held before.
	s.ends.endPresented(r)
	ip := s.clientIP(r)
	u, err := s.accounts.Authenticate(ctx, req.Email, req.Password, ip)
	if err != nil {
		var rl *account.RateLimitedError
		switch {
		case errors.As(err, &rl):
			s.metrics.logins.WithLabelValues("rate_limited").Inc()
		case errors.Is(err, account.ErrInvalidCredentials):
			s.metrics.logins.WithLabelValues("failure").Inc()
		}
		s.writeError(w, r, err)
		return
	}
	sess, tok, factors, err := s.startLogin(r, s.sessions, u, session.Meta{IP: ip, UserAgent: truncate(r.UserAgent(), 512), Method: "password"})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(factors) > 0 {
		s.sessions.SetCookie(w, r, sess, tok)
		writeJSON(w, http.StatusOK, map[string]any{"mfa_required": true, "methods": factors,
			"session": viewCurrent(sess), "csrf_token": sess.CSRFToken})
		return
	}
	s.metrics.logins.WithLabelValues("success").Inc()
	s.audit(r, "session.created", slog.String("user_id", u.ID), slog.String("session_id", sess.ID))
	s.sessions.SetCookie(w, r, sess, tok)
	writeSignedIn(w, u, sess)
}

// writeSignedIn answers a sign-in that made sess: 200 with the user, the
// session and its CSRF token.
func writeSignedIn(w http.ResponseWriter, u *account.User, sess *session.Session) {
	writeJSON(w, http.StatusOK, map[string]any{
		"user":       viewUser(u),
		"session":    viewCurrent(sess),
		"csrf_token": sess.CSRFToken,
	})
}

// truncate cuts s to at most n bytes (user agents in records and logs).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// handleLogout: POST /v1/logout.
func (s *api) handleLogout(w http.ResponseWriter, r *http.Request, id *identity) {
	ctx := r.Context()
	if id.Session != nil {
		if err := s.sessions.Destroy(ctx, id.Session.ID); err != nil && !errors.Is(err, session.ErrNotFound) {
			s.writeError(w, r, err)
			return
		}
		s.ends.op.loggedOut(ctx, id.Session.ID)
		s.sessions.ClearCookie(w, r)
	}
	if id.Bearer != nil && s.tokens != nil {
		if err := s.tokens.RevokeBearer(ctx, id.User.ID, id.Bearer); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	s.metrics.revoked.WithLabelValues("logout").Inc()
	s.audit(r, "logout", slog.String("user_id", id.User.ID), slog.String("session_id", id.sessionID()), slog.String("via", id.Via))
	w.WriteHeader(http.StatusNoContent)
}

// handleWhoami: GET /v1/whoami.
func (s *api) handleWhoami(w http.ResponseWriter, r *http.Request, id *identity) {
	out := map[string]any{"user": viewUser(id.User)}
	switch {
	case id.Session != nil:
		out["session"] = viewCurrent(id.Session)
		out["csrf_token"] = id.Session.CSRFToken
	case id.Bearer != nil:
		out["session"] = currentSessionView{ID: id.Bearer.SessionID, Via: "bearer", CreatedAt: unixRFC3339(id.Bearer.IssuedAt), ExpiresAt: unixRFC3339(id.Bearer.ExpiresAt)}.with(id.Bearer.Assurance)
	}
	writeJSON(w, http.StatusOK, out)
}

// handleListSessions: GET /v1/sessions — the caller's cookie sessions and
// refresh families.
func (s *api) handleListSessions(w http.ResponseWriter, r *http.Request, id *identity) {
	list, err := s.ends.devices(r, id.User.ID, id.sessionID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

// handleDeleteSession: DELETE /v1/sessions/{id} — only the caller's own;
// another user's session or family, or none, is the same 404.
func (s *api) handleDeleteSession(w http.ResponseWriter, r *http.Request, id *identity) {
	target := r.PathValue("id")
	ended, err := s.ends.endDevice(r, id, target)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !ended {
		s.writeError(w, r, errNotFound)
		return
	}
	if target == id.sessionID() && id.Session != nil {
		s.sessions.ClearCookie(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleDeleteSessions: DELETE /v1/sessions?scope=others|all.
func (s *api) handleDeleteSessions(w http.ResponseWriter, r *http.Request, id *identity) {
	scope := r.URL.Query().Get("scope")
	if scope != "others" && scope != "all" {
		s.writeError(w, r, errf(codeInvalidRequest, "scope must be others or all"))
		return
	}
	if err := s.stepUpFor(r, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	keep := ""
	if scope == "others" {
		keep = id.sessionID()
	}
	if err := s.ends.endEverything(r, id.User.ID, keep, scope == "all", "sessions."+scope); err != nil {
		s.writeError(w, r, err)
		return
	}
	if scope == "all" && id.Session != nil {
		s.sessions.ClearCookie(w, r)
	}
	w.WriteHeader(http.StatusNoContent)
}

// passwordRequest is the body of POST /v1/password.
type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// handlePassword: POST /v1/password. Every other session and refresh family
// ends, the token version is bumped and the current session gets a new ID.
func (s *api) handlePassword(w http.ResponseWriter, r *http.Request, id *identity) {
	var req passwordRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.stepUpFor(r, id); err != nil {
		s.writeError(w, r, err)
		return
	}
	ctx := r.Context()
	if _, err := s.accounts.ChangePassword(ctx, id.User.ID, req.CurrentPassword, req.NewPassword); err != nil {
		s.writeError(w, r, err)
		return
	}
	if id.Session != nil {
		ns, tok, err := s.sessions.Renew(ctx, id.Session)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := s.ends.endEverything(r, id.User.ID, ns.ID, false, "password_changed"); err != nil {
			s.writeError(w, r, err)
			return
		}
		s.sessions.SetCookie(w, r, ns, tok)
		w.Header().Set("X-CSRF-Token", ns.CSRFToken)
	} else if err := s.ends.endEverything(r, id.User.ID, id.sessionID(), false, "password_changed"); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleGetData: GET /v1/session/data.
func (s *api) handleGetData(w http.ResponseWriter, r *http.Request, id *identity) {
	data, version, err := s.sessionData(r, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(version))
	writeJSON(w, http.StatusOK, map[string]any{"data": rawOrEmpty(data), "version": version})
}

// sessionData is the caller's session data and its version: the cookie
// session's, or the refresh family's of a bearer token.
func (s *api) sessionData(r *http.Request, id *identity) ([]byte, int64, error) {
	if id.Session != nil {
		return id.Session.Data, id.Session.DataVersion, nil
	}
	if s.tokens == nil {
		return nil, 0, errNotFound
	}
	return s.tokens.Data(r.Context(), id.sessionID())
}

// rawJSON is JSON passed through as it is.
type rawJSON []byte

// MarshalJSON returns j.
func (j rawJSON) MarshalJSON() ([]byte, error) { return j, nil }

// rawOrEmpty is b, or {} when it is empty.
func rawOrEmpty(b []byte) rawJSON {
	if len(b) == 0 {
		return rawJSON("{}")
	}
	return rawJSON(b)
}

// etag is the ETag of data version v: "v<v>".
func etag(v int64) string { return `"v` + strconv.FormatInt(v, 10) + `"` }

// parseIfMatch reads If-Match: "vN" (or W/"vN", or *). nil means no
// precondition.
func parseIfMatch(h string) (*int64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return nil, nil
	}
	h = strings.TrimPrefix(h, "W/")
	if len(h) < 4 || h[0] != '"' || h[len(h)-1] != '"' || h[1] != 'v' {
		return nil, errf(codeInvalidRequest, `If-Match must be an ETag like "v3"`)
	}
	v, err := strconv.ParseInt(h[2:len(h)-1], 10, 64)
	if err != nil || v < 0 {
		return nil, errf(codeInvalidRequest, `If-Match must be an ETag like "v3"`)
	}
	return &v, nil
}

// handlePatchData: PATCH /v1/session/data, RFC 7396, atomic.
func (s *api) handlePatchData(w http.ResponseWriter, r *http.Request, id *identity) {
	ct := r.Header.Get("Content-Type")
	if mt, _, _ := strings.Cut(ct, ";"); strings.TrimSpace(mt) != "application/merge-patch+json" && strings.TrimSpace(mt) != "application/json" {
		s.writeError(w, r, errf(codeInvalidRequest, "the body must be application/merge-patch+json"))
		return
	}
	ifMatch, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var probe any
	if err := decodeAny(body, &probe); err != nil {
		s.writeError(w, r, err)
		return
	}
	var data []byte
	var version int64
	if id.Session != nil {
		data, version, err = s.sessions.MergeData(r.Context(), id.Session.ID, body, ifMatch)
	} else if s.tokens != nil {
		data, version, err = s.tokens.MergeData(r.Context(), id.sessionID(), body, ifMatch)
	} else {
		err = errNotFound
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(version))
	writeJSON(w, http.StatusOK, map[string]any{"data": rawOrEmpty(data), "version": version})
}

// decodeAny decodes a merge patch strictly, to check it is JSON.
func decodeAny(body []byte, v any) error {
	return decodeStrict(body, v)
}

// unixRFC3339 formats Unix seconds; 0 is "".
func unixRFC3339(sec int64) string {
	if sec == 0 {
		return ""
	}
	return rfc3339(time.Unix(sec, 0))
}
