package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/web"
	"github.com/sessiond/sessiond/session"
)

// Branding is the look of the HTML pages: product name, logo and primary
// colour (see web.Branding). The zero value is sessiond's own look.
type Branding = web.Branding

// The login form has no session yet, so its CSRF token is a double-submit
// cookie: a random value in a SameSite=Strict, HttpOnly cookie (__Host- over
// TLS, so a sibling subdomain cannot plant it) that the form must echo. The
// cross-site check (Sec-Fetch-Site / Origin) runs first.
const (
	loginCookie       = "sessiond-login"
	loginCookieSecure = "__Host-sessiond-login"
	loginCookieMaxAge = 12 * time.Hour
	maxFormBytes      = 64 << 10
)

// Confirmations carried across a redirect as ?done=<key> (Post/Redirect/Get).
// Only these fixed texts are ever shown; an unknown key shows nothing.
var (
	loginNotices = map[string]string{
		"signed-out":            "You have signed out.",
		"signed-out-everywhere": "You have signed out everywhere.",
	}
	accountNotices = map[string]string{
		"device":   "Signed out of 1 device.",
		"others":   "Signed out of every other device.",
		"gone":     "That device was already signed out.",
		"password": "Password changed; other devices were signed out.",
	}
)

// pages serves GET /login, GET /account and the account page's actions. The
// same identity, session, device and password logic as the JSON API is used;
// only the envelope differs (HTML, form posts, 303 redirects).
type pages struct {
	s    *Server
	site *web.Site
}

// pageRoutes adds the HTML pages and their assets to the mux.
func (s *Server) pageRoutes() {
	p := &pages{s: s, site: s.newSite()}
	m := s.mux
	assets := p.site.Assets()
	m.Handle("GET "+web.StylePath, assets)
	m.Handle("GET "+web.ThemePath, assets)
	m.HandleFunc("GET /login", p.page(p.loginForm))
	m.HandleFunc("POST /login", p.page(p.login))
	m.HandleFunc("GET /account", p.page(p.account))
	m.HandleFunc("POST /account/sign-out", p.page(p.action(p.signOut)))
	m.HandleFunc("POST /account/sign-out-others", p.page(p.action(p.signOutOthers)))
	m.HandleFunc("POST /account/sign-out-everywhere", p.page(p.action(p.signOutEverywhere)))
	m.HandleFunc("POST /account/password", p.page(p.action(p.changePassword)))
}

// page sets the pages' security headers (CSP, no framing, no-store).
func (p *pages) page(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.site.SetHeaders(w.Header())
		h(w, r)
	}
}

func (p *pages) now() time.Time {
	if p.s.opt.Now != nil {
		return p.s.opt.Now()
	}
	return time.Now()
}

// newSite is the HTML pages' renderer, its links under base_url's path.
func (s *Server) newSite() *web.Site {
	return web.New(web.Config{Branding: s.opt.Branding, FormTargets: s.opt.AllowedRedirectHosts, Prefix: s.origin.prefix})
}

// returnTo is the return address raw names, as origin.returnTo allows and
// normalises it, or "" when it is empty or refused.
func (s *Server) returnTo(raw string) string {
	if raw == "" {
		return ""
	}
	to, _ := s.origin.returnTo(raw, s.opt.AllowedRedirectHosts)
	return to
}

func seeOther(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusSeeOther)
}

// loginForm: GET /login. A browser that is signed in already goes straight
// on to the return address.
func (p *pages) loginForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ret := p.s.returnTo(q.Get("return_to"))
	if p.s.opt.Sessions.CookieToken(r) != "" {
		if _, err := p.cookieIdentity(r); err == nil {
			seeOther(w, p.s.orAccount(ret))
			return
		} else if errors.Is(err, errUnauthorized) {
			p.s.opt.Sessions.ClearCookie(w, r)
		}
	}
	p.renderLogin(w, r, http.StatusOK, web.LoginPage{ReturnTo: ret, CSRFToken: p.loginToken(w, r), Notice: loginNotices[q.Get("done")], Error: oidcErrors[q.Get("error")]})
}

