package gateway

import (
	"errors"
	"testing"
)

func TestCleanHost(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"example.com", "example.com"},
		{"Example.COM", "example.com"},
		{"example.com:8080", "example.com"},
		{"example.com.", "example.com"},
		{"EXAMPLE.com.:443", "example.com"},
		{"example.com:", "example.com"},
		{"127.0.0.1:80", "127.0.0.1"},
		{"[::1]:8080", "[::1]"},
		{"[2001:DB8::1]", "[2001:db8::1]"},
		{"under_score.internal", "under_score.internal"},
		{"localhost", "localhost"},
	}
	for _, tt := range tests {
		got, err := CleanHost(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("CleanHost(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"exa mple.com", "evil.com/x", "a..b", ".a", "a:b:c", "host:99999999", "host:8x", "[::1", "[::1]x",
		"[1.2.3.4]", "[fe80::1%eth0]", "user@host", "ex\nample.com", "é.com", ":80", ".", "a%2eb", "0..", "a..:80",
	} {
		if got, err := CleanHost(in); err == nil || !errors.Is(err, ErrHost) {
			t.Errorf("CleanHost(%q) = %q, %v; want an ErrHost error", in, got, err)
		}
	}
}

func TestHostPatterns(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"": "", "App.Example.com": "app.example.com", "*.Example.com": "*.example.com", "app.example.com.": "app.example.com",
		"127.0.0.1": "127.0.0.1", "[::1]": "[::1]",
	}
	for in, want := range good {
		got, err := ParseHostPattern(in)
		if err != nil || got != want {
			t.Errorf("ParseHostPattern(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"*", "*.", "*.com", "*.*.example.com", "example.com:443", "[::1]:80", "a.*.example.com", "https://example.com", "*example.com"} {
		if got, err := ParseHostPattern(in); err == nil {
			t.Errorf("ParseHostPattern(%q) = %q; want an error", in, got)
		}
	}
	matches := []struct {
		pattern, host string
		want          bool
	}{
		{"", "anything.example", true},
		{"app.example.com", "app.example.com", true},
		{"app.example.com", "x.app.example.com", false},
		{"app.example.com", "example.com", false},
		{"*.example.com", "app.example.com", true},
		{"*.example.com", "a.b.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "evilexample.com", false},
		{"*.example.com", ".example.com", false},
		{"*.example.com", "example.com.evil.net", false},
	}
	for _, m := range matches {
		if got := MatchHost(m.pattern, m.host); got != m.want {
			t.Errorf("MatchHost(%q, %q) = %v, want %v", m.pattern, m.host, got, m.want)
		}
	}
}
