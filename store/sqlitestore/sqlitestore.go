package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configures Open. Zero fields take the defaults documented on each.
type Options struct {
	// Now is the store's clock, which judges expiry. Default time.Now.
	Now func() time.Time
	// SweepInterval is how often expired rows are deleted. Default 1m;
	// negative disables the sweeper.
	SweepInterval time.Duration
	// BusyTimeout is how long a write waits for another process's lock.
	// Default 10s.
	BusyTimeout time.Duration
	// NoMigrate skips applying migrations at open (the schema must be
	// current; see Migrate).
	NoMigrate bool
	// CacheEntries bounds each near cache (sessions, users, denylist keys;
	// see caches). Default 100,000; negative disables the caches.
	CacheEntries int
	// ChangePoll is how often the store checks whether another process
	// wrote to the file right after a commit (by any process). Default 5ms.
	ChangePoll time.Duration
	// ChangePollIdle is how often it checks while the file is quiet, and
	// so the worst case for a write by another process (the CLI revoking a
	// session) to go unseen by the caches; on Linux such a write wakes the
	// store through inotify and is seen within ChangePoll of its commit.
	// Default 1s where the inotify watch works, 50ms otherwise; never below
	// ChangePoll.
	ChangePollIdle time.Duration

	noWatch bool // tests: no watcher goroutine; they call poll themselves
}

// Store is the SQLite store. It is safe for concurrent use, also by several
// processes on one file.
type Store struct {
	w, r *sql.DB // one writer connection, a pool of readers
	now  func() time.Time

	// Prepared hot-path reads (parsing is half the cost of a lookup).
	getSession, userByID, deniedOneKey, deniedTwoKeys, denyUntil *sql.Stmt

	cache     caches
	watch     watch
	closeWake func() error // stops watchWAL; nil without it

	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

// Open opens (creating if needed, with mode 0600 in a 0700 directory) the
// database file at path and applies pending migrations.
func Open(ctx context.Context, path string, opt Options) (*Store, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.BusyTimeout == 0 {
		opt.BusyTimeout = 10 * time.Second
	}
	if opt.SweepInterval == 0 {
		opt.SweepInterval = time.Minute
	}
	if opt.ChangePoll <= 0 {
		opt.ChangePoll = 5 * time.Millisecond
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	f.Close()

	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opt.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()

	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	r, err := sql.Open("sqlite", dsn)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlitestore: open: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	s := &Store{w: w, r: r, now: opt.Now, stop: make(chan struct{})}
	if err := w.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	if !opt.NoMigrate {
		if err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if opt.SweepInterval > 0 {
		s.done.Add(1)
		go s.sweepLoop(opt.SweepInterval)
	}
	if s.cache = newCaches(opt); s.cache.enabled() {
		// The baseline is read before anything can be cached, so no write
		// by another process can fall between the two.
		if err := s.w.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&s.watch.last); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlitestore: open %s: data_version: %w", path, err)
		}
		// Without the -shm file (it exists once a connection is open in
		// WAL mode) every poll asks data_version.
		if f, err := os.Open(path + "-shm"); err == nil {
			s.watch.shm = f
		}
		s.watch.verified = time.Now()
		if opt.noWatch {
			return s, nil
		}
		wake, closeWake, err := watchWAL(path)
		idle := opt.ChangePollIdle
		switch {
		case err == nil:
			s.closeWake = closeWake
			if idle <= 0 {
				idle = time.Second
			}
		case idle <= 0:
			idle = 50 * time.Millisecond
		}
		s.done.Add(1)
		go s.watchLoop(opt.ChangePoll, max(idle, opt.ChangePoll), wake)
	}
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{
		{&s.getSession, `SELECT ` + sessionCols + ` FROM sessions WHERE id = ? AND deadline > ?`},
		{&s.userByID, `SELECT ` + userCols + ` FROM users WHERE id = ?`},
		{&s.deniedOneKey, `SELECT count(*) FROM denylist WHERE until > ? AND key IN (?)`},
		{&s.deniedTwoKeys, `SELECT count(*) FROM denylist WHERE until > ? AND key IN (?, ?)`},
		{&s.denyUntil, `SELECT coalesce(max(until), 0) FROM denylist WHERE key = ?`},
	} {
		st, err := s.r.PrepareContext(ctx, p.q)
		if err != nil {
			return fmt.Errorf("sqlitestore: prepare: %w", err)
		}
		*p.st = st
	}
	return nil
}

// Migrate applies every pending schema migration. It is safe to call when
// the schema is current.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, sub)
	if err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlitestore: migrate: %w", err)
	}
	return nil
}

// Ping checks that the database answers (for readiness).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlitestore: ping: %w", err)
	}
	return nil
}

// Close stops the sweeper and closes the database.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.stop) })
	s.done.Wait()
	s.cache.close()
	if s.closeWake != nil {
		s.closeWake()
	}
	if s.watch.shm != nil {
		s.watch.shm.Close()
	}
	for _, st := range []*sql.Stmt{s.getSession, s.userByID, s.deniedOneKey, s.deniedTwoKeys, s.denyUntil} {
		if st != nil {
			st.Close()
		}
	}
	return errors.Join(s.w.Close(), s.r.Close())
}

func (s *Store) sweepLoop(every time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_, _ = s.Sweep(ctx)
			cancel()
		}
	}
}

// Sweep deletes expired rows and returns how many it deleted. The sweeper
// calls it; tests may call it directly.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	var total int64
	for _, q := range []string{
		"DELETE FROM sessions WHERE deadline <= ?",
		"DELETE FROM families WHERE deadline <= ?",
		"DELETE FROM denylist WHERE until <= ?",
		"DELETE FROM account_tokens WHERE expires_at <= ?",
	} {
		res, err := s.w.ExecContext(ctx, q, ms(s.now()))
		if err != nil {
			return total, fmt.Errorf("sqlitestore: sweep: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
