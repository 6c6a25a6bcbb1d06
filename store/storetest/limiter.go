package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/ratelimit"
)

// Clock is a fake clock the limiter suite moves by hand. It starts a little
// ahead of the real time, because Redis expires limiter keys at their TAT by
// its own clock: a clock behind it would see keys vanish early.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock at the next second plus a sub-millisecond part.
func NewClock() *Clock {
	c := &Clock{}
	c.ns.Store(time.Now().Truncate(time.Second).Add(time.Second + 123456789*time.Nanosecond).UnixNano())
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// RunLimiter runs the limiter conformance suite: the GCRA answers of package
// ratelimit, and Reserve taking a slot atomically, so that a parallel burst
// gets at most the remaining allowance. newLimiter returns a fresh limiter
// allowing r on the clock now; limiters of one test may share a backend as
// long as the suite's keys do not collide (the suite names them uniquely).
func RunLimiter(t *testing.T, newLimiter func(t *testing.T, r ratelimit.Rate, now func() time.Time) account.Limiter) {
	ctx := context.Background()
	reserve := func(t *testing.T, l account.Limiter, key string) time.Duration {
		t.Helper()
		wait, err := l.Reserve(ctx, key)
		if err != nil {
			t.Fatalf("Reserve(%q): %v", key, err)
		}
		return wait
	}

	t.Run("BurstThenExactRetryAfter", func(t *testing.T) {
		t.Parallel()
		c := NewClock()
		l := newLimiter(t, ratelimit.Rate{N: 5, Per: time.Minute}, c.Now) // T = 12s
		key := uniq("burst")
		for i := range 5 {
			if wait := reserve(t, l, key); wait != 0 {
				t.Fatalf("attempt %d of a burst of 5: wait %v, want 0", i+1, wait)
			}
		}
		for range 3 { // refused attempts take nothing
			if wait := reserve(t, l, key); wait != 12*time.Second {
				t.Fatalf("after the burst: wait %v, want 12s", wait)
			}
		}
		c.Advance(5 * time.Second)
		if wait := reserve(t, l, key); wait != 7*time.Second {
			t.Fatalf("5s later: wait %v, want 7s", wait)
		}
		c.Advance(7 * time.Second)
		if wait := reserve(t, l, key); wait != 0 {
			t.Fatalf("one interval later: wait %v, want 0", wait)
		}
		if wait := reserve(t, l, key); wait != 12*time.Second {
			t.Fatalf("after the recovered attempt: wait %v, want 12s", wait)
		}
		if wait := reserve(t, l, uniq("other")); wait != 0 {
			t.Fatalf("another key: wait %v, want 0", wait)
		}
	})

	t.Run("RefundGivesBackOneAttempt", func(t *testing.T) {
		t.Parallel()
		c := NewClock()
		l := newLimiter(t, ratelimit.Rate{N: 3, Per: time.Minute}, c.Now)
		key := uniq("refund")
		for range 3 {
			reserve(t, l, key)
		}
		if err := l.Refund(ctx, key); err != nil {
			t.Fatal(err)
		}
		if wait := reserve(t, l, key); wait != 0 {
			t.Fatalf("after a refund: wait %v, want 0", wait)
		}
		if wait := reserve(t, l, key); wait == 0 {
			t.Fatal("a refund gave back more than one attempt")
		}
		// Refunding everything leaves the key as new; refunding a key never
		// reserved does nothing.
		for range 3 {
			if err := l.Refund(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Refund(ctx, uniq("never")); err != nil {
			t.Fatalf("Refund(unknown key): %v", err)
		}
		for i := range 3 {
			if wait := reserve(t, l, key); wait != 0 {
				t.Fatalf("attempt %d after refunding all: wait %v", i+1, wait)
			}
		}
	})

	t.Run("ResetForgets", func(t *testing.T) {
		t.Parallel()
		c := NewClock()
		l := newLimiter(t, ratelimit.Rate{N: 2, Per: time.Minute}, c.Now)
		key := uniq("reset")
		reserve(t, l, key)
		reserve(t, l, key)
		if reserve(t, l, key) == 0 {
			t.Fatal("not limited after 2 attempts")
		}
		if err := l.Reset(ctx, key); err != nil {
			t.Fatal(err)
		}
		if wait := reserve(t, l, key); wait != 0 {
			t.Fatalf("after Reset: wait %v, want 0", wait)
		}
		if err := l.Reset(ctx, uniq("never")); err != nil {
			t.Fatalf("Reset(unknown key): %v", err)
		}
	})

	// The defect of issue 13: a check made before the (slow) attempt and a
	// record made after it let a whole burst through. Of N parallel
	// reservations with K remaining, exactly K may proceed.
	t.Run("ParallelBurstTakesAtMostTheRemainingAllowance", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct{ n, used, burst int }{
			{10, 9, 20}, // 9 failures in a minute with a limit of 10, then 20 at once
			{10, 0, 50},
			{100, 60, 64},
		} {
			c := NewClock()
			l := newLimiter(t, ratelimit.Rate{N: tc.n, Per: time.Minute}, c.Now)
			key := uniq("par")
			for range tc.used {
				if wait := reserve(t, l, key); wait != 0 {
					t.Fatalf("setup: wait %v", wait)
				}
			}
			var allowed, refused atomic.Int64
			start := make(chan struct{})
			var wg sync.WaitGroup
			for range tc.burst {
				wg.Go(func() {
					<-start
					wait, err := l.Reserve(ctx, key)
					switch {
					case err != nil:
						t.Error(err)
					case wait == 0:
						allowed.Add(1)
					default:
						refused.Add(1)
					}
				})
			}
			close(start)
			wg.Wait()
			if want := min(tc.burst, tc.n-tc.used); allowed.Load() != int64(want) || refused.Load() != int64(tc.burst-want) {
				t.Fatalf("limit %d with %d used: a burst of %d got %d through and %d refused, want %d through",
					tc.n, tc.used, tc.burst, allowed.Load(), refused.Load(), want)
			}
		}
	})

	t.Run("ParallelRefundsAndReservesAllCount", func(t *testing.T) {
		t.Parallel()
		c := NewClock()
		r := ratelimit.Rate{N: 100, Per: time.Hour}
		l := newLimiter(t, r, c.Now)
		key := uniq("mix")
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 10 { // each goroutine keeps 5 of its 10
					if _, err := l.Reserve(ctx, key); err != nil {
						t.Error(err)
					}
				}
				for range 5 {
					if err := l.Refund(ctx, key); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		for i := range r.N - 40 {
			if wait := reserve(t, l, key); wait != 0 {
				t.Fatalf("blocked after %d of the %d remaining: a refund or reservation was lost", i, r.N-40)
			}
		}
		if wait := reserve(t, l, key); wait == 0 {
			t.Fatalf("more than %d attempts allowed", r.N)
		}
	})

	t.Run("Unlimited", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, ratelimit.Rate{}, nil)
		key := uniq("unl")
		for range 100 {
			if wait := reserve(t, l, key); wait != 0 {
				t.Fatalf("unlimited: wait %v", wait)
			}
		}
		if err := l.Refund(ctx, key); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t, ratelimit.Rate{N: 1, Per: time.Minute}, nil)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := l.Reserve(cctx, "k"); err == nil {
			t.Fatal("Reserve with a canceled context: no error (must fail closed)")
		}
		if err := l.Refund(cctx, "k"); err == nil {
			t.Fatal("Refund with a canceled context: no error")
		}
	})
}
