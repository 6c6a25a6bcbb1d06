package server

import (
	"net/url"
	"strings"
	"testing"
)

// Rule 20: return addresses only to allow-listed hosts or same-origin paths.
func TestSafeRedirect_OpenRedirectRefused(t *testing.T) {
	t.Parallel()
	self, _ := url.Parse("https://login.example.com")
	allowed := []string{"app.example.com", "*.tools.example.com", "IP.Example.NET"}
	tests := []struct {
		raw  string
		want string // "" means refused
	}{
		// Same-origin paths.
		{"/account", "/account"},
		{"/", "/"},
		{"/v1/authorize?client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=x", "/v1/authorize?client_id=web&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&state=x"},
		{"/a/b?c=d#frag", "/a/b?c=d#frag"},
		{"/a%2Fb", "/a%2Fb"},
		// Same origin, absolute.
		{"https://login.example.com/account", "https://login.example.com/account"},
		{"https://LOGIN.example.com:443/x", "https://login.example.com:443/x"},
		{"http://login.example.com/account", ""},       // another scheme is another origin
		{"https://login.example.com:8443/account", ""}, // another port too
		// Allow-listed hosts, any port.
		{"https://app.example.com/home", "https://app.example.com/home"},
		{"https://APP.example.com", "https://app.example.com"},
		{"http://app.example.com:8080/x?y=1", "http://app.example.com:8080/x?y=1"},
		{"https://a.tools.example.com/", "https://a.tools.example.com/"},
		{"https://a.b.tools.example.com/", "https://a.b.tools.example.com/"},
		{"https://ip.example.net/", "https://ip.example.net/"},
		{"https://tools.example.com/", ""}, // "*." is subdomains only
		{"https://eviltools.example.com/", ""},
		{"https://app.example.com.evil.com/", ""},
		{"https://evil.com/app.example.com", ""},
		{"https://evil.com?app.example.com", ""},
		{"https://evil.com#app.example.com", ""},
		{"https://app.example.com./", ""}, // trailing dot
		// Protocol-relative and backslash tricks.
		{"//evil.com", ""},
		{"//evil.com/account", ""},
		{"///evil.com", ""},
		{"/\\evil.com", ""},
		{"\\\\evil.com", ""},
		{"/\\/evil.com", ""},
		{"https://app.example.com\\@evil.com", ""},
		{"https:\\\\evil.com", ""},
		// Percent-encoded forms.
		{"/%2F%2Fevil.com", ""},
		{"/%2f/evil.com", ""},
		{"/%5Cevil.com", ""},
		{"%2F%2Fevil.com", ""},
		{"/%09/evil.com", ""},
		{"/%0d%0aSet-Cookie:x=y", ""},
		{"https://evil.com%2F@app.example.com", ""},
		{"https://app.example.com%2eevil.com", ""},
		{"https://%61pp.example.com/", ""},
		// Scheme tricks.
		{"https:evil.com", ""},
		{"https:/evil.com", ""},
		{"https:///evil.com", ""},
		{"http:app.example.com", ""},
		{"javascript:alert(1)", ""},
		{"JavaScript:alert(1)", ""},
		{"javascript://app.example.com/%0aalert(1)", ""},
		{"data:text/html,<script>alert(1)</script>", ""},
		{"ftp://app.example.com/", ""},
		{"file:///etc/passwd", ""},
		// Userinfo.
		{"https://app.example.com@evil.com/", ""},
		{"https://user:pass@app.example.com/", ""},
		{"https://evil.com@app.example.com/", ""},
		// Control characters and whitespace (browsers strip tab/CR/LF).
		{"/\t/evil.com", ""},
		{"/\n/evil.com", ""},
		{"/account\r\nSet-Cookie: x=y", ""},
		{" /account", ""},
		{"/account ", ""},
		{"/acc\x00ount", ""},
		// Non-ASCII: fullwidth solidus and ideographic full stop map to
		// "/" and "." under IDNA.
		{"https://evil.com／.tools.example.com/", ""},
		{"https://app。example.com/", ""},
		{"/ａccount", ""},
		// Relative paths, dot segments, odd hosts.
		{"account", ""},
		{"./account", ""},
		{"../account", ""},
		{"/../account", ""},
		{"/a/./b", ""},
		{"/a/%2e%2e/b", ""},
		{"https://app.example.com:port/", ""},
		{"https://app.example.com:99999999/", ""},
		{"https://[::1]/", ""},
		{"", ""},
		{"?x=1", ""},
		{"#x", ""},
		{"/" + strings.Repeat("a", 4096), ""},
	}
	for _, tt := range tests {
		got, ok := safeRedirect(tt.raw, allowed, self)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("safeRedirect(%q) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.want != "")
		}
	}
}

func TestSafeRedirect_SelfWithPortAndNil(t *testing.T) {
	t.Parallel()
	self, _ := url.Parse("http://127.0.0.1:8080")
	for raw, want := range map[string]bool{
		"http://127.0.0.1:8080/account":  true,
		"http://127.0.0.1/account":       false,
		"https://127.0.0.1:8080/account": false,
		"http://127.0.0.2:8080/account":  false,
		"/account":                       true,
	} {
		if _, ok := safeRedirect(raw, nil, self); ok != want {
			t.Errorf("safeRedirect(%q, self %s) ok=%v, want %v", raw, self, ok, want)
		}
	}
	if _, ok := safeRedirect("http://127.0.0.1:8080/account", nil, nil); ok {
		t.Error("with no self, an absolute URL to an unlisted host passed")
	}
	if got, ok := safeRedirect("/account", nil, nil); !ok || got != "/account" {
		t.Errorf("with no self, a path: %q %v", got, ok)
	}
	// An empty or "*." entry allows nothing.
	if _, ok := safeRedirect("https://x.example.com/", []string{"", "*.", "*"}, nil); ok {
		t.Error("degenerate allow-list entries allowed a host")
	}
}

// FuzzSafeRedirect: whatever passes is a single-slash path or an http(s) URL
// on self's host or an allowed one, with nothing a browser would read
// differently.
func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/account", "//evil.com", "/\\evil.com", "https://app.example.com/x", "https:evil",
		"https://login.example.com/a?b#c", "/%2F%2Fevil", "https://a.tools.example.com:8443/", "javascript:alert(1)"} {
		f.Add(s)
	}
	self, _ := url.Parse("https://login.example.com")
	allowed := []string{"app.example.com", "*.tools.example.com"}
	f.Fuzz(func(t *testing.T, raw string) {
		got, ok := safeRedirect(raw, allowed, self)
		if !ok {
			if got != "" {
				t.Fatalf("refused %q but returned %q", raw, got)
			}
			return
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
				t.Fatalf("%q passed with byte %q", got, c)
			}
		}
		if strings.HasPrefix(got, "/") {
			if strings.HasPrefix(got, "//") {
				t.Fatalf("%q passed as a protocol-relative URL", got)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil || u.User != nil || (u.Scheme != "http" && u.Scheme != "https") {
			t.Fatalf("%q passed: %v", got, err)
		}
		h := u.Hostname()
		if h != "login.example.com" && h != "app.example.com" && !strings.HasSuffix(h, ".tools.example.com") {
			t.Fatalf("%q passed with host %q", got, h)
		}
		if again, ok := safeRedirect(got, allowed, self); !ok || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q %v", raw, got, again, ok)
		}
	})
}