// orAccount is ret, or the account page when there is none.
func (s *Server) orAccount(ret string) string {
	if ret == "" {
		return s.origin.url("/account")
	}
	return ret
}

// login: POST /login, form-encoded. Errors never tell whether the account
// exists; success is a fresh session and a 303 to the return address.
func (p *pages) login(w http.ResponseWriter, r *http.Request) {
	if err := p.s.csrf.Check(r); err != nil {
		p.crossSite(w, r)
		return
	}
	if !p.parseForm(w, r) {
		return
	}
	f := r.PostForm
	email, password := f.Get("email"), f.Get("password")
	page := web.LoginPage{Email: email, ReturnTo: p.s.returnTo(f.Get("return_to"))}
	if tok, ok := p.checkLoginToken(r, f.Get("csrf_token")); ok {
		page.CSRFToken = tok
	} else {
		page.CSRFToken = p.loginToken(w, r)
		page.Error = "This sign-in form had expired. Please try again."
		p.renderLogin(w, r, http.StatusForbidden, page)
		return
	}
	if strings.TrimSpace(email) == "" || password == "" {
		page.Error = "Enter your email and password."
		p.renderLogin(w, r, http.StatusBadRequest, page)
		return
	}
	ctx := r.Context()
	presented := p.s.endPresentedSession(r)
	ip := p.s.clientIP(r)
	u, err := p.s.opt.Accounts.Authenticate(ctx, email, password, ip)
	if err != nil {
		if presented {
			p.s.opt.Sessions.ClearCookie(w, r)
		}
		var rl *account.RateLimitedError
		switch {
		case errors.As(err, &rl):
			p.s.metrics.logins.WithLabelValues("rate_limited").Inc()
			wait := retryAfterSeconds(rl.RetryAfter)
			w.Header().Set("Retry-After", wait)
			unit := " seconds."
			if wait == "1" {
				unit = " second."
			}
			page.Error = "Too many attempts. Try again in " + wait + unit
			p.renderLogin(w, r, http.StatusTooManyRequests, page)
		case errors.Is(err, account.ErrInvalidCredentials):
			p.s.metrics.logins.WithLabelValues("failure").Inc()
			page.Error = "The email or password is incorrect."
			p.renderLogin(w, r, http.StatusUnauthorized, page)
		default:
			p.fail(w, r, err)
		}
		return
	}
	sess, tok, err := p.s.opt.Sessions.Create(ctx, u.ID, session.Meta{IP: ip, UserAgent: truncate(r.UserAgent(), 512), Method: "password"})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.s.metrics.logins.WithLabelValues("success").Inc()
	p.s.audit(r, "session.created", slog.String("user_id", u.ID), slog.String("session_id", sess.ID), slog.String("via", "form"))
	p.s.opt.Sessions.SetCookie(w, r, sess, tok)
	p.clearLoginToken(w, r)
	seeOther(w, p.s.orAccount(page.ReturnTo))
}

// endPresentedSession ends the session whose cookie came with r, valid or
// not, for every login (POST /v1/login, the login page, the SSO callback): a
// new session never inherits an ID the client held before (no fixation). It
// reports whether a cookie came along.
func (s *Server) endPresentedSession(r *http.Request) bool {
	old := s.opt.Sessions.CookieToken(r)
	if old == "" {
		return false
	}
	if hash, err := session.ParseToken(old); err == nil {
		if err := s.opt.Sessions.Destroy(r.Context(), session.IDFromHash(hash)); err == nil {
			s.metrics.revoked.WithLabelValues("login_replaced").Inc()
			s.loggedOut(r.Context(), session.IDFromHash(hash))
		}
	}
	return true
}

func (p *pages) loginCookieName(r *http.Request) string {
	if p.s.isTLS(r) {
		return loginCookieSecure
	}
	return loginCookie
}

func (p *pages) loginCookiePath(r *http.Request) string {
	return p.s.origin.cookiePath(p.s.isTLS(r))
}

