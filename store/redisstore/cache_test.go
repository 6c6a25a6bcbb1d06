package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redisstore"
	"github.com/sessiond/sessiond/store/storetest"
)

// Two stores on one Redis are two sessiond nodes. A revocation on one must
// reach the other's near cache through Redis's invalidation push, not
// through a TTL: the test gives it far less time than the cache TTL.
func TestNearCache_InvalidatedByOtherNode(t *testing.T) {
	for _, kind := range []string{"single", "cluster"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var url string
			if kind == "single" {
				url = testenv.StartRedis(t).URL
			} else {
				url = testenv.StartRedisCluster(t).URL
			}
			ctx := context.Background()
			a := open(t, url, redisstore.Options{Prefix: "node:"})
			b := open(t, url, redisstore.Options{Prefix: "node:"})
			s := storetest.NewSession(t, "u", time.Now(), time.Hour)
			if err := a.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			// Past the window in which a reads its own write around the
			// cache, so that what follows is served from it.
			time.Sleep(1100 * time.Millisecond)
			for range 3 {
				if _, err := a.Get(ctx, s.ID); err != nil {
					t.Fatal(err)
				}
				if d, err := a.Denied(ctx, "jti:x", "sid:"+s.ID); err != nil || d {
					t.Fatalf("Denied = %v, %v", d, err)
				}
			}
			if _, err := b.SetData(ctx, s.ID, []byte(`{"n":1}`), 0); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "data changed on the other node", func() bool {
				got, err := a.Get(ctx, s.ID)
				return err == nil && got.DataVersion == 1
			})
			if err := b.Deny(ctx, "sid:"+s.ID, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "sid denied on the other node", func() bool {
				d, err := a.Denied(ctx, "jti:x", "sid:"+s.ID)
				return err == nil && d
			})
			if err := b.Delete(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "session deleted on the other node", func() bool {
				_, err := a.Get(ctx, s.ID)
				return errors.Is(err, session.ErrNotFound)
			})
		})
	}
}

// waitFor polls cond for up to 5 s: far below the 1-minute cache TTL, so
// only an invalidation can make it true; how fast it comes is measured by
// bench/load's revocation probe, not asserted here.
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

// Issue 7's memory target: under 1 KiB of heap per cached session, here as
// rueidis keeps it (the GET reply and its tracking entry).
func TestNearCache_HeapPerCachedSession(t *testing.T) {
	r := testenv.StartRedis(t)
	ctx := context.Background()
	st := open(t, r.URL, redisstore.Options{})
	const n = 5_000
	ids := make([]string, n)
	for i := range n {
		s := storetest.NewSession(t, fmt.Sprintf("u%d", i), time.Now(), time.Hour)
		s.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
		s.IP = "203.0.113.7"
		ids[i] = s.ID
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // past the own-write window: Gets now fill the cache
	before := heap()
	for _, id := range ids {
		if _, err := st.Get(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	after := heap()
	per := (float64(after) - float64(before)) / n
	t.Logf("heap per cached session: %.0f bytes", per)
	if per > 1024 {
		t.Fatalf("heap per cached session %.0f bytes, budget 1024", per)
	}
	if per < 64 {
		t.Fatalf("heap per cached session %.0f bytes: is the cache on at all?", per)
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
