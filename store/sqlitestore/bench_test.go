package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessiond/sessiond/store/sqlitestore"
	"github.com/sessiond/sessiond/store/storetest"
)

// BenchmarkGet is one session read: "cached" a near-cache hit (a copy of the
// cached session), "nocache" a read through the prepared statement.
//
// Budget (allocs/op): cached 1, nocache 62 (cached enforced by
// TestNearCache_AllocBudget).
func BenchmarkGet(b *testing.B) {
	for _, bc := range []struct {
		name    string
		entries int
	}{{"cached", 0}, {"nocache", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			st, _ := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlitestore.Options{CacheEntries: bc.entries})
			defer st.Close()
			s := storetest.NewSession(b, "u", time.Now(), time.Hour)
			st.Create(context.Background(), s)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.Get(context.Background(), s.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
