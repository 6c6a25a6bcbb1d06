package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/session"
)

// NewSession returns a fresh, valid session for userID, created now and
// expiring after ttl, with times truncated to the millisecond as the Manager
// stores them. It carries StepUpAssurance(now), so every round trip in the
// suite checks that the assurance survives.
func NewSession(t testing.TB, userID string, now time.Time, ttl time.Duration) *session.Session {
	t.Helper()
	tok, err := session.NewToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	now = now.UTC().Truncate(time.Millisecond)
	h := session.HashToken(tok)
	return &session.Session{
		ID:            session.IDFromHash(h),
		Hash:          h,
		UserID:        userID,
		CreatedAt:     now,
		LastSeenAt:    now,
		IdleExpiresAt: now.Add(ttl),
		ExpiresAt:     now.Add(ttl),
		IP:            "192.0.2.1",
		UserAgent:     "storetest/1.0",
		Method:        "password",
		Assurance:     StepUpAssurance(now),
	}
}

// StepUpAssurance is the assurance of a password sign-in at now followed by
// a one-time code a minute later: aal 2, amr [pwd otp mfa], auth_time and
// aal2_time both set (to the millisecond).
func StepUpAssurance(now time.Time) session.Assurance {
	now = now.UTC().Truncate(time.Millisecond)
	return session.Assurance{}.Add(now, session.FactorPassword).Add(now.Add(time.Minute), session.FactorOTP)
}

// equalSession compares every field of a stored session (times with Equal,
// nil and empty data alike).
func equalSession(t *testing.T, got, want *session.Session) {
	t.Helper()
	if d := cmp.Diff(want, got, equateEmpty); d != "" {
		t.Fatalf("session mismatch (-want +got):\n%s", d)
	}
}

func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

