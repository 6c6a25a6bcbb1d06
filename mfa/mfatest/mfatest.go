// Package mfatest is the conformance suite of the mfa store interfaces, in
// the style of store/storetest: every backend that keeps second-factor state
// calls RunSteps and RunRecoveryCodes with a constructor for a fresh, empty
// store, so the single-use guarantees hold alike on every backend.
package mfatest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessiond/sessiond/mfa"
)

// burst is how many goroutines race for one single-use thing.
const burst = 20

// uniq returns a user ID no other subtest uses, so stores may be shared.
func uniq(prefix string) string { return prefix + "-" + rand.Text() }

// hashes returns n distinct 32-byte hashes.
func hashes(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		h := sha256.Sum256([]byte(rand.Text()))
		out[i] = h[:]
	}
	return out
}

// race runs f burst times at once and returns how many calls reported true;
// an error fails the test.
func race(t *testing.T, f func() (bool, error)) int {
	t.Helper()
	var wins atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range burst {
		wg.Go(func() {
			<-start
			ok, err := f()
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	return int(wins.Load())
}

// RunSteps runs the StepStore conformance suite.
func RunSteps(t *testing.T, newStore func(t *testing.T) mfa.StepStore) {
	ctx := context.Background()
	advance := func(t *testing.T, st mfa.StepStore, user string, step int64, want bool) {
		t.Helper()
		got, err := st.AdvanceTOTPStep(ctx, user, step)
		if err != nil || got != want {
			t.Fatalf("AdvanceTOTPStep(%s, %d) = %v, %v; want %v", user, step, got, err, want)
		}
	}

	t.Run("OnlyForward", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u, other := uniq("u"), uniq("u")
		advance(t, st, u, 59_000_000, true)
		advance(t, st, u, 59_000_000, false)
		advance(t, st, u, 58_999_999, false)
		advance(t, st, u, 59_000_001, true)
		advance(t, st, other, 58_999_999, true) // users are independent
		advance(t, st, u, 59_000_001, false)
	})

	t.Run("SameStepExactlyOneWinner", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("u")
		advance(t, st, u, 100, true)
		if n := race(t, func() (bool, error) { return st.AdvanceTOTPStep(ctx, u, 101) }); n != 1 {
			t.Fatalf("%d of %d concurrent advances to one step won, want exactly 1", n, burst)
		}
	})

	t.Run("ConcurrentStepsKeepTheHighest", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("u")
		var next atomic.Int64
		var topWon atomic.Bool
		race(t, func() (bool, error) {
			step := 1000 + next.Add(1) // 1001 .. 1000+burst
			ok, err := st.AdvanceTOTPStep(ctx, u, step)
			if step == 1000+burst && ok {
				topWon.Store(true)
			}
			return ok, err
		})
		if !topWon.Load() {
			t.Fatal("the highest step lost a race it must win")
		}
		advance(t, st, u, 1000+burst, false)
		advance(t, st, u, 1001, false)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := st.AdvanceTOTPStep(cctx, uniq("u"), 1); err == nil {
			t.Fatal("advance with a canceled context: want an error")
		}
	})
}

// RunRecoveryCodes runs the RecoveryStore conformance suite.
func RunRecoveryCodes(t *testing.T, newStore func(t *testing.T) mfa.RecoveryStore) {
	ctx := context.Background()
	left := func(t *testing.T, st mfa.RecoveryStore, user string, want int) {
		t.Helper()
		n, err := st.RecoveryCodesLeft(ctx, user)
		if err != nil || n != want {
			t.Fatalf("RecoveryCodesLeft(%s) = %d, %v; want %d", user, n, err, want)
		}
	}
	use := func(t *testing.T, st mfa.RecoveryStore, user string, h []byte, want bool) {
		t.Helper()
		ok, err := st.UseRecoveryCode(ctx, user, h)
		if err != nil || ok != want {
			t.Fatalf("UseRecoveryCode(%s) = %v, %v; want %v", user, ok, err, want)
		}
	}
	replace := func(t *testing.T, st mfa.RecoveryStore, user string, hs [][]byte) {
		t.Helper()
		if err := st.ReplaceRecoveryCodes(ctx, user, hs); err != nil {
			t.Fatalf("ReplaceRecoveryCodes(%s): %v", user, err)
		}
	}

	t.Run("UseOnceAndCount", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u, other := uniq("u"), uniq("u")
		left(t, st, u, 0)
		use(t, st, u, hashes(1)[0], false) // no codes is no error
		set := hashes(10)
		replace(t, st, u, set)
		replace(t, st, other, hashes(3))
		left(t, st, u, 10)
		use(t, st, u, set[3], true)
		use(t, st, u, set[3], false)
		use(t, st, other, set[4], false) // another user's code is not this user's
		use(t, st, u, hashes(1)[0], false)
		left(t, st, u, 9)
		left(t, st, other, 3)
	})

	t.Run("ReplaceVoidsOldSet", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("u")
		old, fresh := hashes(10), hashes(10)
		replace(t, st, u, old)
		use(t, st, u, old[0], true)
		replace(t, st, u, fresh)
		left(t, st, u, 10)
		for _, h := range old[1:] {
			use(t, st, u, h, false)
		}
		use(t, st, u, fresh[9], true)
		left(t, st, u, 9)
		replace(t, st, u, nil)
		left(t, st, u, 0)
		use(t, st, u, fresh[0], false)
	})

	t.Run("SameCodeExactlyOneWinner", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("u")
		set := hashes(10)
		replace(t, st, u, set)
		if n := race(t, func() (bool, error) { return st.UseRecoveryCode(ctx, u, set[5]) }); n != 1 {
			t.Fatalf("%d of %d concurrent uses of one code succeeded, want exactly 1", n, burst)
		}
		left(t, st, u, 9)
	})

	t.Run("CanceledContext", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := st.UseRecoveryCode(cctx, uniq("u"), hashes(1)[0]); err == nil {
			t.Fatal("use with a canceled context: want an error")
		}
		if err := st.ReplaceRecoveryCodes(cctx, uniq("u"), hashes(1)); err == nil {
			t.Fatal("replace with a canceled context: want an error")
		}
	})
}
