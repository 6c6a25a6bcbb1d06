package main_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
)

// load runs whoami with b's cookie from 4 goroutines until stop is closed and
// counts answers by status. A 200 arriving while down is set is an identity
// served without its store: the test fails on it.
type load struct {
	counts sync.Map // status -> *atomic.Int64
	badOK  atomic.Int64
	down   atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

func startLoad(t *testing.T, b *browser) *load {
	l := &load{stop: make(chan struct{})}
	for range 4 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			hc := &http.Client{Jar: b.hc.Jar, Timeout: 5 * time.Second}
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				wasDown := l.down.Load()
				res, err := hc.Get(b.base + "/v1/whoami")
				status := 0
				if err == nil {
					status = res.StatusCode
					res.Body.Close()
				}
				if status == 200 && wasDown && l.down.Load() {
					l.badOK.Add(1)
				}
				v, _ := l.counts.LoadOrStore(status, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
			}
		}()
	}
	return l
}

func (l *load) halt() map[int]int64 {
	close(l.stop)
	l.wg.Wait()
	out := map[int]int64{}
	l.counts.Range(func(k, v any) bool { out[k.(int)] = v.(*atomic.Int64).Load(); return true })
	return out
}

func waitStatus(t *testing.T, url string, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == want {
				return time.Since(start)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never answered %d within %s", url, want, within)
	return 0
}

// Rule 22 through the whole server: Redis killed under load → 503 for every
// session request, never 200 or 500; /readyz 503; recovery by itself once
// Redis is back (its AOF keeps the session), without a restart.
func TestFaults_RedisKilledUnderLoad(t *testing.T) {
	t.Parallel()
	rd := testenv.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	dir := t.TempDir()
	cfg := writeConfig(t, dir, fmt.Sprintf("store:\n  sessions: %q\n", rd.URL))
	if out, err := run(t, "a long enough pass\n", "user", "add", "--config", cfg, "--data", dir, "--email", "a@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	p := serve(t, dir, "--config", cfg)
	b := newBrowser(t, p.url)
	b.login("a@example.com", "a long enough pass")
	outageUnderLoad(t, p, b, "Redis", func() { rd.Kill(t) }, func() { rd.Restart(t) }, time.Second)
}

// PostgreSQL (the users store) restarted under load: 503 during the outage,
// and the same process serves again once it is back.
func TestFaults_PostgresRestartedUnderLoad(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t)
	dir := t.TempDir()
	kek := make([]byte, 32)
	_, _ = rand.Read(kek)
	cfg := writeConfig(t, dir, fmt.Sprintf("store:\n  users: %q\n  sessions: \"sqlite:%s/s.db\"\ntoken:\n  key_encryption_key: %q\n",
		pg.DSN, dir, base64.StdEncoding.EncodeToString(kek)))
	if out, err := run(t, "", "migrate", "--config", cfg, "--data", dir); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	if out, err := run(t, "a long enough pass\n", "user", "add", "--config", cfg, "--data", dir, "--email", "a@example.com", "--password-stdin"); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	p := serve(t, dir, "--config", cfg)
	b := newBrowser(t, p.url)
	b.login("a@example.com", "a long enough pass")
	outageUnderLoad(t, p, b, "PostgreSQL", func() { pg.Stop(t) }, func() { pg.Start(t) }, 500*time.Millisecond)
}

// outageUnderLoad runs whoami load with b's cookie against p, stops a store
// (stop returns once it is dead), keeps it down for a while, starts it again,
// and checks rule 22 all along: only 200 and 503, no identity while down, 503s
// during the outage, /readyz following the store, recovery without a restart.
func outageUnderLoad(t *testing.T, p *proc, b *browser, store string, stop, start func(), down time.Duration) {
	t.Helper()
	l := startLoad(t, b)
	time.Sleep(300 * time.Millisecond)
	stop()
	l.down.Store(true)
	waitStatus(t, p.url+"/readyz", 503, 10*time.Second)
	time.Sleep(down)
	l.down.Store(false)
	start()
	recovered := waitStatus(t, p.url+"/readyz", 200, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	counts := l.halt()
	t.Logf("answers by status: %v; ready again %s after %s returned", counts, recovered, store)
	if l.badOK.Load() > 0 {
		t.Fatalf("%d identities served while %s was down", l.badOK.Load(), store)
	}
	for status := range counts {
		if status != 200 && status != 503 {
			t.Fatalf("answers other than 200 and 503: %v", counts)
		}
	}
	if counts[503] == 0 {
		t.Fatalf("no 503 during the outage: %v", counts)
	}
	if code := b.whoami(); code != 200 {
		t.Fatalf("no recovery without restart: whoami %d", code)
	}
}
