package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func open(t testing.TB, dsn string, opt pgstore.Options) *pgstore.Store {
	t.Helper()
	st, err := pgstore.Open(context.Background(), dsn, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// migrated returns a DSN for a fresh database holding the current schema.
func migrated(t testing.TB) string {
	t.Helper()
	dsn := testenv.Postgres(t)
	st, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Migrate: true, SweepInterval: -1})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	st.Close()
	return dsn
}

func TestConformanceSessions(t *testing.T) {
	dsn := migrated(t)
	storetest.RunSessions(t, func(t *testing.T) session.Backend { return open(t, dsn, pgstore.Options{}) })
}

func TestConformanceUsers(t *testing.T) {
	dsn := migrated(t)
	storetest.RunUsers(t, func(t *testing.T) account.Store { return open(t, dsn, pgstore.Options{}) })
}

// The suite shares one database between its subtests; a store of its own
// per subtest holds as well.
func TestConformanceSessions_DatabasePerSubtest(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) session.Backend {
		return open(t, testenv.Postgres(t), pgstore.Options{Migrate: true})
	})
}

func TestMigrate_ConcurrentNodesApplyOnce(t *testing.T) {
	dsn := testenv.Postgres(t)
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	for i := range nodes {
		wg.Go(func() {
			st, err := pgstore.Open(context.Background(), dsn, pgstore.Options{Migrate: true, SweepInterval: -1})
			if err == nil {
				err = st.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	var applied, distinct int
	if err := c.QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT version_id) FROM sessiond_goose_db_version WHERE version_id > 0").
		Scan(&applied, &distinct); err != nil {
		t.Fatal(err)
	}
	if applied != len(files) || distinct != len(files) {
		t.Fatalf("%d migrations recorded (%d distinct), want each of %d once", applied, distinct, len(files))
	}
}

func TestOpen_WithoutMigrateRefusesOldSchema(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Postgres(t)
	_, err := pgstore.Open(ctx, dsn, pgstore.Options{})
	if err == nil || !strings.Contains(err.Error(), "sessiond migrate") {
		t.Fatalf("open on an empty database without migrate: %v", err)
	}
	st := open(t, dsn, pgstore.Options{Migrate: true})
	if err := st.Migrate(ctx); err != nil { // idempotent
		t.Fatalf("second migrate: %v", err)
	}
	open(t, dsn, pgstore.Options{})
}

// A PostgreSQL that cannot be reached is ErrUnavailable (the server answers
// 503), never ErrNotFound (which would log the user out).
func TestOpen_UnreachableIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgstore.Open(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable", port), pgstore.Options{})
	if !errors.Is(err, session.ErrUnavailable) || errors.Is(err, session.ErrNotFound) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
}

func TestOpen_BadDSN(t *testing.T) {
	_, err := pgstore.Open(context.Background(), "postgres://x:y@[::1", pgstore.Options{})
	if err == nil {
		t.Fatal("bad DSN accepted")
	}
	if strings.Contains(err.Error(), ":y@") {
		t.Fatalf("error shows the password: %v", err)
	}
}

// Two stores on one database are two sessiond nodes: each sees the other's
// writes at once.
func TestTwoNodesSeeEachOther(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	a, b := open(t, dsn, pgstore.Options{}), open(t, dsn, pgstore.Options{})
	now := time.Now()

	s := storetest.NewSession(t, "u-nodes", now, time.Hour)
	if err := a.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, s.ID); err != nil {
		t.Fatalf("node b does not see node a's session: %v", err)
	}
	if err := b.Create(ctx, s); !errors.Is(err, session.ErrConflict) {
		t.Fatalf("node b re-created a live ID: %v", err)
	}
	v, err := b.SetData(ctx, s.ID, []byte(`{"cart":1}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.Get(ctx, s.ID)
	if err != nil || string(got.Data) != `{"cart":1}` || got.DataVersion != v {
		t.Fatalf("node a reads %s v%d (%v), want node b's write v%d", got.Data, got.DataVersion, err, v)
	}
	seen := now.Add(time.Minute).UTC().Truncate(time.Millisecond)
	if err := a.Touch(ctx, s.ID, seen, seen.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Get(ctx, s.ID); got == nil || !got.LastSeenAt.Equal(seen) {
		t.Fatalf("node b does not see node a's touch: %+v", got)
	}

	// Concurrent data merges spread over both nodes: exactly one wins.
	var wins, conflicts atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			_, err := st.SetData(ctx, s.ID, fmt.Appendf(nil, `{"w":%d}`, i), v)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, session.ErrConflict):
				conflicts.Add(1)
			default:
				t.Errorf("set data: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 || conflicts.Load() != 19 {
		t.Fatalf("wins=%d conflicts=%d, want 1 and 19", wins.Load(), conflicts.Load())
	}

	// Logout everywhere on node b ends the session on node a.
	if n, err := b.DeleteByUser(ctx, "u-nodes", ""); err != nil || n != 1 {
		t.Fatalf("delete by user: n=%d err=%v", n, err)
	}
	if _, err := a.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("node a still serves a session node b ended: %v", err)
	}

	// Users: an update on one node is what the other reads next.
	u := &account.User{ID: "user-nodes", Email: "nodes@example.com", CreatedAt: now.UTC().Truncate(time.Millisecond)}
	u.UpdatedAt = u.CreatedAt
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := b.UpdateUser(ctx, u.ID, func(u *account.User) error { u.Disabled = true; u.TokenVersion++; return nil }); err != nil {
		t.Fatal(err)
	}
	got2, err := a.UserByEmail(ctx, u.Email)
	if err != nil || !got2.Disabled || got2.TokenVersion != 1 {
		t.Fatalf("node a reads %+v (%v)", got2, err)
	}
	if got2.Roles == nil {
		t.Fatal("nil roles read back; want empty")
	}
}

// Concurrent updates of one user from two nodes serialise (FOR UPDATE) and
// none is lost.
func TestTwoNodesUpdateUserNoLostUpdates(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	a, b := open(t, dsn, pgstore.Options{}), open(t, dsn, pgstore.Options{})
	u := &account.User{ID: "user-x", Email: "x@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 40 {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Go(func() {
			if _, err := st.UpdateUser(ctx, u.ID, func(u *account.User) error { u.FailedLogins++; return nil }); err != nil {
				t.Errorf("update: %v", err)
			}
		})
	}
	wg.Wait()
	got, err := b.UserByID(ctx, u.ID)
	if err != nil || got.FailedLogins != 40 {
		t.Fatalf("failed logins %d (%v), want 40", got.FailedLogins, err)
	}
	// Taking another user's email in an update is ErrConflict, and nothing
	// is written.
	v := &account.User{ID: "user-y", Email: "y@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := a.CreateUser(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateUser(ctx, v.ID, func(v *account.User) error { v.Email = u.Email; v.OrgID = "o"; return nil }); !errors.Is(err, account.ErrConflict) {
		t.Fatalf("update to a taken email: want ErrConflict, got %v", err)
	}
	if got, _ := a.UserByID(ctx, v.ID); got.Email != "y@example.com" || got.OrgID != "" {
		t.Fatalf("failed update was written: %+v", got)
	}
	// A duplicate ID is ErrConflict too.
	if err := a.CreateUser(ctx, &account.User{ID: v.ID, Email: "z@example.com"}); !errors.Is(err, account.ErrConflict) {
		t.Fatalf("duplicate id: want ErrConflict, got %v", err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration)     { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Now().UTC().Truncate(time.Millisecond)} }
func count(t *testing.T, dsn string) int { return countWhere(t, dsn, "true") }

func countWhere(t *testing.T, dsn, where string) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM sessions WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Expiry follows the injected clock, and Create replaces an expired row
// with the same ID while refusing a live one.
func TestExpiryInjectedClock(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := open(t, migrated(t), pgstore.Options{Now: clk.Now, SweepInterval: -1})
	s := storetest.NewSession(t, "u-clock", clk.Now(), time.Hour)
	s.IdleExpiresAt = s.CreatedAt.Add(10 * time.Minute)
	if err := st.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	clk.Add(9 * time.Minute)
	if err := st.Touch(ctx, s.ID, clk.Now(), clk.Now().Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Add(9 * time.Minute) // 18 min: alive only thanks to the touch
	if _, err := st.Get(ctx, s.ID); err != nil {
		t.Fatalf("touched session: %v", err)
	}
	// A touch never extends beyond the absolute expiry.
	if err := st.Touch(ctx, s.ID, clk.Now(), clk.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	clk.Add(43 * time.Minute) // 61 min
	if _, err := st.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("past absolute expiry: want ErrNotFound, got %v", err)
	}
	for _, op := range []func() error{
		func() error { return st.Touch(ctx, s.ID, clk.Now(), clk.Now().Add(time.Hour)) },
		func() error { return st.Delete(ctx, s.ID) },
		func() error { _, err := st.SetData(ctx, s.ID, nil, 0); return err },
	} {
		if err := op(); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("op on expired session: want ErrNotFound, got %v", err)
		}
	}
	// Same ID again, now live: the expired row is replaced.
	s2 := storetest.NewSession(t, "u-other", clk.Now(), time.Hour)
	s2.ID = s.ID
	if err := st.Create(ctx, s2); err != nil {
		t.Fatalf("create over an expired row: %v", err)
	}
	got, err := st.Get(ctx, s.ID)
	if err != nil || got.UserID != "u-other" || got.DataVersion != 0 {
		t.Fatalf("replaced session: %+v %v", got, err)
	}
	if err := st.Create(ctx, s2); !errors.Is(err, session.ErrConflict) {
		t.Fatalf("create over a live row: want ErrConflict, got %v", err)
	}
	// A session without an idle expiry lives until its absolute one.
	s3 := storetest.NewSession(t, "u-noidle", clk.Now(), time.Hour)
	s3.IdleExpiresAt = time.Time{}
	if err := st.Create(ctx, s3); err != nil {
		t.Fatal(err)
	}
	clk.Add(59 * time.Minute)
	if got, err := st.Get(ctx, s3.ID); err != nil || !got.IdleExpiresAt.IsZero() {
		t.Fatalf("session without idle expiry: %+v %v", got, err)
	}
}

func TestSweepDeletesExpiredInBatches(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	clk := newClock()
	st := open(t, dsn, pgstore.Options{Now: clk.Now, SweepInterval: -1})
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	// 2500 rows expiring in a minute, 10 in a day.
	if _, err := c.Exec(ctx, `INSERT INTO sessions (id, hash, user_id, created_at, last_seen_at, idle_expires_at, expires_at)
		SELECT 'x' || g, '\x00', 'u', $1, $1, $2, $2 FROM generate_series(1, 2500) g`,
		clk.Now(), clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := st.Create(ctx, storetest.NewSession(t, fmt.Sprint("keep", i), clk.Now(), 24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: n=%d err=%v", n, err)
	}
	clk.Add(2 * time.Minute)
	if n, err := st.Sweep(ctx); err != nil || n != 2500 {
		t.Fatalf("sweep: n=%d err=%v, want 2500", n, err)
	}
	if n := count(t, dsn); n != 10 {
		t.Fatalf("%d rows left, want 10", n)
	}
}

// The sweeper never waits for a row a request holds: it skips it and takes
// it next time.
func TestSweepSkipsLockedRows(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	clk := newClock()
	st := open(t, dsn, pgstore.Options{Now: clk.Now, SweepInterval: -1})
	s := storetest.NewSession(t, "u-lock", clk.Now(), time.Minute)
	if err := st.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	clk.Add(2 * time.Minute)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", s.ID); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if n, err := st.Sweep(sctx); err != nil || n != 0 {
		t.Fatalf("sweep with the row locked: n=%d err=%v (it must not wait)", n, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := st.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after unlock: n=%d err=%v", n, err)
	}
}

func TestSweeperRunsInBackgroundAndStopsOnClose(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	st, err := pgstore.Open(ctx, dsn, pgstore.Options{SweepInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := storetest.NewSession(t, "u-bg", time.Now(), 300*time.Millisecond)
	if err := st.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for count(t, dsn) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not delete the expired session")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := st.Ping(ctx); err == nil {
		t.Fatal("ping after close succeeded")
	}
}

func TestDataRoundTrip(t *testing.T) {
	ctx := context.Background()
	st := open(t, migrated(t), pgstore.Options{})
	// Bytes are kept exactly (bytea, not jsonb, which would reformat).
	for _, data := range [][]byte{nil, {}, []byte(`{ "b":1,  "a":[2] }`), []byte("{\"\\u0000\":\"x\"}")} {
		s := storetest.NewSession(t, "u-data", time.Now(), time.Hour)
		s.Data, s.DataVersion = data, 5
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, s.ID)
		if err != nil || string(got.Data) != string(data) || got.DataVersion != 5 {
			t.Fatalf("data %q: got %q v%d (%v)", data, got.Data, got.DataVersion, err)
		}
	}
}

func TestCanceledContext(t *testing.T) {
	st := open(t, migrated(t), pgstore.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checks := map[string]error{
		"touch":  st.Touch(ctx, "x", time.Now(), time.Now()),
		"delete": st.Delete(ctx, "x"),
		"ping":   st.Ping(ctx),
	}
	_, checks["set data"] = st.SetData(ctx, "x", nil, 0)
	_, checks["delete by user"] = st.DeleteByUser(ctx, "u", "")
	_, checks["by email"] = st.UserByEmail(ctx, "x@example.com")
	_, checks["update user"] = st.UpdateUser(ctx, "x", func(*account.User) error { return nil })
	_, checks["sweep"] = st.Sweep(ctx)
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) || errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: want context.Canceled, got %v", op, err)
		}
	}
	// The pool is still usable afterwards.
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