// loginToken returns the browser's login CSRF token, setting a new one when
// it has none.
func (p *pages) loginToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(p.loginCookieName(r)); err == nil && validLoginToken(ck.Value) {
		return ck.Value
	}
	return p.setLoginToken(w, r)
}

func (p *pages) setLoginToken(w http.ResponseWriter, r *http.Request) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: p.loginCookieName(r), Value: tok, Path: p.loginCookiePath(r), MaxAge: int(loginCookieMaxAge / time.Second),
		HttpOnly: true, Secure: p.s.isTLS(r), SameSite: http.SameSiteStrictMode})
	return tok
}

func (p *pages) clearLoginToken(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(p.loginCookieName(r)); err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: p.loginCookieName(r), Value: "", Path: p.loginCookiePath(r), MaxAge: -1,
		HttpOnly: true, Secure: p.s.isTLS(r), SameSite: http.SameSiteStrictMode})
}

// checkLoginToken compares the form's token with the cookie's.
func (p *pages) checkLoginToken(r *http.Request, got string) (string, bool) {
	ck, err := r.Cookie(p.loginCookieName(r))
	if err != nil || !validLoginToken(ck.Value) || subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) != 1 {
		return "", false
	}
	return ck.Value, true
}

func validLoginToken(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// parseForm reads a form-encoded body of at most 64 KiB.
func (p *pages) parseForm(w http.ResponseWriter, r *http.Request) bool {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		p.errorPage(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Go back and try again.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			p.errorPage(w, r, http.StatusRequestEntityTooLarge, "Too large", "The form was too large.")
			return false
		}
		p.errorPage(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Go back and try again.")
		return false
	}
	return true
}

// session is the caller's cookie session. Without one the browser is sent
// to the login page (and back here after); a store failure is a 503 page,
// never a signed-in page (fail closed).
func (p *pages) session(w http.ResponseWriter, r *http.Request) (*identity, bool) {
	id, err := p.cookieIdentity(r)
	if err == nil {
		return id, true
	}
	if err != nil && !errors.Is(err, errUnauthorized) {
		p.fail(w, r, err)
		return nil, false
	}
	if p.s.opt.Sessions.CookieToken(r) != "" {
		p.s.opt.Sessions.ClearCookie(w, r)
	}
	seeOther(w, p.s.origin.url("/login?return_to="+url.QueryEscape(p.s.origin.url("/account"))))
	return nil, false
}

// cookieIdentity authenticates by the session cookie alone: pages are for
// browsers, and an Authorization header (Basic, from a proxy in front) must
// neither stand in for nor hide the cookie.
func (p *pages) cookieIdentity(r *http.Request) (*identity, error) {
	if r.Header.Get("Authorization") != "" {
		r = r.Clone(r.Context())
		r.Header.Del("Authorization")
	}
	return p.s.authenticate(r)
}

type pageAction func(w http.ResponseWriter, r *http.Request, id *identity)

// action guards the account page's forms like the API guards cookie
// requests: same-origin (Sec-Fetch-Site / Origin), a signed-in session, and
// the session's CSRF token, here in the form's csrf_token field.
func (p *pages) action(h pageAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := p.s.csrf.Check(r); err != nil {
			p.crossSite(w, r)
			return
		}
		id, ok := p.session(w, r)
		if !ok || !p.parseForm(w, r) {
			return
		}
		got := r.PostForm.Get("csrf_token")
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.Session.CSRFToken)) != 1 {
			p.s.log.DebugContext(r.Context(), "request failed", slog.String("request_id", requestID(r.Context())),
				slog.String("code", codeCSRF), slog.Int("status", http.StatusForbidden), slog.String("error", "missing or wrong csrf_token"))
			p.errorPage(w, r, http.StatusForbidden, "This page has expired",
				"The form was out of date, so nothing was changed. Reload your account page and try again.")
			return
		}
		h(w, r, id)
	}
}

// account: GET /account.
func (p *pages) account(w http.ResponseWriter, r *http.Request) {
	id, ok := p.session(w, r)
	if !ok {
		return
	}
	p.renderAccount(w, r, id, http.StatusOK, web.AccountPage{Notice: accountNotices[r.URL.Query().Get("done")]})
}

