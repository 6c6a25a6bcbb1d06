package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

const (
	numShards = 64  // power of two
	minSweep  = 256 // entries a shard may hold before its first sweep
)

var errClosed = errors.New("limiter closed")

// Memory is an in-process failed-attempt limiter: each key may fail r.N
// times in a burst, then once per r.Interval(). It keeps one theoretical
// arrival time (TAT) per key in a sharded map and forgets a key once its TAT
// has passed: a write to a shard sweeps it whenever the shard has doubled in
// size since its last sweep, so memory stays within about twice the number
// of live keys plus a small constant, with no background goroutine. A key is
// live for at most r.Per after its last reserved attempt. Keys are kept
// verbatim, so callers should bound their length.
//
// Memory is not shared between processes: use a shared backend when several
// nodes must count together. Create it with NewMemory. It is safe for
// concurrent use.
type Memory struct {
	rate   Rate
	now    func() time.Time
	seed   maphash.Seed
	closed atomic.Bool
	shards [numShards]memShard
}

type memShard struct {
	mu      sync.Mutex
	tats    map[string]int64 // key → TAT in Unix nanoseconds; always > now or about to be swept
	sweepAt int              // len(tats) at which the next write sweeps
	_       [40]byte         // keep shards on separate cache lines
}

// NewMemory returns a Memory limiting each key to r. The zero Rate (or any
// Rate whose Interval is not positive) means unlimited: Reserve always
// returns 0 and nothing is stored. now is the clock; nil means time.Now.
func NewMemory(r Rate, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{rate: r, now: now, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].tats = make(map[string]int64)
		m.shards[i].sweepAt = minSweep
	}
	return m
}

func (m *Memory) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)&(numShards-1)]
}

func (m *Memory) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.closed.Load() {
		return errClosed
	}
	return nil
}

func (m *Memory) unlimited() bool { return m.rate.Interval() <= 0 }

// Reserve takes one attempt for key and returns 0, or, when key is over its
// rate, takes nothing and returns how long to wait. The check and the take
// are one step under the key's shard lock, so of any number of parallel
// calls at most the remaining allowance get 0. It returns an error only when
// ctx has ended or m is closed; callers should then refuse the attempt (fail
// closed).
func (m *Memory) Reserve(ctx context.Context, key string) (time.Duration, error) {
	if err := m.usable(ctx); err != nil {
		return 0, fmt.Errorf("ratelimit: reserve: %w", err)
	}
	if m.unlimited() {
		return 0, nil
	}
	now := m.now()
	nowNS := now.UnixNano()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	var tat time.Time
	if ns, ok := s.tats[key]; ok && ns > nowNS {
		tat = time.Unix(0, ns)
	}
	if wait := Check(tat, now, m.rate); wait > 0 {
		return wait, nil
	}
	s.tats[key] = Record(tat, now, m.rate).UnixNano()
	if len(s.tats) >= s.sweepAt {
		s.sweep(nowNS)
	}
	return 0, nil
}

// Refund gives back one attempt that Reserve took for key (see Unrecord),
// typically because it succeeded and only failures count. It returns an
// error only when ctx has ended or m is closed.
func (m *Memory) Refund(ctx context.Context, key string) error {
	if err := m.usable(ctx); err != nil {
		return fmt.Errorf("ratelimit: refund: %w", err)
	}
	if m.unlimited() {
		return nil
	}
	nowNS := m.now().UnixNano()
	s := m.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, ok := s.tats[key]
	if !ok {
		return nil
	}
	if ns = Unrecord(time.Unix(0, ns), m.rate).UnixNano(); ns > nowNS {
		s.tats[key] = ns
	} else {
		delete(s.tats, key)
	}
	return nil
}

// sweep drops every entry whose TAT has passed. s.mu must be held.
func (s *memShard) sweep(nowNS int64) {
	for k, ns := range s.tats {
		if ns <= nowNS {
			delete(s.tats, k)
		}
	}
	s.sweepAt = max(minSweep, 2*len(s.tats))
}

// Reset forgets key's failed attempts, typically after a successful login.
// It returns an error only when ctx has ended or m is closed.
func (m *Memory) Reset(ctx context.Context, key string) error {
	if err := m.usable(ctx); err != nil {
		return fmt.Errorf("ratelimit: reset: %w", err)
	}
	s := m.shard(key)
	s.mu.Lock()
	delete(s.tats, key)
	s.mu.Unlock()
	return nil
}

// Close releases m's memory. Afterwards Reserve, Refund and Reset return an
// error. Close is idempotent, always returns nil, and is safe to call
// concurrently with the other methods.
func (m *Memory) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.tats = make(map[string]int64) // drop the old buckets too
		s.sweepAt = minSweep
		s.mu.Unlock()
	}
	return nil
}

// len returns the number of stored keys, for tests.
func (m *Memory) len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.tats)
		s.mu.Unlock()
	}
	return n
}
