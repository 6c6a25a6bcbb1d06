package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// origin is sessiond's own address on the web, from base_url
// (Options.BaseURL): its scheme and host, and the path prefix every URL of
// sessiond carries ("/auth" for https://example.com/auth, "" for none). It
// is the only source of sessiond's own address: the Host and X-Forwarded-*
// headers of a request never are, so a spoofed Host cannot make another
// site "same-origin". Every link, form action, redirect, flow-cookie Path
// and return address check goes through it.
type origin struct {
	base   *url.URL // scheme, host and escaped prefix; nil when base_url is unset
	prefix string   // escaped path prefix without a trailing "/"; "" for none
	path   string   // the same prefix, unescaped, as request paths are
}

// newOrigin parses base_url. Empty is allowed (a Server used as a library
// without one): then sessiond's URLs are root paths and only paths and
// allowed hosts pass as return addresses.
func newOrigin(raw string) (origin, error) {
	if raw == "" {
		return origin{}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || badPath(u.EscapedPath()) {
		return origin{}, fmt.Errorf("server: base_url: %q is not an absolute http(s) URL without user info, query or fragment", raw)
	}
	o := origin{path: strings.TrimRight(u.Path, "/"), prefix: strings.TrimRight(u.EscapedPath(), "/")}
	o.base = &url.URL{Scheme: strings.ToLower(u.Scheme), Host: strings.ToLower(u.Host), Path: o.path, RawPath: o.prefix}
	return o, nil
}

// url is p ("/login?x=y", an absolute path) under the prefix, as a path:
// what Location headers, links and form actions of sessiond's own pages
// carry.
func (o origin) url(p string) string { return o.prefix + p }

// abs is p under base_url as an absolute URL, or o.url(p) when base_url is
// unset.
func (o origin) abs(p string) string {
	if o.base == nil {
		return o.url(p)
	}
	return o.base.Scheme + "://" + o.base.Host + o.url(p)
}

// returnTo checks a return address (return_to=, rd=) with safeRedirect:
// a path, an absolute URL on base_url's origin, or one on an allowed host.
func (o origin) returnTo(raw string, allowedHosts []string) (string, bool) {
	return safeRedirect(raw, allowedHosts, o.base)
}

// cookiePath is the Path of the cookies only sessiond's own pages read (the
// login form's CSRF cookie, the SSO browser binding): the prefix, except
// for a __Host- cookie, which browsers accept only with Path=/.
func (o origin) cookiePath(hostPrefixed bool) string {
	if hostPrefixed || o.prefix == "" {
		return "/"
	}
	return o.prefix + "/"
}

// route strips the prefix from r's target, so that every route answers at
// the prefix ("/auth/login") as well as at the root ("/login", for a proxy
// that strips the prefix itself). A target outside the prefix, or one that
// spells the prefix differently (escaped), is left alone.
func (o origin) route(r *http.Request) *http.Request {
	if o.prefix == "" || !strings.HasPrefix(r.RequestURI, o.prefix) {
		return r
	}
	rest := r.RequestURI[len(o.prefix):]
	switch {
	case rest == "" || rest[0] == '?':
		rest = "/" + rest
	case rest[0] != '/':
		return r // "/authx", not under "/auth"
	}
	u, err := url.ParseRequestURI(rest)
	if err != nil || !strings.HasPrefix(r.URL.Path, o.path) {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u2 := *r.URL
	u2.Path, u2.RawPath = u.Path, u.RawPath
	r2.URL, r2.RequestURI = &u2, rest
	return r2
}
