package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/session"
)

// RunProvider runs the OpenID Provider store conformance suite (codes,
// logins, consents). newStore is called once per subtest; it may return a
// store shared with other tests, since the suite names its records
// uniquely. The store's clock must be close to time.Now.
func RunProvider(t *testing.T, newStore func(t *testing.T) op.Store) {
	ctx := context.Background()
	byKey := cmpopts.SortSlices(func(a, b *op.Login) bool {
		return a.SessionID+a.ClientID+a.FamilyID < b.SessionID+b.ClientID+b.FamilyID
	})
	timeMS := cmpopts.EquateApproxTime(time.Millisecond)

	t.Run("CodeRedeemsOnceThenReportsReplay", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		id := uniq("code")
		if err := st.PutCode(ctx, id, []byte(`{"c":1}`), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		data, issued, first, err := st.RedeemCode(ctx, id)
		if err != nil || !first || string(data) != `{"c":1}` || issued != nil {
			t.Fatalf("first redeem = %q, %q, %v, %v", data, issued, first, err)
		}
		if replayed, err := st.SetCodeIssued(ctx, id, []byte(`{"jti":"a"}`)); err != nil || replayed {
			t.Fatalf("set issued = %v, %v", replayed, err)
		}
		data, issued, first, err = st.RedeemCode(ctx, id)
		if err != nil || first || string(data) != `{"c":1}` || string(issued) != `{"jti":"a"}` {
			t.Fatalf("replay = %q, %q, %v, %v", data, issued, first, err)
		}
	})

	t.Run("ReplayBeforeIssuedIsReported", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		id := uniq("code")
		if err := st.PutCode(ctx, id, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, _, first, err := st.RedeemCode(ctx, id); err != nil || !first {
			t.Fatalf("first redeem: %v, %v", first, err)
		}
		if _, issued, first, err := st.RedeemCode(ctx, id); err != nil || first || issued != nil {
			t.Fatalf("replay: %q, %v, %v", issued, first, err)
		}
		if replayed, err := st.SetCodeIssued(ctx, id, []byte("y")); err != nil || !replayed {
			t.Fatalf("set issued after a replay = %v, %v; want replayed", replayed, err)
		}
	})

	t.Run("CodeMissingOrPurgedIsNotFound", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		old := uniq("old")
		if err := st.PutCode(ctx, old, []byte("x"), time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{old, uniq("never")} {
			if _, _, _, err := st.RedeemCode(ctx, id); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("redeem %s: %v, want ErrNotFound", id, err)
			}
		}
		if _, err := st.SetCodeIssued(ctx, uniq("never"), []byte("x")); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("set issued of a missing code: %v", err)
		}
	})

	t.Run("ConcurrentRedeemHasOneWinner", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		id := uniq("race")
		if err := st.PutCode(ctx, id, []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		var wins, losses atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				_, _, first, err := st.RedeemCode(ctx, id)
				switch {
				case err != nil:
					t.Error(err)
				case first:
					wins.Add(1)
				default:
					losses.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || losses.Load() != 15 {
			t.Fatalf("wins %d, losses %d; want exactly one winner", wins.Load(), losses.Load())
		}
	})

	t.Run("LoginsAreTakenOnce", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u, other := uniq("user"), uniq("other")
		s1, s2, s3 := uniq("s1"), uniq("s2"), uniq("s3")
		exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
		ls := []*op.Login{
			{SessionID: s1, UserID: u, ClientID: "a", FamilyID: "f1", ExpiresAt: exp},
			{SessionID: s1, UserID: u, ClientID: "b", ExpiresAt: exp},
			{SessionID: s2, UserID: u, ClientID: "a", FamilyID: "f2", ExpiresAt: exp},
			{SessionID: s3, UserID: u, ClientID: "a", ExpiresAt: exp},
			{SessionID: uniq("s4"), UserID: other, ClientID: "a", ExpiresAt: exp},
		}
		for _, l := range ls {
			if err := st.AddLogin(ctx, l); err != nil {
				t.Fatal(err)
			}
		}
		// The same (session, client, family) again replaces.
		if err := st.AddLogin(ctx, ls[1]); err != nil {
			t.Fatal(err)
		}
		got, err := st.TakeLogins(ctx, s1)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ls[:2], got, byKey, timeMS); d != "" {
			t.Fatalf("take s1 (-want +got):\n%s", d)
		}
		if got, err := st.TakeLogins(ctx, s1); err != nil || len(got) != 0 {
			t.Fatalf("take s1 again = %v, %v", got, err)
		}
		got, err = st.TakeUserLogins(ctx, u, s3)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ls[2:3], got, byKey, timeMS); d != "" {
			t.Fatalf("take user except s3 (-want +got):\n%s", d)
		}
		got, err = st.TakeUserLogins(ctx, u, "")
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(ls[3:4], got, byKey, timeMS); d != "" {
			t.Fatalf("take user (-want +got):\n%s", d)
		}
		if got, err := st.TakeUserLogins(ctx, other, ""); err != nil || len(got) != 1 {
			t.Fatalf("other user's logins = %v, %v", got, err)
		}
	})

	t.Run("ConcurrentTakeGivesEachLoginOnce", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("user")
		exp := time.Now().Add(time.Hour)
		for i := range 8 {
			if err := st.AddLogin(ctx, &op.Login{SessionID: uniq("s") + string(rune('a'+i)), UserID: u, ClientID: "a", ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
		}
		var total atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				got, err := st.TakeUserLogins(ctx, u, "")
				if err != nil {
					t.Error(err)
				}
				total.Add(int32(len(got)))
			})
		}
		wg.Wait()
		if total.Load() != 8 {
			t.Fatalf("taken %d logins in all, want 8", total.Load())
		}
	})

	t.Run("ConsentsPerUserAndClient", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		u := uniq("user")
		if _, err := st.Consent(ctx, u, "a"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("no consent: %v", err)
		}
		if err := st.PutConsent(ctx, u, "a", []string{"openid", "email"}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutConsent(ctx, u, "b", []string{"openid"}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutConsent(ctx, u, "a", []string{"openid", "email", "profile"}); err != nil {
			t.Fatal(err)
		}
		got, err := st.Consent(ctx, u, "a")
		if err != nil || !slices.Equal(got, []string{"openid", "email", "profile"}) {
			t.Fatalf("consent a = %v, %v", got, err)
		}
		if got, err := st.Consent(ctx, u, "b"); err != nil || !slices.Equal(got, []string{"openid"}) {
			t.Fatalf("consent b = %v, %v", got, err)
		}
		if _, err := st.Consent(ctx, uniq("other"), "a"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("another user's consent: %v", err)
		}
	})
}
