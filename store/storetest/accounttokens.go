package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/account"
)

// accountToken returns a token of purpose p for a fresh user ID, expiring
// after ttl (negative: already expired), with a random hash.
func accountToken(p account.Purpose, ttl time.Duration) *account.AccountToken {
	h := sha256.Sum256([]byte(rand.Text()))
	b := sha256.Sum256([]byte("binding"))
	return &account.AccountToken{
		Hash: h[:], Purpose: p, UserID: uniq("tok"), Binding: b[:], Email: "new@example.com",
		ExpiresAt: time.Now().UTC().Add(ttl).Truncate(time.Millisecond),
	}
}

// RunAccountTokens runs the conformance suite of account.TokenStore: single
// use under a parallel burst, expiry, purpose. newStore is called once per
// subtest and may return a shared database (hashes are random).
func RunAccountTokens(t *testing.T, newStore func(t *testing.T) account.TokenStore) {
	ctx := context.Background()

	// stored returns a fresh store holding a new token of purpose p.
	stored := func(t *testing.T, p account.Purpose, ttl time.Duration) (account.TokenStore, *account.AccountToken) {
		t.Helper()
		st, tok := newStore(t), accountToken(p, ttl)
		if err := st.PutToken(ctx, tok); err != nil {
			t.Fatalf("put: %v", err)
		}
		return st, tok
	}

	// refused checks that the token with hash is neither peeked nor consumed
	// as purpose p.
	refused := func(t *testing.T, st account.TokenStore, hash []byte, p account.Purpose, what string) {
		t.Helper()
		if _, err := st.PeekToken(ctx, hash, p); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("peek %s: %v, want ErrNotFound", what, err)
		}
		if _, err := st.ConsumeToken(ctx, hash, p); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("consume %s: %v, want ErrNotFound", what, err)
		}
	}

	t.Run("PeekThenConsumeRoundTripsEveryField", func(t *testing.T) {
		t.Parallel()
		st, want := stored(t, account.PurposeEmailChange, time.Hour)
		peek, err := st.PeekToken(ctx, want.Hash, want.Purpose)
		if err != nil {
			t.Fatalf("peek: %v", err)
		}
		got, err := st.ConsumeToken(ctx, want.Hash, want.Purpose)
		if err != nil {
			t.Fatalf("consume after peek: %v (peek must not consume)", err)
		}
		for _, g := range []*account.AccountToken{peek, got} {
			if d := cmp.Diff(want, g); d != "" {
				t.Fatalf("stored token differs (-want +got):\n%s", d)
			}
		}
	})

	t.Run("SecondConsumeRefused", func(t *testing.T) {
		t.Parallel()
		st, tok := stored(t, account.PurposeRecovery, time.Hour)
		if _, err := st.ConsumeToken(ctx, tok.Hash, tok.Purpose); err != nil {
			t.Fatal(err)
		}
		refused(t, st, tok.Hash, tok.Purpose, "after consume")
	})

	t.Run("ParallelConsumeHasOneWinner", func(t *testing.T) {
		t.Parallel()
		st, tok := stored(t, account.PurposeRecovery, time.Hour)
		var wins, lost atomic.Int32
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 24 {
			wg.Go(func() {
				<-start
				_, err := st.ConsumeToken(ctx, tok.Hash, tok.Purpose)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, account.ErrNotFound):
					lost.Add(1)
				default:
					t.Errorf("consume: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || lost.Load() != 23 {
			t.Fatalf("%d consumes won and %d were refused, want 1 and 23", wins.Load(), lost.Load())
		}
	})

	t.Run("ExpiredRefused", func(t *testing.T) {
		t.Parallel()
		st, tok := stored(t, account.PurposeVerifyEmail, -time.Second)
		refused(t, st, tok.Hash, tok.Purpose, "expired")
	})

	t.Run("WrongPurposeRefusedAndKept", func(t *testing.T) {
		t.Parallel()
		st, tok := stored(t, account.PurposeVerifyEmail, time.Hour)
		for _, p := range []account.Purpose{account.PurposeRecovery, account.PurposeEmailChange, ""} {
			refused(t, st, tok.Hash, p, "as "+string(p))
		}
		if _, err := st.ConsumeToken(ctx, tok.Hash, tok.Purpose); err != nil {
			t.Fatalf("consume for its purpose after wrong ones: %v", err)
		}
	})

	t.Run("UnknownRefused", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		tok := accountToken(account.PurposeRecovery, time.Hour)
		refused(t, st, tok.Hash, tok.Purpose, "unknown")
	})

	t.Run("DuplicateHashConflicts", func(t *testing.T) {
		t.Parallel()
		st, tok := stored(t, account.PurposeRecovery, time.Hour)
		if err := st.PutToken(ctx, tok); !errors.Is(err, account.ErrConflict) {
			t.Fatalf("put twice: %v, want ErrConflict", err)
		}
	})

	t.Run("ContextCanceled", func(t *testing.T) {
		t.Parallel()
		st := newStore(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		tok := accountToken(account.PurposeRecovery, time.Hour)
		if err := st.PutToken(cctx, tok); !errors.Is(err, context.Canceled) {
			t.Fatalf("put: %v, want context.Canceled", err)
		}
		if _, err := st.ConsumeToken(cctx, tok.Hash, tok.Purpose); !errors.Is(err, context.Canceled) {
			t.Fatalf("consume: %v, want context.Canceled", err)
		}
	})
}
