package pgstore_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessiond/sessiond/oidc"

	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/pgstore"
)

// The same checks as TestOIDC_StoresFlowsAndIdentities in internal/server
// runs against the memory and SQLite stores: single-use flows, expiry, and
// unique (issuer, subject) links.
func TestFlowsAndIdentities(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := open(t, migrated(t), pgstore.Options{SweepInterval: -1})
	now := time.Now()

	t.Run("flows", func(t *testing.T) {
		if err := st.PutFlow(ctx, "k1", []byte("data"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.PutFlow(ctx, "old", []byte("x"), now.Add(-time.Second)); err != nil {
			t.Fatal(err)
		}
		if got, err := st.TakeFlow(ctx, "k1"); err != nil || string(got) != "data" {
			t.Fatalf("take = %q, %v", got, err)
		}
		for _, k := range []string{"k1", "old", "never"} {
			if _, err := st.TakeFlow(ctx, k); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("take %s: err = %v, want ErrNotFound", k, err)
			}
		}
	})

	t.Run("put replaces", func(t *testing.T) {
		if err := st.PutFlow(ctx, "re", []byte("one"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.PutFlow(ctx, "re", []byte("two"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, err := st.TakeFlow(ctx, "re"); err != nil || string(got) != "two" {
			t.Fatalf("take = %q, %v", got, err)
		}
	})

	t.Run("concurrent takers", func(t *testing.T) {
		for round := range 5 {
			if err := st.PutFlow(ctx, "race", []byte("x"), now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var wins, misses atomic.Int32
			for range 8 {
				wg.Go(func() {
					_, err := st.TakeFlow(ctx, "race")
					switch {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, session.ErrNotFound):
						misses.Add(1)
					default:
						t.Errorf("take: %v", err)
					}
				})
			}
			wg.Wait()
			if wins.Load() != 1 || misses.Load() != 7 {
				t.Fatalf("round %d: %d won, %d missed; want 1 and 7", round, wins.Load(), misses.Load())
			}
		}
	})

	t.Run("sweep", func(t *testing.T) {
		if err := st.PutFlow(ctx, "stale", []byte("x"), now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.PutFlow(ctx, "fresh", []byte("y"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		n, err := st.Sweep(ctx)
		if err != nil || n < 1 {
			t.Fatalf("sweep = %d, %v; want at least the stale flow", n, err)
		}
		if _, err := st.TakeFlow(ctx, "stale"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("take stale: err = %v, want ErrNotFound", err)
		}
		if got, err := st.TakeFlow(ctx, "fresh"); err != nil || string(got) != "y" {
			t.Fatalf("take fresh = %q, %v", got, err)
		}
	})

	t.Run("identities", func(t *testing.T) {
		if _, err := st.IdentityUser(ctx, "https://op", "sub"); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("unlinked: err = %v", err)
		}
		if err := st.LinkIdentity(ctx, "https://op", "sub", "u_1"); err != nil {
			t.Fatal(err)
		}
		if err := st.LinkIdentity(ctx, "https://op", "sub", "u_2"); !errors.Is(err, session.ErrConflict) {
			t.Fatalf("relink: err = %v, want ErrConflict", err)
		}
		if err := st.LinkIdentity(ctx, "https://other-op", "sub", "u_2"); err != nil {
			t.Fatal(err)
		}
		if uid, err := st.IdentityUser(ctx, "https://op", "sub"); err != nil || uid != "u_1" {
			t.Fatalf("linked user = %q, %v", uid, err)
		}
		if uid, err := st.IdentityUser(ctx, "https://other-op", "sub"); err != nil || uid != "u_2" {
			t.Fatalf("other issuer's user = %q, %v", uid, err)
		}
	})
}

// The store is what the OIDC relying party needs (asserted here, in a test,
// so that pgstore itself need not import package oidc).
var (
	_ oidc.FlowStore     = (*pgstore.Store)(nil)
	_ oidc.IdentityStore = (*pgstore.Store)(nil)
)
