package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/store/redisstore"
	"github.com/sessiond/sessiond/store/storetest"
)

var _ account.Limiter = (*redisstore.Limiter)(nil)

// newClock is the limiter suite's fake clock, a little ahead of the real
// time because Redis expires limiter keys by its own clock.
var newClock = storetest.NewClock

// singleAndCluster runs run against a single Redis and a Redis Cluster, in
// parallel.
func singleAndCluster(t *testing.T, run func(t *testing.T, url string)) {
	t.Run("Single", func(t *testing.T) {
		t.Parallel()
		run(t, testenv.StartRedis(t).URL)
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		run(t, testenv.StartRedisCluster(t).URL)
	})
}

func reserve(t testing.TB, l account.Limiter, key string) time.Duration {
	t.Helper()
	d, err := l.Reserve(context.Background(), key)
	if err != nil {
		t.Fatalf("Reserve(%q): %v", key, err)
	}
	return d
}

// nodes opens n Stores on the same Redis and prefix: n sessiond nodes.
func nodes(t *testing.T, url string, n int, now func() time.Time) []*redisstore.Store {
	t.Helper()
	prefix := fmt.Sprintf("rl%d:", prefixSeq.Add(1))
	var out []*redisstore.Store
	for range n {
		out = append(out, open(t, url, redisstore.Options{Prefix: prefix, Now: now}))
	}
	return out
}

// TestLimiter_MatchesMemory runs the same random operations against the
// in-process limiter and the Redis one, on one clock: every Reserve must
// agree to the nanosecond (the scripts mirror ratelimit.Check, Record and
// Unrecord exactly).
func TestLimiter_MatchesMemory(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	for _, rate := range []ratelimit.Rate{
		{N: 1, Per: time.Second},
		{N: 5, Per: time.Minute},
		{N: 100, Per: time.Hour},
		{N: 3, Per: 10 * time.Second}, // Interval truncates: 3.333…s
		{N: 7, Per: 1001 * time.Millisecond},
	} {
		t.Run(rate.String(), func(t *testing.T) {
			t.Parallel()
			c := newClock()
			mem := ratelimit.NewMemory(rate, c.Now)
			defer mem.Close()
			rl := open(t, r.URL, redisstore.Options{Now: c.Now}).Limiter(rate, "m")
			rnd := rand.New(rand.NewPCG(uint64(rate.N), uint64(rate.Per)))
			keys := []string{"a", "b", "acct:x@example.com"}
			blocked, allowed := 0, 0
			for i := range 3000 {
				key := keys[rnd.IntN(len(keys))]
				op := rnd.IntN(100)
				if rate.N >= 50 && op >= 40 && op < 70 && rnd.IntN(10) > 0 {
					op = 0 // a big burst needs failures faster than time passes
				}
				switch {
				case op < 40:
					want := reserve(t, mem, key)
					if got := reserve(t, rl, key); got != want {
						t.Fatalf("op %d: Reserve(%q) = %v, in-process limiter says %v", i, key, got, want)
					}
				case op < 42:
					_ = mem.Reset(context.Background(), key)
					if err := rl.Reset(context.Background(), key); err != nil {
						t.Fatal(err)
					}
				case op < 47:
					_ = mem.Refund(context.Background(), key)
					if err := rl.Refund(context.Background(), key); err != nil {
						t.Fatal(err)
					}
				case op < 70:
					c.Advance(time.Duration(rnd.Int64N(int64(rate.Interval()))))
				case op < 75:
					c.Advance(rate.Interval()) // exact boundaries
				case op < 78:
					c.Advance(time.Nanosecond)
				default:
					want := reserve(t, mem, key)
					if got := reserve(t, rl, key); got != want {
						t.Fatalf("op %d: Reserve(%q) = %v, in-process limiter says %v", i, key, got, want)
					}
					if want > 0 {
						blocked++
					} else {
						allowed++
					}
				}
			}
			if blocked < 10 || allowed < 10 {
				t.Fatalf("sequence too tame: %d blocked, %d allowed checks", blocked, allowed)
			}
			t.Logf("%d blocked, %d allowed checks agreed", blocked, allowed)
		})
	}
}

