package gateway

import "strings"

// MaxTargetLen is the longest request target ParseTarget accepts, in bytes.
const MaxTargetLen = 16 << 10

// Target is a request target split into its parts, still percent-encoded.
type Target struct {
	// Scheme is "http" or "https" (lower case) for an absolute target, ""
	// for an origin-form one.
	Scheme string
	// Host is the authority of an absolute target as written (it may hold a
	// port; see CleanHost), "" for an origin-form one.
	Host string
	// Path is the raw path; it starts with "/".
	Path string
	// Query is the raw query, without "?"; "" when there is none.
	Query string
}

// ParseTarget splits a request target as proxies pass it on: origin-form
// ("/path?query", nginx's $request_uri, Traefik's X-Forwarded-Uri) or
// absolute-form ("https://host:8443/path?query", nginx's X-Original-URL set
// from $scheme://$http_host$request_uri). A fragment is dropped. An
// absolute target with an empty path has the path "/". Errors wrap ErrPath:
// an empty or over-long target, control characters or spaces anywhere, a
// scheme other than http and https, user info ("https://user@host/"), an
// empty host, or a path not starting with "/". The path is not cleaned:
// pass it to CleanPath.
func ParseTarget(s string) (Target, error) {
	if s == "" {
		return Target{}, pathErr("empty request target")
	}
	if len(s) > MaxTargetLen {
		return Target{}, pathErr("the request target is too long")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return Target{}, pathErr("the request target holds a space or control character")
		}
	}
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	var t Target
	if s != "" && s[0] != '/' {
		scheme, rest, ok := strings.Cut(s, "://")
		if !ok {
			return Target{}, pathErr("the request target is neither a path nor an absolute URL")
		}
		switch strings.ToLower(scheme) {
		case "http", "https":
			t.Scheme = strings.ToLower(scheme)
		default:
			return Target{}, pathErr("the request target's scheme is not http or https")
		}
		end := strings.IndexAny(rest, "/?")
		if end < 0 {
			end = len(rest)
		}
		t.Host, s = rest[:end], rest[end:]
		if t.Host == "" {
			return Target{}, pathErr("the request target has an empty host")
		}
		if strings.ContainsAny(t.Host, "@\\") {
			return Target{}, pathErr("the request target has user info")
		}
		if s == "" || s[0] == '?' {
			s = "/" + s
		}
	}
	if s == "" || s[0] != '/' {
		return Target{}, pathErr("a path must start with /")
	}
	t.Path, t.Query, _ = strings.Cut(s, "?")
	return t, nil
}
