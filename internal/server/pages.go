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
		"factor-expired":        "Your sign-in took too long to finish. Please sign in again.",
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
	*base
	site     *web.Site
	errs     errorPages
	auth     *authn
	ends     *signouts
	sessions *session.Manager
	accounts *account.Service
	oidc     *OIDC            // nil: no "sign in with" links
	clock    func() time.Time // Options.Now
}

// newPages builds the pages with site.
func newPages(b *base, site *web.Site, opt Options, auth *authn, ends *signouts) *pages {
	p := &pages{base: b, auth: auth, ends: ends, sessions: opt.Sessions, accounts: opt.Accounts, oidc: opt.OIDC, clock: opt.Now}
	return p.withSite(site)
}

// withSite is a copy of p that renders with site (the OpenID Provider's
// login form).
func (p *pages) withSite(site *web.Site) *pages {
	c := *p
	c.site = site
	c.errs = errorPages{base: p.base, site: site, backLinks: true,
		unavailable: [2]string{http.StatusText(http.StatusServiceUnavailable), "The service is unavailable right now. Please try again in a moment."}}
	return &c
}

// routes adds the HTML pages and their assets to the mux.
func (p *pages) routes(m *http.ServeMux) {
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

// now is the pages' clock.
func (p *pages) now() time.Time {
	if p.clock != nil {
		return p.clock()
	}
	return time.Now()
}

// newSite is the HTML pages' renderer, its links under base_url's path.
func newSite(b *base, br Branding) *web.Site {
	return web.New(web.Config{Branding: br, FormTargets: b.allowedHosts, Prefix: b.origin.prefix})
}

// seeOther answers 303 to location (Post/Redirect/Get).
func seeOther(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusSeeOther)
}

// loginForm: GET /login. A browser that is signed in already goes straight
// on to the return address.
func (p *pages) loginForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ret := p.returnTo(q.Get("return_to"))
	if p.sessions.CookieToken(r) != "" {
		if _, err := p.auth.cookieIdentity(r); err == nil {
			seeOther(w, p.orAccount(ret))
			return
		} else if errors.Is(err, errUnauthorized) {
			p.sessions.ClearCookie(w, r)
		}
	}
	p.renderLogin(w, r, http.StatusOK, web.LoginPage{ReturnTo: ret, CSRFToken: p.loginToken(w, r), Notice: loginNotices[q.Get("done")], Error: oidcErrors[q.Get("error")]})
}

// login: POST /login, form-encoded. Errors never tell whether the account
// exists; success is a fresh session and a 303 to the return address.
func (p *pages) login(w http.ResponseWriter, r *http.Request) {
	if err := p.csrf.Check(r); err != nil {
		p.crossSite(w, r)
		return
	}
	if !p.parseForm(w, r) {
		return
	}
	f := r.PostForm
	email, password := f.Get("email"), f.Get("password")
	page := web.LoginPage{Email: email, ReturnTo: p.returnTo(f.Get("return_to"))}
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
	presented := p.ends.endPresented(r)
	ip := p.clientIP(r)
	u, err := p.accounts.Authenticate(ctx, email, password, ip)
	if err != nil {
		if presented {
			p.sessions.ClearCookie(w, r)
		}
		var rl *account.RateLimitedError
		switch {
		case errors.As(err, &rl):
			p.metrics.logins.WithLabelValues("rate_limited").Inc()
			page.Error = tooManyAttempts(w, rl)
			p.renderLogin(w, r, http.StatusTooManyRequests, page)
		case errors.Is(err, account.ErrInvalidCredentials):
			p.metrics.logins.WithLabelValues("failure").Inc()
			page.Error = "The email or password is incorrect."
			p.renderLogin(w, r, http.StatusUnauthorized, page)
		case errors.Is(err, account.ErrEmailNotVerified):
			page.Error = "Your email address is not verified yet. Follow the link in the mail we sent you."
			p.renderLogin(w, r, http.StatusForbidden, page)
		default:
			p.errs.fail(w, r, err)
		}
		return
	}
	sess, tok, factors, err := p.startLogin(r, p.sessions, u, session.Meta{IP: ip, UserAgent: truncate(r.UserAgent(), 512), Method: "password"})
	if err != nil {
		p.errs.fail(w, r, err)
		return
	}
	if len(factors) > 0 {
		p.sessions.SetCookie(w, r, sess, tok)
		p.clearLoginToken(w, r)
		seeOther(w, p.factorPage(page.ReturnTo))
		return
	}
	p.metrics.logins.WithLabelValues("success").Inc()
	p.audit(r, "session.created", slog.String("user_id", u.ID), slog.String("session_id", sess.ID), slog.String("via", "form"))
	p.sessions.SetCookie(w, r, sess, tok)
	p.clearLoginToken(w, r)
	seeOther(w, p.orAccount(page.ReturnTo))
}

