package account

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestIdentifierRule16_LookAlikes: rule 16, look-alike spellings of one
// address normalise to the same identifier.
func TestIdentifierRule16_LookAlikes(t *testing.T) {
	t.Parallel()
	groups := []struct {
		want   string
		inputs []string
	}{
		{"alice@example.com", []string{
			"alice@example.com",
			"ALICE@Example.COM",
			"  Alice@example.com\t\n",
			"ａｌｉｃｅ@example.com",          // fullwidth local part
			"alice＠ｅｘａｍｐｌｅ．ｃｏｍ",          // fullwidth @, domain and full stop
			"alice@EXAMPLE.com.",         // trailing dot
			"\u1d2clice@example.com",     // modifier letter capital A
			"\U0001d41alice@example.com", // mathematical bold small a
		}},
		{"kate@example.com", []string{
			"\u212aate@example.com", // Kelvin sign
			"Kate@example.com",
			"KATE@example.com",
		}},
		{"office@example.com", []string{
			"o\ufb03ce@example.com", // "ﬃ" ligature
			"OFFICE@example.com",
		}},
		{"strasse@example.de", []string{
			"straße@example.de",
			"STRASSE@example.de",
			"STRAẞE@EXAMPLE.DE", // capital sharp s
		}},
		{"josé@example.com", []string{
			"jose\u0301@example.com", // decomposed
			"JOSÉ@example.com",
			"jos\u00e9@example.com", // precomposed
		}},
		{"σοφία@example.gr", []string{
			"ΣΟΦΊΑ@example.gr",
			"σοφία@example.gr",
		}},
		{"user@bücher.de", []string{
			"user@BÜCHER.de",
			"user@bu\u0308cher.de",
			"user@xn--bcher-kva.de",  // A-label
			"user@XN--BCHER-KVA.DE",  // A-label, upper case
			"user@xn--Bcher-kva.de",  // mixed-case annotation
			"user@xn--bucher-xyd.de", // A-label of a decomposed form
		}},
		{"ceo@strasse.de", []string{
			"ceo@straße.de",
			"ceo@xn--strae-oqa.de",
		}},
		{"οδυσσευσ@example.gr", []string{
			"ΟΔΥΣΣΕΥΣ@example.gr",
			"οδυσσευς@example.gr", // final sigma
		}},
		{"yamada@例え.jp", []string{
			"YAMADA@xn--r8jz45g.jp",
		}},
		{"taro例え@example.jp", []string{
			"TARO例え@example.jp", // Latin + Han + Hiragana is allowed
		}},
		{"first.last+tag@sub.example.co.uk", []string{
			"First.Last+Tag@Sub.Example.CO.UK",
		}},
		{"1@x", []string{"１@Ｘ"}},
	}
	for _, g := range groups {
		for _, in := range g.inputs {
			t.Run(g.want+"/"+in, func(t *testing.T) {
				t.Parallel()
				got, err := NormalizeEmail(in)
				if err != nil {
					t.Fatalf("NormalizeEmail(%+q) error: %v", in, err)
				}
				if got != g.want {
					t.Fatalf("NormalizeEmail(%+q) = %+q, want %+q", in, got, g.want)
				}
				if again, err := NormalizeEmail(got); err != nil || again != got {
					t.Fatalf("not idempotent: NormalizeEmail(%+q) = %+q, %v", got, again, err)
				}
			})
		}
	}
}

