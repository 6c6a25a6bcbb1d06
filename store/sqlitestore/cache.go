package sqlitestore

import (
	"context"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/nearcache"
)

// caches are the near caches in front of the hot reads: a session by ID, a
// user by ID and a denylist key (its until, in ms; 0 when not denied).
//
// Writes made through this Store invalidate the keys they change once they
// commit. Writes made by another process on the same file (the sessiond CLI
// revoking a session, a second server) are seen through the writer
// connection's PRAGMA data_version, which changes exactly when another
// connection has committed: the watcher polls it every Options.ChangePoll and
// flushes everything when it moves. If the poll fails the caches are
// suspended (bypassed) until it succeeds again.
type caches struct {
	sessions *nearcache.Cache[*session.Session]
	users    *nearcache.Cache[*account.User]
	denied   *nearcache.Cache[int64]
}

func newCaches(opt Options) caches {
	if opt.CacheEntries < 0 {
		return caches{}
	}
	o := nearcache.Options{MaxEntries: opt.CacheEntries}
	return caches{
		sessions: nearcache.New[*session.Session](o),
		users:    nearcache.New[*account.User](o),
		denied:   nearcache.New[int64](o),
	}
}

func (c caches) enabled() bool { return c.sessions != nil }

// close stops the caches' background goroutines (Store.Close).
func (c caches) close() {
	c.sessions.Close()
	c.users.Close()
	c.denied.Close()
}

func (c caches) flush() {
	c.sessions.Flush()
	c.users.Flush()
	c.denied.Flush()
}

func (c caches) suspend() {
	c.sessions.Suspend()
	c.users.Suspend()
	c.denied.Suspend()
}

func (c caches) resume() {
	c.sessions.Resume()
	c.users.Resume()
	c.denied.Resume()
}

// CacheStats reports the near caches' counters (for metrics).
func (s *Store) CacheStats() map[string]nearcache.Stats {
	if !s.cache.enabled() {
		return nil
	}
	return map[string]nearcache.Stats{
		"sessions": s.cache.sessions.Stats(),
		"users":    s.cache.users.Stats(),
		"denylist": s.cache.denied.Stats(),
	}
}

// watchLoop polls the writer connection's data_version (see caches).
func (s *Store) watchLoop(every time.Duration, last int64) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var v int64
		err := s.w.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
		cancel()
		switch {
		case err != nil:
			if !s.cache.sessions.Suspended() {
				s.cache.suspend()
			}
			last = -1
		case last == -1:
			// First reading, or the first after a failure: nothing written
			// before it was cached while suspended, so start afresh.
			s.cache.resume()
			last = v
		case v != last:
			s.cache.flush()
			last = v
		}
	}
}

// cachedSession returns a copy of the cached session id if it is still valid
// at now.
func (s *Store) cachedSession(id string, now time.Time) (*session.Session, bool) {
	ss, ok := s.cache.sessions.Get(id)
	if !ok || !ss.Valid(now) {
		return nil, false
	}
	return copySession(ss), true
}

// copySession copies what a caller may change. Hash is only ever compared,
// so it is shared.
func copySession(ss *session.Session) *session.Session {
	c := *ss
	if ss.Data != nil {
		c.Data = append([]byte(nil), ss.Data...)
	}
	return &c
}
