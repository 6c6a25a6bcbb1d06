package web

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Param is a hidden form field that carries a request across a page.
type Param struct{ Name, Value string }

// ConsentPage asks a signed-in user to let a third-party application sign
// them in.
type ConsentPage struct {
	// ClientName is the application's name (its ID when it has none).
	ClientName string
	// Email is the signed-in user's.
	Email string
	// Scopes describe what the application asks for, one line each.
	Scopes []string
	// CSRFToken is the session's CSRF token.
	CSRFToken string
	// Params are the authorization request's parameters.
	Params []Param
}

// LogoutPage asks a signed-in user to confirm signing out (RP-initiated
// logout without a valid id_token_hint), so that a cross-site link cannot
// sign anyone out.
type LogoutPage struct {
	// ClientName names the application that asked, if known.
	ClientName string
	Email      string
	CSRFToken  string
	// Params carry post_logout_redirect_uri, state and client_id.
	Params []Param
}

var providerTemplates = sync.OnceValue(func() map[string]*template.Template {
	parse := func(page string) *template.Template {
		return template.Must(template.New("layout.html").ParseFS(files, "templates/layout.html", "templates/"+page))
	}
	return map[string]*template.Template{"consent": parse("consent.html"), "logout": parse("logout.html"),
		"continue": template.Must(template.ParseFS(files, "templates/continue.html"))}
})

// ContinuePage hands the browser on to an application's redirect URI with a
// meta refresh (and a link), instead of a redirect: used when the request
// came from one of our own forms, because browsers hold every redirect after
// a form submission to the form page's form-action policy.
type ContinuePage struct {
	ClientName string
	// URL is where the browser goes: the application's registered
	// redirect URI with the response parameters.
	URL string
}

// RenderContinue writes the continue page with status 200.
func (s *Site) RenderContinue(w http.ResponseWriter, p ContinuePage) error {
	return s.render(w, http.StatusOK, providerTemplates()["continue"], s.view("continue", "Continue", p))
}

// RenderConsent writes the consent page with status.
func (s *Site) RenderConsent(w http.ResponseWriter, status int, p ConsentPage) error {
	return s.render(w, status, providerTemplates()["consent"], s.view("consent", "Allow access", p))
}

// RenderLogout writes the sign-out confirmation page with status.
func (s *Site) RenderLogout(w http.ResponseWriter, status int, p LogoutPage) error {
	return s.render(w, status, providerTemplates()["logout"], s.view("logout", "Sign out", p))
}

// SetHeadersFormTo is SetHeaders for a page whose form ends in a redirect
// to target (an application's registered redirect URI): browsers apply the
// Content-Security-Policy's form-action to every redirect after a form
// submission, so target's origin is added to it. An unusable target adds
// nothing.
func (s *Site) SetHeadersFormTo(h http.Header, target string) {
	s.SetHeaders(h)
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || !validHostPort(u.Host) {
		return
	}
	origin := u.Scheme + "://" + u.Host
	h.Set("Content-Security-Policy", strings.Replace(s.csp, "form-action 'self'", "form-action 'self' "+origin, 1))
}
