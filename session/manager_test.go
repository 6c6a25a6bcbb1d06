package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
)

// clock is an injected clock: tests move it, nothing sleeps.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time            { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration)   { c.ns.Add(int64(d)) }
func (c *clock) set(t time.Time)           { c.ns.Store(t.UnixNano()) }
func (c *clock) since(t time.Time) float64 { return c.Now().Sub(t).Seconds() }

// newManager returns a Manager on a memstore. The store's clock stays where
// the manager's starts, so the store never hides an expired record itself:
// what expires is the Manager's judgement (as with a store on another host
// whose clock lags).
func newManager(t *testing.T, cfg session.Config) (*session.Manager, *clock, *memstore.Store) {
	t.Helper()
	clk := newClock()
	storeNow := clk.Now()
	st := memstore.New(func() time.Time { return storeNow })
	cfg.Store, cfg.Now = st, clk.Now
	m, err := session.NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, clk, st
}

func ids(list []*session.Session) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

// TestManager_CreateEvictsOldest: with MaxPerUser, each new session ends the
// user's oldest beyond the cap; their tokens stop working; other users keep
// theirs.
func TestManager_CreateEvictsOldest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, clk, _ := newManager(t, session.Config{MaxPerUser: 3})
	_, bobTok, err := m.Create(ctx, "bob", session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	var created []*session.Session
	var toks []string
	for range 5 {
		clk.Advance(time.Second)
		s, tok, err := m.Create(ctx, "alice", session.Meta{UserAgent: "ua"})
		if err != nil {
			t.Fatal(err)
		}
		created, toks = append(created, s), append(toks, tok)
	}
	list, err := m.List(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ids(created[2:]), ids(list)); diff != "" {
		t.Errorf("alice's sessions after 5 creates with MaxPerUser 3 (-want +got):\n%s", diff)
	}
	for i, tok := range toks {
		_, err := m.Load(ctx, tok)
		if evicted := i < 2; evicted != errors.Is(err, session.ErrNotFound) || !evicted && err != nil {
			t.Errorf("session %d: Load err = %v, evicted %v", i, err, evicted)
		}
	}
	if _, err := m.Load(ctx, bobTok); err != nil {
		t.Errorf("another user's session was ended: %v", err)
	}
}

