package client

import (
	"crypto/sha256"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits Validate enforces.
const (
	maxIDLen   = 128
	maxNameLen = 200
	maxURILen  = 2048
	maxItemLen = 512 // an audience or a scope
)

// Validate checks a registration before it is stored. Errors wrap ErrInvalid
// and name the field that is wrong. The rules:
//
//   - ID: 1–128 characters of [A-Za-z0-9._-], not FirstPartyID.
//   - Name: at most 200 bytes of UTF-8, no control characters.
//   - Public clients have no SecretHash; confidential ones have a 32-byte
//     HashSecret.
//   - Grants: at least one, each a known grant type, no repeats. password
//     needs FirstParty; client_credentials and token exchange need a
//     confidential client; authorization_code needs a redirect URI.
//   - RedirectURIs: absolute https URLs, or http for the loopback hosts
//     127.0.0.1, [::1] and localhost (RFC 8252 §7.3); no fragment, no user
//     information, no "*", only printable ASCII without spaces; at most 2048
//     bytes; no repeats.
//   - BackchannelLogoutURI: empty, or absolute under the same rules.
//   - Audiences: 1–512 bytes of UTF-8, no whitespace or control characters,
//     no repeats.
//   - Scopes: RFC 6749 §3.3 scope tokens, no repeats.
func Validate(c *Client) error {
	if c == nil {
		return fmt.Errorf("%w: no client", ErrInvalid)
	}
	if err := validateID(c.ID); err != nil {
		return err
	}
	if len(c.Name) > maxNameLen || !utf8.ValidString(c.Name) || strings.ContainsFunc(c.Name, unicode.IsControl) {
		return fmt.Errorf("%w: name: at most %d bytes of UTF-8, no control characters", ErrInvalid, maxNameLen)
	}
	switch {
	case c.Public && len(c.SecretHash) != 0:
		return fmt.Errorf("%w: a public client has no secret", ErrInvalid)
	case !c.Public && len(c.SecretHash) != sha256.Size:
		return fmt.Errorf("%w: a confidential client needs a secret (HashSecret)", ErrInvalid)
	}
	if err := validateGrants(c); err != nil {
		return err
	}
	for _, u := range c.RedirectURIs {
		if err := validateURI(u); err != nil {
			return fmt.Errorf("%w: redirect URI %q: %s", ErrInvalid, truncate(u), err)
		}
	}
	if d := firstRepeat(c.RedirectURIs); d != "" {
		return fmt.Errorf("%w: redirect URI %q: listed twice", ErrInvalid, truncate(d))
	}
	if c.BackchannelLogoutURI != "" {
		if err := validateURI(c.BackchannelLogoutURI); err != nil {
			return fmt.Errorf("%w: back-channel logout URI %q: %s", ErrInvalid, truncate(c.BackchannelLogoutURI), err)
		}
	}
	for _, a := range c.Audiences {
		if a == "" || len(a) > maxItemLen || !utf8.ValidString(a) || strings.ContainsFunc(a, isSpaceOrControl) {
			return fmt.Errorf("%w: audience %q: 1–%d bytes of UTF-8, no whitespace or control characters", ErrInvalid, truncate(a), maxItemLen)
		}
	}
	if d := firstRepeat(c.Audiences); d != "" {
		return fmt.Errorf("%w: audience %q: listed twice", ErrInvalid, truncate(d))
	}
	for _, s := range c.Scopes {
		if !isScopeToken(s) {
			return fmt.Errorf("%w: scope %q: not an RFC 6749 scope token", ErrInvalid, truncate(s))
		}
	}
	if d := firstRepeat(c.Scopes); d != "" {
		return fmt.Errorf("%w: scope %q: listed twice", ErrInvalid, truncate(d))
	}
	return nil
}

func validateID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("%w: id: 1–%d characters", ErrInvalid, maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '.' || b == '_' || b == '-') {
			return fmt.Errorf("%w: id %q: only letters, digits, '.', '_' and '-'", ErrInvalid, truncate(id))
		}
	}
	if id == FirstPartyID {
		return fmt.Errorf("%w: id %q is reserved for the built-in first-party client", ErrInvalid, id)
	}
	return nil
}

func validateGrants(c *Client) error {
	if len(c.Grants) == 0 {
		return fmt.Errorf("%w: grants: at least one", ErrInvalid)
	}
	for _, g := range c.Grants {
		if !slices.Contains(KnownGrants(), g) {
			return fmt.Errorf("%w: grant %q: unknown (known: %s)", ErrInvalid, truncate(g), strings.Join(KnownGrants(), ", "))
		}
	}
	if d := firstRepeat(c.Grants); d != "" {
		return fmt.Errorf("%w: grant %q: listed twice", ErrInvalid, d)
	}
	switch {
	case c.Allows(GrantPassword) && !c.FirstParty:
		return fmt.Errorf("%w: grant %q: only for first-party clients", ErrInvalid, GrantPassword)
	case c.Allows(GrantClientCredentials) && c.Public:
		return fmt.Errorf("%w: grant %q: only for confidential clients (RFC 6749 §4.4)", ErrInvalid, GrantClientCredentials)
	case c.Allows(GrantTokenExchange) && c.Public:
		return fmt.Errorf("%w: grant %q: only for confidential clients", ErrInvalid, GrantTokenExchange)
	case c.Allows(GrantAuthorizationCode) && len(c.RedirectURIs) == 0:
		return fmt.Errorf("%w: grant %q: needs at least one redirect URI", ErrInvalid, GrantAuthorizationCode)
	}
	return nil
}

// validateURI checks a redirect or back-channel logout URI; its error text
// is completed by the caller.
func validateURI(raw string) error {
	switch {
	case len(raw) > maxURILen:
		return fmt.Errorf("longer than %d bytes", maxURILen)
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r > '~' }):
		return fmt.Errorf("may contain only printable ASCII without spaces (percent-encode the rest)")
	case strings.Contains(raw, "#"):
		return fmt.Errorf("has a fragment")
	case strings.Contains(raw, "*"):
		return fmt.Errorf("wildcards are not allowed; register every URI exactly")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	switch {
	case !u.IsAbs() || u.Opaque != "" || u.Hostname() == "":
		return fmt.Errorf("must be an absolute URL with a host")
	case u.User != nil:
		return fmt.Errorf("must not contain user information")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("http is allowed only for 127.0.0.1, [::1] and localhost; use https")
	default:
		return fmt.Errorf("scheme must be https (or http on a loopback host)")
	}
}

// isLoopback reports whether host (as url.URL.Hostname returns it) is
// exactly one of the loopback names allowed over plain http (RFC 8252 §7.3):
// 127.0.0.1, ::1 or localhost.
func isLoopback(host string) bool {
	return host == "127.0.0.1" || host == "::1" || host == "localhost"
}

// isScopeToken: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func isScopeToken(s string) bool {
	if s == "" || len(s) > maxItemLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

func firstRepeat(list []string) string {
	for i, s := range list {
		if slices.Contains(list[:i], s) {
			return s
		}
	}
	return ""
}

// truncate shortens a value quoted in an error message.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
