package gateway

import (
	"errors"
	"net/netip"
	"strings"
)

// ErrHost is wrapped by the errors of CleanHost and ParseHostPattern.
var ErrHost = errors.New("gateway: host refused")

func hostErr(reason string) error { return &hostError{reason} }

type hostError struct{ reason string }

func (e *hostError) Error() string { return "gateway: host refused: " + e.reason }
func (e *hostError) Unwrap() error { return ErrHost }

// maxHostLen bounds a Host header CleanHost accepts (253 for the name,
// room for a port and brackets).
const maxHostLen = 300

// CleanHost returns the canonical form of a Host header value (or the
// authority of a URL): lower case, without port and without a trailing
// dot; an IPv6 literal keeps its brackets ("[2001:db8::1]"). "" stays "".
// A host with characters outside letters, digits, '-', '.' and '_', with an
// empty label, or with a malformed port or IPv6 literal, is an error
// wrapping ErrHost.
func CleanHost(h string) (string, error) {
	if h == "" {
		return "", nil
	}
	if len(h) > maxHostLen {
		return "", hostErr("the host is too long")
	}
	if h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", hostErr("unclosed IPv6 literal")
		}
		if !validPort(h[end+1:]) {
			return "", hostErr("malformed port")
		}
		a, err := netip.ParseAddr(h[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return "", hostErr("malformed IPv6 literal")
		}
		return "[" + a.String() + "]", nil
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i:]) {
			return "", hostErr("malformed port")
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || h[len(h)-1] == '.' {
		return "", hostErr("empty host or label")
	}
	lower := true
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case c == '.':
			if i == 0 || h[i-1] == '.' {
				return "", hostErr("empty label")
			}
		case 'A' <= c && c <= 'Z':
			lower = false
		default:
			return "", hostErr("the host holds a character that is not allowed")
		}
	}
	if !lower {
		h = strings.ToLower(h)
	}
	return h, nil
}

// validPort accepts "" or ":" followed by at most five digits.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	if p[0] != ':' || len(p) > 6 {
		return false
	}
	for i := 1; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// ParseHostPattern checks a configured host pattern and returns it in
// canonical form: "" (any host), a host name or address ("app.example.com",
// matched exactly), or "*." and a domain with at least two labels
// ("*.example.com", matching any name below it at any depth, but not
// example.com itself). A port is not allowed.
func ParseHostPattern(p string) (string, error) {
	if p == "" {
		return "", nil
	}
	name, wild := strings.CutPrefix(p, "*.")
	if strings.HasPrefix(name, "[") && !strings.HasSuffix(name, "]") ||
		!strings.HasPrefix(name, "[") && strings.Contains(name, ":") {
		return "", hostErr("a host pattern may not have a port")
	}
	c, err := CleanHost(name)
	if err != nil {
		return "", err
	}
	if wild {
		if strings.HasPrefix(c, "[") || !strings.Contains(c, ".") || strings.Contains(c, "*") {
			return "", hostErr("*. must be followed by a domain with at least two labels")
		}
		return "*." + c, nil
	}
	return c, nil
}

// MatchHost reports whether the canonical host (CleanHost) matches the
// canonical pattern (ParseHostPattern).
func MatchHost(pattern, host string) bool {
	if pattern == "" {
		return true
	}
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return len(host) > len(suffix)+1 && strings.HasSuffix(host, suffix) && host[len(host)-len(suffix)-1] == '.'
	}
	return host == pattern
}