// TestLimiter_Burst mirrors ratelimit's TestCheckRecord_Burst through the
// Redis limiter, down to the nanosecond.
func TestLimiter_Burst(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	for _, rate := range []ratelimit.Rate{
		{N: 1, Per: time.Second},
		{N: 5, Per: time.Minute},
		{N: 100, Per: time.Hour},
		{N: 3, Per: 10 * time.Second},
	} {
		t.Run(rate.String(), func(t *testing.T) {
			t.Parallel()
			c := newClock()
			l := open(t, r.URL, redisstore.Options{Now: c.Now}).Limiter(rate, "burst")
			T := rate.Interval()
			tau := rate.Per - T
			for i := range rate.N {
				if wait := reserve(t, l, "k"); wait != 0 {
					t.Fatalf("event %d of a burst of %d: Reserve = %v, want 0", i+1, rate.N, wait)
				}
			}
			want := time.Duration(rate.N)*T - tau
			if wait := reserve(t, l, "k"); wait != want || wait <= 0 {
				t.Fatalf("Reserve after burst = %v, want %v", wait, want)
			}
			c.Advance(want - time.Nanosecond)
			if wait := reserve(t, l, "k"); wait != time.Nanosecond {
				t.Fatalf("Reserve 1ns before retry = %v, want 1ns", wait)
			}
			c.Advance(time.Nanosecond)
			if wait := reserve(t, l, "k"); wait != 0 {
				t.Fatalf("Reserve at retry time = %v, want 0", wait)
			}
			if wait := reserve(t, l, "k"); wait != T {
				t.Fatalf("Reserve after the recovered event = %v, want %v", wait, T)
			}
			c.Advance(rate.Per + T) // past the TAT: a full burst again
			for i := range rate.N {
				if wait := reserve(t, l, "k"); wait != 0 {
					t.Fatalf("new burst event %d: Reserve = %v", i+1, wait)
				}
			}
		})
	}
}

// TestBruteForceRule18_RedisLimiter: rule 18 through Redis (single server
// and Cluster), including a parallel burst taking at most the remaining
// allowance.
func TestBruteForceRule18_RedisLimiter(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, url string) {
		storetest.RunLimiter(t, func(t *testing.T, r ratelimit.Rate, now func() time.Time) account.Limiter {
			return open(t, url, redisstore.Options{Now: now}).Limiter(r, "suite")
		})
	}
	singleAndCluster(t, run)
}

// TestBruteForceRule18_RedisAccountCap: rule 18, at most 100 consecutive
// failures per account.
func TestBruteForceRule18_RedisAccountCap(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	c := newClock()
	m := open(t, r.URL, redisstore.Options{Now: c.Now}).Limiter(ratelimit.Rate{N: 100, Per: time.Hour}, "login-account")
	allowed := 0
	for range 300 {
		if reserve(t, m, "acct:alice") == 0 {
			allowed++
		}
	}
	if allowed != 100 {
		t.Fatalf("%d consecutive failures allowed, want 100", allowed)
	}
}

