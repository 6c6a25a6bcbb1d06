package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html assets/style.css
var files embed.FS

// Asset paths. Pages link them with a ?v=<content hash> query, which makes
// the URL change whenever the content does, so they are cached for a year.
const (
	StylePath = "/assets/style.css"
	ThemePath = "/assets/theme.css"
)

// DefaultName is the product name when Branding.Name is empty.
const DefaultName = "sessiond"

// Branding makes the pages a team's own. The zero value is sessiond's look.
type Branding struct {
	// Name is the product name in titles and the header. Default "sessiond".
	Name string
	// LogoURL is an http(s) URL or an absolute path ("/static/logo.svg") of
	// a logo shown beside the name; empty: none. Anything else is ignored.
	LogoURL string
	// PrimaryColor is a CSS hex colour (#rgb, #rgba, #rrggbb, #rrggbbaa) for
	// buttons, links and focus rings; empty or invalid: the built-in blue.
	PrimaryColor string
}

// Config configures a Site.
type Config struct {
	Branding Branding
	// FormTargets are hosts, besides the site's own origin, that a form
	// submission may end up on through a redirect (the return addresses
	// allowed after login): hostnames, optionally "*.example.com". They go
	// into the Content-Security-Policy's form-action; invalid entries are
	// skipped.
	FormTargets []string
	// Prefix is the path every link, form action and asset URL of the
	// pages starts with: base_url's path, escaped, without a trailing "/"
	// ("/auth"). Empty: the root.
	Prefix string
}

// Site renders the HTML pages and serves their assets. Create it with New;
// it is safe for concurrent use.
type Site struct {
	brand          Branding
	prefix         string
	logo           string // checked LogoURL, or ""
	csp            string
	login, account *template.Template
	errorPage      *template.Template
	confirm        *template.Template
	style, theme   asset
}

type asset struct {
	body []byte
	hash string // hex, first 16 characters of SHA-256
	etag string
}

func newAsset(b []byte) asset {
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])[:16]
	return asset{body: b, hash: h, etag: `"` + h + `"`}
}

// DefaultPrimaryColor is the primary colour when Branding sets none.
const DefaultPrimaryColor = "#2f5bd3"

