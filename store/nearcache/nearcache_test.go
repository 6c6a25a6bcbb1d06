package nearcache

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCache_PutGetInvalidate(t *testing.T) {
	c := New[int](Options{})
	c.Put("a", 1, c.Generation())
	if v, ok := c.Get("a"); !ok || v != 1 {
		t.Fatalf("Get(a) = %d, %v; want 1, true", v, ok)
	}
	c.Invalidate("a")
	if _, ok := c.Get("a"); ok {
		t.Fatal("Get(a) hit after Invalidate")
	}
	c.Put("b", 2, c.Generation())
	c.Flush()
	if _, ok := c.Get("b"); ok {
		t.Fatal("Get(b) hit after Flush")
	}
	if s := c.Stats(); s.Hits != 1 || s.Misses != 2 {
		t.Fatalf("Stats = %+v; want 1 hit, 2 misses", s)
	}
}

// A value loaded before an invalidation must not be cached after it: that
// is how a revoked session would outlive its revocation.
func TestCache_PutAfterInvalidationIsDropped(t *testing.T) {
	c := New[string](Options{})
	gen := c.Generation() // reader starts loading
	c.Invalidate("k")     // writer commits and invalidates
	c.Put("k", "stale", gen)
	if v, ok := c.Get("k"); ok {
		t.Fatalf("stale value %q cached after invalidation", v)
	}
	gen = c.Generation()
	c.Flush()
	c.Put("k", "stale", gen)
	if _, ok := c.Get("k"); ok {
		t.Fatal("stale value cached after Flush")
	}
}

func TestCache_SuspendBypassesUntilResume(t *testing.T) {
	c := New[int](Options{})
	c.Put("a", 1, c.Generation())
	c.Suspend()
	if _, ok := c.Get("a"); ok {
		t.Fatal("suspended cache served an entry from before the suspension")
	}
	c.Put("a", 2, c.Generation())
	if _, ok := c.Get("a"); ok {
		t.Fatal("suspended cache accepted a Put")
	}
	if !c.Suspended() {
		t.Fatal("Suspended() = false")
	}
	c.Resume()
	if _, ok := c.Get("a"); ok {
		t.Fatal("resumed cache served an entry it never should have kept")
	}
	c.Put("a", 3, c.Generation())
	if v, ok := c.Get("a"); !ok || v != 3 {
		t.Fatalf("Get after Resume = %d, %v", v, ok)
	}
}

func TestCache_NilIsDisabled(t *testing.T) {
	var c *Cache[int]
	c.Put("a", 1, c.Generation())
	if _, ok := c.Get("a"); ok {
		t.Fatal("nil cache hit")
	}
	c.Invalidate("a")
	c.Flush()
	c.Suspend()
	c.Resume()
	if c.Suspended() || c.Stats() != (Stats{}) {
		t.Fatal("nil cache has state")
	}
}

// Readers race a writer that bumps a version and invalidates after each
// "commit". Once the writer has finished, no reader may see an old version:
// the generation check must have dropped every stale Put.
func TestCache_ConcurrentReadersNeverKeepStaleValues(t *testing.T) {
	c := New[int64](Options{})
	var committed atomic.Int64 // the backing store
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, ok := c.Get("k"); ok {
					continue
				}
				gen := c.Generation()
				v := committed.Load()
				c.Put("k", v, gen)
			}
		}()
	}
	for i := int64(1); i <= 2000; i++ {
		committed.Store(i)
		c.Invalidate("k")
	}
	close(stop)
	wg.Wait()
	if v, ok := c.Get("k"); ok && v != committed.Load() {
		t.Fatalf("cache holds version %d after the writer committed %d", v, committed.Load())
	}
}

// BenchmarkCache_Hit is a hit on a warm cache. Budget: 0 allocs/op.
func BenchmarkCache_Hit(b *testing.B) {
	c := New[*int](Options{})
	v := 1
	c.Put("session-id-0123456789ab", &v, c.Generation())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok := c.Get("session-id-0123456789ab"); !ok {
				b.Fatal("miss")
			}
		}
	})
}

// TestCache_CloseStopsItsGoroutine: a closed store leaves no goroutine behind
// (otter's clean-up otherwise lives until the cache is garbage collected,
// which made the stores' leak checks depend on GC timing).
func TestCache_CloseStopsItsGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	c := New[int](Options{MaxEntries: 10})
	c.Put("k", 1, c.Generation())
	if runtime.NumGoroutine() <= before {
		t.Fatal("expected otter's clean-up goroutine after New")
	}
	c.Close()
	c.Close() // twice is fine
	// The goroutine has signalled its end when Close returns; give it the
	// moment it needs to return (bounded; no timing is asserted).
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before New", runtime.NumGoroutine(), before)
		}
		time.Sleep(time.Millisecond)
	}
	if v, ok := c.Get("k"); !ok || v != 1 {
		t.Fatalf("Get after Close = %v, %v; want 1, true", v, ok)
	}
	var nilCache *Cache[int]
	nilCache.Close()
}
