package gateway

import (
	"errors"
	"strings"
)

// MaxPathLen is the longest raw path CleanPath accepts, in bytes.
const MaxPathLen = 8 << 10

// ErrPath is wrapped by every error of CleanPath and ParseTarget: the path
// cannot be put in canonical form and must be refused (never matched).
var ErrPath = errors.New("gateway: path refused")

// PathError says why a path was refused. It wraps ErrPath.
type PathError struct {
	// Reason is a short description safe to show to clients; it never
	// repeats the path.
	Reason string
}

func (e *PathError) Error() string { return "gateway: path refused: " + e.Reason }

// Unwrap returns ErrPath.
func (e *PathError) Unwrap() error { return ErrPath }

func pathErr(reason string) error { return &PathError{Reason: reason} }

const upperHex = "0123456789ABCDEF"

// CleanPath returns the canonical form of raw, a percent-encoded request
// path such as "/a/%2e%2e/b;x//c" (without query or fragment), as the
// package documentation describes: "/b/c" here. The result starts with "/",
// has no empty, "." or ".." segments, keeps a trailing slash, and
// CleanPath(result) == result. Errors wrap ErrPath (see PathError): a path
// that is empty, does not start with "/", is longer than MaxPathLen (before
// or after canonicalisation), climbs
// above the root, or holds an encoded slash or backslash, a literal
// backslash, a control character or a malformed escape.
func CleanPath(raw string) (string, error) {
	if raw == "" || raw[0] != '/' {
		return "", pathErr("a path must start with /")
	}
	if len(raw) > MaxPathLen {
		return "", pathErr("the path is too long")
	}
	if fastClean(raw) {
		return raw, nil
	}
	segs := make([]string, 0, 8)
	trailing := false
	rest := raw[1:]
	for {
		seg, after, more := strings.Cut(rest, "/")
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		c, err := canonSegment(seg)
		if err != nil {
			return "", err
		}
		switch c {
		case "", ".":
		case "..":
			if len(segs) == 0 {
				return "", pathErr("the path climbs above the root")
			}
			segs = segs[:len(segs)-1]
		default:
			segs = append(segs, c)
		}
		if !more {
			trailing = c == "" || c == "." || c == ".."
			break
		}
		rest = after
	}
	n := 1
	for _, s := range segs {
		n += len(s) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(s)
	}
	if len(segs) == 0 || trailing {
		b.WriteByte('/')
	}
	if b.Len() > MaxPathLen {
		// Encoding can make a path longer; the canonical form must pass
		// CleanPath again.
		return "", pathErr("the path is too long")
	}
	return b.String(), nil
}

// fastClean reports whether raw is already canonical and needs no work:
// only literal path characters, no escapes, no ';', no empty or dot
// segments. Most request paths are.
func fastClean(raw string) bool {
	segStart := 1
	for i := 1; i <= len(raw); i++ {
		if i < len(raw) && raw[i] != '/' {
			c := raw[i]
			if c == ';' || c == '%' || !pathChar(c) {
				return false
			}
			continue
		}
		seg := raw[segStart:i]
		last := i == len(raw)
		if seg == "." || seg == ".." || (seg == "" && !last) {
			return false
		}
		segStart = i + 1
	}
	return true
}

// canonSegment returns the canonical spelling of one path segment (with
// ";params" already cut).
func canonSegment(seg string) (string, error) {
	simple := true
	for i := 0; i < len(seg); i++ {
		if c := seg[i]; c == '%' || !pathChar(c) {
			simple = false
			break
		}
	}
	if simple {
		return seg, nil
	}
	var b strings.Builder
	b.Grow(len(seg) + 8)
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '%':
			if i+2 >= len(seg) {
				return "", pathErr("the path has a malformed percent-escape")
			}
			hi, ok1 := unhex(seg[i+1])
			lo, ok2 := unhex(seg[i+2])
			if !ok1 || !ok2 {
				return "", pathErr("the path has a malformed percent-escape")
			}
			v := hi<<4 | lo
			switch {
			case v == '/':
				return "", pathErr("the path holds an encoded slash (%2F)")
			case v == '\\':
				return "", pathErr("the path holds an encoded backslash (%5C)")
			case v < 0x20 || v == 0x7f:
				return "", pathErr("the path holds an encoded control character")
			case pathChar(v) && v != ';':
				// Unreserved characters, and the sub-delimiters, ':' and
				// '@', which nearly every server decodes in a path: one
				// spelling of "/a+b", whatever the client chose.
				b.WriteByte(v)
			default:
				b.WriteByte('%')
				b.WriteByte(upperHex[v>>4])
				b.WriteByte(upperHex[v&15])
			}
			i += 2
		case c == '\\':
			return "", pathErr("the path holds a backslash")
		case c < 0x20 || c == 0x7f:
			return "", pathErr("the path holds a control character")
		case pathChar(c):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String(), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unreserved reports RFC 3986 unreserved characters.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// pathChar reports the characters a canonical segment may hold literally:
// RFC 3986 pchar without pct-encoded, i.e. unreserved, sub-delims, ':' and
// '@'. (';' is a sub-delim, but CleanPath cuts it before it gets here.)
func pathChar(c byte) bool {
	if unreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}

// HasPathPrefix reports whether the canonical path p lies under the
// canonical prefix: p equals prefix, or continues it with "/". A prefix of
// "/" or "" matches every path. With fold, ASCII letters match either case.
func HasPathPrefix(p, prefix string, fold bool) bool {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return true
	}
	if len(p) < len(prefix) {
		return false
	}
	head := p[:len(prefix)]
	if fold {
		if !strings.EqualFold(head, prefix) {
			return false
		}
	} else if head != prefix {
		return false
	}
	return len(p) == len(prefix) || p[len(prefix)] == '/'
}

// CleanPrefix returns the canonical form of a configured path prefix:
// CleanPath of it without a trailing slash ("/" stays "/"); "" means "/".
// A prefix may not hold '?', '#' or ';'.
func CleanPrefix(p string) (string, error) {
	if p == "" {
		return "/", nil
	}
	if strings.ContainsAny(p, "?#;") {
		return "", pathErr("a path prefix may not hold ?, # or ;")
	}
	c, err := CleanPath(p)
	if err != nil {
		return "", err
	}
	if c != "/" {
		c = strings.TrimSuffix(c, "/")
	}
	return c, nil
}

// StripPrefix removes the canonical prefix from the canonical path p, which
// must lie under it (HasPathPrefix), and returns a canonical path: "/app/x"
// less "/app" is "/x", and "/app" less "/app" is "/".
func StripPrefix(p, prefix string) string {
	prefix = strings.TrimSuffix(prefix, "/")
	if len(p) < len(prefix) {
		return p
	}
	rest := p[len(prefix):]
	if rest == "" {
		return "/"
	}
	return rest
}
