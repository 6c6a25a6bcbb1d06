package server_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
)

// gatedUsers holds every login's user lookup at a gate, after the read, so
// that a test can line up a burst of logins deterministically: each lookup
// waits until the test opens the gate for its place in the order of arrival.
type gatedUsers struct {
	account.Store
	mu      sync.Mutex
	arrived int
	changed chan struct{} // closed and replaced on every arrival or release
	opened  int           // lookups with an index below it may go on
}

func newGatedUsers(st account.Store) *gatedUsers {
	return &gatedUsers{Store: st, changed: make(chan struct{})}
}

func (g *gatedUsers) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	u, err := g.Store.UserByEmail(ctx, email) // read first: a burst races on what it read
	g.mu.Lock()
	i := g.arrived
	g.arrived++
	g.signal()
	for i >= g.opened {
		ch := g.changed
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
	g.mu.Unlock()
	return u, err
}

func (g *gatedUsers) signal() { close(g.changed); g.changed = make(chan struct{}) }

// hold stops every lookup from now on and returns how many arrived so far.
func (g *gatedUsers) hold() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.opened = g.arrived
	return g.arrived
}

// wake makes waitUntil look again.
func (g *gatedUsers) wake() {
	g.mu.Lock()
	g.signal()
	g.mu.Unlock()
}

// open lets the first n lookups go on.
func (g *gatedUsers) open(n int) {
	g.mu.Lock()
	g.opened = n
	g.signal()
	g.mu.Unlock()
}

// waitUntil blocks until cond (called with the number of lookups that have
// arrived) is true; the test's own deadline ends a hang.
func (g *gatedUsers) waitUntil(cond func(arrived int) bool) {
	g.mu.Lock()
	for !cond(g.arrived) {
		ch := g.changed
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
	g.mu.Unlock()
}

// burstEndpoint is a way to sign in with a password and its statuses.
type burstEndpoint struct {
	name       string
	login      func(c *client, email, password string) *resp
	ok, failed int
}

var burstEndpoints = []burstEndpoint{
	{"login", func(c *client, email, password string) *resp { return c.login(email, password) }, 200, 401},
	{"password grant", func(c *client, email, password string) *resp {
		return c.form("/v1/token", url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}})
	}, 200, 400},
}

// TestLogin_ParallelBurstCannotExceedLimit: issue 13, rule 18. After 9
// failures with a per-account limit of 10, a parallel burst of 20 (19 wrong,
// then the right password while they are in flight) gets exactly one
// attempt evaluated; every other is 429, the right password included. Before
// the fix the limit was checked before the hash and recorded after it: all
// 20 passed the check (19 × 401 and a sign-in).
func TestLogin_ParallelBurstCannotExceedLimit(t *testing.T) {
	t.Parallel()
	for _, ep := range burstEndpoints {
		t.Run(ep.name, func(t *testing.T) {
			t.Parallel()
			var g *gatedUsers
			e := newEnv(t, envOptions{perAcct: mustRate("10/1m"),
				users: func(st account.Store) account.Store { g = newGatedUsers(st); return g }})
			e.addUser("a@example.com", pw)
			g.open(1 << 30)
			for range 9 {
				want(t, ep.login(e.client(), "a@example.com", "bad password!"), ep.failed, "")
			}
			held := g.hold()
			var mu sync.Mutex
			statuses := map[int]int{}
			done := 0
			var wg sync.WaitGroup
			send := func(password string) {
				wg.Go(func() {
					r := ep.login(e.client(), "a@example.com", password)
					mu.Lock()
					statuses[r.StatusCode]++
					done++
					mu.Unlock()
					g.wake()
				})
			}
			settled := func(n int) func(int) bool {
				return func(arrived int) bool {
					mu.Lock()
					defer mu.Unlock()
					return arrived-held+done >= n
				}
			}
			for range 19 {
				send("bad password!")
			}
			g.waitUntil(settled(19)) // every wrong one is refused or at the gate
			send(pw)
			g.waitUntil(settled(20))
			g.open(1 << 30)
			wg.Wait()
			if statuses[429] != 19 || statuses[ep.failed] != 1 || statuses[ep.ok] != 0 {
				t.Fatalf("9 failures, limit 10, burst of 19 wrong + right: statuses %v, want 19 × 429 and 1 × %d", statuses, ep.failed)
			}
		})
	}
}

// TestLogin_ParallelBurstCannotBeatLockout: issue 13, rule 18. With
// lockout_after 3 and 2 failures, a parallel burst of 19 wrong passwords and
// the right one locks the account on the first wrong one evaluated, and the
// right password, evaluated after the wrong ones, does not sign in. Before
// the fix every attempt read the unlocked user before any failure was
// recorded, and the right password signed in.
func TestLogin_ParallelBurstCannotBeatLockout(t *testing.T) {
	t.Parallel()
	for _, ep := range burstEndpoints {
		t.Run(ep.name, func(t *testing.T) {
			t.Parallel()
			var g *gatedUsers
			e := newEnv(t, envOptions{lockAfter: 3,
				users: func(st account.Store) account.Store { g = newGatedUsers(st); return g }})
			u := e.addUser("a@example.com", pw)
			g.open(1 << 30)
			for range 2 {
				want(t, ep.login(e.client(), "a@example.com", "bad password!"), ep.failed, "")
			}
			// All 20 read the user and wait; the 19 wrong ones go on first and
			// finish, then the right one.
			first := g.hold()
			var wrong, all sync.WaitGroup
			var mu sync.Mutex
			statuses := map[int]int{}
			send := func(password string, also *sync.WaitGroup) {
				all.Add(1)
				also.Add(1)
				go func() {
					defer all.Done()
					defer also.Done()
					r := ep.login(e.client(), "a@example.com", password)
					mu.Lock()
					statuses[r.StatusCode]++
					mu.Unlock()
				}()
			}
			for range 19 {
				send("bad password!", &wrong)
			}
			g.waitUntil(func(arrived int) bool { return arrived == first+19 })
			var right sync.WaitGroup
			send(pw, &right)
			g.waitUntil(func(arrived int) bool { return arrived == first+20 })
			g.open(first + 19)
			wrong.Wait()
			g.open(1 << 30)
			all.Wait()
			if statuses[ep.failed] != 20 {
				t.Fatalf("lockout after 3, 2 failures, burst of 19 wrong + right: statuses %v, want 20 × %d", statuses, ep.failed)
			}
			got, err := e.store.UserByID(context.Background(), u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.LockedUntil.After(e.clock.Now()) {
				t.Fatalf("account not locked after the burst: LockedUntil %v", got.LockedUntil)
			}
			want(t, ep.login(e.client(), "a@example.com", pw), ep.failed, "")
			e.clock.Advance(61 * time.Minute)
			want(t, ep.login(e.client(), "a@example.com", pw), ep.ok, "")
		})
	}
}
