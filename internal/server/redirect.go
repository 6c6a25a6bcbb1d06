package server

import (
	"net"
	"net/url"
	"strings"
)

// maxRedirectLen bounds a return address (an OIDC authorize URL fits).
const maxRedirectLen = 4096

// safeRedirect checks a return address (return_to=, rd=) before a browser is
// sent to it (security rule 20: no open redirects). It returns the address
// to put in Location and true, or "" and false.
//
// Allowed are:
//   - a same-origin absolute path: "/account", "/v1/authorize?client_id=x";
//   - an absolute http(s) URL on self's origin (scheme, host and port);
//   - an absolute http(s) URL whose host is in allowedHosts (any port):
//     "app.example.com" matches itself, "*.example.com" any subdomain of
//     example.com (not example.com itself). Matching is case-insensitive.
//
// Refused is everything a browser could read as another origin, and anything
// odd enough that browsers and Go might disagree about it: relative paths,
// "//evil" and "/\evil" (also percent-encoded), "https:evil" and
// "https:/evil", backslashes, userinfo ("https://app@evil"), control
// characters including CR, LF and tab, spaces, non-ASCII, percent-encoding in
// the host, "." and ".." segments, other schemes (javascript:, data:), and
// addresses over 4096 bytes. self may be nil: then only paths and listed
// hosts pass. The function is pure and safe for concurrent use.
func safeRedirect(raw string, allowedHosts []string, self *url.URL) (string, bool) {
	if raw == "" || len(raw) > maxRedirectLen {
		return "", false
	}
	for i := 0; i < len(raw); i++ {
		// Browsers drop tab, CR and LF inside URLs ("/\t/evil" is
		// "//evil") and read "\" as "/": none of them, nor spaces,
		// other controls or non-ASCII, which IDNA can turn into "/"
		// or "." (fullwidth solidus, ideographic full stop).
		if c := raw[i]; c <= 0x20 || c >= 0x7f || c == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	if badPath(u.EscapedPath()) {
		return "", false
	}
	if u.Scheme == "" {
		// A path: exactly one leading slash, no authority.
		if u.Host != "" || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") {
			return "", false
		}
		return u.String(), true
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false
	}
	// "https:/evil" parses with an empty host; browsers read it as
	// https://evil/. Require the authority's "//" literally.
	if rest := raw[len(u.Scheme)+1:]; !strings.HasPrefix(rest, "//") || u.Host == "" {
		return "", false
	}
	authority := raw[len(u.Scheme)+3:]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	if strings.ContainsAny(authority, "%@") {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.HasSuffix(host, ".") || !validRedirectHost(host) {
		return "", false
	}
	if port := u.Port(); port != "" && !allDigits(port) {
		return "", false
	}
	u.Host = strings.ToLower(u.Host)
	if self != nil && sameOrigin(u, self) {
		return u.String(), true
	}
	if hostAllowed(host, allowedHosts) {
		return u.String(), true
	}
	return "", false
}

// badPath refuses dot segments and paths that, once percent-decoded, would
// start like an authority ("//", "/\") or carry controls.
func badPath(escaped string) bool {
	dec, err := url.PathUnescape(escaped)
	if err != nil {
		return true
	}
	if strings.HasPrefix(dec, "//") || strings.HasPrefix(dec, "/\\") {
		return true
	}
	for i := 0; i < len(dec); i++ {
		if c := dec[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return true
		}
	}
	for _, seg := range strings.Split(dec, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// validRedirectHost accepts DNS names (letters, digits, "-", ".") and IP
// literals.
func validRedirectHost(h string) bool {
	if strings.Contains(h, ":") {
		return net.ParseIP(h) != nil
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return !strings.Contains(h, "..") && !strings.HasPrefix(h, ".")
}

// allDigits reports a non-empty string of ASCII digits.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0 && len(s) <= 5
}

// sameOrigin compares scheme, host and port, with default ports filled in.
func sameOrigin(u, self *url.URL) bool {
	if !strings.EqualFold(u.Scheme, self.Scheme) || !strings.EqualFold(u.Hostname(), self.Hostname()) {
		return false
	}
	return effectivePort(u) == effectivePort(self)
}

// effectivePort is u's port, or its scheme's default.
func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return strings.TrimLeft(p, "0")
	}
	if strings.EqualFold(u.Scheme, "https") {
		return "443"
	}
	return "80"
}

// hostAllowed matches host against allow-list entries: exact names, or
// "*.domain" for any subdomain of domain.
func hostAllowed(host string, allowed []string) bool {
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			if suffix != "" && strings.HasSuffix(host, "."+suffix) && len(host) > len(suffix)+1 {
				return true
			}
			continue
		}
		if a != "" && host == a {
			return true
		}
	}
	return false
}