var hexColor = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$`)

// New builds a Site. Branding values that are not valid are replaced by the
// defaults, so a Site always renders. It panics only if the embedded
// templates do not parse, which the package's tests rule out.
func New(cfg Config) *Site {
	b := cfg.Branding
	b.Name = strings.TrimSpace(b.Name)
	if b.Name == "" {
		b.Name = DefaultName
	}
	if !hexColor.MatchString(b.PrimaryColor) {
		b.PrimaryColor = DefaultPrimaryColor
	}
	s := &Site{brand: b, prefix: strings.TrimRight(cfg.Prefix, "/")}
	logoOrigin := ""
	s.logo, logoOrigin = checkLogo(b.LogoURL)
	s.csp = csp(logoOrigin, cfg.FormTargets)

	style, err := files.ReadFile("assets/style.css")
	if err != nil {
		panic(err)
	}
	s.style = newAsset(style)
	s.theme = newAsset([]byte(themeCSS(b.PrimaryColor)))

	funcs := template.FuncMap{
		"ago":   RelativeTime,
		"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"stamp": func(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04 UTC") },
	}
	parse := func(page string) *template.Template {
		return template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+page))
	}
	s.login, s.account, s.errorPage = parse("login.html"), parse("account.html"), parse("error.html")
	s.confirm = parse("confirm.html")
	return s
}

// checkLogo accepts an absolute path or an http(s) URL; for a URL it also
// returns its origin, for the Content-Security-Policy.
func checkLogo(raw string) (logo, origin string) {
	if raw == "" || strings.ContainsAny(raw, "\\\"'<> \t\r\n\x00") {
		return "", ""
	}
	if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
		return raw, ""
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return "", ""
	}
	if !validHostPort(u.Host) {
		return "", ""
	}
	return raw, u.Scheme + "://" + u.Host
}

func validHostPort(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']') {
			return false
		}
	}
	return true
}

// csp is the pages' Content-Security-Policy: nothing but our own stylesheet
// and images (and the logo's origin), no script at all, forms only to
// ourselves and the allowed return hosts, never framed.
func csp(logoOrigin string, targets []string) string {
	img := "'self'"
	if logoOrigin != "" {
		img += " " + logoOrigin
	}
	form := "'self'"
	for _, t := range targets {
		t = strings.ToLower(strings.TrimSpace(t))
		name := strings.TrimPrefix(t, "*.")
		if name == "" || strings.Contains(name, "*") || strings.Contains(name, ":") || !validHostPort(name) {
			continue
		}
		form += " " + t + ":*"
	}
	return "default-src 'none'; style-src 'self'; img-src " + img + "; form-action " + form +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// themeCSS carries the brand colour as custom properties: pages may not
// have inline styles (CSP), so the colour comes in its own tiny stylesheet.
func themeCSS(color string) string {
	return fmt.Sprintf(":root{--brand:%s;--on-brand:%s}\n", strings.ToLower(color), onColor(color))
}

// onColor is the text colour readable on color: white or near-black,
// whichever contrasts more (WCAG relative luminance).
func onColor(color string) string {
	h := strings.TrimPrefix(color, "#")
	if len(h) == 3 || len(h) == 4 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	lin := func(s string) float64 {
		v, _ := strconv.ParseUint(s, 16, 8)
		c := float64(v) / 255
		if c <= 0.04045 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	l := 0.2126*lin(h[0:2]) + 0.7152*lin(h[2:4]) + 0.0722*lin(h[4:6])
	// Contrast with white: 1.05/(l+0.05); with #111 (l≈0.0056): (l+0.05)/0.0556.
	if 1.05/(l+0.05) >= (l+0.05)/0.0556 {
		return "#fff"
	}
	return "#111"
}

// SetHeaders sets the security headers every page carries: the strict CSP,
// no framing, no referrer beyond our origin, no caching (pages show user
// data and CSRF tokens).
func (s *Site) SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Cache-Control", "no-store")
}

// CSP returns the Content-Security-Policy that SetHeaders sets.
func (s *Site) CSP() string { return s.csp }

// Branding returns the branding in effect, defaults filled in.
func (s *Site) Branding() Branding { return s.brand }

// LoginPage is what the login form shows.
type LoginPage struct {
	// Email pre-fills the form after a failed attempt.
	Email string
	// ReturnTo is a return address the caller has already checked; it is
	// carried through the form.
	ReturnTo string
	// CSRFToken goes into the form's hidden csrf_token field.
	CSRFToken string
	// Error is shown as an alert; Notice as a confirmation.
	Error, Notice string
	// Providers are the single sign-on buttons, one per configured provider.
	Providers []ProviderLink
}

// ProviderLink is a "Continue with <Name>" button on the login page.
type ProviderLink struct {
	Name string
	// URL starts the sign-in (GET /v1/oidc/{name}/start?return_to=...).
	URL string
}

// AccountPage is what the account page shows.
type AccountPage struct {
	Email string
	Roles []string
	OrgID string
	// CSRFToken is the session's CSRF token, put in every form.
	CSRFToken string
	// CurrentID is the caller's own device, for the header's sign-out.
	CurrentID string
	Devices   []Device
	// Notice confirms what an action did; Error says why one failed.
	Notice, Error string
	// PasswordError is the change-password form's feedback.
	PasswordError string
	// MinPasswordLen is shown in the new-password hint.
	MinPasswordLen int
	// Now is the reference for relative times.
	Now time.Time
}

// Device is one row of the devices table: a browser session or an app's
// token sign-in.
type Device struct {
	ID string
	// App is true for a token sign-in (refresh family), false for a
	// browser session.
	App                  bool
	UserAgent            UserAgent
	IP                   string
	SignedIn, LastActive time.Time
	Current              bool
}

// ErrorPage explains a failed request.
type ErrorPage struct {
	Title, Message string
	// Back is a same-site path to offer as the way on ("/login").
	Back, BackLabel string
}

// ConfirmPage asks a person to confirm an action a mailed link started (a
// button that posts Token to Action), so that a mail scanner fetching the
// link consumes nothing; with no Action it only tells an outcome.
type ConfirmPage struct {
	Title, Message string
	// Action is the same-site path the form posts to; Token its one field.
	Action, Token string
	// Password, when set, labels a new-password field (new_password).
	Password string
	// Button labels the submit button.
	Button string
	// Back is a same-site path to offer as the way on ("/account").
	Back, BackLabel string
}

// view is what the layout sees: the site's parts and the page's data in D.
type view struct {
	// Prefix goes before every path of sessiond's own ("/auth").
	Prefix   string
	Name     string
	LogoURL  string
	StyleURL string
	ThemeURL string
	Title    string
	Page     string
	// SignOut, when set, puts a sign-out button in the header.
	SignOut *signOut
	D       any
}

type signOut struct{ CSRFToken, Device string }

func (s *Site) view(page, title string, d any) view {
	return view{Prefix: s.prefix, Name: s.brand.Name, LogoURL: s.logo, Title: title, Page: page, D: d,
		StyleURL: s.prefix + StylePath + "?v=" + s.style.hash, ThemeURL: s.prefix + ThemePath + "?v=" + s.theme.hash}
}

// RenderLogin writes the login page with status.
func (s *Site) RenderLogin(w http.ResponseWriter, status int, p LoginPage) error {
	return s.render(w, status, s.login, s.view("login", "Sign in", p))
}

// RenderAccount writes the account page with status.
func (s *Site) RenderAccount(w http.ResponseWriter, status int, p AccountPage) error {
	v := s.view("account", "Your account", p)
	v.SignOut = &signOut{CSRFToken: p.CSRFToken, Device: p.CurrentID}
	return s.render(w, status, s.account, v)
}

// RenderError writes an error page with status.
func (s *Site) RenderError(w http.ResponseWriter, status int, p ErrorPage) error {
	return s.render(w, status, s.errorPage, s.view("error", p.Title, p))
}

// RenderConfirm writes a confirmation (or outcome) page with status.
func (s *Site) RenderConfirm(w http.ResponseWriter, status int, p ConfirmPage) error {
	return s.render(w, status, s.confirm, s.view("confirm", p.Title, p))
}

// render executes into a buffer first, so that a failure never leaves half a
// page; it then answers a plain 500 and returns the error for the log.
func (s *Site) render(w http.ResponseWriter, status int, t *template.Template, v view) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return fmt.Errorf("web: render %s: %w", v.Page, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// Assets serves StylePath and ThemePath. Requested with the current content
// hash as ?v=, an asset is cacheable for a year (immutable); otherwise it
// must be revalidated (ETag).
func (s *Site) Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a asset
		switch r.URL.Path {
		case StylePath:
			a = s.style
		case ThemePath:
			a = s.theme
		default:
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("ETag", a.etag)
		if r.URL.Query().Get("v") == a.hash {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(a.body)
		}
	})
}
