package account

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fastParams keeps tests quick; production never sets InsecureLowCost.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, InsecureLowCost: true}

func newFastHasher(t testing.TB, p Params) *Hasher {
	t.Helper()
	h, err := NewHasher(p)
	if err != nil {
		t.Fatalf("NewHasher(%+v): %v", p, err)
	}
	return h
}

func mustHash(t testing.TB, h *Hasher, pw string) string {
	t.Helper()
	enc, err := h.Hash(context.Background(), pw)
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	return enc
}

func TestHasher_RoundTrip(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t, fastParams)
	ctx := context.Background()
	enc := mustHash(t, h, "correct horse battery staple")

	ok, rehash, err := h.Verify(ctx, "correct horse battery staple", enc)
	if err != nil || !ok || rehash {
		t.Fatalf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(ctx, "correct horse battery stapl", enc)
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
	ok, _, err = h.Verify(ctx, "", enc)
	if err != nil || ok {
		t.Fatalf("Verify(empty) = %v, %v; want false, nil", ok, err)
	}

	// Two hashes of the same password differ (random salt).
	if enc2 := mustHash(t, h, "correct horse battery staple"); enc2 == enc {
		t.Fatalf("two hashes of one password are identical: %s", enc)
	}
}

// TestPasswordRule15_NFKC: rule 15, passwords are Unicode normalised (NFKC).
func TestPasswordRule15_NFKC(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t, fastParams)
	pairs := []struct{ name, a, b string }{
		{"fullwidth", "ｐａｓｓｗｏｒｄ１２３", "password123"},
		{"combining acute", "cafe\u0301-latte", "café-latte"},
		{"ligature", "\ufb01nancial-plan", "financial-plan"},
		{"hangul jamo", "\u1100\u1161-secret", "\uac00-secret"},
	}
	for _, tc := range pairs {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, dir := range [][2]string{{tc.a, tc.b}, {tc.b, tc.a}} {
				ok, _, err := h.Verify(context.Background(), dir[1], mustHash(t, h, dir[0]))
				if err != nil || !ok {
					t.Errorf("hash %q, verify %q = %v, %v; want true, nil", dir[0], dir[1], ok, err)
				}
			}
		})
	}
	// Case is not folded: passwords are case-sensitive.
	ok, _, _ := h.Verify(context.Background(), "PASSWORD123", mustHash(t, h, "password123"))
	if ok {
		t.Error("verification is case-insensitive; want case-sensitive")
	}
}

// TestPasswordRule15_NoTruncation: rule 15, no truncation of long passwords.
func TestPasswordRule15_NoTruncation(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t, fastParams)
	base := strings.Repeat("abcdefghij", 20) // 200 characters
	a, b := base[:199]+"x", base[:199]+"y"
	enc := mustHash(t, h, a)
	if ok, _, err := h.Verify(context.Background(), b, enc); err != nil || ok {
		t.Fatalf("passwords differing at char 200 verified as equal (ok=%v, err=%v)", ok, err)
	}
	if ok, _, err := h.Verify(context.Background(), a, enc); err != nil || !ok {
		t.Fatalf("Verify(same 200-char password) = %v, %v", ok, err)
	}
	long := strings.Repeat("ü", 10000)
	if ok, _, err := h.Verify(context.Background(), long+"!", mustHash(t, h, long)); err != nil || ok {
		t.Fatalf("20 KB passwords differing at the end verified as equal (ok=%v, err=%v)", ok, err)
	}
}

