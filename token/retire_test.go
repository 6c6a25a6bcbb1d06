package token

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestKeys_RetireRemovesKeyAtOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, EdDSA)
	leaked := e.key.ID
	tok := e.issue(t, userClaims())
	mustAccept(t, e.ver, tok)
	before := e.keys.Removals()

	signer, err := e.keys.Retire(ctx, leaked)
	if err != nil {
		t.Fatal(err)
	}
	if signer == leaked {
		t.Fatalf("the retired key %s still signs", leaked)
	}
	if got := jwksKids(t, e.keys); !slices.Equal(got, []string{signer}) {
		t.Fatalf("JWKS kids %v, want only the new signer %s", got, signer)
	}
	mustRefuse(t, e.ver, tok)
	if s, err := e.keys.Signer(); err != nil || s.ID != signer {
		t.Fatalf("signer %v, %v; want %s", s, err, signer)
	}
	mustAccept(t, e.ver, e.issue(t, userClaims()))
	if e.keys.Removals() == before {
		t.Fatal("Removals did not move: caches of verified tokens would keep the retired key's tokens")
	}
	if _, err := e.keys.Retire(ctx, leaked); !errors.Is(err, ErrNotFound) {
		t.Fatalf("retiring it again: %v, want ErrNotFound", err)
	}
}

func TestKeys_RetirePromotesPrePublishedKey(t *testing.T) {
	t.Parallel()
	ctx, _, keys, first, next := rotatedWithDelay(t)
	got, err := keys.Retire(ctx, first.ID)
	if err != nil || got != next {
		t.Fatalf("Retire = %s, %v; want the pre-published %s promoted", got, err, next)
	}
	if s, _ := keys.Signer(); s.ID != next {
		t.Fatalf("signer %s, want %s now", s.ID, next)
	}
	if n := len(keys.List()); n != 1 {
		t.Fatalf("%d keys, want 1", n)
	}
}

func TestKeys_RetireNextKeyKeepsSignerSigning(t *testing.T) {
	t.Parallel()
	ctx, clk, keys, first, next := rotatedWithDelay(t)
	if got, err := keys.Retire(ctx, next); err != nil || got != first.ID {
		t.Fatalf("Retire = %s, %v; want %s signing on", got, err, first.ID)
	}
	clk.Add(time.Hour) // past the retired key's NotBefore
	if s, err := keys.Signer(); err != nil || s.ID != first.ID {
		t.Fatalf("signer %v, %v: the key whose successor was retired must sign on", s, err)
	}
}

// rotatedWithDelay returns keys whose first key signs and whose next key,
// made by Rotate, is published but signs only in 10 minutes.
func rotatedWithDelay(t *testing.T) (context.Context, *clock, *Keys, *Key, string) {
	t.Helper()
	ctx := context.Background()
	clk := newClock()
	keys := mustKeys(t, NewMemKeyStore(), KeysConfig{PublishDelay: 10 * time.Minute, Now: clk.Now})
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	first, _ := keys.Signer()
	next, err := keys.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, clk, keys, first, next
}
