package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/nearcache"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// versionTable is goose's bookkeeping table, named for sessiond so that
	// it cannot collide with an application's own goose table in a shared
	// database.
	versionTable = "sessiond_goose_db_version"
	// migrateLockID keys the advisory lock held while migrating (advisory
	// locks are per database): the first 8 bytes of SHA-256("sessiond
	// migrate").
	migrateLockID int64 = 0x5421_4fd0_6aa1_152a
	// sweepBatch is how many expired rows one sweep statement deletes.
	sweepBatch = 1000
)

// Options configures Open. Zero fields take the defaults documented on each.
type Options struct {
	// Now is the store's clock, which judges expiry. Default time.Now.
	Now func() time.Time
	// SweepInterval is how often expired sessions, refresh families and
	// denylist entries are deleted. Default 1m; negative disables the
	// sweeper.
	SweepInterval time.Duration
	// Migrate applies pending schema migrations at Open (store.migrate:
	// auto). When false, Open refuses a database whose schema is not
	// current and names `sessiond migrate` as the fix.
	Migrate bool
	// CacheEntries bounds the near cache of users (see cache.go). Default
	// 100,000; negative disables it.
	CacheEntries int
}

// Store is the PostgreSQL store. It implements session.Backend,
// account.Store, token.KeyStore, refresh.Backend, client.Store,
// oidc.FlowStore and oidc.IdentityStore and is safe for concurrent use, also
// by several processes (nodes) on one database.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time

	users *nearcache.Cache[*account.User]

	stop   context.CancelFunc // ends the sweeper and the listener
	sweepC context.Context
	done   sync.WaitGroup
	once   sync.Once
}

// Open connects to the PostgreSQL database named by dsn (a postgres:// URL
// or keyword/value string as pgx accepts, including pool_* settings),
// checks or applies the schema as opt.Migrate says, and starts the expiry
// sweeper. The Store must be closed with Close.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SweepInterval == 0 {
		opt.SweepInterval = time.Minute
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "sessiond"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s := &Store{pool: pool, now: opt.Now}
	s.sweepC, s.stop = context.WithCancel(context.Background())
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	if opt.Migrate {
		err = s.Migrate(ctx)
	} else {
		err = s.checkSchema(ctx)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	if opt.SweepInterval > 0 {
		s.done.Add(1)
		go s.sweepLoop(opt.SweepInterval)
	}
	if opt.CacheEntries >= 0 {
		s.users = nearcache.New[*account.User](nearcache.Options{MaxEntries: opt.CacheEntries})
		s.users.Suspend() // until the listener is up
		s.done.Add(1)
		go s.listenLoop(s.sweepC, cfg.ConnConfig.Copy())
	}
	return s, nil
}

// provider returns a goose provider over a database/sql view of the pool
// (goose needs database/sql); the caller closes db, which leaves the pool
// open.
func (s *Store) provider() (p *goose.Provider, db interface{ Close() error }, err error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, nil, err
	}
	// Several nodes may start at once: the session locker holds a
	// PostgreSQL advisory lock around the migrations, polling every second
	// for up to five minutes.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrateLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, nil, err
	}
	sdb := stdlib.OpenDBFromPool(s.pool)
	p, err = goose.NewProvider(goose.DialectPostgres, sdb, sub,
		goose.WithSessionLocker(locker), goose.WithTableName(versionTable))
	if err != nil {
		sdb.Close()
		return nil, nil, err
	}
	return p, sdb, nil
}

// Migrate applies every pending schema migration, holding an advisory lock
// so that concurrent callers (several nodes starting at once) wait for each
// other. It is safe to call when the schema is current.
func (s *Store) Migrate(ctx context.Context) error {
	p, db, err := s.provider()
	if err != nil {
		return wrap(ctx, "migrate", err)
	}
	defer db.Close()
	if _, err := p.Up(ctx); err != nil {
		return wrap(ctx, "migrate", err)
	}
	return nil
}

// checkSchema fails unless every embedded migration has been applied.
func (s *Store) checkSchema(ctx context.Context) error {
	p, db, err := s.provider()
	if err != nil {
		return wrap(ctx, "check schema", err)
	}
	defer db.Close()
	pending, err := p.HasPending(ctx)
	if err != nil {
		return wrap(ctx, "check schema", err)
	}
	if pending {
		return errors.New("pgstore: the database schema is not current: run `sessiond migrate` or set store.migrate: auto")
	}
	return nil
}

// Ping checks that PostgreSQL answers (for readiness). It wraps
// session.ErrUnavailable when it does not.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return wrap(ctx, "ping", err)
	}
	return nil
}

