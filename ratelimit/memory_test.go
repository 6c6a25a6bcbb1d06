package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is an injectable clock that tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(t0.UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func mustReserve(t testing.TB, m *Memory, key string) time.Duration {
	t.Helper()
	d, err := m.Reserve(context.Background(), key)
	if err != nil {
		t.Fatalf("Reserve(%q): %v", key, err)
	}
	return d
}

// TestBruteForceRule18_MemoryAccountCap: rule 18, at most 100 consecutive
// failures per account (NIST §3.2.2) with the rate the server uses for it.
func TestBruteForceRule18_MemoryAccountCap(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := NewMemory(Rate{N: 100, Per: time.Hour}, c.Now)
	defer m.Close()
	allowed := 0
	for range 1000 {
		if mustReserve(t, m, "acct:alice") == 0 {
			allowed++
		}
	}
	if allowed != 100 {
		t.Fatalf("%d consecutive failures allowed, want 100", allowed)
	}
}

func TestMemory_Reset(t *testing.T) {
	t.Parallel()
	c := newClock()
	m := NewMemory(Rate{N: 2, Per: time.Minute}, c.Now)
	defer m.Close()
	mustReserve(t, m, "k")
	mustReserve(t, m, "k")
	if mustReserve(t, m, "k") == 0 {
		t.Fatal("not blocked after 2 failures")
	}
	if err := m.Reset(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if wait := mustReserve(t, m, "k"); wait != 0 {
		t.Fatalf("after Reset: Reserve = %v, want 0", wait)
	}
	if err := m.Reset(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if err := m.Reset(context.Background(), "never-seen"); err != nil {
		t.Fatalf("Reset(unknown key): %v", err)
	}
	if n := m.len(); n != 0 {
		t.Fatalf("%d keys stored after Reset, want 0", n)
	}
}

func TestMemory_Unlimited(t *testing.T) {
	t.Parallel()
	for _, r := range []Rate{{}, {N: 3}, {N: 10, Per: 5}} {
		m := NewMemory(r, nil)
		for range 1000 {
			if wait := mustReserve(t, m, "k"); wait != 0 {
				t.Fatalf("%+v: Reserve = %v, want 0", r, wait)
			}
		}
		if n := m.len(); n != 0 {
			t.Fatalf("%+v: %d keys stored, want 0", r, n)
		}
		m.Close()
	}
}

func TestMemory_ExpiryBoundsMemory(t *testing.T) {
	t.Parallel()
	c := newClock()
	r := Rate{N: 3, Per: time.Minute}
	m := NewMemory(r, c.Now)
	defer m.Close()

	// A spray of distinct keys, each failing once, spread over an hour: each
	// lives 20s (one interval), so only the recent ones may stay.
	const keys = 200_000
	for i := range keys {
		mustReserve(t, m, fmt.Sprintf("ip:%d", i))
		if i%1000 == 999 {
			c.Advance(time.Minute / 2) // 1000 keys every 30s
		}
	}
	// Live keys: those of the last 20s (the final batch); the bound is
	// about twice the live count plus minSweep per shard.
	if n, limit := m.len(), 2*1000+numShards*minSweep; n > limit {
		t.Fatalf("%d keys stored for ~1000 live ones, want at most %d", n, limit)
	}
	// A refund that takes a key back to its TAT drops it.
	mustReserve(t, m, "x")
	if err := m.Refund(context.Background(), "x"); err != nil {
		t.Fatal(err)
	}
	s := m.shard("x")
	s.mu.Lock()
	_, ok := s.tats["x"]
	s.mu.Unlock()
	if ok {
		t.Fatal("key still stored after its only attempt was refunded")
	}
}

func TestMemory_Concurrent(t *testing.T) {
	t.Parallel()
	c := newClock()
	r := Rate{N: 1000, Per: time.Hour} // T = 3.6s
	m := NewMemory(r, c.Now)
	defer m.Close()

	const goroutines, perG = 16, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := context.Background()
			for i := range perG {
				key := "shared"
				if i%2 == 1 {
					key = fmt.Sprintf("own:%d", g)
				}
				if _, err := m.Reserve(ctx, key); err != nil {
					t.Error(err)
				}
				if i%10 == 9 {
					_ = m.Reset(ctx, fmt.Sprintf("own:%d", (g+1)%goroutines))
				}
			}
		})
	}
	wg.Wait()
	// No reservation on "shared" was lost to a race: after its 400
	// concurrent ones, exactly N−400 more fill the burst.
	failures := goroutines * perG / 2
	for range r.N - failures {
		if wait := mustReserve(t, m, "shared"); wait != 0 {
			t.Fatalf("blocked before %d attempts: wait %v", r.N, wait)
		}
	}
	if wait := mustReserve(t, m, "shared"); wait != r.Interval() {
		t.Fatalf("after exactly %d attempts: Reserve = %v, want %v", r.N, wait, r.Interval())
	}
}

func TestMemory_ContextAndClose(t *testing.T) {
	t.Parallel()
	m := NewMemory(Rate{N: 1, Per: time.Minute}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Reserve(ctx, "k"); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "ratelimit: reserve: ") {
		t.Fatalf("Reserve(cancelled) error = %v", err)
	}
	if err := m.Refund(ctx, "k"); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "ratelimit: refund: ") {
		t.Fatalf("Refund(cancelled) error = %v", err)
	}
	if err := m.Reset(ctx, "k"); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "ratelimit: reset: ") {
		t.Fatalf("Reset(cancelled) error = %v", err)
	}

	mustReserve(t, m, "k")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if n := m.len(); n != 0 {
		t.Fatalf("%d keys kept after Close", n)
	}
	bg := context.Background()
	if _, err := m.Reserve(bg, "k"); err == nil {
		t.Fatal("Reserve after Close: no error")
	}
	if err := m.Refund(bg, "k"); err == nil {
		t.Fatal("Refund after Close: no error")
	}
	if err := m.Reset(bg, "k"); err == nil {
		t.Fatal("Reset after Close: no error")
	}
}

func BenchmarkMemory_Reserve(b *testing.B) {
	m := NewMemory(Rate{N: 100, Per: time.Hour}, nil)
	defer m.Close()
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("acct:user%d@example.com", i)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			key := keys[i%len(keys)]
			i++
			if _, err := m.Reserve(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
