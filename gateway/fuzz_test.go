package gateway

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCleanPath checks the canonical form's promises on any input: it is a
// fixed point, holds no empty, "." or ".." segment, no byte outside the
// path alphabet, no escape that should have been decoded or refused, and
// unescapes without error; and a prefix match on it never crosses a
// segment boundary.
func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b", "//a//b/", "/a/../b", "/%2e%2e/x", "/public/..;/admin", "/a%2Fb", "/a%5cb", "/a\\b",
		"/%61dmin", "/caf%c3%a9", "/a;b/c;d", "/a/./b/", "/%252e", "/a%00", "/a%", "/ a", "/\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := CleanPath(raw)
		if err != nil {
			return
		}
		if again, err := CleanPath(got); err != nil || again != got {
			t.Fatalf("CleanPath(%.80q) = %.80q, then %.80q, %v: not a fixed point", raw, got, again, err)
		}
		if got[0] != '/' {
			t.Fatalf("CleanPath(%.80q) = %.80q: no leading slash", raw, got)
		}
		segs := strings.Split(got[1:], "/")
		for i, s := range segs {
			if s == "." || s == ".." || s == "" && i != len(segs)-1 {
				t.Fatalf("CleanPath(%.80q) = %.80q: segment %q left", raw, got, s)
			}
		}
		for i := 0; i < len(got); i++ {
			c := got[i]
			switch {
			case c == '/':
			case c == '%':
				if i+2 >= len(got) {
					t.Fatalf("CleanPath(%.80q) = %.80q: truncated escape", raw, got)
				}
				hi, _ := unhex(got[i+1])
				lo, _ := unhex(got[i+2])
				v := hi<<4 | lo
				if strings.ToUpper(got[i+1:i+3]) != got[i+1:i+3] || pathChar(v) && v != ';' || v == '/' || v == '\\' || v < 0x20 || v == 0x7f {
					t.Fatalf("CleanPath(%.80q) = %.80q: escape %s should not remain", raw, got, got[i:i+3])
				}
				i += 2
			case c == ';' || !pathChar(c):
				t.Fatalf("CleanPath(%.80q) = %.80q: byte %q not allowed", raw, got, c)
			}
		}
		dec, err := url.PathUnescape(got)
		if err != nil {
			t.Fatalf("CleanPath(%.80q) = %.80q: does not unescape: %v", raw, got, err)
		}
		if strings.Count(dec, "/") != strings.Count(got, "/") {
			t.Fatalf("CleanPath(%.80q) = %.80q: unescaping adds slashes", raw, got)
		}
		if len(segs) > 1 {
			prefix := "/" + segs[0]
			if !HasPathPrefix(got, prefix, false) {
				t.Fatalf("%.80q does not have its own first segment %q as prefix", got, prefix)
			}
			if HasPathPrefix(got, prefix+"x", false) && !strings.HasPrefix(segs[0]+"/", segs[0]+"x") {
				t.Fatalf("prefix match crossed a segment boundary on %.80q", got)
			}
		}
	})
}

// FuzzParseTarget checks that a parsed target never carries a control
// character or user info, and that its path is what CleanPath is fed.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{
		"/", "/a?b", "https://h/x?y#z", "http://h", "HTTP://H:80?q", "//evil/x", "http://u@h/", "ftp://h/",
		"http://h\\@evil/", "/a\r\nb", "https://[::1]:8443/p",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			return
		}
		all := tg.Scheme + tg.Host + tg.Path + tg.Query
		for i := 0; i < len(all); i++ {
			if all[i] <= ' ' || all[i] == 0x7f {
				t.Fatalf("ParseTarget(%.80q) = %.200v: control character", s, tg)
			}
		}
		if strings.ContainsAny(tg.Host, "@/?#\\") {
			t.Fatalf("ParseTarget(%.80q) = %.200v: host holds a delimiter", s, tg)
		}
		if tg.Path == "" || tg.Path[0] != '/' || strings.ContainsAny(tg.Path, "?#") || strings.Contains(tg.Query, "#") {
			t.Fatalf("ParseTarget(%.80q) = %.200v: bad split", s, tg)
		}
		if tg.Scheme != "" && tg.Scheme != "http" && tg.Scheme != "https" {
			t.Fatalf("ParseTarget(%.80q) = %.200v: scheme", s, tg)
		}
	})
}

// FuzzCleanHost checks that a cleaned host is a fixed point, lower case,
// and free of everything but the host alphabet.
func FuzzCleanHost(f *testing.F) {
	for _, s := range []string{"Example.COM:8080", "[::1]:80", "a..b", "x.", "é.com", "[fe80::1%25eth0]", "h:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := CleanHost(s)
		if err != nil {
			return
		}
		if again, err := CleanHost(h); err != nil || again != h {
			t.Fatalf("CleanHost(%q) = %q, then %q, %v", s, h, again, err)
		}
		if strings.ToLower(h) != h {
			t.Fatalf("CleanHost(%q) = %q: not lower case", s, h)
		}
		if !strings.HasPrefix(h, "[") && strings.ContainsAny(h, ":/@ \\") {
			t.Fatalf("CleanHost(%q) = %q: delimiter left", s, h)
		}
		for _, p := range []string{"*." + h, h} {
			if c, err := ParseHostPattern(p); err == nil && !MatchHost(c, h) && c == h {
				t.Fatalf("pattern %q does not match its own host %q", c, h)
			}
		}
	})
}
