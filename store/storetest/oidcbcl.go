package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/session"
)

// OIDCLogoutStore is oidc.LogoutStore, repeated here so that storetest
// does not import the oidc package (and its dependencies).
type OIDCLogoutStore interface {
	UseLogoutToken(ctx context.Context, issuer, jti string, expires time.Time) error
	AddUpstreamSession(ctx context.Context, issuer, sid, sessionID string, expires time.Time) error
	UpstreamSessions(ctx context.Context, issuer, sid string) ([]string, error)
}

// RunOIDCLogout runs the conformance suite of back-channel logout state
// (oidc.LogoutStore) against the backend newStore returns: a logout token's
// jti is accepted once per issuer while its record lives (exactly once
// among concurrent callers) and again after it expired; upstream sessions
// are listed per (issuer, sid), without expired ones; a canceled context
// fails. newStore may return a shared database: the suite names its
// issuers uniquely.
func RunOIDCLogout(t *testing.T, newStore func(t *testing.T) OIDCLogoutStore) {
	t.Run("JTIOncePerIssuer", func(t *testing.T) {
		t.Parallel()
		ctx, st := context.Background(), newStore(t)
		iss, other := uniq("https://op-a"), uniq("https://op-b")
		exp := time.Now().Add(time.Minute)
		if err := st.UseLogoutToken(ctx, iss, "jti-1", exp); err != nil {
			t.Fatalf("first use: %v", err)
		}
		if err := st.UseLogoutToken(ctx, iss, "jti-1", exp); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("replay: err = %v, want ErrConflict", err)
		}
		if err := st.UseLogoutToken(ctx, other, "jti-1", exp); err != nil {
			t.Fatalf("same jti, other issuer: %v", err)
		}
		if err := st.UseLogoutToken(ctx, iss, "jti-2", exp); err != nil {
			t.Fatalf("other jti: %v", err)
		}
	})

	t.Run("JTIReusableAfterExpiry", func(t *testing.T) {
		t.Parallel()
		ctx, st := context.Background(), newStore(t)
		iss := uniq("https://op-exp")
		if err := st.UseLogoutToken(ctx, iss, "old", time.Now().Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := st.UseLogoutToken(ctx, iss, "old", time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("use after expiry: %v", err)
		}
		if err := st.UseLogoutToken(ctx, iss, "old", time.Now().Add(time.Minute)); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("replay of the renewed record: err = %v, want ErrConflict", err)
		}
	})

	t.Run("JTIConcurrentUseOneWinner", func(t *testing.T) {
		t.Parallel()
		ctx, st := context.Background(), newStore(t)
		iss := uniq("https://op-race")
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				switch err := st.UseLogoutToken(ctx, iss, "race", time.Now().Add(time.Minute)); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, session.ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("use: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != 7 {
			t.Fatalf("%d won, %d conflicted; want 1 and 7", wins.Load(), conflicts.Load())
		}
	})

	t.Run("UpstreamSessions", func(t *testing.T) {
		t.Parallel()
		ctx, st := context.Background(), newStore(t)
		iss, other := uniq("https://op-up"), uniq("https://op-up-other")
		later, past := time.Now().Add(time.Hour), time.Now().Add(-time.Second)
		for _, r := range []struct {
			iss, sid, id string
			exp          time.Time
		}{
			{iss, "sid-1", "s2", later}, {iss, "sid-1", "s1", later}, {iss, "sid-1", "s1", later}, // re-adding is harmless
			{iss, "sid-1", "s0", past}, {iss, "sid-2", "s3", later}, {other, "sid-1", "s4", later},
		} {
			if err := st.AddUpstreamSession(ctx, r.iss, r.sid, r.id, r.exp); err != nil {
				t.Fatalf("add %s: %v", r.id, err)
			}
		}
		for _, c := range []struct {
			iss, sid string
			want     []string
		}{
			{iss, "sid-1", []string{"s1", "s2"}}, {iss, "sid-2", []string{"s3"}}, {other, "sid-1", []string{"s4"}},
			{iss, "sid-none", nil}, {other, "sid-2", nil},
		} {
			got, err := st.UpstreamSessions(ctx, c.iss, c.sid)
			if err != nil {
				t.Fatalf("upstream sessions %s: %v", c.sid, err)
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("upstream sessions (%s, %s) = %v, want %v", c.iss, c.sid, got, c.want)
			}
		}
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		iss := uniq("https://op-ctx")
		if err := st.UseLogoutToken(ctx, iss, "j", time.Now().Add(time.Minute)); err == nil {
			t.Error("use logout token with a canceled context succeeded")
		}
		if err := st.AddUpstreamSession(ctx, iss, "sid", "s", time.Now().Add(time.Minute)); err == nil {
			t.Error("add upstream session with a canceled context succeeded")
		}
		if _, err := st.UpstreamSessions(ctx, iss, "sid"); err == nil {
			t.Error("upstream sessions with a canceled context succeeded")
		}
	})
}