func TestHasher_PHCFormat(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t, Params{Memory: 128, Time: 3, Threads: 2, InsecureLowCost: true})
	enc := mustHash(t, h, "password")
	f := strings.Split(enc, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v=19" || f[3] != "m=128,t=3,p=2" {
		t.Fatalf("PHC string %q: want $argon2id$v=19$m=128,t=3,p=2$salt$hash", enc)
	}
	if len(f[4]) != 22 || len(f[5]) != 43 { // 16 and 32 bytes, unpadded base64
		t.Fatalf("PHC string %q: salt/hash lengths %d/%d, want 22/43 base64 chars", enc, len(f[4]), len(f[5]))
	}
	p, salt, key, err := decodePHC(enc)
	if err != nil {
		t.Fatalf("decodePHC(%q): %v", enc, err)
	}
	if p != (argonParams{memory: 128, time: 3, threads: 2}) || len(salt) != 16 || len(key) != 32 {
		t.Fatalf("decodePHC(%q) = %+v, %d-byte salt, %d-byte key", enc, p, len(salt), len(key))
	}
}

func TestHasher_DefaultParams(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("default cost is slow")
	}
	h, err := NewHasher(Params{})
	if err != nil {
		t.Fatal(err)
	}
	enc := mustHash(t, h, "password")
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default PHC string %q: want m=19456,t=2,p=1", enc)
	}
	if cap(h.sem) < 1 {
		t.Fatalf("default MaxConcurrent = %d", cap(h.sem))
	}
}

