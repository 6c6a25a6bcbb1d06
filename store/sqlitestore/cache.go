package sqlitestore

import (
	"context"
	"errors"
	"io"
	"os"
	"sync/atomic"
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
// connection has committed, and flushes everything when it moves. So that an
// idle server is idle, the watcher first reads the WAL-index header from the
// -shm file (one pread; it changes on every commit) and asks data_version
// only when that moved, or once per changeVerify. It polls every
// Options.ChangePoll for hotWindow after any sign of activity (a commit
// seen, or, on Linux, inotify reporting a write to the -wal file by any
// process), and every Options.ChangePollIdle otherwise: a write by another
// process reaches the caches within ChangePoll of its commit when its WAL
// write was reported, and within ChangePollIdle at worst. If the pragma fails the caches are
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

// walHeaderSize is the size of the two copies of the WAL-index header at
// the start of the -shm file. SQLite rewrites them on every commit (the
// change counter, the last frame, the checksums; new salts when the WAL
// restarts), and compares them itself to decide whether its page cache is
// stale, which is what PRAGMA data_version reports.
const walHeaderSize = 96

// changeVerify is how often the watcher asks PRAGMA data_version even when
// the WAL-index header has not moved: the header is a cheap detector, the
// pragma stays the authority.
const changeVerify = time.Second

// watch is the change watcher's state (see caches). Only watchLoop (and
// tests, through poll) touch it.
type watch struct {
	shm      *os.File // the WAL index; nil when it cannot be read
	hdr      [walHeaderSize]byte
	hdrOK    bool
	last     int64     // last data_version; -1 when unknown (caches suspended)
	verified time.Time // when data_version was last read
	reads    atomic.Int64
}

// headerMoved reads the WAL-index header and reports whether it differs
// from the previous reading; ok is false when it cannot be read, and the
// caller must then ask data_version.
func (w *watch) headerMoved() (moved, ok bool) {
	if w.shm == nil {
		return false, false
	}
	var b [walHeaderSize]byte
	if n, err := w.shm.ReadAt(b[:], 0); n != len(b) || (err != nil && !errors.Is(err, io.EOF)) {
		w.hdrOK = false
		return false, false
	}
	moved = !w.hdrOK || b != w.hdr
	w.hdr, w.hdrOK = b, true
	return moved, true
}

// poll runs one check at now: the WAL-index header first, then, when it
// moved (or could not be read, or changeVerify passed), PRAGMA
// data_version, flushing the caches when that moved. The header is read
// before the pragma, so a commit between the two is seen by the pragma or,
// at the latest, by the next poll. It reports whether anything was
// committed (by any process) since the previous poll.
func (s *Store) poll(now time.Time) (active bool) {
	w := &s.watch
	moved, ok := w.headerMoved()
	if ok && !moved && w.last != -1 && now.Sub(w.verified) < changeVerify {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	var v int64
	err := s.w.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
	cancel()
	w.reads.Add(1)
	w.verified = now
	switch {
	case err != nil:
		if !s.cache.sessions.Suspended() {
			s.cache.suspend()
		}
		w.last = -1
		w.hdrOK = false
	case w.last == -1:
		// First reading, or the first after a failure: nothing written
		// before it was cached while suspended, so start afresh.
		s.cache.resume()
		w.last = v
	case v != w.last:
		s.cache.flush()
		w.last = v
		return true
	}
	return moved
}

// hotWindow is how long the watcher keeps polling every ChangePoll after
// the last sign of activity (a commit seen, or a write to the WAL reported
// by watchWAL): longer than a commit's fsync takes.
const hotWindow = time.Second

// nextPoll is the watcher's adaptive interval: ChangePoll (fast) until
// hotUntil, then idle.
func nextPoll(now, hotUntil time.Time, fast, idle time.Duration) time.Duration {
	if now.Before(hotUntil) {
		return fast
	}
	return idle
}

// watchLoop polls for writes by other processes (see caches and poll),
// polling at once and then fast when wake reports a write to the WAL.
func (s *Store) watchLoop(fast, idle time.Duration, wake <-chan struct{}) {
	defer s.done.Done()
	hotUntil := time.Now().Add(hotWindow)
	t := time.NewTimer(fast)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-wake:
			hotUntil = time.Now().Add(hotWindow)
			t.Stop() // Go 1.23 timers: no stale tick is left in t.C
		case <-t.C:
		}
		now := time.Now()
		if s.poll(now) {
			hotUntil = now.Add(hotWindow)
		}
		t.Reset(nextPoll(now, hotUntil, fast, idle))
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
