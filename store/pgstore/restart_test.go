package pgstore_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
)

// loadStats counts what the workers saw.
type loadStats struct {
	ok, unavailable, other atomic.Int64
	lastOK                 atomic.Int64 // UnixNano of the latest success
	mu                     sync.Mutex
	firstOther, firstUnav  error
}

func (l *loadStats) record(err error) {
	switch {
	case err == nil:
		l.ok.Add(1)
		l.lastOK.Store(time.Now().UnixNano())
	case errors.Is(err, session.ErrUnavailable) && !errors.Is(err, session.ErrNotFound):
		l.unavailable.Add(1)
		l.mu.Lock()
		if l.firstUnav == nil {
			l.firstUnav = err
		}
		l.mu.Unlock()
	default:
		l.other.Add(1)
		l.mu.Lock()
		if l.firstOther == nil {
			l.firstOther = err
		}
		l.mu.Unlock()
	}
}

// PostgreSQL restarted under load: during the outage every operation fails
// with ErrUnavailable (never ErrNotFound, which would log users out); when
// the server is back the same Store, with the same pool, serves again
// without being reopened; sessions acknowledged before the restart are
// still there; and closing the store leaves no goroutine behind.
func TestRestartUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		down func(*testenv.PGServer, testing.TB)
	}{
		{"FastShutdown", (*testenv.PGServer).Stop},
		{"Crash", (*testenv.PGServer).Crash},
	} {
		t.Run(tc.name, func(t *testing.T) { restartUnderLoad(t, tc.down) })
	}
}

func restartUnderLoad(t *testing.T, down func(*testenv.PGServer, testing.TB)) {
	srv := testenv.StartPostgres(t)
	ctx := context.Background()
	baseline := runtime.NumGoroutine()

	st, err := pgstore.Open(ctx, srv.DSN+"&pool_max_conns=8", pgstore.Options{Migrate: true, SweepInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			st.Close()
		}
	}()

	seed := make([]*session.Session, 64)
	for i := range seed {
		seed[i] = storetest.NewSession(t, "u-restart", time.Now(), time.Hour)
		if err := st.Create(ctx, seed[i]); err != nil {
			t.Fatal(err)
		}
	}

	var stats loadStats
	var acked sync.Map // ID -> created while the load ran and acknowledged
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				octx, cancel := context.WithTimeout(ctx, 2*time.Second)
				var err error
				if i%4 == 3 {
					s := storetest.NewSession(t, "u-load", time.Now(), time.Hour)
					if err = st.Create(octx, s); err == nil {
						acked.Store(s.ID, true)
					}
				} else {
					_, err = st.Get(octx, seed[(w*31+i)%len(seed)].ID)
				}
				cancel()
				stats.record(err)
				if err != nil {
					time.Sleep(5 * time.Millisecond) // a client backing off
				}
			}
		})
	}

	phase := func(name string, d time.Duration) (ok, unavailable, other int64) {
		ok0, un0, ot0 := stats.ok.Load(), stats.unavailable.Load(), stats.other.Load()
		time.Sleep(d)
		ok, unavailable, other = stats.ok.Load()-ok0, stats.unavailable.Load()-un0, stats.other.Load()-ot0
		t.Logf("%-8s ok=%d unavailable=%d other=%d", name, ok, unavailable, other)
		return ok, unavailable, other
	}

	if ok, un, ot := phase("healthy", time.Second); ok == 0 || un != 0 || ot != 0 {
		t.Fatalf("healthy phase: ok=%d unavailable=%d other=%d (%v)", ok, un, ot, stats.firstOther)
	}

	down(srv, t)
	stoppedAt := time.Now()
	// Give in-flight operations time to finish failing, then count.
	time.Sleep(200 * time.Millisecond)
	if ok, un, _ := phase("outage", time.Second); ok != 0 || un == 0 {
		t.Fatalf("outage: ok=%d unavailable=%d; want only unavailable errors", ok, un)
	}
	stats.mu.Lock()
	t.Logf("an error during the outage: %v", stats.firstUnav)
	stats.mu.Unlock()
	if err := st.Ping(ctx); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("ping during the outage: want ErrUnavailable, got %v", err)
	}

	srv.Start(t)
	startedAt := time.Now()
	t.Logf("PostgreSQL accepting connections again after an outage of %v", startedAt.Sub(stoppedAt).Round(time.Millisecond))
	deadline := startedAt.Add(5 * time.Second)
	for stats.lastOK.Load() < startedAt.UnixNano() {
		if time.Now().After(deadline) {
			t.Fatalf("the store did not serve again within 5s of PostgreSQL's return")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("first success %v after PostgreSQL was back", time.Unix(0, stats.lastOK.Load()).Sub(startedAt).Round(time.Millisecond))
	time.Sleep(300 * time.Millisecond) // let every pooled connection be replaced
	if ok, un, ot := phase("recovered", time.Second); ok == 0 || un != 0 || ot != 0 {
		t.Fatalf("after recovery: ok=%d unavailable=%d other=%d (%v)", ok, un, ot, stats.firstOther)
	}
	close(stop)
	wg.Wait()
	if n := stats.other.Load(); n != 0 {
		t.Fatalf("%d errors that were neither success nor ErrUnavailable, first: %v", n, stats.firstOther)
	}

	// Nothing acknowledged was lost.
	for _, s := range seed {
		if _, err := st.Get(ctx, s.ID); err != nil {
			t.Fatalf("seeded session after restart: %v", err)
		}
	}
	n := 0
	acked.Range(func(k, _ any) bool {
		n++
		if _, err := st.Get(ctx, k.(string)); err != nil {
			t.Fatalf("acknowledged session %d lost: %v", n, err)
		}
		return true
	})
	t.Logf("%d acknowledged creates all present after the restart", n)

	st.Close()
	closed = true
	deadline = time.Now().Add(5 * time.Second)
	for {
		g := runtime.NumGoroutine()
		if g <= baseline {
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutine leak: %d goroutines after close, %d before open\n%s", g, baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