func TestNewHasher_Params(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"low memory refused", Params{Memory: 19455}, false},
		{"low time refused", Params{Time: 1}, false},
		{"low cost allowed when insecure", Params{Memory: 64, Time: 1, InsecureLowCost: true}, true},
		{"memory below 8 KiB per thread", Params{Memory: 8, Threads: 2, InsecureLowCost: true}, false},
		{"memory above maximum", Params{Memory: MaxMemory + 1}, false},
		{"time above maximum", Params{Time: MaxTime + 1}, false},
		{"negative MaxConcurrent", Params{Memory: 64, Time: 1, InsecureLowCost: true, MaxConcurrent: -1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewHasher(tc.p)
			if (err == nil) != tc.ok {
				t.Fatalf("NewHasher(%+v) error = %v, want ok=%v", tc.p, err, tc.ok)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "account: new hasher: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestHasher_Rehash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	weak := newFastHasher(t, Params{Memory: 64, Time: 1, Threads: 1, InsecureLowCost: true})
	strong := newFastHasher(t, Params{Memory: 128, Time: 2, Threads: 1, InsecureLowCost: true})
	enc := mustHash(t, weak, "password")

	ok, rehash, err := strong.Verify(ctx, "password", enc)
	if err != nil || !ok || !rehash {
		t.Fatalf("strong.Verify(weak hash) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	// Wrong password: no rehash advice.
	if ok, rehash, _ := strong.Verify(ctx, "passw0rd", enc); ok || rehash {
		t.Fatalf("strong.Verify(wrong, weak hash) = %v, %v; want false, false", ok, rehash)
	}
	// A stronger hash verified by a weaker hasher needs no rehash.
	ok, rehash, err = weak.Verify(ctx, "password", mustHash(t, strong, "password"))
	if err != nil || !ok || rehash {
		t.Fatalf("weak.Verify(strong hash) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	// Strong parameters but a short salt or key (another implementation's
	// hash) also ask for a rehash.
	sp := strong.params
	for _, c := range []struct{ salt, key int }{{8, 32}, {16, 16}} {
		salt := []byte("0123456789abcdef")[:c.salt]
		enc := encodePHC(sp, salt, argon2id([]byte("password"), salt, sp, uint32(c.key)))
		ok, rehash, err := strong.Verify(ctx, "password", enc)
		if err != nil || !ok || !rehash {
			t.Fatalf("Verify(%d-byte salt, %d-byte key) = %v, %v, %v; want true, true, nil", c.salt, c.key, ok, rehash, err)
		}
	}
}

// TestHasher_KnownVector checks interoperability with the reference
// implementation (argon2 CLI: echo -n password | argon2 somesalt -id -t 2 -k 65536 -p 1).
func TestHasher_KnownVector(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("64 MiB vector")
	}
	const enc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	h := newFastHasher(t, fastParams)
	ok, rehash, err := h.Verify(context.Background(), "password", enc)
	// rehash: its 8-byte salt is shorter than the 16 bytes Hash uses.
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify(reference vector) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	if ok, _, err := h.Verify(context.Background(), "Password", enc); err != nil || ok {
		t.Fatalf("Verify(reference vector, wrong password) = %v, %v; want false, nil", ok, err)
	}
}

func TestHasher_MalformedPHC(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t, fastParams)
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	tests := []struct{ name, enc string }{
		{"empty", ""},
		{"dollar only", "$"},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"uppercase algorithm", "$ARGON2ID$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"no leading dollar", "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"trailing dollar", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$"},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"version leading zero", "$argon2id$v=019$m=64,t=1,p=1$" + salt + "$" + key},
		{"params out of order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=64,t=1,p=1,keyid=x$" + salt + "$" + key},
		{"empty param", "$argon2id$v=19$m=,t=1,p=1$" + salt + "$" + key},
		{"negative memory", "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"hex memory", "$argon2id$v=19$m=0x40,t=1,p=1$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{"spaces", "$argon2id$v=19$m=64, t=1,p=1$" + salt + "$" + key},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key},
		{"memory above 4 GiB", "$argon2id$v=19$m=4194305,t=1,p=1$" + salt + "$" + key},
		{"memory below 8 per lane", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key},
		{"zero memory", "$argon2id$v=19$m=0,t=1,p=1$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"time above 100", "$argon2id$v=19$m=64,t=101,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"threads overflow uint8", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{"empty salt", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"long salt", "$argon2id$v=19$m=64,t=1,p=1$" + strings.Repeat("A", 88) + "$" + key},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"url-safe salt", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2Fs-_$" + key},
		{"non-canonical salt bits", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRzb21lc2FsdB$" + key},
		{"bad base64 salt", "$argon2id$v=19$m=64,t=1,p=1$!!!!!!!!!!!!$" + key},
		{"empty hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"short hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$aGFzaA"},
		{"long hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 88)},
		{"huge string", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("A", 1<<20)},
		{"newline in hash", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "\n"},
		{"CR in salt", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNh\rbHRzb21lc2FsdA$" + key},
		{"nul byte", "$argon2id$v=19$m=64,t=1,p=1\x00$" + salt + "$" + key},
		{"invalid utf-8", "$argon2id$v=19$m=64,t=1,p=1$\xff\xfe$" + key},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok, rehash, err := h.Verify(context.Background(), "password", tc.enc)
			if err == nil || ok || rehash {
				t.Fatalf("Verify(%.80q) = %v, %v, %v; want an error", tc.enc, ok, rehash, err)
			}
			if !strings.HasPrefix(err.Error(), "account: verify password: malformed hash") {
				t.Errorf("error %q: want prefix %q", err, "account: verify password: malformed hash")
			}
		})
	}
}

func TestHasher_ContextCancelled(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t, fastParams)
	enc := mustHash(t, h, "password")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if _, err := h.Hash(ctx, "password"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash(cancelled ctx) error = %v, want context.Canceled", err)
	} else if !strings.HasPrefix(err.Error(), "account: hash password: ") {
		t.Errorf("error %q lacks prefix", err)
	}
	if ok, _, err := h.Verify(ctx, "password", enc); ok || !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify(cancelled ctx) = %v, %v; want false, context.Canceled", ok, err)
	}
	h.VerifyDummy(ctx, "password") // returns early, no panic
}

func TestHasher_ConcurrencyBound(t *testing.T) {
	t.Parallel()

	t.Run("waiter times out while the only slot is held", func(t *testing.T) {
		t.Parallel()
		h := newFastHasher(t, Params{Memory: 64, Time: 1, MaxConcurrent: 1, InsecureLowCost: true})
		enc := mustHash(t, h, "password")
		h.sem <- struct{}{} // hold the only slot
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := h.Hash(ctx, "password"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Hash with the slot held: error %v, want context.DeadlineExceeded", err)
		}
		if _, _, err := h.Verify(ctx, "password", enc); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Verify with the slot held: error %v, want context.DeadlineExceeded", err)
		}
		h.release()
		if ok, _, err := h.Verify(context.Background(), "password", enc); err != nil || !ok {
			t.Fatalf("Verify after release = %v, %v", ok, err)
		}
	})

	t.Run("never more than MaxConcurrent at once", func(t *testing.T) {
		t.Parallel()
		const limit = 3
		h := newFastHasher(t, Params{Memory: 64, Time: 1, MaxConcurrent: limit, InsecureLowCost: true})
		var cur, peak atomic.Int32
		orig := h.derive
		h.derive = func(pw, salt []byte, p argonParams, n uint32) []byte {
			c := cur.Add(1)
			for {
				old := peak.Load()
				if c <= old || peak.CompareAndSwap(old, c) {
					break
				}
			}
			time.Sleep(time.Millisecond) // widen the window for overlap
			defer cur.Add(-1)
			return orig(pw, salt, p, n)
		}
		enc := mustHash(t, h, "password")
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() {
				if i%2 == 0 {
					_, _ = h.Hash(context.Background(), "password")
				} else {
					h.VerifyDummy(context.Background(), "password")
					_, _, _ = h.Verify(context.Background(), "password", enc)
				}
			})
		}
		wg.Wait()
		if p := peak.Load(); p > limit || p < 2 {
			t.Fatalf("peak concurrency %d, want between 2 and %d", p, limit)
		}
	})
}

// TestEnumerationRule17_VerifyDummy: rule 17, the unknown-user path does the
// same argon2id work as a real verification.
func TestEnumerationRule17_VerifyDummy(t *testing.T) {
	t.Parallel()
	h := newFastHasher(t, fastParams)
	var calls atomic.Int32
	var got argonParams
	var gotLen uint32
	orig := h.derive
	h.derive = func(pw, salt []byte, p argonParams, n uint32) []byte {
		calls.Add(1)
		got, gotLen = p, n
		return orig(pw, salt, p, n)
	}
	h.VerifyDummy(context.Background(), "whatever")
	h.VerifyDummy(context.Background(), "")
	h.VerifyDummy(context.Background(), strings.Repeat("x", 5000))
	if calls.Load() != 3 || got != h.params || gotLen != keyLen {
		t.Fatalf("VerifyDummy: %d derivations with %+v/%d, want 3 with %+v/%d", calls.Load(), got, gotLen, h.params, keyLen)
	}
}

// FuzzDecodePHC checks that the PHC parser never panics, and that whatever
// it accepts is canonical: re-encoding gives back the same string.
func FuzzDecodePHC(f *testing.F) {
	for _, s := range []string{
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2i$v=19$m=64,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=4194305,t=1,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"", "$", "$$$$$", "$argon2id$v=19$m=,t=,p=$$",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, salt, key, err := decodePHC(s)
		if err != nil {
			return
		}
		if err := p.validate(); err != nil {
			t.Fatalf("decodePHC(%q) accepted invalid params: %v", s, err)
		}
		if back := encodePHC(p, salt, key); back != s {
			t.Fatalf("decodePHC(%q) accepted a non-canonical string; canonical is %q", s, back)
		}
	})
}

// BenchmarkHash measures one argon2id hash at the default cost
// (m=19456 KiB, t=2, p=1): the bulk of the CPU time and memory of a login.
func BenchmarkHash(b *testing.B) {
	h, err := NewHasher(Params{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify measures one verification at the default cost, the work of
// a login attempt (and of VerifyDummy).
func BenchmarkVerify(b *testing.B) {
	h, err := NewHasher(Params{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", enc); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
