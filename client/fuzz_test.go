package client_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/client"
)

// FuzzValidateRedirectURI checks that every redirect URI Validate accepts is
// an absolute https URL, or http on a loopback host, without a fragment,
// user information or wildcard, and that HasRedirectURI then matches it
// exactly.
func FuzzValidateRedirectURI(f *testing.F) {
	for _, s := range []string{
		"https://app.example.com/callback", "http://127.0.0.1:8000/cb", "http://[::1]/cb", "http://localhost/cb",
		"https://a.example/cb#f", "https://*.example.com/", "http://evil.example/", "https://u@a.example/",
		"//a.example/cb", "https:a", "javascript:alert(1)", "https://a.example:99999/", "http://[::ffff:127.0.0.1]/",
		"https://a.example/%2e%2e/cb?next=https://b.example", "HTTPS://A.EXAMPLE/CB", "http://127.0.0.1%25eth0/",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c := &client.Client{ID: "fuzz", Public: true, Grants: []string{client.GrantAuthorizationCode}, RedirectURIs: []string{raw}}
		if client.Validate(c) != nil {
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, err)
		}
		loopback := u.Hostname() == "127.0.0.1" || u.Hostname() == "::1" || u.Hostname() == "localhost"
		if !(u.Scheme == "https" || u.Scheme == "http" && loopback) || u.Hostname() == "" || u.Fragment != "" ||
			u.User != nil || strings.ContainsAny(raw, "#* \t\r\n") {
			t.Fatalf("accepted %q", raw)
		}
		if !c.HasRedirectURI(raw) || c.HasRedirectURI(raw+"x") {
			t.Fatalf("HasRedirectURI is not an exact match for %q", raw)
		}
	})
}
