package redisstore

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// The near cache is rueidis's server-assisted client-side cache: session
// records and denylist entries read with DoCache stay in memory, per
// connection, until Redis pushes an invalidation for the key (any write, by
// any node, including expiry) or the connection ends (the whole cache of
// that connection is dropped: a node cut off from Redis never trusts it).
//
// One gap remains for the node that writes: Redis sends the invalidation
// for a key this connection changed after the command's reply, so for an
// instant after a successful write our own cache may still hold the old
// record. recentWrites closes it: keys this process wrote are read past the
// cache for ownWriteWindow after the write (the push arrives within a
// round trip; the window only has to outlast it).
const ownWriteWindow = time.Second

// recentWrites is the set of keys written by this process within
// ownWriteWindow.
type recentWrites struct {
	m     sync.Map // key → time.Time (mark expiry)
	marks atomic.Uint32
}

// mark records that key is being (or was just) written.
func (r *recentWrites) mark(keys ...string) {
	until := time.Now().Add(ownWriteWindow)
	for _, k := range keys {
		r.m.Store(k, until)
	}
	if r.marks.Add(1)%1024 == 0 {
		now := time.Now()
		r.m.Range(func(k, v any) bool {
			if now.After(v.(time.Time)) {
				r.m.CompareAndDelete(k, v)
			}
			return true
		})
	}
}

// has reports whether key was written within the window.
func (r *recentWrites) has(key string) bool {
	v, ok := r.m.Load(key)
	if !ok {
		return false
	}
	if time.Now().After(v.(time.Time)) {
		r.m.CompareAndDelete(key, v)
		return false
	}
	return true
}

// ownWrite marks keys as written by this process; use it as
// defer s.ownWrite(keys...)(). The mark is set before the write is sent (a
// read racing the write must not cache what it reads either) and set again
// when the write returns, so that the window runs from the reply.
func (s *Store) ownWrite(keys ...string) func() {
	s.recent.mark(keys...)
	return func() { s.recent.mark(keys...) }
}

// cachedGet is GET key through the near cache, unless this process wrote
// key within ownWriteWindow.
func (s *Store) cachedGet(ctx context.Context, key string) rueidis.RedisResult {
	get := s.c.B().Get().Key(key)
	if s.recent.has(key) {
		return s.c.Do(ctx, get.Build())
	}
	return s.c.DoCache(ctx, get.Cache(), cacheTTL)
}

// cachedGets is cachedGet for several keys, in one round trip per node on
// a miss.
func (s *Store) cachedGets(ctx context.Context, keys []string) []rueidis.RedisResult {
	if slices.ContainsFunc(keys, s.recent.has) {
		out := make([]rueidis.RedisResult, len(keys))
		for i, k := range keys {
			out[i] = s.cachedGet(ctx, k)
		}
		return out
	}
	cmds := make([]rueidis.CacheableTTL, len(keys))
	for i, k := range keys {
		cmds[i] = rueidis.CT(s.c.B().Get().Key(k).Cache(), cacheTTL)
	}
	return s.c.DoMultiCache(ctx, cmds...)
}