// TestManager_CreateEvictsUnderBurst: parallel logins of one user never
// leave more than MaxPerUser sessions, nor fewer.
func TestManager_CreateEvictsUnderBurst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const max, n = 3, 32
	m, clk, _ := newManager(t, session.Config{MaxPerUser: max})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			clk.Advance(time.Millisecond) // distinct creation times: a total order
			if _, _, err := m.Create(ctx, "alice", session.Meta{}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	list, err := m.List(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != max {
		t.Errorf("%d parallel creates left %d sessions, want %d", n, len(list), max)
	}
}

// TestManager_LoadTouchIsThrottled: Load writes last-seen at most once per
// TouchInterval, and a touch moves the idle deadline (never past the
// absolute one).
func TestManager_LoadTouchIsThrottled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, clk, st := newManager(t, session.Config{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour, TouchInterval: time.Minute})
	s, tok, err := m.Create(ctx, "alice", session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() *session.Session {
		t.Helper()
		got, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := stored(); !got.LastSeenAt.Equal(s.CreatedAt) || !got.IdleExpiresAt.Equal(s.CreatedAt.Add(10*time.Minute)) {
		t.Fatalf("new session: last seen %s, idle until %s", got.LastSeenAt, got.IdleExpiresAt)
	}

	clk.Advance(59 * time.Second)
	if _, err := m.Load(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got := stored(); !got.LastSeenAt.Equal(s.CreatedAt) {
		t.Errorf("Load %.0fs after the last touch wrote last-seen %s", clk.since(s.CreatedAt), got.LastSeenAt)
	}

	clk.Advance(time.Second)
	loaded, err := m.Load(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now()
	if got := stored(); !got.LastSeenAt.Equal(now) || !got.IdleExpiresAt.Equal(now.Add(10*time.Minute)) {
		t.Errorf("Load one interval later: stored last seen %s idle until %s, want %s and %s", got.LastSeenAt, got.IdleExpiresAt, now, now.Add(10*time.Minute))
	}
	if !loaded.LastSeenAt.Equal(now) || loaded.CSRFToken != session.CSRFToken(tok) {
		t.Errorf("loaded session: last seen %s, CSRF token set %v", loaded.LastSeenAt, loaded.CSRFToken != "")
	}

	// Near the absolute expiry a touch cannot extend past it.
	clk.set(s.ExpiresAt.Add(-5 * time.Minute))
	// (the session would be idle-expired by now: renew the idle deadline first)
	if err := st.Touch(ctx, s.ID, clk.Now().Add(-2*time.Minute), clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got := stored(); !got.IdleExpiresAt.Equal(s.ExpiresAt) {
		t.Errorf("idle deadline %s after a touch 5m before the absolute expiry %s", got.IdleExpiresAt, s.ExpiresAt)
	}
}

// TestManager_LoadExpiry: a session unused for IdleTimeout, or older than
// AbsoluteTimeout however often used, is refused with ErrExpired and ended.
func TestManager_LoadExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := session.Config{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour, TouchInterval: time.Minute}

	t.Run("idle", func(t *testing.T) {
		t.Parallel()
		m, clk, st := newManager(t, cfg)
		s, tok, err := m.Create(ctx, "alice", session.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(10*time.Minute - time.Millisecond)
		if _, err := m.Load(ctx, tok); err != nil {
			t.Fatalf("Load 1 ms before the idle deadline: %v", err)
		}
		clk.Advance(10 * time.Minute) // touched above: idle until then
		if _, err := m.Load(ctx, tok); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("Load at the idle deadline: err = %v, want ErrExpired", err)
		}
		if _, err := st.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("the expired session is still stored: %v", err)
		}
		if _, err := m.Load(ctx, tok); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("second Load: err = %v, want ErrNotFound", err)
		}
	})

	t.Run("absolute", func(t *testing.T) {
		t.Parallel()
		m, clk, _ := newManager(t, cfg)
		s, tok, err := m.Create(ctx, "alice", session.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		for clk.Now().Before(s.ExpiresAt.Add(-5 * time.Minute)) {
			clk.Advance(5 * time.Minute)
			if _, err := m.Load(ctx, tok); err != nil {
				t.Fatalf("Load in use at +%.0fs: %v", clk.since(s.CreatedAt), err)
			}
		}
		clk.set(s.ExpiresAt)
		if _, err := m.Load(ctx, tok); !errors.Is(err, session.ErrExpired) {
			t.Fatalf("Load at the absolute expiry of a session in use: err = %v, want ErrExpired", err)
		}
	})
}

// TestManager_Renew: a new ID and token for the same user, device and data;
// the old token is dead.
func TestManager_Renew(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, clk, _ := newManager(t, session.Config{})
	meta := session.Meta{IP: "192.0.2.1", UserAgent: "ua", Method: "password"}
	old, oldTok, err := m.Create(ctx, "alice", meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.MergeData(ctx, old.ID, []byte(`{"cart":[1,2]}`), nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	ns, tok, err := m.Renew(ctx, old) // old is stale: the data written since carries over
	if err != nil {
		t.Fatal(err)
	}
	if ns.ID == old.ID || tok == oldTok || ns.CSRFToken == old.CSRFToken {
		t.Fatal("Renew kept the ID, token or CSRF token")
	}
	if _, err := m.Load(ctx, oldTok); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("old token after Renew: err = %v, want ErrNotFound", err)
	}
	got, err := m.Load(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	want := session.Session{UserID: "alice", IP: meta.IP, UserAgent: meta.UserAgent, Method: meta.Method, Data: []byte(`{"cart":[1,2]}`), DataVersion: 1}
	if diff := cmp.Diff(want, session.Session{UserID: got.UserID, IP: got.IP, UserAgent: got.UserAgent, Method: got.Method, Data: got.Data, DataVersion: got.DataVersion}); diff != "" {
		t.Errorf("renewed session (-want +got):\n%s", diff)
	}
	if !got.Assurance.Equal(old.Assurance) || got.Assurance.AAL != session.AAL1 {
		t.Errorf("renewed assurance = %+v, want %+v", got.Assurance, old.Assurance)
	}
}

// TestManager_MergeDataUnderContention: parallel merges of one session's
// data all land: none is lost, and the version counts every one.
func TestManager_MergeDataUnderContention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const n = 24
	m, _, _ := newManager(t, session.Config{})
	s, _, err := m.Create(ctx, "alice", session.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			if _, _, err := m.MergeData(ctx, s.ID, fmt.Appendf(nil, `{"k%d":%d}`, i, i), nil); err != nil {
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := m.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]int
	if err := json.Unmarshal(got.Data, &data); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for i := range n {
		want[fmt.Sprintf("k%d", i)] = i
	}
	if diff := cmp.Diff(want, data); diff != "" || got.DataVersion != n {
		t.Errorf("after %d parallel merges: version %d (want %d), data (-want +got):\n%s", n, got.DataVersion, n, diff)
	}

	// With If-Match, exactly one of the parallel merges of one version wins.
	v := got.DataVersion
	var won atomic.Int32
	for i := range n {
		wg.Go(func() {
			_, _, err := m.MergeData(ctx, s.ID, fmt.Appendf(nil, `{"once":%d}`, i), &v)
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, session.ErrPrecondition):
				t.Errorf("If-Match merge: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Errorf("%d parallel If-Match merges of version %d: %d won, want 1", n, v, won.Load())
	}
}

// TestManager_CreateCarriesAssurance: a session is created with the
// assurance it is given, or, without one, as one factor by its method now;
// Load reads it back, and a record stored without one (an older sessiond)
// loads as one factor at its creation.
func TestManager_CreateCarriesAssurance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, clk, st := newManager(t, session.Config{})
	t0 := clk.Now()
	strong := session.Assurance{}.Add(t0, session.FactorKey(true, true))
	_, tok, err := m.Create(ctx, "alice", session.Meta{Method: "passkey", Assurance: strong})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Load(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(strong, got.Assurance); diff != "" || got.Assurance.AAL != session.AAL2 {
		t.Errorf("created with an assurance (-want +got):\n%s", diff)
	}
	for method, amr := range map[string]string{"password": "pwd", "oidc:corp": "fed"} {
		s, _, err := m.Create(ctx, "bob", session.Meta{Method: method})
		if err != nil {
			t.Fatal(err)
		}
		want := session.Assurance{AAL: session.AAL1, AMR: []string{amr}, AuthTime: t0}
		if diff := cmp.Diff(want, s.Assurance); diff != "" {
			t.Errorf("%s without an assurance (-want +got):\n%s", method, diff)
		}
	}
	legacy := &session.Session{ID: "legacy", Hash: make([]byte, 32), UserID: "carol", Method: "password",
		CreatedAt: t0.Add(-time.Hour), LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
	if err := st.Create(ctx, legacy); err != nil {
		t.Fatal(err)
	}
	got, err = m.Get(ctx, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if want := (session.Assurance{AAL: session.AAL1, AMR: []string{"pwd"}, AuthTime: legacy.CreatedAt}); !got.Assurance.Equal(want) {
		t.Errorf("legacy session assurance = %+v, want %+v", got.Assurance, want)
	}
}

// TestManager_RaiseIssuesNewID: raising the assurance is a privilege change
// (SECURITY.md rule 2): the session gets a fresh ID, token and CSRF token
// carrying the user, device, data, creation time and the raised assurance
// (aal 2, amr [pwd otp mfa], both times), and the old token is dead. Of a
// burst of raises of one session, every new session is AAL2 and the old
// one is gone.
func TestManager_RaiseIssuesNewID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m, clk, _ := newManager(t, session.Config{})
	t0 := clk.Now()
	meta := session.Meta{IP: "192.0.2.1", UserAgent: "ua", Method: "password"}
	old, oldTok, err := m.Create(ctx, "alice", meta)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.MergeData(ctx, old.ID, []byte(`{"cart":[1]}`), nil); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	t1 := clk.Now()
	ns, tok, err := m.Raise(ctx, old, session.FactorOTP)
	if err != nil {
		t.Fatal(err)
	}
	if ns.ID == old.ID || tok == oldTok || ns.CSRFToken == old.CSRFToken {
		t.Fatal("Raise kept the ID, token or CSRF token")
	}
	if _, err := m.Load(ctx, oldTok); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("old token after Raise: err = %v, want ErrNotFound", err)
	}
	got, err := m.Load(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	want := session.Assurance{AAL: session.AAL2, AMR: []string{"pwd", "otp", "mfa"}, AuthTime: t1, AAL2Time: t1}
	if diff := cmp.Diff(want, got.Assurance); diff != "" {
		t.Errorf("raised assurance (-want +got):\n%s", diff)
	}
	if got.UserID != "alice" || got.IP != meta.IP || got.Method != "password" || string(got.Data) != `{"cart":[1]}` ||
		!got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(old.ExpiresAt) {
		t.Errorf("raised session lost its user, device, data or lifetime: %+v", got)
	}
	if !got.Assurance.Satisfies(session.AAL2, 5*time.Minute, clk.Now()) {
		t.Error("raised session does not satisfy aal2 within 5 minutes")
	}

	// A stale step-up is refreshed by another raise, again under a new ID.
	clk.Advance(time.Hour)
	again, _, err := m.Raise(ctx, got, session.FactorOTP)
	if err != nil || again.ID == got.ID || !again.Assurance.AAL2Time.Equal(clk.Now()) {
		t.Fatalf("second raise: %+v, %v", again, err)
	}

	var wg sync.WaitGroup
	var ok atomic.Int64
	for range 16 {
		wg.Go(func() {
			s, _, err := m.Raise(ctx, again, session.FactorOTP)
			if err == nil {
				if s.Assurance.AAL != session.AAL2 {
					t.Errorf("raced raise gave aal %d", s.Assurance.AAL)
				}
				ok.Add(1)
			} else if !errors.Is(err, session.ErrNotFound) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() == 0 {
		t.Fatal("no raise of the burst succeeded")
	}
	if _, err := m.Get(ctx, again.ID); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("raised-from session still there: %v", err)
	}
}
