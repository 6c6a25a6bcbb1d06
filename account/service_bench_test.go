package account_test

import (
	"context"
	"testing"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/store/memstore"
)

// BenchmarkAuthenticate is a whole password login at the default argon2id
// cost (m=19 MiB, t=2, p=1): limits, email normalisation, user lookup and
// verification. Compare with BenchmarkVerify: the difference is what the
// login costs beyond the hash.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	h, err := account.NewHasher(account.Params{MaxConcurrent: 1})
	if err != nil {
		b.Fatal(err)
	}
	st := memstore.New(nil)
	svc := &account.Service{Store: st, Hasher: h}
	if _, err := svc.Register(ctx, "bench@example.com", "correct horse battery", nil, ""); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.Authenticate(ctx, "Bench@Example.com", "correct horse battery", "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
	}
}
