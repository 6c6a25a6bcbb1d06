package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redisstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceRefresh(t *testing.T) {
	t.Parallel()
	t.Run("Single", func(t *testing.T) {
		t.Parallel()
		r := testenv.StartRedis(t)
		st := open(t, r.URL, redisstore.Options{})
		storetest.RunRefresh(t, func(*testing.T) refresh.Backend { return st })
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		c := testenv.StartRedisCluster(t)
		st := open(t, c.URL, redisstore.Options{})
		storetest.RunRefresh(t, func(*testing.T) refresh.Backend { return st })
	})
	t.Run("Sentinel", func(t *testing.T) {
		t.Parallel()
		rs := testenv.StartRedisSentinel(t)
		st := open(t, rs.URL, redisstore.Options{})
		storetest.RunRefresh(t, func(*testing.T) refresh.Backend { return st })
	})
}

// TestRefreshKeyLayout checks the documented keys, TTLs and index scores of
// families, tokens and denylist entries.
func TestRefreshKeyLayout(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	st := open(t, r.URL, redisstore.Options{Prefix: "p:"})
	ctx := context.Background()
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	f, first := storetest.NewFamily(t, "alice", time.Now(), time.Hour)
	f.IdleExpiresAt = f.CreatedAt.Add(10 * time.Minute)
	if err := st.CreateFamily(ctx, f, first); err != nil {
		t.Fatal(err)
	}
	fkey, idx, tkey := "p:f:{"+f.ID+"}", "p:u:{alice}:families", "p:rt:{"+first.ID+"}"
	for key, want := range map[string]string{fkey: "string", idx: "zset", tkey: "string"} {
		if got := r.Do(t, "TYPE", key); got != want {
			t.Fatalf("%s is a %s, want a %s", key, got, want)
		}
	}
	if got := r.Do(t, "PEXPIRETIME", fkey); got != ms(f.IdleExpiresAt) {
		t.Fatalf("family key expires at %s, want the idle deadline %s", got, ms(f.IdleExpiresAt))
	}
	if got := r.Do(t, "ZSCORE", idx, f.ID); got != ms(f.IdleExpiresAt) {
		t.Fatalf("index score %s, want %s", got, ms(f.IdleExpiresAt))
	}
	if got := r.Do(t, "PEXPIRETIME", idx); got != ms(f.ExpiresAt) {
		t.Fatalf("index expires at %s, want the absolute expiry %s", got, ms(f.ExpiresAt))
	}
	if got := r.Do(t, "PEXPIRETIME", tkey); got != ms(f.ExpiresAt) {
		t.Fatalf("token key expires at %s, want the absolute expiry %s", got, ms(f.ExpiresAt))
	}

	// Rotate moves the family's expiry and score to the new idle deadline;
	// both tokens live until the absolute expiry.
	used := f.CreatedAt.Add(5 * time.Minute)
	next := storetest.NewRefreshToken(t, f.ID, 1)
	nf, err := st.Rotate(ctx, first.ID, next, []byte("sealed"), used, used.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if nf.Generation != 1 || !nf.LastUsedAt.Equal(used) || !nf.IdleExpiresAt.Equal(used.Add(10*time.Minute)) {
		t.Fatalf("rotated family: %+v", nf)
	}
	if got := r.Do(t, "PEXPIRETIME", fkey); got != ms(used.Add(10*time.Minute)) {
		t.Fatalf("after rotate: family expires at %s, want %s", got, ms(used.Add(10*time.Minute)))
	}
	if got := r.Do(t, "ZSCORE", idx, f.ID); got != ms(used.Add(10*time.Minute)) {
		t.Fatalf("after rotate: score %s", got)
	}
	ntkey := "p:rt:{" + next.ID + "}"
	for _, k := range []string{tkey, ntkey} {
		if got := r.Do(t, "PEXPIRETIME", k); got != ms(f.ExpiresAt) {
			t.Fatalf("after rotate: %s expires at %s, want %s", k, got, ms(f.ExpiresAt))
		}
	}
	// An idle expiry beyond the absolute one is capped by it.
	if _, err := st.Rotate(ctx, next.ID, storetest.NewRefreshToken(t, f.ID, 2), nil, used, f.ExpiresAt.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := r.Do(t, "PEXPIRETIME", fkey); got != ms(f.ExpiresAt) {
		t.Fatalf("idle past the absolute expiry: family expires at %s, want %s", got, ms(f.ExpiresAt))
	}

	// SetFamilyData keeps the expiry.
	if _, err := st.SetFamilyData(ctx, f.ID, []byte(`{"x":1}`), 0); err != nil {
		t.Fatal(err)
	}
	if got := r.Do(t, "PEXPIRETIME", fkey); got != ms(f.ExpiresAt) {
		t.Fatalf("after SetFamilyData: expires at %s", got)
	}

	// RevokeFamily deletes the family and its entry; tokens expire by TTL.
	if err := st.RevokeFamily(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if got := r.Do(t, "EXISTS", fkey); got != "0" {
		t.Fatal("family key left after RevokeFamily")
	}
	if got := r.Do(t, "ZSCORE", idx, f.ID); got != "" {
		t.Fatalf("index entry left after RevokeFamily: %q", got)
	}

	// The denylist: the key's expiry is the later of the times denied.
	until := time.Now().Add(time.Hour)
	if err := st.Deny(ctx, "sid:x", until); err != nil {
		t.Fatal(err)
	}
	if got := r.Do(t, "PEXPIRETIME", "p:deny:{sid:x}"); got != ms(until) {
		t.Fatalf("deny entry expires at %s, want %s", got, ms(until))
	}
	if err := st.Deny(ctx, "sid:x", until.Add(-30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := r.Do(t, "PEXPIRETIME", "p:deny:{sid:x}"); got != ms(until) {
		t.Fatalf("an earlier Deny shortened the entry: expires at %s, want %s", got, ms(until))
	}
	if err := st.Deny(ctx, "sid:x", until.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := r.Do(t, "PEXPIRETIME", "p:deny:{sid:x}"); got != ms(until.Add(time.Hour)) {
		t.Fatalf("a later Deny did not extend the entry: expires at %s", got)
	}
	if err := st.Deny(ctx, "sid:past", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if d, err := st.Denied(ctx, "sid:past"); err != nil || d {
		t.Fatalf("an entry denied until the past: %v %v", d, err)
	}
}

// TestRefreshRoundTrip stores every field of a family, including empty,
// long and binary ones.
func TestRefreshRoundTrip(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	st := open(t, r.URL, redisstore.Options{})
	ctx := context.Background()
	f, first := storetest.NewFamily(t, "ü-"+string(make([]byte, 300)), time.Now(), time.Hour)
	f.ClientID, f.Scope, f.IP, f.UserAgent = "", "openid profile email", "", string(make([]byte, 5000))
	f.Data, f.DataVersion, f.Generation = []byte{0, 1, '\r', '\n', 255}, 41, 7
	first.Generation = 7
	if err := st.CreateFamily(ctx, f, first); err != nil {
		t.Fatal(err)
	}
	rec, got, err := st.LookupToken(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != f.UserID || got.ClientID != f.ClientID || got.Scope != f.Scope || got.IP != f.IP ||
		got.UserAgent != f.UserAgent || string(got.Data) != string(f.Data) || got.DataVersion != 41 ||
		got.Generation != 7 || !got.CreatedAt.Equal(f.CreatedAt) || !got.ExpiresAt.Equal(f.ExpiresAt) ||
		!got.LastUsedAt.Equal(f.LastUsedAt) || !got.IdleExpiresAt.Equal(f.IdleExpiresAt) || got.ID != f.ID {
		t.Fatalf("family round trip:\n got %+v\nwant %+v", got, f)
	}
	if rec.ID != first.ID || string(rec.Hash) != string(first.Hash) || rec.FamilyID != f.ID || rec.Generation != 7 ||
		!rec.SpentAt.IsZero() || rec.Sealed != nil {
		t.Fatalf("token round trip: %+v", rec)
	}
	// Data with a version compare-and-set keeps every other field.
	data := []byte(`{"big":"` + string(make([]byte, 20000)) + `"}`)
	if v, err := st.SetFamilyData(ctx, f.ID, data, 41); err != nil || v != 42 {
		t.Fatalf("set data: %d %v", v, err)
	}
	g2, err := st.GetFamily(ctx, f.ID)
	if err != nil || g2.UserAgent != f.UserAgent || g2.Scope != f.Scope || string(g2.Data) != string(data) ||
		g2.Generation != 7 || g2.DataVersion != 42 || !g2.IdleExpiresAt.Equal(f.IdleExpiresAt) {
		t.Fatalf("after set data: %+v %v", g2, err)
	}
	// A token of 64 KiB-plus fields is refused, not truncated.
	big, bfirst := storetest.NewFamily(t, string(make([]byte, 70000)), time.Now(), time.Hour)
	if err := st.CreateFamily(ctx, big, bfirst); err == nil || errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("oversized user id: %v", err)
	}
}

// TestRefreshCreateConflict: a family or token ID in use is ErrConflict,
// and a failed CreateFamily leaves nothing of its own behind.
func TestRefreshCreateConflict(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	st := open(t, r.URL, redisstore.Options{Prefix: "c:"})
	ctx := context.Background()
	f, first := storetest.NewFamily(t, "alice", time.Now(), time.Hour)
	if err := st.CreateFamily(ctx, f, first); err != nil {
		t.Fatal(err)
	}
	// Same family ID, another user and a new token.
	dup, dfirst := storetest.NewFamily(t, "mallory", time.Now(), time.Hour)
	dup.ID = f.ID
	if err := st.CreateFamily(ctx, dup, dfirst); !errors.Is(err, refresh.ErrConflict) {
		t.Fatalf("duplicate family: want ErrConflict, got %v", err)
	}
	if got := r.Do(t, "EXISTS", "c:rt:{"+dfirst.ID+"}"); got != "0" {
		t.Fatal("the token of a refused family was left behind")
	}
	if s := r.Do(t, "ZSCORE", "c:u:{mallory}:families", f.ID); s != "" {
		t.Fatal("a refused family was left in its user's index")
	}
	if got, err := st.GetFamily(ctx, f.ID); err != nil || got.UserID != "alice" {
		t.Fatalf("the existing family was touched: %+v %v", got, err)
	}
	// Same token ID, new family.
	other, _ := storetest.NewFamily(t, "bob", time.Now(), time.Hour)
	if err := st.CreateFamily(ctx, other, first); !errors.Is(err, refresh.ErrConflict) {
		t.Fatalf("duplicate token: want ErrConflict, got %v", err)
	}
	if _, err := st.GetFamily(ctx, other.ID); !errors.Is(err, refresh.ErrNotFound) {
		t.Fatalf("the family of a refused token was left behind: %v", err)
	}
	if list, err := st.Families(ctx, "bob"); err != nil || len(list) != 0 {
		t.Fatalf("bob's families: %v %v", list, err)
	}
}

// TestRefreshServiceRace drives refresh.Service on Redis and Redis Cluster:
// many concurrent refreshes with one token all get the same successor pair
// (one rotation, the others inside the grace window), none revokes the
// family, and the successor refreshes.
func TestRefreshServiceRace(t *testing.T) {
	t.Parallel()
	for _, cluster := range []bool{false, true} {
		t.Run(map[bool]string{false: "Single", true: "Cluster"}[cluster], func(t *testing.T) {
			t.Parallel()
			var url string
			if cluster {
				url = testenv.StartRedisCluster(t).URL
			} else {
				url = testenv.StartRedis(t).URL
			}
			st := open(t, url, redisstore.Options{})
			svc, err := refresh.New(refresh.Config{Store: st})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			mint := func(_ context.Context, f *refresh.Family) (string, time.Time, error) {
				return "access-" + f.ID + "-" + strconv.FormatInt(f.Generation, 10), time.Now().Add(time.Minute), nil
			}
			for round := range 20 {
				fam, tok, err := svc.Start(ctx, "racer", "app", "openid", refresh.Meta{})
				if err != nil {
					t.Fatal(err)
				}
				const n = 16
				pairs := make([]*refresh.Pair, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { _, pairs[i], errs[i] = svc.Refresh(ctx, tok, mint) })
				}
				wg.Wait()
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("round %d: refresh %d: %v", round, i, errs[i])
					}
					if pairs[i].RefreshToken != pairs[0].RefreshToken || pairs[i].AccessToken != pairs[0].AccessToken {
						t.Fatalf("round %d: refresh %d got another pair", round, i)
					}
				}
				nf, p2, err := svc.Refresh(ctx, pairs[0].RefreshToken, mint)
				if err != nil || nf.Generation != 2 || p2.RefreshToken == pairs[0].RefreshToken {
					t.Fatalf("round %d: successor refresh: %+v %v", round, nf, err)
				}
				if d, err := svc.Denied(ctx, "j", fam.ID, ""); err != nil || d {
					t.Fatalf("round %d: family denied after a race: %v %v", round, d, err)
				}
			}
		})
	}
}

// TestRefreshFailClosed: with Redis down every refresh-store method fails
// fast with ErrUnavailable, never ErrNotFound, ErrReused or "not denied".
func TestRefreshFailClosed(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	st := open(t, r.URL, redisstore.Options{})
	ctx := context.Background()
	f, first := storetest.NewFamily(t, "u", time.Now(), time.Hour)
	if err := st.CreateFamily(ctx, f, first); err != nil {
		t.Fatal(err)
	}
	r.Kill(t)
	now := time.Now()
	ops := map[string]func(context.Context) error{
		"create": func(ctx context.Context) error {
			nf, nt := storetest.NewFamily(t, "u", now, time.Hour)
			return st.CreateFamily(ctx, nf, nt)
		},
		"lookup": func(ctx context.Context) error { _, _, err := st.LookupToken(ctx, first.ID); return err },
		"rotate": func(ctx context.Context) error {
			_, err := st.Rotate(ctx, first.ID, storetest.NewRefreshToken(t, f.ID, 1), nil, now, now.Add(time.Hour))
			return err
		},
		"revoke family":   func(ctx context.Context) error { return st.RevokeFamily(ctx, f.ID) },
		"families":        func(ctx context.Context) error { _, err := st.Families(ctx, "u"); return err },
		"get family":      func(ctx context.Context) error { _, err := st.GetFamily(ctx, f.ID); return err },
		"revoke families": func(ctx context.Context) error { _, err := st.RevokeFamilies(ctx, "u", ""); return err },
		"set family data": func(ctx context.Context) error { _, err := st.SetFamilyData(ctx, f.ID, nil, 0); return err },
		"deny":            func(ctx context.Context) error { return st.Deny(ctx, "jti:x", now.Add(time.Hour)) },
		"denied one":      func(ctx context.Context) error { _, err := st.Denied(ctx, "jti:x"); return err },
		"denied two":      func(ctx context.Context) error { _, err := st.Denied(ctx, "jti:x", "sid:y"); return err },
	}
	for name, op := range ops {
		start := time.Now()
		err := op(ctx)
		took := time.Since(start)
		if err == nil || errors.Is(err, session.ErrNotFound) || errors.Is(err, refresh.ErrReused) || !errors.Is(err, session.ErrUnavailable) {
			t.Errorf("%s with Redis down: want ErrUnavailable, got %v", name, err)
		}
		if took > 3*time.Second {
			t.Errorf("%s with Redis down took %v", name, took)
		}
	}
}
