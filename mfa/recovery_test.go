package mfa_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/sessiond/sessiond/mfa"
)

func newRecovery(t *testing.T) *mfa.RecoveryCodes {
	t.Helper()
	r, err := mfa.NewRecoveryCodes(mfa.RecoveryConfig{Store: mfa.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func remaining(t *testing.T, r *mfa.RecoveryCodes, user string, want int) {
	t.Helper()
	if n, err := r.Remaining(context.Background(), user); err != nil || n != want {
		t.Fatalf("Remaining(%s) = %d, %v; want %d", user, n, err, want)
	}
}

func TestRecoveryCodes_TenReadableDistinct(t *testing.T) {
	r := newRecovery(t)
	codes, err := r.Generate(context.Background(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	shape := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !shape.MatchString(c) || seen[c] {
			t.Fatalf("code %q: wrong shape or repeated in %q", c, codes)
		}
		seen[c] = true
	}
	if len(codes) != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	remaining(t, r, "u1", 10)
}

func TestRecoveryCodes_SingleUse(t *testing.T) {
	r := newRecovery(t)
	ctx := context.Background()
	codes, err := r.Generate(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Use(ctx, "u1", codes[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.Use(ctx, "u1", codes[0]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("second use: want ErrInvalidCode, got %v", err)
	}
	// Typed loosely: upper case, no dashes, spaces; o/i/l read as 0/1/1.
	loose := strings.ToUpper(strings.ReplaceAll(codes[1], "-", " "))
	loose = strings.NewReplacer("0", "O", "1", "l").Replace(loose)
	if err := r.Use(ctx, "u1", loose); err != nil {
		t.Fatalf("code %q typed as %q: %v", codes[1], loose, err)
	}
	remaining(t, r, "u1", 8)
	// Another user's code is not this user's.
	other, err := r.Generate(ctx, "u2")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Use(ctx, "u1", other[0]); !errors.Is(err, mfa.ErrInvalidCode) {
		t.Fatalf("u2's code for u1: want ErrInvalidCode, got %v", err)
	}
	remaining(t, r, "u2", 10)
	for _, bad := range []string{"", "abcd-efgh-jkm", "abcd-efgh-jkmnp", "abcd-efgh-jkmu", "ab\x00d-efgh-jkmn", strings.Repeat("a", 1<<16)} {
		if err := r.Use(ctx, "u1", bad); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Errorf("code %.20q: want ErrInvalidCode, got %v", bad, err)
		}
	}
}

func TestRecoveryCodes_RegenerateVoidsOldSet(t *testing.T) {
	r := newRecovery(t)
	ctx := context.Background()
	old, err := r.Generate(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := r.Generate(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range old {
		if err := r.Use(ctx, "u1", c); !errors.Is(err, mfa.ErrInvalidCode) {
			t.Fatalf("old code %q after regeneration: want ErrInvalidCode, got %v", c, err)
		}
	}
	if err := r.Use(ctx, "u1", fresh[9]); err != nil {
		t.Fatal(err)
	}
	remaining(t, r, "u1", 9)
}

// The same code sent 20 times at once succeeds exactly once.
func TestRecoveryCodes_ParallelBurstSucceedsOnce(t *testing.T) {
	r := newRecovery(t)
	codes, err := r.Generate(context.Background(), "u1")
	if err != nil {
		t.Fatal(err)
	}
	ok, refused := burst(t, mfa.ErrInvalidCode, func() error { return r.Use(context.Background(), "u1", codes[4]) })
	if ok != 1 || refused != 19 {
		t.Fatalf("succeeded %d, refused %d; want 1 and 19", ok, refused)
	}
	remaining(t, r, "u1", 9)
}
