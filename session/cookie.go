package session

import (
	"net/http"
	"time"
)

// SecureMode says when the session cookie carries the Secure attribute.
type SecureMode int

const (
	// SecureAuto marks the cookie Secure when the request came over TLS
	// (directly, or per CookieConfig.IsTLS behind a trusted proxy).
	SecureAuto SecureMode = iota
	// SecureAlways always marks the cookie Secure.
	SecureAlways
	// SecureNever never marks it Secure: for plain-HTTP development only.
	SecureNever
)

// Cookie names, per the API contract.
const (
	CookieName       = "sessiond"
	CookieNameHost   = "__Host-sessiond"
	CookieNameSecure = "__Secure-sessiond"
)

// CookieConfig sets the session cookie's name and attributes. The cookie is
// always HttpOnly, Path=/ and SameSite=Lax.
type CookieConfig struct {
	// Secure chooses when to set Secure. Default SecureAuto.
	Secure SecureMode
	// Domain, when set, is sent as the cookie's Domain attribute and the name
	// becomes __Secure-sessiond (the __Host- prefix forbids a Domain).
	Domain string
	// IsTLS reports whether r reached the deployment over TLS. Default: r.TLS
	// is not nil. A server behind a TLS-terminating trusted proxy sets it to
	// also believe X-Forwarded-Proto from that proxy.
	IsTLS func(r *http.Request) bool
}

func (c CookieConfig) secure(r *http.Request) bool {
	switch c.Secure {
	case SecureAlways:
		return true
	case SecureNever:
		return false
	}
	if c.IsTLS != nil {
		return c.IsTLS(r)
	}
	return r.TLS != nil
}

// Name returns the session cookie's name for request r.
func (c CookieConfig) Name(r *http.Request) string {
	switch {
	case !c.secure(r):
		return CookieName
	case c.Domain != "":
		return CookieNameSecure
	default:
		return CookieNameHost
	}
}

// Cookie builds the Set-Cookie for token, expiring at expires.
func (c CookieConfig) Cookie(r *http.Request, token string, expires, now time.Time) *http.Cookie {
	maxAge := int(expires.Sub(now) / time.Second)
	if maxAge <= 0 {
		maxAge = -1
	}
	ck := &http.Cookie{
		Name:     c.Name(r),
		Value:    token,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   c.secure(r),
		SameSite: http.SameSiteLaxMode,
	}
	if c.Domain != "" && ck.Secure {
		ck.Domain = c.Domain
	}
	return ck
}

// Token returns the session token the request carries in its cookie, or "".
// Only the cookie name that fits the request's security is read, so a cookie
// planted over plain HTTP never stands in for a __Host- one.
func (c CookieConfig) Token(r *http.Request) string {
	ck, err := r.Cookie(c.Name(r))
	if err != nil {
		return ""
	}
	return ck.Value
}

// SetCookie writes the session cookie for s and tok to w.
func (m *Manager) SetCookie(w http.ResponseWriter, r *http.Request, s *Session, tok string) {
	http.SetCookie(w, m.cfg.Cookie.Cookie(r, tok, s.ExpiresAt, m.now()))
	w.Header().Set("Cache-Control", "no-store")
}

// ClearCookie tells the client to drop its session cookie.
func (m *Manager) ClearCookie(w http.ResponseWriter, r *http.Request) {
	ck := m.cfg.Cookie.Cookie(r, "", time.Time{}, m.now())
	ck.MaxAge = -1
	http.SetCookie(w, ck)
	w.Header().Set("Cache-Control", "no-store")
}

// CookieToken returns the session token in r's cookie, or "".
func (m *Manager) CookieToken(r *http.Request) string { return m.cfg.Cookie.Token(r) }