// loginCookieName is the login form's CSRF cookie: __Host- over TLS.
func (p *pages) loginCookieName(r *http.Request) string {
	if p.isTLS(r) {
		return loginCookieSecure
	}
	return loginCookie
}

// loginCookiePath is that cookie's Path.
func (p *pages) loginCookiePath(r *http.Request) string {
	return p.origin.cookiePath(p.isTLS(r))
}

// loginToken returns the browser's login CSRF token, setting a new one when
// it has none.
func (p *pages) loginToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(p.loginCookieName(r)); err == nil && validLoginToken(ck.Value) {
		return ck.Value
	}
	return p.setLoginToken(w, r)
}

// setLoginToken sets a new login CSRF token and returns it.
func (p *pages) setLoginToken(w http.ResponseWriter, r *http.Request) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: p.loginCookieName(r), Value: tok, Path: p.loginCookiePath(r), MaxAge: int(loginCookieMaxAge / time.Second),
		HttpOnly: true, Secure: p.isTLS(r), SameSite: http.SameSiteStrictMode})
	return tok
}

// clearLoginToken deletes the login CSRF cookie after a login.
func (p *pages) clearLoginToken(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(p.loginCookieName(r)); err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: p.loginCookieName(r), Value: "", Path: p.loginCookiePath(r), MaxAge: -1,
		HttpOnly: true, Secure: p.isTLS(r), SameSite: http.SameSiteStrictMode})
}

// checkLoginToken compares the form's token with the cookie's.
func (p *pages) checkLoginToken(r *http.Request, got string) (string, bool) {
	ck, err := r.Cookie(p.loginCookieName(r))
	if err != nil || !validLoginToken(ck.Value) || subtle.ConstantTimeCompare([]byte(got), []byte(ck.Value)) != 1 {
		return "", false
	}
	return ck.Value, true
}

// validLoginToken accepts 32 bytes in base64url.
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
		p.errs.show(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Go back and try again.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			p.errs.show(w, r, http.StatusRequestEntityTooLarge, "Too large", "The form was too large.")
			return false
		}
		p.errs.show(w, r, http.StatusBadRequest, "Bad request", "The form could not be read. Go back and try again.")
		return false
	}
	return true
}

// session is the caller's cookie session. Without one the browser is sent
// to the login page (and back here after); a store failure is a 503 page,
// never a signed-in page (fail closed).
func (p *pages) session(w http.ResponseWriter, r *http.Request) (*identity, bool) {
	id, err := p.auth.cookieIdentity(r)
	if err == nil {
		return id, true
	}
	if errors.Is(err, errMFARequired) { // a half-finished login: its factor first
		seeOther(w, p.factorPage(p.origin.url("/account")))
		return nil, false
	}
	if err != nil && !errors.Is(err, errUnauthorized) {
		p.errs.fail(w, r, err)
		return nil, false
	}
	if p.sessions.CookieToken(r) != "" {
		p.sessions.ClearCookie(w, r)
	}
	seeOther(w, p.origin.url("/login?return_to="+url.QueryEscape(p.origin.url("/account"))))
	return nil, false
}

// pageAction is an account page form's handler.
type pageAction func(w http.ResponseWriter, r *http.Request, id *identity)

// action guards the account page's forms like the API guards cookie
// requests: same-origin (Sec-Fetch-Site / Origin), a signed-in session, and
// the session's CSRF token, here in the form's csrf_token field.
func (p *pages) action(h pageAction) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := p.csrf.Check(r); err != nil {
			p.crossSite(w, r)
			return
		}
		id, ok := p.session(w, r)
		if !ok || !p.parseForm(w, r) {
			return
		}
		if p.formCSRF(w, r, id) {
			h(w, r, id)
		}
	}
}

// formCSRF checks the form's csrf_token against id's session, refusing the
// request with an error page when it is missing or wrong.
func (p *pages) formCSRF(w http.ResponseWriter, r *http.Request, id *identity) bool {
	got := r.PostForm.Get("csrf_token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.Session.CSRFToken)) != 1 {
		p.errs.refuse(w, r, errf(codeCSRF, "missing or wrong csrf_token"), "This page has expired",
			"The form was out of date, so nothing was changed. Reload the page and try again.")
		return false
	}
	return true
}

