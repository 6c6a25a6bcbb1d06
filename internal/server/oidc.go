package server

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/session"
)

// OIDC enables "sign in with <provider>": GET /v1/oidc/{provider}/start and
// /callback, and, when the Set has a LogoutStore, OpenID Connect
// back-channel logout at POST /v1/oidc/{provider}/backchannel-logout.
type OIDC struct {
	// Providers are the configured providers, with their flow store.
	Providers *oidc.Set
	// Identities links external identities to users.
	Identities oidc.IdentityStore
}

// The browser-binding cookie of a sign-in flow: a random value whose hash is
// stored with the flow, so that a code and state lifted from one browser
// cannot finish a flow in another. SameSite=Lax: the callback is a top-level
// GET from the provider.
const (
	oidcCookie       = "sessiond-oidc"
	oidcCookieSecure = "__Host-sessiond-oidc"
)

// oidcErrors are the login page's messages for ?error=<key>. Only these
// fixed texts are ever shown; an unknown key shows nothing.
var oidcErrors = map[string]string{
	"sso-unknown":     "That sign-in provider is not configured.",
	"sso-unavailable": "The sign-in provider cannot be reached right now. Please try again later.",
	"sso-expired":     "That sign-in had expired or was already used. Please start again.",
	"sso-browser":     "That sign-in was started in another browser. Please start again here.",
	"sso-denied":      "The sign-in provider did not sign you in.",
	"sso-failed":      "Signing in with the provider failed. Please start again.",
	"sso-unverified":  "The provider did not confirm your email address, so no account could be created.",
	"sso-taken":       "An account with this email already exists. Sign in with your password first.",
	"sso-disabled":    "This account is disabled.",
}

// oidcErrorKey is the login page's message key for a sign-in failure.
func oidcErrorKey(err error) string {
	switch {
	case errors.Is(err, oidc.ErrUnknownProvider):
		return "sso-unknown"
	case errors.Is(err, oidc.ErrUnavailable):
		return "sso-unavailable"
	case errors.Is(err, oidc.ErrState):
		return "sso-expired"
	case errors.Is(err, oidc.ErrBinding):
		return "sso-browser"
	case errors.Is(err, oidc.ErrDenied):
		return "sso-denied"
	case errors.Is(err, oidc.ErrEmailUnverified):
		return "sso-unverified"
	case errors.Is(err, oidc.ErrEmailTaken):
		return "sso-taken"
	case errors.Is(err, oidc.ErrDisabled):
		return "sso-disabled"
	}
	return "sso-failed"
}

// ssoServer is sessiond as a relying party: sign-in with external OpenID
// providers and their back-channel logout.
type ssoServer struct {
	*base
	oidc     *OIDC
	sessions *session.Manager
	users    account.Store
	ends     *signouts
}

// routes adds the sign-in flow's endpoints (the caller checks that OIDC is
// configured).
func (s *ssoServer) routes(m *http.ServeMux) {
	m.HandleFunc("GET /v1/oidc/{provider}/start", s.handleOIDCStart)
	m.HandleFunc("GET /v1/oidc/{provider}/callback", s.handleOIDCCallback)
	if s.oidc.Providers.LogoutEnabled() {
		m.HandleFunc("POST /v1/oidc/{provider}/backchannel-logout", s.handleOIDCBackChannelLogout)
	}
}

// oidcCookieName is the browser-binding cookie's name: __Host- over TLS.
func (s *ssoServer) oidcCookieName(r *http.Request) string {
	if s.isTLS(r) {
		return oidcCookieSecure
	}
	return oidcCookie
}

// oidcFail sends the browser to the login page with a fixed message key.
func (s *ssoServer) oidcFail(w http.ResponseWriter, r *http.Request, provider string, err error) {
	key := oidcErrorKey(err)
	s.log.WarnContext(r.Context(), "oidc sign-in failed", "provider", provider, "error", err,
		"request_id", requestID(r.Context()))
	s.audit(r, "login.failure", slog.String("method", "oidc:"+provider), slog.String("reason", key))
	w.Header().Set("Cache-Control", "no-store")
	seeOther(w, s.origin.url("/login?error="+key))
}

