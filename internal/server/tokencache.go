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
// Memory is bounded: at most verifiedShards × verifiedPerShard entries.
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
	m  map[[32]byte]*token.Claims
}

// get returns raw's verified claims when cached and still valid at now,
// and raw's key for put.
func (c *verifiedCache) get(raw string, now time.Time) (*token.Claims, [32]byte, bool) {
	k := sha256.Sum256([]byte(raw))
	sh := &c.shards[k[0]%verifiedShards]
	sh.mu.Lock()
	cl, ok := sh.m[k]
	sh.mu.Unlock()
	if !ok || !now.Before(cl.ExpiresAt) {
		return nil, k, false
	}
	return cl, k, true
}

// put caches claims under k.
func (c *verifiedCache) put(k [32]byte, cl *token.Claims, now time.Time) {
	sh := &c.shards[k[0]%verifiedShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = make(map[[32]byte]*token.Claims)
	}
	if len(sh.m) >= verifiedPerShard {
		for key, v := range sh.m { // drop the expired, then anything
			if !now.Before(v.ExpiresAt) {
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
	sh.m[k] = cl
}