func TestNormalizeEmail_Invalid(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64)
	label := strings.Repeat("b", 63)
	tests := []struct{ name, in, msg string }{
		{"empty", "", "empty"},
		{"spaces only", "   ", "empty"},
		{"no at", "alice.example.com", `"@"`},
		{"two ats", "alice@bob@example.com", `only one "@"`},
		{"fullwidth second at", "alice@bob＠example.com", `only one "@"`},
		{"empty local", "@example.com", "before"},
		{"empty domain", "alice@", "domain"},
		{"only trailing dot domain", "alice@.", "domain"},
		{"inner space", "ali ce@example.com", "spaces"},
		{"no-break space", "ali\u00a0ce@example.com", "spaces"},
		{"ideographic space", "alice@exa\u3000mple.com", "spaces"},
		{"tab inside", "alice@exam\tple.com", "spaces"},
		{"newline", "alice@example.com\nBcc: x@y.z", "spaces"},
		{"nul", "alice\x00@example.com", "control"},
		{"del", "alice\x7f@example.com", "control"},
		{"zero-width space", "ali\u200bce@example.com", "invisible"},
		{"zero-width joiner", "ali\u200dce@example.com", "invisible"},
		{"soft hyphen", "ali\u00adce@example.com", "invisible"},
		{"bidi override", "alice\u202e@example.com", "invisible"},
		{"byte order mark", "\ufeffalice@example.com", "invisible"},
		{"invalid utf-8", "ali\xffce@example.com", "UTF-8"},
		{"local too long", long + "a@example.com", "64"},
		{"total too long", long + "@" + label + "." + label + "." + label + "." + label, "254"},
		{"label too long", "a@" + label + "b.com", "63"},
		{"huge input", strings.Repeat("a", 5000) + "@example.com", "too long"},
		{"leading dot local", ".alice@example.com", "dot"},
		{"trailing dot local", "alice.@example.com", "dot"},
		{"double dot local", "al..ice@example.com", "dot"},
		{"double dot domain", "alice@example..com", "empty label"},
		{"leading dot domain", "alice@.example.com", "empty label"},
		{"two trailing dots", "alice@example.com..", "empty label"},
		{"quoted local", `"alice"@example.com`, "not allowed"},
		{"angle brackets", "Alice <alice@example.com>", "spaces"},
		{"comma", "alice,bob@example.com", "not allowed"},
		{"backslash", `ali\ce@example.com`, "not allowed"},
		{"ip literal", "alice@[192.0.2.1]", "domain"},
		{"underscore domain", "alice@exa_mple.com", "domain"},
		{"hyphen label start", "alice@-example.com", "hyphen"},
		{"hyphen label end", "alice@example-.com", "hyphen"},
		{"emoji local", "ali😀ce@example.com", "not allowed"},
		{"emoji domain", "alice@exa😀mple.com", "domain"},
		{"unassigned code point", "ali\U000e0080ce@example.com", "not allowed"},
		{"private use", "ali\ue000ce@example.com", "not allowed"},
		{"mixed bidi", "aliceא1@example.com", "not allowed"},
		{"mixed scripts local (cyrillic a)", "p\u0430ypal@example.com", "scripts"},
		{"mixed scripts local (greek o)", "g\u03bfogle@example.com", "scripts"},
		{"mixed scripts domain", "alice@p\u0430ypal.com", "scripts"},
		{"mixed scripts via A-label", "alice@xn--pypal-4ve.com", "scripts"},
		{"mixed digits", "alice\u09e7@example.com", "scripts"},
		{"A-label not punycode", "alice@xn--99.com", "xn--"},
		{"A-label of a control", "alice@xn--a.com", "only letters"},
		{"A-label of ASCII", "alice@xn--abc-.com", "hyphen"},
		{"A-label empty", "alice@xn--.com", "hyphen"},
		{"A-label overflow", "alice@xn--99999999999999999999.com", "xn--"},
		{"A-label of a space", "alice@xn--a-.com", "hyphen"},
		{"A-label of a symbol", "alice@xn--ls8h.com", "only letters"},
		{"A-label of a dot", "alice@xn--a-ecp.com", "only letters"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeEmail(tc.in)
			if err == nil {
				t.Fatalf("NormalizeEmail(%+q) = %+q, want an error", tc.in, got)
			}
			if got != "" {
				t.Errorf("NormalizeEmail(%+q) returned %+q with its error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalidEmail) {
				t.Errorf("error %v does not wrap ErrInvalidEmail", err)
			}
			if !strings.HasPrefix(err.Error(), "account: invalid email address: ") || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q: want prefix %q and %q in it", err, "account: invalid email address: ", tc.msg)
			}
		})
	}
}

