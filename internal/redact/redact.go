package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask is what URL writes in place of a password.
const Mask = "xxxxx"

// URL returns s with every password hidden, for messages and logs:
//
//   - a URL with user info keeps the user name and shows the password as
//     Mask ("postgres://app:xxxxx@db/x"); the split is net/url's, at the last
//     "@" of the authority, so "@", ":" and "%40" in a password never leak;
//   - query parameters whose name contains "password" (pgx's password and
//     sslpassword) show Mask as their value;
//   - a key=value DSN ("host=db password=secret") shows Mask after password=;
//   - a URL net/url cannot parse, or an opaque "scheme:user:pass@host", keeps
//     only its scheme and what follows the last "@": nothing before that "@"
//     can be told apart from the password; text without a scheme
//     ("postgres//u:pass@db") shows Mask between its first ":" and last "@". So does a URL with an "@" in its
//     fragment (a raw "#" in the password). A raw "/" or "?" ends the
//     authority for every parser (RFC 3986), drivers included: write such
//     passwords percent-encoded.
//
// Anything else (no user info, a path, an e-mail address) is returned as it
// is. URL is safe for concurrent use.
func URL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fallback(s)
	}
	if strings.Contains(u.Opaque, "@") || u.User == nil && libpqUserinfo(s) {
		return fallback(s)
	}
	changed := false
	if u.RawQuery != "" {
		if q, ok := redactQuery(u.RawQuery); ok {
			u.RawQuery, changed = q, true
		}
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), Mask)
		changed = true
	}
	if changed {
		return u.String()
	}
	if u.Scheme == "" && u.User == nil {
		return fallback(s)
	}
	return s
}

// fallback hides what net/url cannot parse, parses as opaque or parses
// without a scheme: a DSN's passwords; in a URL-like string (with "://", or
// starting with a scheme), everything between the scheme and the last "@";
// in other text, what lies between its first ":" and its last "@".
func fallback(s string) string {
	at := strings.LastIndex(s, "@")
	if at < 0 || !strings.Contains(s, "://") && dsnPassword.MatchString(s) {
		return redactDSN(s)
	}
	scheme := ""
	if i := strings.Index(s, ":"); i > 0 && i < at && validScheme(s[:i]) {
		scheme = s[:i+1]
		if strings.HasPrefix(s[i+1:], "//") {
			scheme += "//"
		}
	} else if !strings.Contains(s, "://") {
		// No scheme: hide what lies between a ":" and the last "@"
		// ("postgres//u:pass@db", "text with user:pass@host").
		if i := strings.Index(s, ":"); i >= 0 && i < at {
			return s[:i+1] + Mask + s[at:]
		}
		return s
	}
	return scheme + Mask + s[at:]
}

// libpqUserinfo reports whether s has an "@" between "://" and the next
// "/": libpq and pgx end the user info there even when a raw "?" or "#" in
// the password made net/url see a query or a fragment instead.
func libpqUserinfo(s string) bool {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return false
	}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	return strings.Contains(rest, "@")
}

// validScheme reports whether s is a URL scheme (RFC 3986 §3.1).
func validScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// redactQuery masks the values of query parameters whose name contains
// "password", keeping the rest of the raw query as it was written.
func redactQuery(raw string) (string, bool) {
	parts := strings.Split(raw, "&")
	changed := false
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		name, err := url.QueryUnescape(k)
		if err != nil {
			name = k
		}
		if hasValue && strings.Contains(strings.ToLower(name), "password") {
			parts[i] = k + "=" + Mask
			changed = true
		}
	}
	return strings.Join(parts, "&"), changed
}

// dsnPassword matches the value of a password (or sslpassword) key in a
// libpq key=value connection string: quoted with backslash escapes, or up to
// the next space.
var dsnPassword = regexp.MustCompile(`(?i)(\b[a-z]*password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s]*)`)

// redactDSN masks the password values of a key=value DSN.
func redactDSN(s string) string {
	return dsnPassword.ReplaceAllString(s, "${1}"+Mask)
}