func (p *pages) renderAccount(w http.ResponseWriter, r *http.Request, id *identity, status int, page web.AccountPage) {
	list, err := p.s.devices(r, id.User.ID, id.sessionID())
	if err != nil {
		p.fail(w, r, err)
		return
	}
	page.Email, page.Roles, page.OrgID = id.User.Email, id.User.Roles, id.User.OrgID
	page.CSRFToken, page.CurrentID = id.Session.CSRFToken, id.Session.ID
	page.MinPasswordLen = account.MinPasswordLen
	page.Now = p.now()
	page.Devices = make([]web.Device, 0, len(list))
	for _, d := range list {
		page.Devices = append(page.Devices, toDevice(d))
	}
	sort.Slice(page.Devices, func(i, j int) bool {
		a, b := page.Devices[i], page.Devices[j]
		switch {
		case a.Current != b.Current:
			return a.Current
		case !a.LastActive.Equal(b.LastActive):
			return a.LastActive.After(b.LastActive)
		case !a.SignedIn.Equal(b.SignedIn):
			return a.SignedIn.After(b.SignedIn)
		case a.UserAgent != b.UserAgent:
			return a.UserAgent.String() < b.UserAgent.String()
		}
		return a.ID < b.ID
	})
	if err := p.site.RenderAccount(w, status, page); err != nil {
		p.s.log.ErrorContext(r.Context(), "render account page", slog.Any("error", err))
	}
}

func toDevice(d deviceView) web.Device {
	created, _ := time.Parse(time.RFC3339, d.CreatedAt)
	seen, _ := time.Parse(time.RFC3339, d.LastSeenAt)
	return web.Device{ID: d.ID, App: d.Kind == "token", UserAgent: web.ParseUserAgent(d.UserAgent), IP: d.IP,
		SignedIn: created, LastActive: seen, Current: d.Current}
}

// signOut: POST /account/sign-out, device=<id>: one of the caller's own
// sessions or token sign-ins, as DELETE /v1/sessions/{id}.
func (p *pages) signOut(w http.ResponseWriter, r *http.Request, id *identity) {
	target := r.PostForm.Get("device")
	if target == "" || len(target) > 256 {
		seeOther(w, p.s.origin.url("/account?done=gone"))
		return
	}
	ended, err := p.endDevice(r, id, target)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	switch {
	case target == id.Session.ID:
		p.s.opt.Sessions.ClearCookie(w, r)
		seeOther(w, p.s.origin.url("/login?done=signed-out"))
	case !ended:
		seeOther(w, p.s.origin.url("/account?done=gone"))
	default:
		seeOther(w, p.s.origin.url("/account?done=device"))
	}
}

// endDevice ends target if it is one of the user's cookie sessions or
// refresh families; another user's, or none, is (false, nil) either way.
func (p *pages) endDevice(r *http.Request, id *identity, target string) (bool, error) {
	ctx := r.Context()
	ss, err := p.s.opt.Sessions.Get(ctx, target)
	switch {
	case err == nil && ss.UserID == id.User.ID:
		if err := p.s.opt.Sessions.Destroy(ctx, target); err != nil && !errors.Is(err, session.ErrNotFound) {
			return false, err
		}
		p.s.loggedOut(ctx, target)
	case err == nil || session.IsAuthFailure(err):
		if p.s.opt.Tokens == nil {
			return false, nil
		}
		ok, err := p.s.opt.Tokens.RevokeFamily(ctx, id.User.ID, target)
		if err != nil || !ok {
			return false, err
		}
	default:
		return false, err
	}
	p.s.metrics.revoked.WithLabelValues("user_revoked").Inc()
	p.s.audit(r, "session.revoked", slog.String("user_id", id.User.ID), slog.String("session_id", target))
	return true, nil
}

// signOutOthers: POST /account/sign-out-others, as DELETE /v1/sessions?scope=others.
func (p *pages) signOutOthers(w http.ResponseWriter, r *http.Request, id *identity) {
	if err := p.s.endEverything(r, id.User.ID, id.Session.ID, false, "sessions.others"); err != nil {
		p.fail(w, r, err)
		return
	}
	seeOther(w, p.s.origin.url("/account?done=others"))
}