func TestDecodePunycode(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"bcher-kva", "bücher"},
		{"ihqwcrb4cv8a8dqg056pqjye", "他们为什么不说中文"}, // RFC 3492 §7.1 (B)
		{"b1abfaaepdrnnbgefbaDotcwatmq2g4l", "почемужеонинеговорятпорусски"}, // RFC 3492 §7.1 (K)
		{"3B-ww4c5e180e575a65lsy2b", "3年B組金八先生"},                             // RFC 3492 §7.1 (L)
		{"-> $1.00 <--", "-> $1.00 <-"},                                      // RFC 3492 §7.1 (S)
		{"wgv71a119e", "日本語"},
	}
	for _, tc := range tests {
		if got, err := decodePunycode(tc.in); err != nil || got != tc.want {
			t.Errorf("decodePunycode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"99", "99999999999999999999", "ü-abc", "abc-!", "+", "a-b-c-!"} {
		if got, err := decodePunycode(bad); err == nil {
			t.Errorf("decodePunycode(%q) = %q, want an error", bad, got)
		}
	}
	// Code points past U+10FFFF or in the surrogate range are refused.
	for _, bad := range []string{"zzzzzzzzzzzzzzzzzzzz", "hu00000"} {
		if got, err := decodePunycode(bad); err == nil && !utf8.ValidString(got) {
			t.Errorf("decodePunycode(%q) = %+q: invalid UTF-8", bad, got)
		}
	}
}

func TestNormalizeEmail_Limits(t *testing.T) {
	t.Parallel()
	local := strings.Repeat("a", 64)
	label := strings.Repeat("b", 63)
	in := local + "@" + label + "." + label + "." + label[:61] // 64+1+63+1+63+1+61 = 254
	if len(in) != 254 {
		t.Fatalf("test input is %d bytes", len(in))
	}
	if got, err := NormalizeEmail(strings.ToUpper(in)); err != nil || got != in {
		t.Fatalf("NormalizeEmail(254-byte address) = %q, %v", got, err)
	}
	if _, err := NormalizeEmail(in + "."); err != nil {
		t.Fatalf("NormalizeEmail(254 bytes + trailing dot) error: %v", err)
	}
	// An internationalised address: limits are in bytes of UTF-8.
	u := strings.Repeat("é", 32) // 64 bytes
	if got, err := NormalizeEmail(strings.ToUpper(u) + "@example.com"); err != nil || got != u+"@example.com" {
		t.Fatalf("NormalizeEmail(64-byte UTF-8 local part) = %q, %v", got, err)
	}
	if _, err := NormalizeEmail(u + "e@example.com"); !errors.Is(err, ErrInvalidEmail) {
		t.Fatalf("NormalizeEmail(65-byte UTF-8 local part) error = %v, want ErrInvalidEmail", err)
	}
}

// FuzzNormalizeEmail checks that NormalizeEmail never panics, that its
// results are fixed points and within the documented limits, and that every
// error wraps ErrInvalidEmail.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"alice@example.com", "ALICE@Example.COM", "ａｌｉｃｅ@example.com", "alice@EXAMPLE.com.",
		"\u212aate@example.com", "o\ufb03ce@example.com", "straße@example.de", "ΣΟΦΊΑ@example.gr",
		"user@bu\u0308cher.de", "a@b", "@", "", "a@@b", "ali\u200bce@example.com", "\xff@\xfe",
		"\u0130stanbul@example.com", "ᏣᎳᎩ@example.com", "ǅ@example.com", "ﷺ@example.com",
		"user@xn--bcher-kva.de", "a@xn--99.com", "p\u0430ypal@example.com", "taro例え@xn--r8jz45g.jp",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeEmail(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidEmail) {
				t.Fatalf("NormalizeEmail(%+q) error %v does not wrap ErrInvalidEmail", in, err)
			}
			if out != "" {
				t.Fatalf("NormalizeEmail(%+q) = %+q with an error", in, out)
			}
			return
		}
		again, err := NormalizeEmail(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: NormalizeEmail(%+q) = %+q; NormalizeEmail of that = %+q, %v", in, out, again, err)
		}
		local, domain, _ := strings.Cut(out, "@")
		switch {
		case !utf8.ValidString(out):
			t.Fatalf("NormalizeEmail(%+q) = %+q: invalid UTF-8", in, out)
		case strings.Count(out, "@") != 1 || local == "" || domain == "":
			t.Fatalf("NormalizeEmail(%+q) = %+q: want one @ between non-empty parts", in, out)
		case len(out) > 254 || len(local) > 64:
			t.Fatalf("NormalizeEmail(%+q) = %+q: too long", in, out)
		case strings.HasSuffix(out, "."), strings.ContainsAny(out, " \t\r\n\x00"):
			t.Fatalf("NormalizeEmail(%+q) = %+q: trailing dot or white space", in, out)
		case strings.ToLower(domain) != domain:
			t.Fatalf("NormalizeEmail(%+q) = %+q: domain not lowercase", in, out)
		}
	})
}