// RunSessions runs the session-store conformance suite against the backend
// newStore returns. newStore is called once per subtest and may return the
// same underlying database as long as the suite's users do not collide (the
// suite names its users uniquely).
func RunSessions(t *testing.T, newStore func(t *testing.T) session.Backend) {
	ctx := context.Background()
	now := time.Now()

	t.Run("CreateGetDelete", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		s := NewSession(t, uniq("u"), now, time.Hour)
		if err := st.Create(ctx, s); err != nil {
			t.Fatalf("create: %v", err)
		}
		got, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		equalSession(t, got, s)
		if err := st.Delete(ctx, s.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if _, err := st.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("get after delete: want ErrNotFound, got %v", err)
		}
		if err := st.Delete(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("second delete: want ErrNotFound, got %v", err)
		}
	})

	t.Run("AssuranceRoundTrip", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		s := NewSession(t, uniq("u"), time.Now(), time.Hour)
		want := session.Assurance{AAL: session.AAL2, AMR: []string{"pwd", "otp", "mfa"},
			AuthTime: s.CreatedAt.Add(time.Minute), AAL2Time: s.CreatedAt.Add(time.Minute)}
		if d := cmp.Diff(want, s.Assurance); d != "" {
			t.Fatalf("StepUpAssurance (-want +got):\n%s", d)
		}
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		equalSession(t, got, s)
		list, err := st.ListByUser(ctx, s.UserID)
		if err != nil || len(list) != 1 {
			t.Fatalf("list: %v, %v", list, err)
		}
		equalSession(t, list[0], s)
		one := NewSession(t, uniq("u"), time.Now(), time.Hour)
		one.Assurance = session.OneFactor("oidc:corp", one.CreatedAt)
		if err := st.Create(ctx, one); err != nil {
			t.Fatal(err)
		}
		if got, err = st.Get(ctx, one.ID); err != nil {
			t.Fatal(err)
		}
		equalSession(t, got, one)
	})

	t.Run("GetUnknown", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		if _, err := st.Get(ctx, "AAAAAAAAAAAAAAAAAAAAAA"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
		if err := st.Touch(ctx, "AAAAAAAAAAAAAAAAAAAAAA", now, now.Add(time.Hour)); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("touch unknown: want ErrNotFound, got %v", err)
		}
		if _, err := st.SetData(ctx, "AAAAAAAAAAAAAAAAAAAAAA", []byte(`{}`), 0); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("set data unknown: want ErrNotFound, got %v", err)
		}
	})

	t.Run("CreateDuplicateConflicts", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		s := NewSession(t, uniq("u"), now, time.Hour)
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		if err := st.Create(ctx, s); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("want ErrConflict, got %v", err)
		}
	})

	t.Run("Touch", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		s := NewSession(t, uniq("u"), now, time.Hour)
		s.IdleExpiresAt = s.CreatedAt.Add(10 * time.Minute)
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		seen := s.CreatedAt.Add(time.Minute)
		idle := seen.Add(10 * time.Minute)
		if err := st.Touch(ctx, s.ID, seen, idle); err != nil {
			t.Fatalf("touch: %v", err)
		}
		got, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := s.Clone()
		want.LastSeenAt, want.IdleExpiresAt = seen, idle
		equalSession(t, got, want)
	})

	t.Run("ExpiredIsNotFound", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		user := uniq("u")
		abs := NewSession(t, user, now.Add(-2*time.Hour), time.Hour) // absolute expiry passed
		idle := NewSession(t, user, now, time.Hour)
		idle.IdleExpiresAt = now.Add(-time.Second) // idle expiry passed
		for _, s := range []*session.Session{abs, idle} {
			if err := st.Create(ctx, s); err != nil {
				t.Fatalf("create: %v", err)
			}
			if _, err := st.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("expired session: want ErrNotFound, got %v", err)
			}
		}
		list, err := st.ListByUser(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Fatalf("expired sessions listed: %d", len(list))
		}
	})

	t.Run("ExpiresWhileStored", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		user := uniq("u")
		s := NewSession(t, user, time.Now(), 1200*time.Millisecond)
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Get(ctx, s.ID); err != nil {
			t.Fatalf("fresh session: %v", err)
		}
		time.Sleep(1500 * time.Millisecond)
		if _, err := st.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("after expiry: want ErrNotFound, got %v", err)
		}
		list, err := st.ListByUser(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 0 {
			t.Fatalf("expired session still indexed: %d", len(list))
		}
	})

	t.Run("PerUserIndex", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		alice, bob := uniq("alice"), uniq("bob")
		var mine []*session.Session
		for i := range 4 {
			s := NewSession(t, alice, now.Add(time.Duration(i)*time.Second), time.Hour)
			mine = append(mine, s)
			if err := st.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		other := NewSession(t, bob, now, time.Hour)
		if err := st.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		list, err := st.ListByUser(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 4 {
			t.Fatalf("list: want 4, got %d", len(list))
		}
		for i, s := range list {
			if s.ID != mine[i].ID {
				t.Fatalf("list not oldest first: at %d got %s want %s", i, s.ID, mine[i].ID)
			}
		}
		n, err := st.DeleteByUser(ctx, alice, mine[2].ID)
		if err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Fatalf("delete others: want 3, got %d", n)
		}
		list, _ = st.ListByUser(ctx, alice)
		if len(list) != 1 || list[0].ID != mine[2].ID {
			t.Fatalf("after delete others: %v", list)
		}
		for _, s := range mine[:2] {
			if _, err := st.Get(ctx, s.ID); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("deleted session still readable: %v", err)
			}
		}
		if n, err := st.DeleteByUser(ctx, alice, ""); err != nil || n != 1 {
			t.Fatalf("delete all: n=%d err=%v", n, err)
		}
		if _, err := st.Get(ctx, other.ID); err != nil {
			t.Fatalf("another user's session was touched: %v", err)
		}
		// Deleting one session keeps the index consistent.
		if err := st.Delete(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := st.ListByUser(ctx, bob); len(list) != 0 {
			t.Fatalf("index keeps a deleted session: %d", len(list))
		}
	})

	t.Run("DataCompareAndSet", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		s := NewSession(t, uniq("u"), now, time.Hour)
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		v, err := st.SetData(ctx, s.ID, []byte(`{"a":1}`), 0)
		if err != nil || v != 1 {
			t.Fatalf("set data: v=%d err=%v", v, err)
		}
		if _, err := st.SetData(ctx, s.ID, []byte(`{"a":2}`), 0); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("stale version: want ErrConflict, got %v", err)
		}
		got, err := st.Get(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Data) != `{"a":1}` || got.DataVersion != 1 {
			t.Fatalf("data: %s v%d", got.Data, got.DataVersion)
		}
	})

	t.Run("DataConcurrentExactlyOneWinner", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		s := NewSession(t, uniq("u"), now, time.Hour)
		if err := st.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.SetData(ctx, s.ID, fmt.Appendf(nil, `{"w":%d}`, i), 0)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, session.ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("set data: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != n-1 {
			t.Fatalf("want exactly one winner: wins=%d conflicts=%d", wins.Load(), conflicts.Load())
		}
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		s := NewSession(t, uniq("u"), now, time.Hour)
		if err := st.Create(cctx, s); err == nil {
			t.Fatal("create with a canceled context succeeded")
		}
		// A canceled context must surface as context.Canceled, never as a
		// plain "not found" (which a caller would read as "log the user out").
		if _, err := st.Get(cctx, s.ID); !errors.Is(err, context.Canceled) {
			t.Fatalf("get with a canceled context: want context.Canceled, got %v", err)
		}
		if _, err := st.ListByUser(cctx, s.UserID); !errors.Is(err, context.Canceled) {
			t.Fatalf("list with a canceled context: want context.Canceled, got %v", err)
		}
	})
}
