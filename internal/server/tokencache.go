package server

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/sessiond/sessiond/token"
)

// verifiedCache remembers access tokens whose signature and claims were
// verified, keyed by SHA-256 of the token text, until they expire. Only
// verification is skipped on a hit: revocation (the jti and sid denylist,
// the user's token version, a disabled user) is checked on every request.
// Each entry remembers the key set's removal count (token.Keys.Removals)
// when it was verified; once a key has left the key set (retired at once,
// or pruned) older entries miss, so a retired key's tokens are verified
// again, and refused. Memory is bounded: at most verifiedShards × verifiedPerShard entries.
type verifiedCache struct {
	shards [verifiedShards]verifiedShard
}

const (
	verifiedShards   = 16
	verifiedPerShard = 4096
)

// verifiedShard is one lock's share of the cache.
type verifiedShard struct {
	mu sync.Mutex
	m  map[[32]byte]verifiedEntry
}

// verifiedEntry is a cached verification: the claims and the key set's
// removal count when they were verified.
type verifiedEntry struct {
	claims   *token.Claims
	removals uint64
}

// get returns raw's verified claims when cached, still valid at now and
// verified while the key set's removal count was removals, and raw's key
// for put.
func (c *verifiedCache) get(raw string, now time.Time, removals uint64) (*token.Claims, [32]byte, bool) {
	k := sha256.Sum256([]byte(raw))
	sh := &c.shards[k[0]%verifiedShards]
	sh.mu.Lock()
	e, ok := sh.m[k]
	sh.mu.Unlock()
	if !ok || e.removals != removals || !now.Before(e.claims.ExpiresAt) {
		return nil, k, false
	}
	return e.claims, k, true
}

// put caches claims under k, verified at the key set's removal count
// removals (read before verifying).
func (c *verifiedCache) put(k [32]byte, cl *token.Claims, now time.Time, removals uint64) {
	sh := &c.shards[k[0]%verifiedShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[[32]byte]verifiedEntry)
	}
	if len(sh.m) >= verifiedPerShard {
		for key, v := range sh.m { // drop the expired, then anything
			if !now.Before(v.claims.ExpiresAt) {
				delete(sh.m, key)
			}
		}
		for key := range sh.m {
			if len(sh.m) < verifiedPerShard {
				break
			}
			delete(sh.m, key)
		}
	}
	sh.m[k] = verifiedEntry{claims: cl, removals: removals}
}