// Close stops the sweeper and closes the pool, waiting for connections in
// use to be returned. It is safe to call more than once and always returns
// nil.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.stop()
		s.done.Wait()
		s.pool.Close()
		s.users.Close()
	})
	return nil
}

func (s *Store) sweepLoop(every time.Duration) {
	defer s.done.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.sweepC.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(s.sweepC, every)
			_, _ = s.Sweep(ctx) // a failed sweep is retried at the next tick
			cancel()
		}
	}
}

// sweeps are the statements Sweep runs, each deleting one batch of expired
// rows ($1 the store's time, $2 the batch size): sessions, refresh families
// (their tokens go with them, ON DELETE CASCADE), denylist entries, single
// sign-on flows, account tokens and rate-limit keys past their TAT.
var sweeps = [...]string{
	`DELETE FROM sessions WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM sessions WHERE deadline <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
		AND deadline <= $1`,
	`DELETE FROM families WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM families WHERE deadline <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
		AND deadline <= $1`,
	`DELETE FROM denylist WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM denylist WHERE until <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
		AND until <= $1`,
	`DELETE FROM oidc_flows WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM oidc_flows WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
		AND expires_at <= $1`,
	`DELETE FROM account_tokens WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM account_tokens WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))
		AND expires_at <= $1`,
	// rate_limits.tat is Unix nanoseconds, and $1 has microseconds: a key
	// may outlive its TAT by a microsecond, until the next sweep.
	`DELETE FROM rate_limits WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM rate_limits WHERE tat <= (extract(epoch FROM $1::timestamptz)::numeric * 1000000000)::bigint
		LIMIT $2 FOR UPDATE SKIP LOCKED))
		AND tat <= (extract(epoch FROM $1::timestamptz)::numeric * 1000000000)::bigint`,
}

// Sweep deletes expired sessions, refresh families (with their tokens),
// denylist entries, single sign-on flows, account tokens and rate-limit keys,
// and returns how many rows it deleted (not counting the refresh tokens). It works in batches of 1000 rows, each
// its own short statement, and skips rows that a request has locked, so it
// never makes a request wait. The sweeper calls it; tests may call it directly.
func (s *Store) Sweep(ctx context.Context) (int64, error) {
	var total int64
	for _, q := range sweeps {
		for {
			tag, err := s.pool.Exec(ctx, q, s.now(), sweepBatch)
			if err != nil {
				return total, wrap(ctx, "sweep", err)
			}
			n := tag.RowsAffected()
			total += n
			if n < sweepBatch {
				break
			}
		}
	}
	return total, nil
}

// wrap prefixes err with the operation and makes it carry the sentinels
// callers branch on: context.Canceled when the caller's context was
// canceled, ErrConflict for a unique violation, ErrNotFound for no rows, and
// ErrUnavailable (with context.DeadlineExceeded when that was the cause)
// when PostgreSQL could not be reached, was shutting down or did not answer
// in time.
func wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		err = fmt.Errorf("%w: %w", cerr, err)
	}
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, session.ErrConflict):
		return fmt.Errorf("pgstore: %s: %w", op, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("pgstore: %s: %w: %w", op, session.ErrUnavailable, err)
	case errors.As(err, &pe):
		switch {
		case pe.Code == "23505": // unique_violation
			return fmt.Errorf("pgstore: %s: %w: %w", op, session.ErrConflict, err)
		case unavailableState(pe.Code):
			return fmt.Errorf("pgstore: %s: %w: %w", op, session.ErrUnavailable, err)
		}
		return fmt.Errorf("pgstore: %s: %w", op, err)
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("pgstore: %s: %w", op, session.ErrNotFound)
	}
	// Anything else that is not a server-reported error is a failure to
	// reach or talk to the server (refused or reset connection, closed
	// pool).
	return fmt.Errorf("pgstore: %s: %w: %w", op, session.ErrUnavailable, err)
}

// unavailableState reports SQLSTATEs that mean the server cannot serve now:
// connection exceptions (08), insufficient resources (53), operator
// intervention such as shutdown (57P01-57P05), a statement cancelled by
// statement_timeout (57014) and a read-only standby (25006).
func unavailableState(code string) bool {
	switch {
	case len(code) == 5 && (code[:2] == "08" || code[:2] == "53" || code[:4] == "57P0"):
		return true
	case code == "57014": // query_canceled: statement_timeout on a server too busy
		return true
	case code == "25006": // read_only_sql_transaction: a standby after failover
		return true
	}
	return false
}
