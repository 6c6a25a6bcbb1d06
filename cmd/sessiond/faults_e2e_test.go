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
	l := startLoad(t, b)
	time.Sleep(300 * time.Millisecond)

	rd.Kill(t) // returns once the process has exited
	l.down.Store(true)
	waitStatus(t, p.url+"/readyz", 503, 10*time.Second)
	time.Sleep(time.Second)
	l.down.Store(false)
	rd.Restart(t)
	recovered := waitStatus(t, p.url+"/readyz", 200, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	counts := l.halt()
	t.Logf("answers by status: %v; ready again %s after restart", counts, recovered)
	if l.badOK.Load() > 0 {
		t.Fatalf("%d identities served while Redis was down", l.badOK.Load())
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
	l := startLoad(t, b)
	time.Sleep(300 * time.Millisecond)
	pg.Stop(t) // returns once the server has exited
	l.down.Store(true)
	waitStatus(t, p.url+"/readyz", 503, 10*time.Second)
	time.Sleep(500 * time.Millisecond)
	l.down.Store(false)
	pg.Start(t)
	recovered := waitStatus(t, p.url+"/readyz", 200, 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	counts := l.halt()
	t.Logf("answers by status: %v; ready again %s after start", counts, recovered)
	if l.badOK.Load() > 0 {
		t.Fatalf("%d identities served while PostgreSQL was down", l.badOK.Load())
	}
	for status := range counts {
		if status != 200 && status != 503 {
			t.Fatalf("answers other than 200 and 503: %v", counts)
		}
	}
	if code := b.whoami(); code != 200 {
		t.Fatalf("no recovery without restart: whoami %d", code)
	}
}
