package storetest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
)

// NewFamily returns a family for userID created at now, living ttl, and its
// first token record. It carries StepUpAssurance(now).
func NewFamily(t testing.TB, userID string, now time.Time, ttl time.Duration) (*refresh.Family, *refresh.Token) {
	t.Helper()
	now = now.UTC().Truncate(time.Millisecond)
	f := &refresh.Family{ID: uniq("f"), UserID: userID, ClientID: "app", Scope: "openid", CreatedAt: now,
		ExpiresAt: now.Add(ttl), LastUsedAt: now, IdleExpiresAt: now.Add(ttl), IP: "192.0.2.1", UserAgent: "storetest",
		Assurance: StepUpAssurance(now)}
	return f, NewRefreshToken(t, f.ID, 0)
}

// NewRefreshToken returns a fresh token record for family at generation gen.
func NewRefreshToken(t testing.TB, familyID string, gen int64) *refresh.Token {
	tok, err := session.NewToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	h := session.HashToken(tok)
	return &refresh.Token{ID: session.IDFromHash(h), Hash: h, FamilyID: familyID, Generation: gen}
}

// RunRefresh runs the refresh-store conformance suite.
func RunRefresh(t *testing.T, newStore func(t *testing.T) refresh.Backend) {
	ctx := context.Background()
	now := time.Now()

	t.Run("CreateLookupRotate", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		f, first := NewFamily(t, uniq("u"), now, time.Hour)
		if err := st.CreateFamily(ctx, f, first); err != nil {
			t.Fatalf("create family: %v", err)
		}
		rec, fam, err := st.LookupToken(ctx, first.ID)
		if err != nil {
			t.Fatalf("lookup: %v", err)
		}
		if d := cmp.Diff(f, fam, equateEmpty); d != "" {
			t.Fatalf("looked-up family (-want +got):\n%s", d)
		}
		if d := cmp.Diff(first, rec, equateEmpty); d != "" {
			t.Fatalf("looked-up token (-want +got):\n%s", d)
		}
		next := NewRefreshToken(t, f.ID, 1)
		used := now.UTC().Truncate(time.Millisecond).Add(time.Second)
		nf, err := st.Rotate(ctx, first.ID, next, []byte("sealed"), used, used.Add(time.Hour))
		if err != nil {
			t.Fatalf("rotate: %v", err)
		}
		wantFam := f.Clone()
		wantFam.Generation, wantFam.LastUsedAt, wantFam.IdleExpiresAt = 1, used, used.Add(time.Hour)
		if d := cmp.Diff(wantFam, nf, equateEmpty); d != "" {
			t.Fatalf("family after rotate (-want +got):\n%s", d)
		}
		spent, _, err := st.LookupToken(ctx, first.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantSpent := first.Clone()
		wantSpent.SpentAt, wantSpent.Sealed = used, []byte("sealed")
		if d := cmp.Diff(wantSpent, spent); d != "" {
			t.Fatalf("spent token (-want +got):\n%s", d)
		}
		if _, err := st.Rotate(ctx, first.ID, NewRefreshToken(t, f.ID, 1), nil, used, used); !errors.Is(err, refresh.ErrReused) {
			t.Fatalf("second rotate of a spent token: want ErrReused, got %v", err)
		}
		live, _, err := st.LookupToken(ctx, next.ID)
		if err != nil {
			t.Fatalf("successor: %v", err)
		}
		if d := cmp.Diff(next, live, equateEmpty); d != "" {
			t.Fatalf("successor (-want +got):\n%s", d)
		}
	})

	t.Run("FamilyAssuranceRoundTrip", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		f, first := NewFamily(t, uniq("u"), now, time.Hour)
		want := session.Assurance{AAL: session.AAL2, AMR: []string{"pwd", "otp", "mfa"},
			AuthTime: f.CreatedAt.Add(time.Minute), AAL2Time: f.CreatedAt.Add(time.Minute)}
		if err := st.CreateFamily(ctx, f, first); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SetFamilyData(ctx, f.ID, []byte(`{"k":1}`), 0); err != nil {
			t.Fatal(err)
		}
		got, err := st.GetFamily(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got.Assurance); d != "" {
			t.Fatalf("family assurance after a data change (-want +got):\n%s", d)
		}
		list, err := st.Families(ctx, f.UserID)
		if err != nil || len(list) != 1 {
			t.Fatalf("families: %v, %v", list, err)
		}
		if d := cmp.Diff(want, list[0].Assurance); d != "" {
			t.Fatalf("listed family assurance (-want +got):\n%s", d)
		}
		nf, err := st.Rotate(ctx, first.ID, NewRefreshToken(t, f.ID, 1), nil, f.CreatedAt.Add(time.Second), f.CreatedAt.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, nf.Assurance); d != "" {
			t.Fatalf("family assurance after rotate (-want +got):\n%s", d)
		}
	})

	t.Run("RotateExactlyOneWinner", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		f, first := NewFamily(t, uniq("u"), now, time.Hour)
		if err := st.CreateFamily(ctx, f, first); err != nil {
			t.Fatal(err)
		}
		const n = 16
		var wins, reused atomic.Int32
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.Rotate(ctx, first.ID, NewRefreshToken(t, f.ID, 1), []byte("s"), now, now.Add(time.Hour))
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, refresh.ErrReused):
					reused.Add(1)
				default:
					t.Errorf("rotate: %v", err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 || reused.Load() != n-1 {
			t.Fatalf("want exactly one winner: wins=%d reused=%d", wins.Load(), reused.Load())
		}
		fam, err := st.GetFamily(ctx, f.ID)
		if err != nil || fam.Generation != 1 {
			t.Fatalf("family after race: %+v %v", fam, err)
		}
	})

	t.Run("RevokeFamilyRemovesTokens", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		f, first := NewFamily(t, uniq("u"), now, time.Hour)
		if err := st.CreateFamily(ctx, f, first); err != nil {
			t.Fatal(err)
		}
		next := NewRefreshToken(t, f.ID, 1)
		if _, err := st.Rotate(ctx, first.ID, next, nil, now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeFamily(ctx, f.ID); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{first.ID, next.ID} {
			if _, _, err := st.LookupToken(ctx, id); !errors.Is(err, refresh.ErrNotFound) {
				t.Fatalf("token of a revoked family: want ErrNotFound, got %v", err)
			}
		}
		if _, err := st.Rotate(ctx, next.ID, NewRefreshToken(t, f.ID, 2), nil, now, now); !errors.Is(err, refresh.ErrNotFound) && !errors.Is(err, refresh.ErrReused) {
			t.Fatalf("rotate in a revoked family: %v", err)
		}
		if err := st.RevokeFamily(ctx, f.ID); !errors.Is(err, refresh.ErrNotFound) {
			t.Fatalf("second revoke: want ErrNotFound, got %v", err)
		}
	})

	t.Run("ExpiredFamilyIsNotFound", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		f, first := NewFamily(t, uniq("u"), now.Add(-2*time.Hour), time.Hour)
		if err := st.CreateFamily(ctx, f, first); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.LookupToken(ctx, first.ID); !errors.Is(err, refresh.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
		if list, err := st.Families(ctx, f.UserID); err != nil || len(list) != 0 {
			t.Fatalf("expired family listed: %d %v", len(list), err)
		}
	})

	t.Run("PerUserFamilies", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		user := uniq("u")
		var ids []string
		for i := range 3 {
			f, first := NewFamily(t, user, now.Add(time.Duration(i)*time.Second), time.Hour)
			if err := st.CreateFamily(ctx, f, first); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, f.ID)
		}
		other, ofirst := NewFamily(t, uniq("v"), now, time.Hour)
		if err := st.CreateFamily(ctx, other, ofirst); err != nil {
			t.Fatal(err)
		}
		list, err := st.Families(ctx, user)
		if err != nil || len(list) != 3 || list[0].ID != ids[0] || list[2].ID != ids[2] {
			t.Fatalf("families: %v %v", list, err)
		}
		gone, err := st.RevokeFamilies(ctx, user, ids[1])
		if err != nil || len(gone) != 2 {
			t.Fatalf("revoke others: %v %v", gone, err)
		}
		list, _ = st.Families(ctx, user)
		if len(list) != 1 || list[0].ID != ids[1] {
			t.Fatalf("after revoke others: %v", list)
		}
		if _, err := st.GetFamily(ctx, other.ID); err != nil {
			t.Fatalf("another user's family touched: %v", err)
		}
	})

	t.Run("RevokeFamiliesByClient", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		app, other := uniq("app"), uniq("other")
		u1, u2 := uniq("u"), uniq("u")
		create := func(user, clientID string) (*refresh.Family, *refresh.Token) {
			f, first := NewFamily(t, user, now, time.Hour)
			f.ClientID = clientID
			if err := st.CreateFamily(ctx, f, first); err != nil {
				t.Fatal(err)
			}
			return f, first
		}
		a1, a1first := create(u1, app)
		a2, _ := create(u2, app)
		revoked, _ := create(u2, app)
		kept, keptFirst := create(u1, other)
		// A rotated family stays the client's; one revoked before is not
		// reported again.
		a1next := NewRefreshToken(t, a1.ID, 1)
		used := now.UTC().Truncate(time.Millisecond).Add(time.Second)
		if _, err := st.Rotate(ctx, a1first.ID, a1next, []byte("sealed"), used, used.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeFamily(ctx, revoked.ID); err != nil {
			t.Fatal(err)
		}

		// A burst of concurrent calls (two nodes removing the client at
		// once): every family is reported by exactly one of them.
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				ids, err := st.RevokeFamiliesByClient(ctx, app)
				if err != nil {
					t.Errorf("revoke client families: %v", err)
				}
				mu.Lock()
				for _, id := range ids {
					seen[id]++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(seen) != 2 || seen[a1.ID] != 1 || seen[a2.ID] != 1 {
			t.Fatalf("revoked %v, want %s and %s once each", seen, a1.ID, a2.ID)
		}
		for _, id := range []string{a1first.ID, a1next.ID} {
			if _, _, err := st.LookupToken(ctx, id); !errors.Is(err, refresh.ErrNotFound) {
				t.Fatalf("token of a revoked client family: want ErrNotFound, got %v", err)
			}
		}
		for _, id := range []string{a1.ID, a2.ID} {
			if _, err := st.GetFamily(ctx, id); !errors.Is(err, refresh.ErrNotFound) {
				t.Fatalf("revoked client family: want ErrNotFound, got %v", err)
			}
		}
		if list, err := st.Families(ctx, u1); err != nil || len(list) != 1 || list[0].ID != kept.ID {
			t.Fatalf("user's families after the client's revocation: %v %v", list, err)
		}
		if list, err := st.Families(ctx, u2); err != nil || len(list) != 0 {
			t.Fatalf("user's families after the client's revocation: %v %v", list, err)
		}
		if _, _, err := st.LookupToken(ctx, keptFirst.ID); err != nil {
			t.Fatalf("another client's family touched: %v", err)
		}
		if ids, err := st.RevokeFamiliesByClient(ctx, uniq("nobody")); err != nil || len(ids) != 0 {
			t.Fatalf("client without families: %v %v", ids, err)
		}
	})

	t.Run("FamilyDataCompareAndSet", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		f, first := NewFamily(t, uniq("u"), now, time.Hour)
		if err := st.CreateFamily(ctx, f, first); err != nil {
			t.Fatal(err)
		}
		if v, err := st.SetFamilyData(ctx, f.ID, []byte(`{"a":1}`), 0); err != nil || v != 1 {
			t.Fatalf("set: %d %v", v, err)
		}
		if _, err := st.SetFamilyData(ctx, f.ID, []byte(`{}`), 0); !errors.Is(err, refresh.ErrConflict) {
			t.Fatalf("stale: want ErrConflict, got %v", err)
		}
		if _, err := st.SetFamilyData(ctx, "f_missing", []byte(`{}`), 0); !errors.Is(err, refresh.ErrNotFound) {
			t.Fatalf("missing: want ErrNotFound, got %v", err)
		}
		got, _ := st.GetFamily(ctx, f.ID)
		if string(got.Data) != `{"a":1}` || got.DataVersion != 1 {
			t.Fatalf("data: %s v%d", got.Data, got.DataVersion)
		}
	})

	t.Run("Denylist", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		a, b := uniq("jti:a"), uniq("sid:b")
		if d, err := st.Denied(ctx, a, b); err != nil || d {
			t.Fatalf("fresh denylist: %v %v", d, err)
		}
		if err := st.Deny(ctx, b, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if d, err := st.Denied(ctx, a, b); err != nil || !d {
			t.Fatalf("denied key not reported: %v %v", d, err)
		}
		if d, _ := st.Denied(ctx, a); d {
			t.Fatal("another key reported denied")
		}
		c := uniq("jti:c")
		if err := st.Deny(ctx, c, time.Now().Add(800*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1200 * time.Millisecond)
		if d, _ := st.Denied(ctx, c); d {
			t.Fatal("an entry outlived its time")
		}
	})
}
