package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/web"
)

// factorPath is the second-factor page: the step after the password form
// or a single sign-on for a user with a second factor.
const factorPath = "/login/factor"

// factorPages is the second-factor step of the HTML sign-in (pages_factor.go):
// GET and POST /login/factor. It verifies through the mfaAPI room
// (secondFactors.verify), the same code path as POST /v1/mfa/verify.
type factorPages struct {
	*pages
}

// routes adds the factor page when second factors are on.
func (f factorPages) routes(m *http.ServeMux) {
	if f.mfa == nil {
		return
	}
	m.HandleFunc("GET "+factorPath, f.page(f.form))
	m.HandleFunc("POST "+factorPath, f.page(f.submit))
}

// factorPage is the factor page's address with the return address ret.
func (b *base) factorPage(ret string) string {
	u := b.origin.url(factorPath)
	if ret != "" {
		u += "?return_to=" + url.QueryEscape(ret)
	}
	return u
}

// form: GET /login/factor[?method=recovery_code].
func (f factorPages) form(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	page := web.FactorPage{ReturnTo: f.returnTo(q.Get("return_to")), Recovery: q.Get("method") == "recovery_code"}
	id, methods, ok := f.signingIn(w, r, page.ReturnTo)
	if !ok {
		return
	}
	f.render(w, r, id, methods, http.StatusOK, page)
}

// submit: POST /login/factor, form fields csrf_token, method (totp or
// recovery_code), code, return_to. A right code raises the session to aal2
// under a new ID and goes on to the return address; a wrong one shows the
// form again and counts toward the account's limit and lockout.
func (f factorPages) submit(w http.ResponseWriter, r *http.Request) {
	if err := f.csrf.Check(r); err != nil {
		f.crossSite(w, r)
		return
	}
	if !f.parseForm(w, r) {
		return
	}
	form := r.PostForm
	method := form.Get("method")
	page := web.FactorPage{ReturnTo: f.returnTo(form.Get("return_to")), Recovery: method == "recovery_code"}
	id, methods, ok := f.signingIn(w, r, page.ReturnTo)
	if !ok || !f.formCSRF(w, r, id) {
		return
	}
	ns, tok, err := f.mfa.verify(r, id, method, strings.TrimSpace(form.Get("code")))
	var rl *account.RateLimitedError
	var ae *apiError
	switch {
	case err == nil:
		f.sessions.SetCookie(w, r, ns, tok)
		seeOther(w, f.orAccount(page.ReturnTo))
	case errors.As(err, &rl):
		page.Error = tooManyAttempts(w, rl)
		f.render(w, r, id, methods, http.StatusTooManyRequests, page)
	case errors.Is(err, account.ErrInvalidCredentials):
		page.Error = "That code is not right. Please try again."
		f.render(w, r, id, methods, http.StatusUnauthorized, page)
	case errors.As(err, &ae) && ae.Code == codeInvalidRequest:
		page.Error = "Enter the code."
		f.render(w, r, id, methods, http.StatusBadRequest, page)
	default:
		f.errs.fail(w, r, err)
	}
}

// signingIn is the caller's session and the second factors of its user.
// A half-finished login that expired (or no session at all) goes back to
// the login page with a message; a user without a factor has nothing to
// verify and goes on to ret.
func (f factorPages) signingIn(w http.ResponseWriter, r *http.Request, ret string) (*identity, []string, bool) {
	id, err := f.auth.cookieIdentity(r)
	if errors.Is(err, errUnauthorized) {
		q := url.Values{}
		if f.sessions.CookieToken(r) != "" {
			q.Set("done", "factor-expired")
			f.sessions.ClearCookie(w, r)
		}
		if ret != "" {
			q.Set("return_to", ret)
		}
		to := "/login"
		if len(q) > 0 {
			to += "?" + q.Encode()
		}
		seeOther(w, f.origin.url(to))
		return nil, nil, false
	}
	if err != nil {
		f.errs.fail(w, r, err)
		return nil, nil, false
	}
	methods, err := f.factorsOf(r.Context(), id.User.ID)
	if err != nil {
		f.errs.fail(w, r, err)
		return nil, nil, false
	}
	if len(methods) == 0 {
		seeOther(w, f.orAccount(ret))
		return nil, nil, false
	}
	return id, methods, true
}

// render renders the factor page for id's session.
func (f factorPages) render(w http.ResponseWriter, r *http.Request, id *identity, methods []string, status int, page web.FactorPage) {
	page.CSRFToken = id.Session.CSRFToken
	page.HasRecovery = slices.Contains(methods, "recovery_code")
	if err := f.site.RenderFactor(w, status, page); err != nil {
		f.log.ErrorContext(r.Context(), "render factor page", slog.Any("error", err))
	}
}
