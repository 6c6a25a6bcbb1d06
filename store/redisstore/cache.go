package redisstore

import (
	"context"
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

// writing marks keys before a write is sent (a read racing the write must
// not cache what it reads either); the writer marks them again when the
// write returns, so the window runs from the reply.
func (s *Store) writing(keys ...string) { s.recent.mark(keys...) }

// cachedGet is GET key through the near cache, unless this process wrote
// key within ownWriteWindow.
func (s *Store) cachedGet(ctx context.Context, key string) rueidis.RedisResult {
	get := s.c.B().Get().Key(key)
	if s.recent.has(key) {
		return s.c.Do(ctx, get.Build())
	}
	return s.c.DoCache(ctx, get.Cache(), cacheTTL)
}

// cachedGets is cachedGet for several keys (named by name(id)), in one
// round trip per node on a miss.
func (s *Store) cachedGets(ctx context.Context, ids []string, name func(string) string) []rueidis.RedisResult {
	cmds := make([]rueidis.CacheableTTL, len(ids))
	for i, id := range ids {
		key := name(id)
		if s.recent.has(key) {
			out := make([]rueidis.RedisResult, len(ids))
			for j, id := range ids {
				out[j] = s.cachedGet(ctx, name(id))
			}
			return out
		}
		cmds[i] = rueidis.CT(s.c.B().Get().Key(key).Cache(), cacheTTL)
	}
	return s.c.DoMultiCache(ctx, cmds...)
}
