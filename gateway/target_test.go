package gateway

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Target
	}{
		{"/", Target{Path: "/"}},
		{"/a/b?x=1&y=2", Target{Path: "/a/b", Query: "x=1&y=2"}},
		{"/a?", Target{Path: "/a"}},
		{"/a#frag", Target{Path: "/a"}},
		{"/a?b#c", Target{Path: "/a", Query: "b"}},
		{"/a%2Fb?c=%2F", Target{Path: "/a%2Fb", Query: "c=%2F"}},
		{"https://app.example.com/x?y", Target{Scheme: "https", Host: "app.example.com", Path: "/x", Query: "y"}},
		{"HTTP://App.Example.com:8080", Target{Scheme: "http", Host: "App.Example.com:8080", Path: "/"}},
		{"http://h?q=1", Target{Scheme: "http", Host: "h", Path: "/", Query: "q=1"}},
		{"http://[::1]:80/p", Target{Scheme: "http", Host: "[::1]:80", Path: "/p"}},
		{"//evil.example/x", Target{Path: "//evil.example/x"}},
	}
	for _, tt := range tests {
		got, err := ParseTarget(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{
		"", "a/b", "*", "ftp://h/x", "javascript:alert(1)", "http:///x", "http://user@h/x", "http://u:p@h/",
		"http://h\\@evil/", "/a b", "/a\r\nX-User-Id: 1", "/a\x00", "/\t", "#x",
		"/" + strings.Repeat("a", MaxTargetLen),
	} {
		if got, err := ParseTarget(in); err == nil || !errors.Is(err, ErrPath) {
			t.Errorf("ParseTarget(%q) = %+v, %v; want an ErrPath error", in, got, err)
		}
	}
}
