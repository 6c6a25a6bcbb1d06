package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
)

// TestBruteForceRule18_PostgresLimiter: rule 18 through PostgreSQL,
// including a parallel burst taking at most the remaining allowance. Each
// limiter is a node of its own (its own Store and pool) on one database, so
// the burst also runs over several connections.
func TestBruteForceRule18_PostgresLimiter(t *testing.T) {
	dsn := migrated(t)
	storetest.RunLimiter(t, func(t *testing.T, r ratelimit.Rate, now func() time.Time) account.Limiter {
		return open(t, dsn, pgstore.Options{Now: now}).Limiter(r, "suite")
	})
}

// TestLimiter_SharedAcrossNodesAndSwept: two nodes on one database count
// together, and the sweeper deletes keys past their TAT.
func TestLimiter_SharedAcrossNodesAndSwept(t *testing.T) {
	dsn := migrated(t)
	c := storetest.NewClock()
	rate := ratelimit.Rate{N: 4, Per: time.Minute}
	a := open(t, dsn, pgstore.Options{Now: c.Now})
	b := open(t, dsn, pgstore.Options{Now: c.Now})
	la, lb := a.Limiter(rate, "nodes"), b.Limiter(rate, "nodes")
	ctx := context.Background()
	for i, l := range []*pgstore.Limiter{la, lb, la, lb} {
		if wait, err := l.Reserve(ctx, "ip:192.0.2.1"); err != nil || wait != 0 {
			t.Fatalf("attempt %d: wait %v, %v", i+1, wait, err)
		}
	}
	if wait, err := la.Reserve(ctx, "ip:192.0.2.1"); err != nil || wait != 15*time.Second {
		t.Fatalf("after 4 attempts over two nodes: wait %v, %v; want 15s", wait, err)
	}
	c.Advance(time.Minute + time.Microsecond) // the sweep's clock has microseconds
	if _, err := a.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM rate_limits`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rate-limit rows left after their TAT and a sweep (%v)", n, err)
	}
}