// signOutEverywhere: POST /account/sign-out-everywhere, as DELETE
// /v1/sessions?scope=all: every session and refresh family, and every access
// token issued so far.
func (p *pages) signOutEverywhere(w http.ResponseWriter, r *http.Request, id *identity) {
	if err := p.s.endEverything(r, id.User.ID, "", true, "sessions.all"); err != nil {
		p.fail(w, r, err)
		return
	}
	p.s.opt.Sessions.ClearCookie(w, r)
	seeOther(w, p.s.origin.url("/login?done=signed-out-everywhere"))
}

// changePassword: POST /account/password, as POST /v1/password: every other
// device is signed out and this session gets a new ID.
func (p *pages) changePassword(w http.ResponseWriter, r *http.Request, id *identity) {
	current, next := r.PostForm.Get("current_password"), r.PostForm.Get("new_password")
	feedback := func(msg string) {
		p.renderAccount(w, r, id, http.StatusBadRequest, web.AccountPage{PasswordError: msg})
	}
	if current == "" || next == "" {
		feedback("Enter your current password and a new one.")
		return
	}
	ctx := r.Context()
	_, err := p.s.opt.Accounts.ChangePassword(ctx, id.User.ID, current, next)
	var pe *account.PasswordError
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		feedback("The current password is incorrect.")
		return
	case errors.As(err, &pe):
		feedback("Choose another new password: " + pe.Reason + ".")
		return
	case err != nil:
		p.fail(w, r, err)
		return
	}
	ns, tok, err := p.s.opt.Sessions.Renew(ctx, id.Session)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.s.endEverything(r, id.User.ID, ns.ID, false, "password_changed"); err != nil {
		p.fail(w, r, err)
		return
	}
	p.s.opt.Sessions.SetCookie(w, r, ns, tok)
	seeOther(w, p.s.origin.url("/account?done=password"))
}

func (p *pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, page web.LoginPage) {
	if o := p.s.opt.OIDC; o != nil && o.Providers != nil {
		for _, name := range o.Providers.Names() {
			u := p.s.origin.url("/v1/oidc/" + url.PathEscape(name) + "/start")
			if page.ReturnTo != "" {
				u += "?return_to=" + url.QueryEscape(page.ReturnTo)
			}
			page.Providers = append(page.Providers, web.ProviderLink{Name: name, URL: u})
		}
	}
	if err := p.site.RenderLogin(w, status, page); err != nil {
		p.s.log.ErrorContext(r.Context(), "render login page", slog.Any("error", err))
	}
}

func (p *pages) crossSite(w http.ResponseWriter, r *http.Request) {
	p.s.log.DebugContext(r.Context(), "request failed", slog.String("request_id", requestID(r.Context())),
		slog.String("code", codeCSRF), slog.Int("status", http.StatusForbidden), slog.String("error", "cross-site request refused"))
	p.errorPage(w, r, http.StatusForbidden, "Request refused",
		"This request came from another site, so it was refused and nothing was changed.")
}

// fail answers an error the pages do not handle themselves (a store outage,
// mostly) through the API's one error mapping, as an HTML page.
func (p *pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	ae, status := p.s.classify(r, err)
	if ae.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfterSeconds(ae.RetryAfter))
	}
	msg := ae.Message
	if status == http.StatusServiceUnavailable {
		msg = "The service is unavailable right now. Please try again in a moment."
	}
	p.errorPage(w, r, status, http.StatusText(status), msg)
}

func (p *pages) errorPage(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	back, label := p.s.origin.url("/account"), "Back to your account"
	if strings.HasPrefix(r.URL.Path, "/login") {
		back, label = p.s.origin.url("/login"), "Back to sign in"
	}
	if err := p.site.RenderError(w, status, web.ErrorPage{Title: title, Message: msg, Back: back, BackLabel: label}); err != nil {
		p.s.log.ErrorContext(r.Context(), "render error page", slog.Any("error", err))
	}
}
