package testenv_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/internal/testenv"
)

func pgConnect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestPostgres_FreshDatabaseDroppedAtCleanup(t *testing.T) {
	ctx := context.Background()
	var name string
	t.Run("inner", func(t *testing.T) {
		dsn := testenv.Postgres(t)
		c := pgConnect(t, dsn)
		if err := c.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "sessiond_test_") {
			t.Fatalf("database %q", name)
		}
		var tables int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("fresh database has %d tables", tables)
		}
		// A second call gives another database.
		if other := testenv.Postgres(t); other == dsn {
			t.Fatal("two calls returned the same database")
		}
	})
	if t.Skipped() || name == "" {
		return
	}
	base := os.Getenv("SESSIOND_TEST_POSTGRES")
	if base == "" {
		base = testenv.DefaultPostgres
	}
	var exists bool
	if err := pgConnect(t, base).QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s survived the test's cleanup", name)
	}
}

// postmasters lists the PIDs of postgres processes whose command line names dir.
func postmasters(t *testing.T, dir string) []string {
	t.Helper()
	out, _ := exec.Command("pgrep", "-f", dir).Output()
	return strings.Fields(string(out))
}

func TestStartPostgres_StopStartCleanup(t *testing.T) {
	if _, err := exec.LookPath("pgrep"); err != nil {
		t.Skip("pgrep not installed")
	}
	ctx := context.Background()
	var dir string
	t.Run("inner", func(t *testing.T) {
		srv := testenv.StartPostgres(t)
		dir = srv.Dir
		if !strings.Contains(srv.DSN, ":"+strconv.Itoa(srv.Port)+"/") {
			t.Fatalf("DSN %q does not name port %d", srv.DSN, srv.Port)
		}
		c := pgConnect(t, srv.DSN)
		if _, err := c.Exec(ctx, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)"); err != nil {
			t.Fatal(err)
		}
		srv.Stop(t)
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := pgx.Connect(cctx, srv.DSN); err == nil {
			t.Fatal("connected to a stopped server")
		}
		if pids := postmasters(t, dir); len(pids) != 0 {
			t.Fatalf("postgres processes after Stop: %v", pids)
		}
		srv.Start(t)
		var v int
		if err := pgConnect(t, srv.DSN).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
			t.Fatalf("after restart: v=%d err=%v", v, err)
		}
		srv.Crash(t)
		srv.Start(t) // recovers from the WAL
		if err := pgConnect(t, srv.DSN).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
			t.Fatalf("after crash: v=%d err=%v", v, err)
		}
		srv.Restart(t)
		if err := pgConnect(t, srv.DSN).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != 42 {
			t.Fatalf("after Restart: v=%d err=%v", v, err)
		}
	})
	if t.Skipped() || dir == "" {
		return
	}
	if pids := postmasters(t, dir); len(pids) != 0 {
		t.Fatalf("stray postgres processes after cleanup: %v", pids)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("directory %s survived cleanup: %v", dir, err)
	}
}
