package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/store/nearcache"
)

// usersChannel is the LISTEN/NOTIFY channel a trigger on the users table
// announces every changed user ID on (migration 00008).
const usersChannel = "sessiond_users"

// The near cache of users (UserByID is on every authenticated request: the
// token version, roles and the disabled flag) is kept coherent by
// PostgreSQL itself: a trigger NOTIFYs every change, whoever makes it, and
// each Store LISTENs on a connection of its own. Until that connection is
// listening (at start, after it breaks) the cache is suspended: reads go to
// the database, and a lost listener never leaves a stale user behind.
//
// Sessions, refresh families and the denylist in PostgreSQL are not cached;
// deployments that want them near put sessions in Redis.

// listenLoop keeps a LISTEN connection open and applies notifications.
// Why a connection failed does not matter here: the pool's own errors
// surface on requests and in readiness. A connection that got as far as
// LISTEN resets the backoff.
func (s *Store) listenLoop(ctx context.Context, cfg *pgx.ConnConfig) {
	defer s.done.Done()
	const first = 50 * time.Millisecond
	backoff := first
	for {
		listened := s.listen(ctx, cfg)
		s.users.Suspend()
		if listened {
			backoff = first
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// listen runs one LISTEN session until it fails or ctx ends, and reports
// whether it was listening at all.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig) bool {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+usersChannel); err != nil {
		return false
	}
	// Anything changed before LISTEN took effect was never cached (the
	// cache was suspended); from here on every change is announced.
	s.users.Resume()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true
		}
		if n.Channel == usersChannel {
			s.users.Invalidate(n.Payload)
		}
	}
}

// cachedUser returns a copy of the cached user id.
func (s *Store) cachedUser(id string) (*account.User, bool) {
	u, ok := s.users.Get(id)
	if !ok {
		return nil, false
	}
	return u.Clone(), true
}

// CacheStats reports the near cache's counters (for metrics).
func (s *Store) CacheStats() map[string]nearcache.Stats {
	if s.users == nil {
		return nil
	}
	return map[string]nearcache.Stats{"users": s.users.Stats()}
}
