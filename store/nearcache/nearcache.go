// Package nearcache is the in-process cache the stores put in front of their
// hot reads (a session by ID, a user by ID, a denylist key), so that a
// request can be authenticated without a round trip while a revocation
// anywhere is still seen at once.
//
// A Cache is only as good as its invalidations, and the store that owns it
// supplies them: it calls Invalidate after every committed write of a key
// (so the process that wrote reads its own writes) and Flush when it learns,
// from its change feed, that another process wrote (SQLite: the writer
// connection's PRAGMA data_version; PostgreSQL: LISTEN/NOTIFY). While the
// change feed is down the owner calls Suspend: the cache is emptied and
// bypassed until Resume, so a lost feed costs speed, never correctness
// (fail closed).
//
// The read–invalidate–populate race (a reader loads the old value, a writer
// commits and invalidates, then the reader stores the old value) is closed by
// a generation counter: take Generation before reading the backing store and
// pass it to Put, which drops the value if any invalidation happened since.
package nearcache

import (
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// Options configures New. Zero fields take the documented defaults.
type Options struct {
	// MaxEntries bounds the cache (W-TinyLFU eviction). Default 100,000.
	MaxEntries int
	// TTL bounds how long an entry lives without being invalidated: a
	// backstop only, coherence comes from invalidation. Default 1 minute.
	TTL time.Duration
}

// Cache is a bounded, invalidatable cache from string keys to V. A nil
// *Cache is a valid, disabled cache: every Get misses, Put is dropped.
// Values are shared between callers: V must be treated as immutable (store
// pointers to values the owner clones on the way out).
type Cache[V any] struct {
	c         *otter.Cache[string, V]
	gen       atomic.Uint64
	suspended atomic.Bool
	hits      atomic.Uint64
	misses    atomic.Uint64
}

// New returns an empty cache.
func New[V any](opt Options) *Cache[V] {
	if opt.MaxEntries <= 0 {
		opt.MaxEntries = 100_000
	}
	if opt.TTL <= 0 {
		opt.TTL = time.Minute
	}
	return &Cache[V]{c: otter.Must(&otter.Options[string, V]{
		MaximumSize:      opt.MaxEntries,
		ExpiryCalculator: otter.ExpiryWriting[string, V](opt.TTL),
	})}
}

// Close stops the cache's background clean-up goroutine at once (otherwise
// it ends only when the cache is garbage collected). The cache keeps
// answering afterwards; a nil cache is a no-op. Safe to call more than once.
func (c *Cache[V]) Close() {
	if c != nil {
		c.c.StopAllGoroutines()
	}
}

// Get returns the cached value of key.
func (c *Cache[V]) Get(key string) (V, bool) {
	if c == nil || c.suspended.Load() {
		var zero V
		return zero, false
	}
	v, ok := c.c.GetIfPresent(key)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return v, ok
}

// Generation is the invalidation count; read it before loading a value from
// the backing store and hand it to Put.
func (c *Cache[V]) Generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// Put caches v under key, unless an invalidation happened since gen was
// read (the value may predate it) or the cache is suspended.
func (c *Cache[V]) Put(key string, v V, gen uint64) {
	if c == nil || c.suspended.Load() || c.gen.Load() != gen {
		return
	}
	c.c.Set(key, v)
	// An invalidation between the check above and Set would have removed
	// nothing; check again now that the value is visible.
	if c.gen.Load() != gen || c.suspended.Load() {
		c.c.Invalidate(key)
	}
}

// Invalidate drops keys. Call it after the write that changed them commits.
func (c *Cache[V]) Invalidate(keys ...string) {
	if c == nil {
		return
	}
	c.gen.Add(1)
	for _, k := range keys {
		c.c.Invalidate(k)
	}
}

// Flush drops every entry (another process changed something, or a write
// touched keys the owner cannot name).
func (c *Cache[V]) Flush() {
	if c == nil {
		return
	}
	c.gen.Add(1)
	c.c.InvalidateAll()
}

// Suspend flushes the cache and bypasses it until Resume: the owner can no
// longer learn of other processes' writes.
func (c *Cache[V]) Suspend() {
	if c == nil {
		return
	}
	c.suspended.Store(true)
	c.Flush()
}

// Resume re-enables a suspended cache; call it once the change feed is
// back (anything written meanwhile was never cached).
func (c *Cache[V]) Resume() {
	if c == nil {
		return
	}
	c.Flush()
	c.suspended.Store(false)
}

// Suspended reports whether the cache is bypassed.
func (c *Cache[V]) Suspended() bool { return c != nil && c.suspended.Load() }

// Stats are a cache's counters since it was made.
type Stats struct {
	Hits, Misses uint64
	Entries      int
}

// Stats returns the cache's counters.
func (c *Cache[V]) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Entries: c.c.EstimatedSize()}
}
