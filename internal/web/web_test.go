package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNew_BrandingDefaultsAndSanitising(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        Branding
		wantName  string
		wantLogo  string
		wantTheme string
		wantImg   string
	}{
		{"zero", Branding{}, "sessiond", "", "--brand:#2f5bd3;--on-brand:#fff", "img-src 'self';"},
		{"custom", Branding{Name: " Acme ", LogoURL: "https://cdn.acme.test/logo.svg", PrimaryColor: "#FFCC00"},
			"Acme", "https://cdn.acme.test/logo.svg", "--brand:#ffcc00;--on-brand:#111", "img-src 'self' https://cdn.acme.test;"},
		{"path logo, short colour", Branding{LogoURL: "/static/logo.png", PrimaryColor: "#123"}, "sessiond", "/static/logo.png", "--brand:#123;--on-brand:#fff", "img-src 'self';"},
		{"css injection", Branding{PrimaryColor: "red;}body{display:none"}, "sessiond", "", "--brand:#2f5bd3;", "img-src 'self';"},
		{"javascript logo", Branding{LogoURL: "javascript:alert(1)"}, "sessiond", "", "", "img-src 'self';"},
		{"protocol-relative logo", Branding{LogoURL: "//evil.test/x.png"}, "sessiond", "", "", "img-src 'self';"},
		{"logo with userinfo", Branding{LogoURL: "https://u:p@cdn.test/x.png"}, "sessiond", "", "", "img-src 'self';"},
		{"logo breaking the CSP", Branding{LogoURL: "https://cdn.test/x.png; script-src *"}, "sessiond", "", "", "img-src 'self';"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Config{Branding: tt.in})
			if s.Branding().Name != tt.wantName || s.logo != tt.wantLogo {
				t.Errorf("name %q logo %q, want %q %q", s.Branding().Name, s.logo, tt.wantName, tt.wantLogo)
			}
			if !strings.Contains(string(s.theme.body), tt.wantTheme) {
				t.Errorf("theme %q, want it to contain %q", s.theme.body, tt.wantTheme)
			}
			if !strings.Contains(s.CSP(), tt.wantImg) {
				t.Errorf("CSP %q, want %q", s.CSP(), tt.wantImg)
			}
		})
	}
}

func TestCSP(t *testing.T) {
	t.Parallel()
	s := New(Config{FormTargets: []string{"app.example.com", "*.tools.example.com", "bad host", "x.test; script-src *", "*"}})
	want := "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self' app.example.com:* *.tools.example.com:*; frame-ancestors 'none'; base-uri 'none'"
	if s.CSP() != want {
		t.Fatalf("CSP\n got %s\nwant %s", s.CSP(), want)
	}
	h := http.Header{}
	s.SetHeaders(h)
	for k, v := range map[string]string{"Content-Security-Policy": want, "X-Frame-Options": "DENY",
		"Referrer-Policy": "same-origin", "Cache-Control": "no-store"} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
}

func TestRenderLogin_EscapesAndCarriesFields(t *testing.T) {
	t.Parallel()
	s := New(Config{Branding: Branding{Name: `<b>"Acme"</b>`}})
	rec := httptest.NewRecorder()
	err := s.RenderLogin(rec, http.StatusUnauthorized, LoginPage{Email: `"><script>x</script>`, ReturnTo: "/account?a=1&b=2",
		CSRFToken: "tok123", Error: "The email or password is incorrect."})
	if err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	if rec.Code != 401 || rec.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	for _, want := range []string{
		`name="csrf_token" value="tok123"`,
		`name="return_to" value="/account?a=1&amp;b=2"`,
		`value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"`,
		`&lt;b&gt;&#34;Acme&#34;&lt;/b&gt;`,
		`role="alert"`, `aria-live="polite"`, `<label for="email">`, `<label for="password">`,
		`href="/assets/style.css?v=` + s.style.hash + `"`, `href="/assets/theme.css?v=` + s.theme.hash + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, " style=") {
		t.Error("login page carries a script or an inline style")
	}
}

func TestRenderAccount(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	rec := httptest.NewRecorder()
	err := s.RenderAccount(rec, 200, AccountPage{
		Email: "a@example.com", Roles: []string{"admin", "dev"}, CSRFToken: "csrf1", CurrentID: "sid1",
		Devices: []Device{
			{ID: "sid1", UserAgent: ParseUserAgent("curl/8.5.0"), IP: "127.0.0.1", SignedIn: now.Add(-time.Hour), LastActive: now.Add(-5 * time.Minute), Current: true},
			{ID: "fam2", App: true, UserAgent: ParseUserAgent("<img src=x>"), SignedIn: now.Add(-50 * time.Hour)},
		},
		Notice: "Signed out of 1 device.", MinPasswordLen: 8, Now: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"a@example.com", `<span class="tag">admin</span>`, "curl 8", "This device", "5 minutes ago", "1 hour ago", "2 days ago",
		`data-device="fam2"`, `name="device" value="fam2"`, `name="csrf_token" value="csrf1"`, "Signed out of 1 device.",
		`action="/account/sign-out-others"`, `action="/account/sign-out-everywhere"`, `action="/account/password"`,
		`<label for="current_password">`, `<label for="new_password">`, "At least 8 characters", `role="status"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %s", want)
		}
	}
	if strings.Contains(body, "<img src=x>") || strings.Contains(body, "<script") || strings.Contains(body, "style=") {
		t.Error("account page carries markup it should not")
	}
}

func TestAssets_Caching(t *testing.T) {
	t.Parallel()
	s := New(Config{Branding: Branding{PrimaryColor: "#0a0"}})
	h := s.Assets()
	get := func(target, inm string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", target, nil)
		if inm != "" {
			r.Header.Set("If-None-Match", inm)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for _, a := range []struct {
		path string
		as   asset
	}{{StylePath, s.style}, {ThemePath, s.theme}} {
		rec := get(a.path+"?v="+a.as.hash, "")
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" ||
			rec.Header().Get("Content-Type") != "text/css; charset=utf-8" || rec.Body.String() != string(a.as.body) {
			t.Errorf("%s with hash: %d %v", a.path, rec.Code, rec.Header())
		}
		rec = get(a.path+"?v=old", "")
		if rec.Code != 200 || rec.Header().Get("Cache-Control") != "no-cache" {
			t.Errorf("%s with a stale hash: %d %v", a.path, rec.Code, rec.Header())
		}
		if rec := get(a.path, a.as.etag); rec.Code != http.StatusNotModified {
			t.Errorf("%s revalidation: %d", a.path, rec.Code)
		}
	}
	if rec := get("/assets/other.css", ""); rec.Code != 404 {
		t.Errorf("unknown asset: %d", rec.Code)
	}
}

func TestOnColor(t *testing.T) {
	t.Parallel()
	for c, want := range map[string]string{"#000": "#fff", "#ffffff": "#111", "#2f5bd3": "#fff", "#ffcc00": "#111", "#1a73e8": "#fff", "#0f0f": "#111"} {
		if got := onColor(c); got != want {
			t.Errorf("onColor(%s) = %s, want %s", c, got, want)
		}
	}
}

func TestStylesheet_NoRemoteOrInline(t *testing.T) {
	t.Parallel()
	b, _ := files.ReadFile("assets/style.css")
	css := string(b)
	for _, bad := range []string{"@import", "url(", "expression("} {
		if strings.Contains(css, bad) {
			t.Errorf("style.css contains %s", bad)
		}
	}
	if !strings.Contains(css, "prefers-color-scheme: dark") {
		t.Error("style.css has no dark scheme")
	}
}
