package web

import (
	"html/template"
	"net/http"
	"sync"
)

// FactorPage asks for the second factor of a sign-in (or of a step-up): a
// code from an authenticator app, or one of the recovery codes.
type FactorPage struct {
	// ReturnTo is a return address the caller has already checked.
	ReturnTo string
	// CSRFToken is the half-finished session's CSRF token.
	CSRFToken string
	// Recovery shows the recovery-code variant of the form
	// (method=recovery_code) instead of the authenticator code.
	Recovery bool
	// HasRecovery offers the recovery-code variant (the user has codes left).
	HasRecovery bool
	// Error is shown above the form.
	Error string
}

var factorTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("layout.html").ParseFS(files, "templates/layout.html", "templates/factor.html"))
})

// RenderFactor writes the second-factor page with status.
func (s *Site) RenderFactor(w http.ResponseWriter, status int, p FactorPage) error {
	return s.render(w, status, factorTemplate(), s.view("factor", "Second factor", p))
}