// TestBruteForceRule18_RedisSharedAcrossNodes: rule 18, the limit is shared
// by every node using the same Redis (single server and Cluster): failures
// on one node count on the others, and a reset on one frees the key on all,
// also under concurrency.
func TestBruteForceRule18_RedisSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, url string) {
		c := newClock()
		rate := ratelimit.Rate{N: 5, Per: time.Minute}
		ns := nodes(t, url, 2, c.Now)
		a, b := ns[0].Limiter(rate, "login-ip"), ns[1].Limiter(rate, "login-ip")
		for i := range 5 {
			l := a
			if i%2 == 1 {
				l = b
			}
			if wait := reserve(t, l, "ip:192.0.2.1"); wait != 0 {
				t.Fatalf("attempt %d: blocked early (%v)", i+1, wait)
			}
		}
		for _, l := range []*redisstore.Limiter{a, b} {
			if wait := reserve(t, l, "ip:192.0.2.1"); wait != 12*time.Second {
				t.Fatalf("after 5 failures over two nodes: Reserve = %v, want 12s", wait)
			}
		}
		// Another scope is another limiter.
		if wait := reserve(t, ns[0].Limiter(rate, "login-account"), "ip:192.0.2.1"); wait != 0 {
			t.Fatalf("scopes share counts: %v", wait)
		}
		if err := b.Reset(context.Background(), "ip:192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if wait := reserve(t, a, "ip:192.0.2.1"); wait != 0 {
			t.Fatalf("after a reset on the other node: Reserve = %v, want 0", wait)
		}

		// Concurrent failures on both nodes are all counted.
		big := ratelimit.Rate{N: 1000, Per: time.Hour}
		la, lb := ns[0].Limiter(big, "conc"), ns[1].Limiter(big, "conc")
		var wg sync.WaitGroup
		for g := range 16 {
			l := la
			if g%2 == 1 {
				l = lb
			}
			wg.Go(func() {
				for range 25 {
					if _, err := l.Reserve(context.Background(), "shared"); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		for range big.N - 400 {
			if wait := reserve(t, la, "shared"); wait != 0 {
				t.Fatalf("blocked before %d failures: %v", big.N, wait)
			}
		}
		if wait := reserve(t, la, "shared"); wait != big.Interval() {
			t.Fatalf("after exactly %d attempts: Reserve = %v, want %v", big.N, wait, big.Interval())
		}
	}
	singleAndCluster(t, run)
}

// TestLimiter_KeyExpiresAtTAT: the key's whole state is its TAT, and it
// expires then (rounded up to the millisecond).
func TestLimiter_KeyExpiresAtTAT(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	c := newClock()
	rate := ratelimit.Rate{N: 3, Per: 10 * time.Second}
	l := open(t, r.URL, redisstore.Options{Prefix: "p:", Now: c.Now}).Limiter(rate, "s")
	start := c.Now()
	reserve(t, l, "k")
	reserve(t, l, "k")
	tat := start.Add(2 * rate.Interval())
	if got := r.Do(t, "GET", "p:rl:s:k"); got != strconv.FormatInt(tat.UnixNano(), 10) {
		t.Fatalf("stored TAT %s, want %d", got, tat.UnixNano())
	}
	wantMS := (tat.UnixNano() + 999_999) / 1_000_000
	if got := r.Do(t, "PEXPIRETIME", "p:rl:s:k"); got != strconv.FormatInt(wantMS, 10) {
		t.Fatalf("key expires at %s, want %d (TAT rounded up)", got, wantMS)
	}
	if err := l.Reset(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	if got := r.Do(t, "EXISTS", "p:rl:s:k"); got != "0" {
		t.Fatal("key left after Reset")
	}
}

func TestLimiter_UnlimitedStoresNothing(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	st := open(t, r.URL, redisstore.Options{Prefix: "p:"})
	for _, rate := range []ratelimit.Rate{{}, {N: 3}, {N: 10, Per: 5}} {
		l := st.Limiter(rate, "u")
		for range 50 {
			reserve(t, l, "k")
		}
		if wait := reserve(t, l, "k"); wait != 0 {
			t.Fatalf("%+v: Reserve = %v, want 0", rate, wait)
		}
	}
	if got := r.Do(t, "DBSIZE"); got != "0" {
		t.Fatalf("unlimited limiter stored %s keys", got)
	}
}

func TestLimiter_ContextCanceled(t *testing.T) {
	t.Parallel()
	r := testenv.StartRedis(t)
	l := open(t, r.URL, redisstore.Options{}).Limiter(ratelimit.Rate{N: 1, Per: time.Minute}, "c")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Reserve(ctx, "k"); !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "redisstore: rate limit reserve: ") {
		t.Fatalf("Reserve(canceled) = %v", err)
	}
	if err := l.Refund(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Refund(canceled) = %v", err)
	}
	if err := l.Reset(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Reset(canceled) = %v", err)
	}
}