// account: GET /account.
func (p *pages) account(w http.ResponseWriter, r *http.Request) {
	id, ok := p.session(w, r)
	if !ok {
		return
	}
	p.renderAccount(w, r, id, http.StatusOK, web.AccountPage{Notice: accountNotices[r.URL.Query().Get("done")]})
}

// renderAccount renders the account page with the user's devices.
func (p *pages) renderAccount(w http.ResponseWriter, r *http.Request, id *identity, status int, page web.AccountPage) {
	list, err := p.ends.devices(r, id.User.ID, id.sessionID())
	if err != nil {
		p.errs.fail(w, r, err)
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
		p.log.ErrorContext(r.Context(), "render account page", slog.Any("error", err))
	}
}

// toDevice is a device as the account page shows it.
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
		seeOther(w, p.origin.url("/account?done=gone"))
		return
	}
	ended, err := p.ends.endDevice(r, id, target)
	if err != nil {
		p.errs.fail(w, r, err)
		return
	}
	switch {
	case target == id.Session.ID:
		p.sessions.ClearCookie(w, r)
		seeOther(w, p.origin.url("/login?done=signed-out"))
	case !ended:
		seeOther(w, p.origin.url("/account?done=gone"))
	default:
		seeOther(w, p.origin.url("/account?done=device"))
	}
}

// signOutOthers: POST /account/sign-out-others, as DELETE /v1/sessions?scope=others.
func (p *pages) signOutOthers(w http.ResponseWriter, r *http.Request, id *identity) {
	if err := p.ends.endEverything(r, id.User.ID, id.Session.ID, false, "sessions.others"); err != nil {
		p.errs.fail(w, r, err)
		return
	}
	seeOther(w, p.origin.url("/account?done=others"))
}

// signOutEverywhere: POST /account/sign-out-everywhere, as DELETE
// /v1/sessions?scope=all: every session and refresh family, and every access
// token issued so far.
func (p *pages) signOutEverywhere(w http.ResponseWriter, r *http.Request, id *identity) {
	if err := p.ends.endEverything(r, id.User.ID, "", true, "sessions.all"); err != nil {
		p.errs.fail(w, r, err)
		return
	}
	p.sessions.ClearCookie(w, r)
	seeOther(w, p.origin.url("/login?done=signed-out-everywhere"))
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
	_, err := p.accounts.ChangePassword(ctx, id.User.ID, current, next)
	var pe *account.PasswordError
	switch {
	case errors.Is(err, account.ErrInvalidCredentials):
		feedback("The current password is incorrect.")
		return
	case errors.As(err, &pe):
		feedback("Choose another new password: " + pe.Reason + ".")
		return
	case err != nil:
		p.errs.fail(w, r, err)
		return
	}
	ns, tok, err := p.sessions.Renew(ctx, id.Session)
	if err != nil {
		p.errs.fail(w, r, err)
		return
	}
	if err := p.ends.endEverything(r, id.User.ID, ns.ID, false, "password_changed"); err != nil {
		p.errs.fail(w, r, err)
		return
	}
	p.sessions.SetCookie(w, r, ns, tok)
	seeOther(w, p.origin.url("/account?done=password"))
}

// renderLogin renders the login form, with a link per SSO provider.
func (p *pages) renderLogin(w http.ResponseWriter, r *http.Request, status int, page web.LoginPage) {
	if o := p.oidc; o != nil && o.Providers != nil {
		for _, name := range o.Providers.Names() {
			u := p.origin.url("/v1/oidc/" + url.PathEscape(name) + "/start")
			if page.ReturnTo != "" {
				u += "?return_to=" + url.QueryEscape(page.ReturnTo)
			}
			page.Providers = append(page.Providers, web.ProviderLink{Name: name, URL: u})
		}
	}
	if err := p.site.RenderLogin(w, status, page); err != nil {
		p.log.ErrorContext(r.Context(), "render login page", slog.Any("error", err))
	}
}

// tooManyAttempts sets Retry-After for rl and returns the form's message.
func tooManyAttempts(w http.ResponseWriter, rl *account.RateLimitedError) string {
	wait := retryAfterSeconds(rl.RetryAfter)
	w.Header().Set("Retry-After", wait)
	unit := " seconds."
	if wait == "1" {
		unit = " second."
	}
	return "Too many attempts. Try again in " + wait + unit
}

// crossSite refuses a cross-site form post.
func (p *pages) crossSite(w http.ResponseWriter, r *http.Request) {
	p.errs.refuse(w, r, errCrossSite, "Request refused",
		"This request came from another site, so it was refused and nothing was changed.")
}
