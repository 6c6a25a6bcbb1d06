package account

import (
	"errors"
	"strings"
	"testing"
)

// TestPasswordRule15_Policy: rule 15, 8 to at least 64 characters (counted
// after NFKC), common passwords refused.
func TestPasswordRule15_Policy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pw     string
		inputs []string
		reason string // substring of Reason; "" means accepted
	}{
		{"ok passphrase", "correct horse battery staple", nil, ""},
		{"ok 8 chars", "tr0ub4d&", nil, ""},
		{"7 chars", "tr0ub4d", nil, "at least 8"},
		{"empty", "", nil, "at least 8"},
		{"8 code points of 2 bytes", "éàüöñçøå", nil, ""},
		{"7 code points but 14 bytes", "éàüöñçø", nil, "at least 8"},
		{"decomposed counts after NFKC", "e\u0301e\u0301e\u0301x\u0301", nil, "at least 8"}, // 8 runes, 5 after NFKC
		{"ligature expands under NFKC", "\ufb03\ufb03\ufb03", nil, ""},                      // 3 runes, 9 after NFKC
		{"64 chars supported", strings.Repeat("abcdefgh", 8), nil, ""},
		{"256 chars supported", strings.Repeat("abcdefgh", 32), nil, ""},
		{"257 chars", strings.Repeat("abcdefgh", 32) + "x", nil, "at most 256"},
		{"256 emoji", strings.Repeat("🔑🗝", 128), nil, ""},
		{"spaces allowed", "a b c d e f g h", nil, ""},
		{"invalid utf-8", "abcdefgh\xff", nil, "invalid"},
		{"repeated", "aaaaaaaa", nil, "repeated"},
		{"repeated long", strings.Repeat("z", 100), nil, "repeated"},
		{"repeated multibyte", strings.Repeat("ü", 12), nil, "repeated"},
		{"repeated fullwidth", strings.Repeat("ａ", 9), nil, "repeated"},
		{"common", "password", nil, "too common"},
		{"common uppercase", "PASSWORD", nil, "too common"},
		{"common mixed case", "PassWord123", nil, "too common"},
		{"common fullwidth", "ｐａｓｓｗｏｒｄ１２３", nil, "too common"},
		{"common with symbols", "!qaz2wsx", nil, "too common"},
		{"common non-ascii", "Contraseña", nil, "too common"},
		{"common cyrillic", "АЛЕКСАНДР", nil, "too common"},
		{"common keyboard walk", "qwertyuiop", nil, "too common"},
		{"not common", "purple-monkey-dishwasher", nil, ""},
		{"equals email", "alice@example.com", []string{"alice@example.com"}, "email"},
		{"equals email any case", "Alice@Example.COM", []string{"alice@example.com"}, "email"},
		{"equals local part", "alice.liddell", []string{"alice.liddell@example.com"}, "email"},
		{"equals local part passed alone", "ALICE.LIDDELL", []string{"", "alice.liddell"}, "email"},
		{"equals user name fullwidth", "ａｌｉｃｅｌｉｄｄｅｌｌ", []string{"AliceLiddell"}, "email"},
		{"contains but not equal to local part", "alice.liddell-2024!", []string{"alice.liddell@example.com"}, ""},
		{"empty inputs ignored", "purple-monkey-dishwasher", []string{"", "  "}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := CheckPassword(tc.pw, tc.inputs...)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("CheckPassword(%q) = %v, want nil", tc.pw, err)
				}
				return
			}
			var pe *PasswordError
			if !errors.As(err, &pe) {
				t.Fatalf("CheckPassword(%q) = %v, want a *PasswordError", tc.pw, err)
			}
			if !errors.Is(err, ErrWeakPassword) {
				t.Errorf("errors.Is(%v, ErrWeakPassword) = false", err)
			}
			if !strings.Contains(pe.Reason, tc.reason) {
				t.Errorf("Reason %q, want it to mention %q", pe.Reason, tc.reason)
			}
			if pe.Error() != "account: weak password: "+pe.Reason {
				t.Errorf("Error() = %q", pe.Error())
			}
			if len(tc.pw) >= 8 && tc.pw != "password" && strings.Contains(pe.Reason, tc.pw) {
				t.Errorf("Reason %q repeats the password", pe.Reason)
			}
		})
	}
}

func TestCheckPassword_CommonList(t *testing.T) {
	t.Parallel()
	m := commonPasswords()
	if len(m) != 8504 {
		t.Fatalf("common list has %d entries, want 8504", len(m))
	}
	for pw := range m {
		if strings.ContainsAny(pw, "\r\n") || strings.ToLower(pw) != pw {
			t.Fatalf("entry %q is not a clean lowercase line", pw)
		}
		if err := CheckPassword(strings.ToUpper(pw)); !errors.Is(err, ErrWeakPassword) {
			t.Fatalf("CheckPassword(%q) = %v, want ErrWeakPassword", strings.ToUpper(pw), err)
		}
		if err := CheckPassword(pw); !errors.Is(err, ErrWeakPassword) {
			t.Fatalf("CheckPassword(%q) = %v, want ErrWeakPassword", pw, err)
		}
	}
}

func TestPasswordError_IsOnlyWeak(t *testing.T) {
	t.Parallel()
	err := error(&PasswordError{Reason: "x"})
	if errors.Is(err, ErrInvalidEmail) {
		t.Fatal("PasswordError matches ErrInvalidEmail")
	}
	if !errors.Is(err, ErrWeakPassword) {
		t.Fatal("PasswordError does not match ErrWeakPassword")
	}
}

func BenchmarkCheckPassword(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = CheckPassword("purple-monkey-dishwasher", "alice@example.com")
	}
}
