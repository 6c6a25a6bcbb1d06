package gateway

import (
	"errors"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"/", "/"},
		{"/a", "/a"},
		{"/a/", "/a/"},
		{"/a/b/c", "/a/b/c"},
		// empty segments collapse
		{"//", "/"},
		{"//a//b///", "/a/b/"},
		{"///admin", "/admin"},
		// dot segments
		{"/.", "/"},
		{"/a/.", "/a/"},
		{"/a/./b", "/a/b"},
		{"/a/..", "/"},
		{"/a/b/..", "/a/"},
		{"/a/b/../c", "/a/c"},
		{"/public/../admin", "/admin"},
		{"/a/b/../../c/./d/", "/c/d/"},
		// encoded dots are dots
		{"/public/%2e%2e/admin", "/admin"},
		{"/public/%2E%2E/admin", "/admin"},
		{"/public/.%2e/admin", "/admin"},
		{"/public/%2e./admin", "/admin"},
		{"/a/%2e/b", "/a/b"},
		// unreserved escapes decode, others keep upper-case hex
		{"/%61dmin", "/admin"},
		{"/%41%7a%30%2D%5f%7E", "/Az0-_~"},
		{"/a%20b", "/a%20b"},
		{"/a%2bb", "/a+b"},
		{"/%21%24%26%27%28%29%2A%2C%3D%3A%40", "/!$&'()*,=:@"},
		{"/a%3bb", "/a%3Bb"},
		{"/caf%c3%a9", "/caf%C3%A9"},
		{"/%25", "/%25"},
		{"/%252e%252e/admin", "/%252e%252e/admin"},
		{"/x%3Bjsessionid=1", "/x%3Bjsessionid=1"},
		{"/a%3f", "/a%3F"},
		// literal bytes outside pchar are encoded
		{"/a b", "/a%20b"},
		{"/café", "/caf%C3%A9"},
		{"/a\"<>`{}|^[]", "/a%22%3C%3E%60%7B%7D%7C%5E%5B%5D"},
		{"/a?b", "/a%3Fb"},
		// sub-delims, ':' and '@' stay literal
		{"/!$&'()*+,=:@", "/!$&'()*+,=:@"},
		// path parameters are cut
		{"/admin;x=1", "/admin"},
		{"/admin;x/users", "/admin/users"},
		{"/public/..;/admin", "/admin"},
		{"/public/..;x=y/admin", "/admin"},
		{"/;x/admin", "/admin"},
		{"/a/;", "/a/"},
		{"/a;b;c/d", "/a/d"},
		// case is kept
		{"/Admin/USERS", "/Admin/USERS"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := CleanPath(tt.in)
			if err != nil {
				t.Fatalf("CleanPath(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("CleanPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if again, err := CleanPath(got); err != nil || again != got {
				t.Fatalf("CleanPath(%q) = %q, %v: not idempotent", got, again, err)
			}
		})
	}
}

func TestCleanPath_Refused(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"relative", "a/b"},
		{"asterisk", "*"},
		{"absolute URL", "http://x/"},
		{"encoded slash", "/public%2F..%2Fadmin"},
		{"encoded slash lower", "/a%2fb"},
		{"encoded backslash", "/a%5cb"},
		{"backslash", "/public\\..\\admin"},
		{"backslash start", "/\\evil"},
		{"above root", "/.."},
		{"above root later", "/a/../../b"},
		{"encoded above root", "/%2e%2e/etc/passwd"},
		{"NUL", "/a%00b"},
		{"raw NUL", "/a\x00b"},
		{"CR", "/a%0db"},
		{"LF", "/a%0Ab"},
		{"raw LF", "/a\nb"},
		{"tab", "/a\tb"},
		{"DEL", "/a%7f"},
		{"malformed escape", "/a%zz"},
		{"short escape", "/a%2"},
		{"short escape end", "/a%"},
		{"half escape", "/%g0"},
		{"too long", "/" + strings.Repeat("a", MaxPathLen)},
		{"too long once encoded", "/" + strings.Repeat(" ", MaxPathLen/2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := CleanPath(tt.in)
			if err == nil {
				t.Fatalf("CleanPath(%q) = %q, want an error", tt.in, got)
			}
			if !errors.Is(err, ErrPath) {
				t.Fatalf("CleanPath(%q) error %v does not wrap ErrPath", tt.in, err)
			}
			var pe *PathError
			if !errors.As(err, &pe) || pe.Reason == "" || strings.Contains(pe.Reason, tt.in) && tt.in != "" {
				t.Fatalf("CleanPath(%q) error %#v: want a PathError with a reason that does not repeat the path", tt.in, err)
			}
		})
	}
}

func TestHasPathPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path, prefix string
		fold, want   bool
	}{
		{"/admin", "/admin", false, true},
		{"/admin/", "/admin", false, true},
		{"/admin/users", "/admin", false, true},
		{"/admin/users", "/admin/", false, true},
		{"/administrator", "/admin", false, false},
		{"/adm", "/admin", false, false},
		{"/Admin", "/admin", false, false},
		{"/Admin/x", "/admin", true, true},
		{"/ADMINISTRATOR", "/admin", true, false},
		{"/anything", "/", false, true},
		{"/", "/", false, true},
		{"/", "", false, true},
		{"/", "/a", false, false},
	}
	for _, tt := range tests {
		if got := HasPathPrefix(tt.path, tt.prefix, tt.fold); got != tt.want {
			t.Errorf("HasPathPrefix(%q, %q, %v) = %v, want %v", tt.path, tt.prefix, tt.fold, got, tt.want)
		}
	}
}

func TestCleanPrefix(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"": "/", "/": "/", "/api": "/api", "/api/": "/api", "//api//v1/": "/api/v1", "/%61pi": "/api",
		"/api/../admin": "/admin", "/café": "/caf%C3%A9",
	} {
		got, err := CleanPrefix(in)
		if err != nil || got != want {
			t.Errorf("CleanPrefix(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"api", "/a?b", "/a#b", "/a;b", "/a%2Fb", "/.."} {
		if got, err := CleanPrefix(in); err == nil {
			t.Errorf("CleanPrefix(%q) = %q; want an error", in, got)
		}
	}
}

func TestStripPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct{ path, prefix, want string }{
		{"/app", "/app", "/"},
		{"/app/", "/app", "/"},
		{"/app/x/y", "/app", "/x/y"},
		{"/x", "/", "/x"},
		{"/app/x", "/app/", "/x"},
	}
	for _, tt := range tests {
		if got := StripPrefix(tt.path, tt.prefix); got != tt.want {
			t.Errorf("StripPrefix(%q, %q) = %q, want %q", tt.path, tt.prefix, got, tt.want)
		}
	}
}

func BenchmarkCleanPath(b *testing.B) {
	for _, p := range []string{"/api/v1/orders/12345", "/public/%2e%2e/a//b;x/c%41"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = CleanPath(p)
			}
		})
	}
}