// handleOIDCStart: GET /v1/oidc/{provider}/start[?return_to=].
func (s *ssoServer) handleOIDCStart(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	ret := s.returnTo(r.URL.Query().Get("return_to"))
	binding := ""
	if c, err := r.Cookie(s.oidcCookieName(r)); err == nil && validBinding(c.Value) {
		binding = c.Value // other tabs' flows stay bound to the same browser
	} else {
		binding = oidc.NewBinding()
	}
	to, err := s.oidc.Providers.Start(r.Context(), name, binding, ret)
	if err != nil {
		s.oidcFail(w, r, name, err)
		return
	}
	secure := s.isTLS(r)
	http.SetCookie(w, &http.Cookie{Name: s.oidcCookieName(r), Value: binding, Path: s.origin.cookiePath(secure),
		MaxAge: int(oidc.DefaultFlowTTL.Seconds()), HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	w.Header().Set("Cache-Control", "no-store")
	seeOther(w, to)
}

// validBinding accepts a binding as oidc.NewBinding makes them.
func validBinding(v string) bool {
	if len(v) != 43 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// handleOIDCCallback: GET /v1/oidc/{provider}/callback. Success ends any
// session the browser presented and creates a fresh one.
func (s *ssoServer) handleOIDCCallback(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	ctx := r.Context()
	binding := ""
	if c, err := r.Cookie(s.oidcCookieName(r)); err == nil && validBinding(c.Value) {
		binding = c.Value
	}
	id, err := s.oidc.Providers.Callback(ctx, name, r.URL.Query(), binding)
	if err != nil {
		s.metrics.logins.WithLabelValues("failure").Inc()
		s.oidcFail(w, r, name, err)
		return
	}
	u, created, err := s.oidc.Providers.Link(ctx, s.users, s.oidc.Identities, id)
	if err != nil {
		s.metrics.logins.WithLabelValues("failure").Inc()
		s.oidcFail(w, r, name, err)
		return
	}
	if created {
		s.audit(r, "user.created", slog.String("user_id", u.ID), slog.String("method", "oidc:"+name))
	}
	if s.ends.endPresented(r) {
		s.sessions.ClearCookie(w, r)
	}
	// The upstream's amr counts (session.FactorFederated): a provider that
	// did two factors already spares the user the local one.
	up := session.Assurance{}.Add(s.sessions.Now(), session.FactorFederated(id.AMR))
	sess, tok, factors, err := s.startLogin(r, s.sessions, u, session.Meta{IP: s.clientIP(r),
		UserAgent: truncate(r.UserAgent(), 512), Method: oidc.SessionMethod(name), Assurance: up})
	if err != nil {
		s.oidcFail(w, r, name, err)
		return
	}
	// Remember which provider session this one began from, for
	// back-channel logout; a session that could not be noted would outlive
	// the provider's, so it ends at once.
	if err := s.oidc.Providers.RecordSession(ctx, id, sess.ID, sess.ExpiresAt); err != nil {
		_ = s.sessions.Destroy(ctx, sess.ID)
		s.oidcFail(w, r, name, err)
		return
	}
	s.sessions.SetCookie(w, r, sess, tok)
	if len(factors) > 0 {
		seeOther(w, s.factorPage(s.returnTo(id.ReturnTo)))
		return
	}
	s.metrics.logins.WithLabelValues("success").Inc()
	s.audit(r, "session.created", slog.String("user_id", u.ID), slog.String("session_id", sess.ID),
		slog.String("method", "oidc:"+name))
	seeOther(w, s.orAccount(s.returnTo(id.ReturnTo)))
}

// handleOIDCBackChannelLogout: POST /v1/oidc/{provider}/backchannel-logout,
// form parameter logout_token (OpenID Connect Back-Channel Logout 1.0 §2.5).
// A valid token ends the local sessions it names (oidc.Set.BackChannelLogout)
// and is answered 200; any invalid or replayed token 400 invalid_request, in
// RFC 6749 §5.2 form; a provider or store that cannot be reached 503. Always
// Cache-Control: no-store. The token itself is never logged.
func (s *ssoServer) handleOIDCBackChannelLogout(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	w.Header().Set("Cache-Control", "no-store")
	form, err := oauthForm(w, r)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	ctx := r.Context()
	lt, ended, err := s.oidc.Providers.BackChannelLogout(ctx, name, form.Get("logout_token"), s.oidc.Identities, s.sessions)
	if err != nil {
		s.log.WarnContext(ctx, "oidc back-channel logout refused", "provider", name, "error", err,
			"request_id", requestID(ctx))
		switch {
		case errors.Is(err, oidc.ErrLogoutReplay):
			err = oauthErr(http.StatusBadRequest, "invalid_request", "the logout token was used before")
		case errors.Is(err, oidc.ErrLogoutToken), errors.Is(err, oidc.ErrUnknownProvider), errors.Is(err, oidc.ErrLogoutDisabled):
			err = oauthErr(http.StatusBadRequest, "invalid_request", "the logout token is not valid")
		}
		s.writeOAuthError(w, r, err)
		return
	}
	for _, id := range ended {
		s.metrics.revoked.WithLabelValues("oidc_backchannel").Inc()
		s.audit(r, "session.revoked", slog.String("session_id", id), slog.String("reason", "oidc_backchannel_logout"),
			slog.String("method", oidc.SessionMethod(name)))
	}
	s.audit(r, "logout", slog.String("method", "oidc_backchannel:"+name), slog.Int("sessions_ended", len(ended)),
		slog.Bool("by_sid", lt.SessionID != ""))
	// Logout travels on: the apps these sessions signed into through
	// sessiond (as their provider) are told in turn.
	s.ends.op.loggedOut(ctx, ended...)
	w.WriteHeader(http.StatusOK)
}
