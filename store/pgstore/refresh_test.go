package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
	"github.com/sessiond/sessiond/token"
)

func TestConformanceRefresh(t *testing.T) {
	dsn := migrated(t)
	storetest.RunRefresh(t, func(t *testing.T) refresh.Backend { return open(t, dsn, pgstore.Options{}) })
}

func TestConformanceKeys(t *testing.T) {
	dsn := migrated(t)
	storetest.RunKeys(t, func(t *testing.T) token.KeyStore { return open(t, dsn, pgstore.Options{}) })
}

func TestConformanceClients(t *testing.T) {
	dsn := migrated(t)
	storetest.RunClients(t, func(t *testing.T) client.Store { return open(t, dsn, pgstore.Options{}) })
}

// query runs one statement on its own connection and scans one row.
func query(t *testing.T, dsn, sql string, args []any, dest ...any) {
	t.Helper()
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.QueryRow(context.Background(), sql, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func countRows(t *testing.T, dsn, table, where string, args ...any) int {
	t.Helper()
	var n int
	query(t, dsn, "SELECT count(*) FROM "+table+" WHERE "+where, args, &n)
	return n
}

// Rotations of one token spread over two nodes: in every round exactly one
// wins, and the winner's successor is the family's next live token.
func TestRotate_TwoNodesExactlyOneWinner(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	a, b := open(t, dsn, pgstore.Options{}), open(t, dsn, pgstore.Options{})
	now := time.Now()
	f, live := storetest.NewFamily(t, "u-rot", now, time.Hour)
	if err := a.CreateFamily(ctx, f, live); err != nil {
		t.Fatal(err)
	}
	const rounds, callers = 5, 20
	for round := 1; round <= rounds; round++ {
		var wins, reused atomic.Int32
		var winner atomic.Pointer[refresh.Token]
		var wg sync.WaitGroup
		for i := range callers {
			st := a
			if i%2 == 1 {
				st = b
			}
			wg.Go(func() {
				next := storetest.NewRefreshToken(t, f.ID, int64(round))
				fam, err := st.Rotate(ctx, live.ID, next, []byte("sealed"), now, now.Add(time.Hour))
				switch {
				case err == nil:
					wins.Add(1)
					winner.Store(next)
					if fam.Generation != int64(round) {
						t.Errorf("round %d: winner sees generation %d", round, fam.Generation)
					}
				case errors.Is(err, refresh.ErrReused):
					reused.Add(1)
				default:
					t.Errorf("rotate: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || reused.Load() != callers-1 {
			t.Fatalf("round %d: wins=%d reused=%d, want 1 and %d", round, wins.Load(), reused.Load(), callers-1)
		}
		rec, fam, err := b.LookupToken(ctx, winner.Load().ID)
		if err != nil || !rec.SpentAt.IsZero() || fam.Generation != int64(round) {
			t.Fatalf("round %d: successor %+v family %+v (%v)", round, rec, fam, err)
		}
		live = winner.Load()
	}
	// One token per round plus the first; the losers left nothing behind.
	if n := countRows(t, dsn, "refresh_tokens", "family_id = $1", f.ID); n != rounds+1 {
		t.Fatalf("%d tokens stored, want %d", n, rounds+1)
	}
	if n := countRows(t, dsn, "refresh_tokens", "family_id = $1 AND spent_at IS NULL", f.ID); n != 1 {
		t.Fatalf("%d unspent tokens, want 1", n)
	}
}

// A rotation racing the family's revocation (one device logged out while it
// refreshes, on another node) never deadlocks: each call either happens
// before the revocation or sees the family gone, and no token outlives its
// family.
func TestRotate_RacesRevocationWithoutDeadlock(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	a, b := open(t, dsn, pgstore.Options{}), open(t, dsn, pgstore.Options{})
	now := time.Now()
	user := "u-race"
	for i := range 60 {
		f, first := storetest.NewFamily(t, user, now, time.Hour)
		if err := a.CreateFamily(ctx, f, first); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		check := func(op string, err error) {
			var pe *pgconn.PgError
			switch {
			case err == nil, errors.Is(err, refresh.ErrNotFound), errors.Is(err, refresh.ErrReused):
			case errors.As(err, &pe) && pe.Code == "40P01":
				t.Errorf("iteration %d: %s deadlocked: %v", i, op, err)
			default:
				t.Errorf("iteration %d: %s: %v", i, op, err)
			}
		}
		for j := range 4 {
			st := a
			if j%2 == 1 {
				st = b
			}
			wg.Go(func() {
				_, err := st.Rotate(ctx, first.ID, storetest.NewRefreshToken(t, f.ID, 1), []byte("s"), now, now.Add(time.Hour))
				check("rotate", err)
			})
		}
		wg.Go(func() { check("revoke family", b.RevokeFamily(ctx, f.ID)) })
		if i%2 == 0 {
			wg.Go(func() { _, err := a.RevokeFamilies(ctx, user, ""); check("revoke families", err) })
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		if _, err := a.GetFamily(ctx, f.ID); !errors.Is(err, refresh.ErrNotFound) {
			t.Fatalf("iteration %d: revoked family: %v", i, err)
		}
	}
	if n := countRows(t, dsn, "refresh_tokens", "true"); n != 0 {
		t.Fatalf("%d tokens outlived their families", n)
	}
}

// Logout everywhere pressed on several nodes at once: the calls wait for
// each other, never deadlock, and each family is reported once.
func TestRevokeFamilies_ConcurrentNoDeadlock(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	a, b := open(t, dsn, pgstore.Options{}), open(t, dsn, pgstore.Options{})
	now := time.Now()
	for round := range 10 {
		user := fmt.Sprint("u-all-", round)
		const families = 40
		for range families {
			f, first := storetest.NewFamily(t, user, now, time.Hour)
			if err := a.CreateFamily(ctx, f, first); err != nil {
				t.Fatal(err)
			}
		}
		var reported atomic.Int32
		var wg sync.WaitGroup
		for i := range 6 {
			st := a
			if i%2 == 1 {
				st = b
			}
			wg.Go(func() {
				ids, err := st.RevokeFamilies(ctx, user, "")
				if err != nil {
					t.Errorf("revoke families: %v", err)
				}
				reported.Add(int32(len(ids)))
			})
		}
		wg.Wait()
		if reported.Load() != families {
			t.Fatalf("round %d: %d families reported, want %d", round, reported.Load(), families)
		}
	}
	if n := countRows(t, dsn, "refresh_tokens", "true"); n != 0 {
		t.Fatalf("%d tokens outlived their families", n)
	}
}

// Expiry of families follows the injected clock: a rotation extends the
// idle expiry, never beyond the absolute one.
func TestRefreshExpiryInjectedClock(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := open(t, migrated(t), pgstore.Options{Now: clk.Now, SweepInterval: -1})
	f, first := storetest.NewFamily(t, "u-clock", clk.Now(), time.Hour)
	f.IdleExpiresAt = f.CreatedAt.Add(10 * time.Minute)
	if err := st.CreateFamily(ctx, f, first); err != nil {
		t.Fatal(err)
	}
	clk.Add(9 * time.Minute)
	next := storetest.NewRefreshToken(t, f.ID, 1)
	nf, err := st.Rotate(ctx, first.ID, next, nil, clk.Now(), clk.Now().Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !nf.LastUsedAt.Equal(clk.Now()) || !nf.IdleExpiresAt.Equal(clk.Now().Add(10*time.Minute)) || !nf.Deadline().Equal(nf.IdleExpiresAt) {
		t.Fatalf("rotated family: %+v", nf)
	}
	clk.Add(9 * time.Minute) // 18 min: alive only thanks to the rotation
	if _, _, err := st.LookupToken(ctx, next.ID); err != nil {
		t.Fatalf("rotated family: %v", err)
	}
	last := storetest.NewRefreshToken(t, f.ID, 2)
	if _, err := st.Rotate(ctx, next.ID, last, nil, clk.Now(), clk.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	clk.Add(42*time.Minute - time.Millisecond) // just before the absolute expiry
	if _, err := st.GetFamily(ctx, f.ID); err != nil {
		t.Fatalf("family before its absolute expiry: %v", err)
	}
	clk.Add(time.Millisecond)
	for op, err := range map[string]error{
		"lookup": func() error { _, _, err := st.LookupToken(ctx, last.ID); return err }(),
		"get":    func() error { _, err := st.GetFamily(ctx, f.ID); return err }(),
		"rotate": func() error {
			_, err := st.Rotate(ctx, last.ID, storetest.NewRefreshToken(t, f.ID, 3), nil, clk.Now(), clk.Now().Add(time.Hour))
			return err
		}(),
		"set data": func() error { _, err := st.SetFamilyData(ctx, f.ID, []byte(`{}`), 0); return err }(),
		"revoke":   st.RevokeFamily(ctx, f.ID),
	} {
		if !errors.Is(err, refresh.ErrNotFound) {
			t.Errorf("%s on an expired family: want ErrNotFound, got %v", op, err)
		}
	}
	if list, err := st.Families(ctx, f.UserID); err != nil || len(list) != 0 {
		t.Fatalf("expired family listed: %v %v", list, err)
	}
	// RevokeFamilies removes it but does not report it: it was not live.
	if ids, err := st.RevokeFamilies(ctx, f.UserID, ""); err != nil || len(ids) != 0 {
		t.Fatalf("revoke families: %v %v", ids, err)
	}
	if n, err := st.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep after revoke: %d %v", n, err)
	}
}

func TestSweepFamiliesAndDenylistInBatches(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	clk := newClock()
	st := open(t, dsn, pgstore.Options{Now: clk.Now, SweepInterval: -1})
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	// 2500 families expiring in a minute, with two tokens each; 1500
	// denylist entries expiring in a minute.
	soon := clk.Now().Add(time.Minute)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO families (id, user_id, created_at, expires_at, last_used_at, idle_expires_at)
			SELECT 'x' || g, 'u', $1, $2, $1, $2 FROM generate_series(1, 2500) g`, []any{clk.Now(), soon}},
		{`INSERT INTO refresh_tokens (id, hash, family_id, generation, spent_at)
			SELECT 't' || g, '\x00', 'x' || g, 0, $1 FROM generate_series(1, 2500) g`, []any{clk.Now()}},
		{`INSERT INTO refresh_tokens (id, hash, family_id, generation)
			SELECT 'n' || g, '\x00', 'x' || g, 1 FROM generate_series(1, 2500) g`, nil},
		{`INSERT INTO denylist (key, until) SELECT 'jti:' || g, $1 FROM generate_series(1, 1500) g`, []any{soon}},
	} {
		if _, err := c.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	// 10 families and 5 entries living a day.
	for i := range 10 {
		f, first := storetest.NewFamily(t, fmt.Sprint("keep", i), clk.Now(), 24*time.Hour)
		if err := st.CreateFamily(ctx, f, first); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if err := st.Deny(ctx, fmt.Sprint("sid:keep", i), clk.Now().Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: n=%d err=%v", n, err)
	}
	if d, err := st.Denied(ctx, "jti:7"); err != nil || !d {
		t.Fatalf("live entry: %v %v", d, err)
	}
	clk.Add(2 * time.Minute)
	if d, err := st.Denied(ctx, "jti:7"); err != nil || d {
		t.Fatalf("expired entry, before the sweep: %v %v", d, err)
	}
	if n, err := st.Sweep(ctx); err != nil || n != 4000 {
		t.Fatalf("sweep: n=%d err=%v, want 4000", n, err)
	}
	for table, want := range map[string]int{"families": 10, "refresh_tokens": 10, "denylist": 5} {
		if n := countRows(t, dsn, table, "true"); n != want {
			t.Errorf("%s: %d rows left, want %d", table, n, want)
		}
	}
	if d, err := st.Denied(ctx, "jti:7", "sid:keep3"); err != nil || !d {
		t.Fatalf("live entry after the sweep: %v %v", d, err)
	}
}

// Denying a key again keeps the later time; expiry follows the store's
// clock.
func TestDenylist_LaterTimeWins(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := open(t, migrated(t), pgstore.Options{Now: clk.Now, SweepInterval: -1})
	if d, err := st.Denied(ctx); err != nil || d {
		t.Fatalf("no keys: %v %v", d, err)
	}
	t0 := clk.Now()
	if err := st.Deny(ctx, "sid:a", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.Deny(ctx, "sid:a", t0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	clk.Add(45 * time.Second)
	if d, err := st.Denied(ctx, "jti:x", "sid:a"); err != nil || !d {
		t.Fatalf("the earlier time replaced the later: %v %v", d, err)
	}
	if err := st.Deny(ctx, "sid:a", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute)
	if d, err := st.Denied(ctx, "sid:a"); err != nil || !d {
		t.Fatalf("the later time was not kept: %v %v", d, err)
	}
	clk.Add(time.Minute)
	if d, err := st.Denied(ctx, "sid:a"); err != nil || d {
		t.Fatalf("entry outlived its time: %v %v", d, err)
	}
}

// Keys written on one node are what the other lists; unset times read
// back as zero and key bytes exactly.
func TestKeys_TwoNodesAndZeroTimes(t *testing.T) {
	ctx := context.Background()
	dsn := migrated(t)
	a, b := open(t, dsn, pgstore.Options{}), open(t, dsn, pgstore.Options{})
	if list, err := a.ListKeys(ctx); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("empty store: %#v %v", list, err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	data := []byte{0, 1, 2, 0xff, '"', 'd', '"'}
	keys := []token.StoredKey{
		{ID: "k2", Alg: token.ES256, Data: data, CreatedAt: now, NotBefore: now.Add(time.Minute)},
		{ID: "k1", Alg: token.EdDSA, Data: []byte("x"), CreatedAt: now, NotBefore: now},
		{ID: "k0", Alg: token.RS256, Data: []byte("y")},
	}
	for _, k := range keys {
		if err := a.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	data[0] = 9 // the store kept its own copy
	list, err := b.ListKeys(ctx)
	if err != nil || len(list) != 3 {
		t.Fatalf("list: %v %v", list, err)
	}
	if list[0].ID != "k0" || list[1].ID != "k1" || list[2].ID != "k2" {
		t.Fatalf("order: %s %s %s, want k0 k1 k2", list[0].ID, list[1].ID, list[2].ID)
	}
	if k := list[0]; !k.CreatedAt.IsZero() || !k.NotBefore.IsZero() || !k.RetiredAt.IsZero() || !k.ExpiresAt.IsZero() {
		t.Fatalf("unset times: %+v", k)
	}
	if k := list[2]; string(k.Data) != "\x00\x01\x02\xff\"d\"" || k.Alg != token.ES256 || !k.NotBefore.Equal(now.Add(time.Minute)) ||
		!k.RetiredAt.IsZero() {
		t.Fatalf("k2: %+v", k)
	}
	if err := b.DeleteKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteKey(ctx, "k1"); !errors.Is(err, token.ErrNotFound) {
		t.Fatalf("delete on the other node after: want ErrNotFound, got %v", err)
	}
}

func TestCanceledContext_KeysRefreshClients(t *testing.T) {
	st := open(t, migrated(t), pgstore.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	now := time.Now()
	f, first := storetest.NewFamily(t, "u", now, time.Hour)
	checks := map[string]error{
		"put key":       st.PutKey(ctx, token.StoredKey{ID: "k", Alg: token.EdDSA, Data: []byte("x")}),
		"delete key":    st.DeleteKey(ctx, "k"),
		"create family": st.CreateFamily(ctx, f, first),
		"revoke family": st.RevokeFamily(ctx, f.ID),
		"deny":          st.Deny(ctx, "jti:x", now.Add(time.Minute)),
		"delete client": st.DeleteClient(ctx, "c"),
	}
	_, checks["list keys"] = st.ListKeys(ctx)
	_, _, checks["lookup"] = st.LookupToken(ctx, first.ID)
	_, checks["rotate"] = st.Rotate(ctx, first.ID, storetest.NewRefreshToken(t, f.ID, 1), nil, now, now)
	_, checks["families"] = st.Families(ctx, "u")
	_, checks["get family"] = st.GetFamily(ctx, f.ID)
	_, checks["revoke families"] = st.RevokeFamilies(ctx, "u", "")
	_, checks["set family data"] = st.SetFamilyData(ctx, f.ID, nil, 0)
	_, checks["denied"] = st.Denied(ctx, "jti:x")
	for op, err := range checks {
		if !errors.Is(err, context.Canceled) || errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: want context.Canceled, got %v", op, err)
		}
	}
	if err := st.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
