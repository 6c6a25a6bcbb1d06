package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/sessiond/sessiond/token"
)

// RunKeys runs the signing-key store conformance suite.
func RunKeys(t *testing.T, newStore func(t *testing.T) token.KeyStore) {
	ctx := context.Background()
	t.Run("PutListDelete", func(t *testing.T) {
		st := newStore(t)
		now := time.Now().UTC().Truncate(time.Millisecond)
		k := token.StoredKey{ID: uniq("kid"), Alg: token.EdDSA, Data: []byte("sealed-or-jwk"), CreatedAt: now, NotBefore: now}
		if err := st.PutKey(ctx, k); err != nil {
			t.Fatalf("put: %v", err)
		}
		k.RetiredAt, k.ExpiresAt = now.Add(time.Hour), now.Add(2*time.Hour)
		if err := st.PutKey(ctx, k); err != nil {
			t.Fatalf("upsert: %v", err)
		}
		list, err := st.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got *token.StoredKey
		for i := range list {
			if list[i].ID == k.ID {
				got = &list[i]
			}
		}
		if d := cmp.Diff(&k, got); d != "" {
			t.Fatalf("stored key (-want +got):\n%s", d)
		}
		if err := st.DeleteKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteKey(ctx, k.ID); !errors.Is(err, token.ErrNotFound) {
			t.Fatalf("second delete: want ErrNotFound, got %v", err)
		}
	})
}
