package account

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Password length limits enforced by CheckPassword, counted in Unicode code
// points after NFKC normalisation. NIST SP 800-63B-4 asks for a minimum of 8
// and for at least 64 to be supported; 256 leaves room for passphrases while
// bounding the work done on hostile input.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// ErrWeakPassword is matched (with errors.Is) by every *PasswordError.
var ErrWeakPassword = errors.New("account: weak password")

// PasswordError is the error CheckPassword returns for a password that the
// policy refuses. Reason is a sentence fit to show to the user who chose the
// password; it never repeats the password. errors.Is(err, ErrWeakPassword)
// reports true for it.
type PasswordError struct {
	Reason string
}

// Error returns "account: weak password: " followed by the reason.
func (e *PasswordError) Error() string { return "account: weak password: " + e.Reason }

// Is reports whether target is ErrWeakPassword.
func (e *PasswordError) Is(target error) bool { return target == ErrWeakPassword }

//go:embed data/common-passwords.txt
var commonPasswordsTxt string

// commonPasswords is the embedded list (lowercase, one a line) as a set of
// case-folded NFKC keys, built on first use and read-only after.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 8600)
	for line := range strings.Lines(commonPasswordsTxt) {
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			m[fold(norm.NFKC.String(line))] = struct{}{}
		}
	}
	return m
})

// CheckPassword applies the password policy of SECURITY.md rule 15 (NIST SP
// 800-63B-4 §3.1.1.2) to a new password, after NFKC normalisation (the form
// Hasher hashes). It refuses, with a *PasswordError:
//   - invalid UTF-8;
//   - fewer than MinPasswordLen (8) or more than MaxPasswordLen (256) code
//     points, so at least 64 are always supported;
//   - a single character repeated ("aaaaaaaa");
//   - a password on the built-in list of about 8,500 common passwords,
//     compared case-insensitively;
//   - a password equal, ignoring case, to any of userInputs (such as the
//     email address, its local part, or the user's name); empty inputs are
//     ignored, and for an input containing "@" its local part is checked too.
//
// It imposes no composition rules (digits, symbols, mixed case), as NIST
// advises. CheckPassword is safe for concurrent use.
func CheckPassword(password string, userInputs ...string) error {
	if !utf8.ValidString(password) {
		return &PasswordError{Reason: "password contains invalid characters"}
	}
	pw := norm.NFKC.String(password)
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return &PasswordError{Reason: fmt.Sprintf("password must be at least %d characters long", MinPasswordLen)}
	}
	if n > MaxPasswordLen {
		return &PasswordError{Reason: fmt.Sprintf("password must be at most %d characters long", MaxPasswordLen)}
	}
	if repeated(pw) {
		return &PasswordError{Reason: "password must not be a single character repeated"}
	}
	key := fold(pw)
	if _, ok := commonPasswords()[key]; ok {
		return &PasswordError{Reason: "password is too common; choose one that is harder to guess"}
	}
	for _, in := range userInputs {
		in = strings.TrimSpace(in)
		if in == "" {
			continue
		}
		candidates := []string{in}
		if local, _, ok := strings.Cut(in, "@"); ok && local != "" {
			candidates = append(candidates, local)
		}
		for _, c := range candidates {
			if fold(norm.NFKC.String(c)) == key {
				return &PasswordError{Reason: "password must not be your email address or user name"}
			}
		}
	}
	return nil
}

// repeated reports whether s is one code point repeated.
func repeated(s string) bool {
	first, size := utf8.DecodeRuneInString(s)
	for _, r := range s[size:] {
		if r != first {
			return false
		}
	}
	return true
}
