package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/store/pgstore"
)

// waitFor polls cond for up to 5 s: the near cache has a 1-minute TTL, so
// only a notification can make it true this soon.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < 5*time.Second {
		if cond() {
			t.Logf("%s: seen after %v", what, time.Since(start).Round(time.Microsecond))
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
	t.Fatalf("%s: not seen within 5s", what)
}

func warmUser(t *testing.T, st *pgstore.Store, id string) {
	t.Helper()
	waitFor(t, "listener up and user cached", func() bool {
		_, _ = st.UserByID(context.Background(), id)
		return st.CacheStats()["users"].Hits > 0
	})
}

// A user changed by another node — or by anything at all writing the users
// table, such as a script or psql — leaves every node's near cache at once,
// through the trigger's NOTIFY.
func TestNearCache_UserChangesReachEveryNode(t *testing.T) {
	dsn := migrated(t)
	ctx := context.Background()
	a := open(t, dsn, pgstore.Options{SweepInterval: -1})
	b := open(t, dsn, pgstore.Options{SweepInterval: -1})
	u := &account.User{ID: "u1", Email: "a@example.com", PasswordHash: "x", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := a.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	warmUser(t, a, "u1")

	if _, err := b.UpdateUser(ctx, "u1", func(u *account.User) error { u.TokenVersion = 5; return nil }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "token version bumped on the other node", func() bool {
		got, err := a.UserByID(ctx, "u1")
		return err == nil && got.TokenVersion == 5
	})

	warmUser(t, a, "u1")
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `UPDATE users SET disabled = true WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "user disabled by plain SQL", func() bool {
		got, err := a.UserByID(ctx, "u1")
		return err == nil && got.Disabled
	})

	// The node that writes reads its own write with no wait at all.
	warmUser(t, a, "u1")
	if _, err := a.UpdateUser(ctx, "u1", func(u *account.User) error { u.Roles = []string{"admin"}; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.UserByID(ctx, "u1"); !got.HasRole("admin") {
		t.Fatalf("own write not read back: roles %v", got.Roles)
	}
	// Callers may change what they get; the cache must not see it.
	got, _ := a.UserByID(ctx, "u1")
	got.Roles[0] = "changed"
	if again, _ := a.UserByID(ctx, "u1"); again.Roles[0] != "admin" {
		t.Fatalf("a caller's change reached the cache: %v", again.Roles)
	}
}

// While PostgreSQL is down the listener is gone: the cache must not serve
// what it held (a change made as the server came back could be missed), and
// once the listener is back it serves again.
func TestNearCache_SuspendedWhileListenerIsDown(t *testing.T) {
	srv := testenv.StartPostgres(t)
	dsn := srv.DSN
	ctx := context.Background()
	st := open(t, dsn, pgstore.Options{Migrate: true, SweepInterval: -1})
	u := &account.User{ID: "u1", Email: "a@example.com", PasswordHash: "x", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	warmUser(t, st, "u1")
	srv.Stop(t)
	waitFor(t, "cache bypassed once the listener is lost", func() bool {
		_, err := st.UserByID(ctx, "u1")
		return err != nil
	})
	srv.Start(t)
	hits := st.CacheStats()["users"].Hits
	waitFor(t, "cache serving again after recovery", func() bool {
		_, _ = st.UserByID(ctx, "u1")
		return st.CacheStats()["users"].Hits > hits
	})
}
