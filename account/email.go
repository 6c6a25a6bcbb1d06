package account

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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
// become a second account (SECURITY.md rule 16). It trims surrounding white
// space, applies Unicode NFKC and full case folding (fullwidth "ａｌｉｃｅ",
// "ALICE", the Kelvin sign "K", ligatures such as "ﬁ", "ß" and "ss" all
// meet), then enforces the PRECIS UsernameCaseMapped profile (RFC 8265) on
// the local part and on each domain label, which refuses unassigned,
// invisible, control and most non-ASCII symbol code points and applies the
// Bidi rule. A local part or domain label may not mix scripts (a Cyrillic "а"
// among Latin letters), except Latin with Han and Japanese kana, Bopomofo or
// Hangul (UTS #39 "highly restrictive"). An IDNA A-label ("xn--bcher-kva") is
// decoded and treated as the U-label it encodes ("bücher"). A trailing dot on
// the domain is removed. Dots and "+tags" in the local part are kept:
// providers differ on what they mean.
//
// The address must have exactly one "@", a non-empty local part of at most 64
// bytes without RFC 5322 specials or misplaced dots (quoted local parts are
// not supported), a domain of non-empty labels (letters, digits, marks, inner
// hyphens; at most 63 bytes each; no address literals), and be at most 254
// bytes in all; limits apply to the normalised UTF-8 form. Any other input
// returns an error wrapping ErrInvalidEmail whose text explains the problem
// in words fit for the user; the text never repeats the input.
//
// The result is idempotent (NormalizeEmail of a result returns it unchanged)
// but is an identifier, not a display form: keep what the user typed if mail
// must go to that exact spelling. NormalizeEmail is safe for concurrent use.
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
	if mixedScripts(out) {
		return "", invalidEmail(`the part before "@" mixes letters of different scripts`)
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
		if err := checkLabel(label); err != nil {
			return "", err
		}
		if ace, ok := strings.CutPrefix(label, "xn--"); ok {
			// An A-label is treated as the U-label it encodes, so that both
			// spellings of a domain give one identifier.
			u, err := decodePunycode(ace)
			if err != nil || isASCII(u) {
				return "", invalidEmail(`the domain has an invalid "xn--" label`)
			}
			label = norm.NFKC.String(fold(norm.NFKC.String(u)))
			if err := checkLabel(label); err != nil {
				return "", err
			}
		}
		out, err := username.String(label)
		if err != nil {
			return "", invalidEmail("the domain contains a character that is not allowed in a domain name")
		}
		if len(out) > maxLabelLen {
			return "", invalidEmail(fmt.Sprintf("a domain label is longer than %d bytes", maxLabelLen))
		}
		if mixedScripts(out) {
			return "", invalidEmail("a domain label mixes letters of different scripts")
		}
		labels[i] = out
	}
	return strings.Join(labels, "."), nil
}

// checkLabel checks the characters, hyphens and length of one domain label.
func checkLabel(label string) error {
	if label == "" {
		return invalidEmail("the domain has an empty label (two dots in a row, or a leading dot)")
	}
	for _, r := range label {
		if r != '-' && !unicode.In(r, unicode.L, unicode.M, unicode.Nd) {
			return invalidEmail("the domain may contain only letters, digits, hyphens and dots")
		}
	}
	if label[0] == '-' || label[len(label)-1] == '-' {
		return invalidEmail("a domain label must not start or end with a hyphen")
	}
	if len(label) > maxLabelLen {
		return invalidEmail(fmt.Sprintf("a domain label is longer than %d bytes", maxLabelLen))
	}
	return nil
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Punycode parameters (RFC 3492 §5).
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
	pcMaxInt      = 1<<31 - 1
)

// decodePunycode decodes the part of an A-label after "xn--" (RFC 3492
// §6.2), refusing overflow, surrogates and code points beyond U+10FFFF.
func decodePunycode(s string) (string, error) {
	errBad := errors.New("invalid punycode")
	var out []rune
	start := 0
	if b := strings.LastIndexByte(s, '-'); b >= 0 {
		for i := range b {
			if s[i] >= utf8.RuneSelf {
				return "", errBad
			}
			out = append(out, rune(s[i]))
		}
		start = b + 1
	}
	n, i, bias := pcInitialN, 0, pcInitialBias
	for in := start; in < len(s); {
		oldi, w := i, 1
		for k := pcBase; ; k += pcBase {
			if in >= len(s) {
				return "", errBad
			}
			digit := punyDigit(s[in])
			in++
			if digit < 0 || digit > (pcMaxInt-i)/w {
				return "", errBad
			}
			i += digit * w
			t := min(max(k-bias, pcTMin), pcTMax)
			if digit < t {
				break
			}
			if w > pcMaxInt/(pcBase-t) {
				return "", errBad
			}
			w *= pcBase - t
		}
		count := len(out) + 1
		bias = punyAdapt(i-oldi, count, oldi == 0)
		if i/count > pcMaxInt-n {
			return "", errBad
		}
		n += i / count
		i %= count
		if n > unicode.MaxRune || (n >= 0xD800 && n <= 0xDFFF) {
			return "", errBad
		}
		out = append(out, 0)
		copy(out[i+1:], out[i:])
		out[i] = rune(n)
		i++
	}
	return string(out), nil
}

func punyDigit(c byte) int {
	switch {
	case 'a' <= c && c <= 'z':
		return int(c - 'a')
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case '0' <= c && c <= '9':
		return int(c-'0') + 26
	}
	return -1
}

func punyAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

// Script combinations allowed within one local part or domain label: one
// script, or one of these sets (the "highly restrictive" level of Unicode
// UTS #39 §5.2). Common and Inherited characters (digits, punctuation,
// combining marks) go with any script.
var allowedScriptSets = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

// scriptTables lists every script but Common and Inherited, sorted by name.
var scriptTables = sync.OnceValue(func() []scriptTable {
	var ts []scriptTable
	for name, t := range unicode.Scripts {
		if name != "Common" && name != "Inherited" {
			ts = append(ts, scriptTable{name, t})
		}
	}
	slices.SortFunc(ts, func(a, b scriptTable) int { return strings.Compare(a.name, b.name) })
	return ts
})

type scriptTable struct {
	name  string
	table *unicode.RangeTable
}

func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	}
	if unicode.In(r, unicode.Common, unicode.Inherited) {
		return ""
	}
	for _, t := range scriptTables() {
		if unicode.Is(t.table, r) {
			return t.name
		}
	}
	return ""
}

// mixedScripts reports whether s mixes scripts beyond what
// allowedScriptSets permits, as in "pаypal" with a Cyrillic "а".
func mixedScripts(s string) bool {
	var seen []string
	for _, r := range s {
		if sc := scriptOf(r); sc != "" && !slices.Contains(seen, sc) {
			seen = append(seen, sc)
		}
	}
	if len(seen) <= 1 {
		return false
	}
	for _, set := range allowedScriptSets {
		if !slices.ContainsFunc(seen, func(sc string) bool { return !slices.Contains(set, sc) }) {
			return false
		}
	}
	return true
}
