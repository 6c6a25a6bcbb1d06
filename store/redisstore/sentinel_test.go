package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sessiond/sessiond/internal/testenv"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/redisstore"
	"github.com/sessiond/sessiond/store/storetest"
)

// pauseReplica stops the replica process (SIGSTOP) so that it confirms
// nothing, and resumes it in t.Cleanup or when the returned func is called.
func pauseReplica(t *testing.T, rs *testenv.RedisSentinel) func() {
	t.Helper()
	m := rs.Master(t)
	for _, r := range rs.Nodes {
		if r != m {
			if err := r.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			var once sync.Once
			resume := func() { once.Do(func() { _ = r.Signal(syscall.SIGCONT) }) }
			t.Cleanup(resume)
			return resume
		}
	}
	t.Fatal("no replica")
	return nil
}

// TestRevocation_WaitsForReplica: on Sentinel (replicas exist, so the
// default is one confirming replica) every revoking method returns nil
// while the replica confirms; with the replica stalled, each reports the
// unconfirmed revocation to the Unreplicated hook (which then takes it
// over: the method returns nil), or without a hook returns an
// *UnreplicatedError that is ErrUnavailable (never success), for a
// parallel burst of logouts too.
func TestRevocation_WaitsForReplica(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedisSentinel(t)
	ctx := context.Background()
	var mu sync.Mutex
	var reported []redisstore.Revocation
	hooked := open(t, rs.URL, redisstore.Options{
		RevocationTimeout: 100 * time.Millisecond,
		Unreplicated: func(_ context.Context, r redisstore.Revocation) error {
			mu.Lock()
			defer mu.Unlock()
			reported = append(reported, r)
			return nil
		},
	})
	bare := open(t, rs.URL, redisstore.Options{RevocationTimeout: 100 * time.Millisecond})
	newSession := func(st *redisstore.Store, user string) *session.Session {
		s := storetest.NewSession(t, user, time.Now(), time.Hour)
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Healthy replica: confirmed, nothing reported.
	if err := hooked.Delete(ctx, newSession(hooked, "alice").ID); err != nil {
		t.Fatalf("Delete with a healthy replica: %v", err)
	}
	if len(reported) != 0 {
		t.Fatalf("reported with a healthy replica: %+v", reported)
	}

	// Stalled replica.
	s1 := newSession(hooked, "bob")
	newSession(hooked, "carol")
	newSession(hooked, "carol")
	f, first := storetest.NewFamily(t, "dave", time.Now(), time.Hour)
	if err := hooked.CreateFamily(ctx, f, first); err != nil {
		t.Fatal(err)
	}
	const burst = 8
	var burstIDs []string
	for i := range burst {
		burstIDs = append(burstIDs, newSession(bare, fmt.Sprintf("burst-%d", i)).ID)
	}
	until := time.Now().Add(time.Hour)
	pauseReplica(t, rs)

	if err := hooked.Delete(ctx, s1.ID); err != nil {
		t.Errorf("Delete with hook: %v", err)
	}
	if n, err := hooked.DeleteByUser(ctx, "carol", ""); err != nil || n != 2 {
		t.Errorf("DeleteByUser with hook = %d, %v", n, err)
	}
	if err := hooked.RevokeFamily(ctx, f.ID); err != nil {
		t.Errorf("RevokeFamily with hook: %v", err)
	}
	if err := hooked.Deny(ctx, "jti-1", until); err != nil {
		t.Errorf("Deny with hook: %v", err)
	}
	mu.Lock()
	got := map[redisstore.RevocationKind][]string{}
	for _, r := range reported {
		if r.Wanted != 1 || r.Confirmed != 0 {
			t.Errorf("reported %+v, want Wanted 1 Confirmed 0", r)
		}
		if r.Kind == redisstore.DeniedKeys && !r.Until.Equal(until) {
			t.Errorf("denylist Until = %v, want %v", r.Until, until)
		}
		got[r.Kind] = append(got[r.Kind], r.IDs...)
	}
	mu.Unlock()
	if len(got[redisstore.RevokedSessions]) != 3 || len(got[redisstore.RevokedFamilies]) != 1 ||
		len(got[redisstore.DeniedKeys]) != 1 || got[redisstore.DeniedKeys][0] != "jti-1" {
		t.Errorf("reported %v, want 3 sessions (s1, carol's two), 1 family, 1 denylist key", got)
	}

	// Without a hook, a parallel burst of logouts: every one fails closed.
	var unreplicated atomic.Int32
	var wg sync.WaitGroup
	for _, id := range burstIDs {
		wg.Go(func() {
			err := bare.Delete(ctx, id)
			var ue *redisstore.UnreplicatedError
			if errors.As(err, &ue) && errors.Is(err, session.ErrUnavailable) &&
				len(ue.Revocation.IDs) == 1 && ue.Revocation.IDs[0] == id {
				unreplicated.Add(1)
				return
			}
			t.Errorf("Delete without hook, replica stalled: %v, want an *UnreplicatedError", err)
		})
	}
	wg.Wait()
	if n := unreplicated.Load(); n != burst {
		t.Errorf("%d of %d logouts reported unreplicated", n, burst)
	}
}

// TestRevocation_NoWaitWhenOff: RevocationReplicas < 0 turns the wait off
// (a stalled replica delays and reports nothing).
func TestRevocation_NoWaitWhenOff(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedisSentinel(t)
	ctx := context.Background()
	st := open(t, rs.URL, redisstore.Options{
		RevocationReplicas: -1,
		Unreplicated: func(context.Context, redisstore.Revocation) error {
			t.Error("Unreplicated called with the wait off")
			return nil
		},
	})
	s := storetest.NewSession(t, "u", time.Now(), time.Hour)
	if err := st.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	pauseReplica(t, rs)
	if err := st.Delete(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
}

// TestFailover_SentinelLogoutSurvives: under a small load, a session is
// logged out and the master is killed (kill -9) right after; once the
// sentinels have promoted the replica, the ended session is still refused
// (ErrNotFound), in every round. A logout the replica did not confirm in
// time would have been reported to the Unreplicated hook (the durable
// copy) instead, and counts as refused only through it. It logs the
// measured failover window: from the kill to the first write accepted by
// the new master.
func TestFailover_SentinelLogoutSurvives(t *testing.T) {
	t.Parallel()
	rs := testenv.StartRedisSentinel(t)
	ctx := context.Background()
	var mu sync.Mutex
	durable := map[string]bool{} // stands for the users store
	st := open(t, rs.URL, redisstore.Options{
		Unreplicated: func(_ context.Context, r redisstore.Revocation) error {
			mu.Lock()
			defer mu.Unlock()
			for _, id := range r.IDs {
				durable[id] = true
			}
			return nil
		},
	})

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ops, failed atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := storetest.NewSession(t, fmt.Sprintf("load-%d-%d", w, i%16), time.Now(), time.Hour)
				if err := st.Create(ctx, s); err != nil {
					failed.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if _, err := st.Get(ctx, s.ID); err != nil {
					failed.Add(1)
				}
				ops.Add(1)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	const rounds = 3
	for round := range rounds {
		victim := storetest.NewSession(t, "victim", time.Now(), time.Hour)
		if err := st.Create(ctx, victim); err != nil {
			t.Fatalf("round %d: create: %v", round, err)
		}
		if _, err := st.Get(ctx, victim.ID); err != nil {
			t.Fatalf("round %d: get before logout: %v", round, err)
		}
		if err := st.Delete(ctx, victim.ID); err != nil {
			t.Fatalf("round %d: logout: %v", round, err)
		}
		killed := time.Now()
		old := rs.KillMaster(t)
		var window time.Duration
		for {
			probe := storetest.NewSession(t, "probe", time.Now(), time.Hour)
			if err := st.Create(ctx, probe); err == nil {
				window = time.Since(killed)
				break
			}
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("round %d: no master accepted a write within 30s of the kill", round)
			}
			time.Sleep(20 * time.Millisecond)
		}
		_, err := st.Get(ctx, victim.ID)
		mu.Lock()
		viaDurable := durable[victim.ID]
		mu.Unlock()
		switch {
		case errors.Is(err, session.ErrNotFound):
		case viaDurable:
			t.Logf("round %d: logout unconfirmed by the replica, refused through the durable copy", round)
		default:
			t.Fatalf("round %d: the logged-out session came back after the failover: Get = %v", round, err)
		}
		t.Logf("round %d: failover window (kill -9 of the master to the first accepted write): %v", round, window.Round(time.Millisecond))
		old.Restart(t) // rejoins; the sentinels make it a replica
		rs.WaitHealthy(t, 30*time.Second)
	}
	t.Logf("load: %d operations, %d failed during the failovers", ops.Load(), failed.Load())
}
