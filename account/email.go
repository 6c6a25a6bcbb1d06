package account

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// ErrInvalidEmail is wrapped by every error NormalizeEmail returns; the
// wrapping error's text says what is wrong in words fit for the user.
var ErrInvalidEmail = errors.New("account: invalid email address")

// Length limits of an email address, in bytes of its normalised form
// (RFC 5321 §4.5.3.1 and its errata).
const (
	maxEmailLen      = 254
	maxLocalLen      = 64
	maxLabelLen      = 63
	maxEmailInputLen = 1024 // raw input refused before any processing
)

// rfc5322Specials may not appear unquoted in a local part; quoted local parts
// are not supported.
const rfc5322Specials = `()<>[]:;@\,"`

func invalidEmail(msg string) error { return fmt.Errorf("%w: %s", ErrInvalidEmail, msg) }

// NormalizeEmail returns the canonical form of an email address, to be used
// as the account's unique identifier, so that look-alike spellings can never
// become a second account. It trims surrounding white space, applies Unicode
// NFKC and full case folding (fullwidth "ａｌｉｃｅ", "ALICE", the Kelvin sign
// "K", ligatures such as "ﬁ" and "ß"/"ss" all meet), then enforces the PRECIS
// UsernameCaseMapped profile (RFC 8265) on the local part and on each domain
// label, which refuses unassigned, invisible, control and most non-ASCII
// symbol code points and checks the Bidi rule. A trailing dot on the domain
// is removed. Dots and "+tags" in the local part are kept: providers differ
// on what they mean.
//
// The address must have exactly one "@", a non-empty local part of at most 64
// bytes without RFC 5322 specials or misplaced dots, a domain of non-empty
// labels (letters, digits, marks, inner hyphens; at most 63 bytes each), and
// be at most 254 bytes in all. Any other input returns an error wrapping
// ErrInvalidEmail whose text explains the problem; the text never repeats
// the input.
//
// The result is idempotent (NormalizeEmail of a result returns it unchanged)
// but is an identifier, not a display form: keep what the user typed for
// sending mail if that matters. NormalizeEmail is safe for concurrent use.
func NormalizeEmail(s string) (string, error) {
	if len(s) > maxEmailInputLen {
		return "", invalidEmail("it is too long")
	}
	out, err := normalizeEmail(s)
	if err != nil {
		return "", err
	}
	// Unicode mappings are not all closed under composition; refuse the rare
	// input whose normal form would normalise to something else again, so
	// that the stored identifier is always a fixed point.
	if again, err := normalizeEmail(out); err != nil || again != out {
		return "", invalidEmail("it contains characters that cannot be normalised")
	}
	return out, nil
}

// username is the PRECIS profile of RFC 8265 applied to the local part and to
// each domain label. Profiles are safe for concurrent use.
var username = precis.UsernameCaseMapped

// fold applies Unicode full case folding. A cases.Caser may hold state, so
// each call makes its own.
func fold(s string) string { return cases.Fold().String(s) }

func normalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalidEmail("it is empty")
	}
	if !utf8.ValidString(s) {
		return "", invalidEmail("it is not valid UTF-8")
	}
	s = norm.NFKC.String(fold(norm.NFKC.String(s)))

	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			return "", invalidEmail("it must not contain spaces")
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return "", invalidEmail("it must not contain control or invisible characters")
		}
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok {
		return "", invalidEmail(`it must contain an "@"`)
	}
	if strings.Contains(domain, "@") {
		return "", invalidEmail(`it must contain only one "@"`)
	}

	local, err := normalizeLocal(local)
	if err != nil {
		return "", err
	}
	domain, err = normalizeDomain(domain)
	if err != nil {
		return "", err
	}
	out := local + "@" + domain
	if len(out) > maxEmailLen {
		return "", invalidEmail(fmt.Sprintf("it is longer than %d bytes", maxEmailLen))
	}
	return out, nil
}

func normalizeLocal(local string) (string, error) {
	if local == "" {
		return "", invalidEmail(`the part before "@" is empty`)
	}
	if len(local) > maxLocalLen {
		return "", invalidEmail(fmt.Sprintf(`the part before "@" is longer than %d bytes`, maxLocalLen))
	}
	if strings.ContainsAny(local, rfc5322Specials) {
		return "", invalidEmail(`the part before "@" contains a character that is not allowed there`)
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", invalidEmail(`the part before "@" must not start or end with a dot or contain two dots in a row`)
	}
	out, err := username.String(local)
	if err != nil {
		return "", invalidEmail(`the part before "@" contains a character that is not allowed in an address`)
	}
	if len(out) > maxLocalLen {
		return "", invalidEmail(fmt.Sprintf(`the part before "@" is longer than %d bytes`, maxLocalLen))
	}
	return out, nil
}

func normalizeDomain(domain string) (string, error) {
	domain = strings.TrimSuffix(domain, ".")
	if domain == "" {
		return "", invalidEmail(`the domain after "@" is empty`)
	}
	labels := strings.Split(domain, ".")
	for i, label := range labels {
		if label == "" {
			return "", invalidEmail("the domain has an empty label (two dots in a row, or a leading dot)")
		}
		for _, r := range label {
			if r != '-' && !unicode.In(r, unicode.L, unicode.M, unicode.Nd) {
				return "", invalidEmail("the domain may contain only letters, digits, hyphens and dots")
			}
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "", invalidEmail("a domain label must not start or end with a hyphen")
		}
		out, err := username.String(label)
		if err != nil {
			return "", invalidEmail("the domain contains a character that is not allowed in a domain name")
		}
		if len(out) > maxLabelLen {
			return "", invalidEmail(fmt.Sprintf("a domain label is longer than %d bytes", maxLabelLen))
		}
		labels[i] = out
	}
	return strings.Join(labels, "."), nil
}
