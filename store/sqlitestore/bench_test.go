package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessiond/sessiond/store/sqlitestore"
	"github.com/sessiond/sessiond/store/storetest"
)

// BenchmarkGet is one session read through a prepared statement.
func BenchmarkGet(b *testing.B) {
	st, _ := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "b.db"), sqlitestore.Options{})
	defer st.Close()
	s := storetest.NewSession(b, "u", time.Now(), time.Hour)
	st.Create(context.Background(), s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(context.Background(), s.ID); err != nil {
			b.Fatal(err)
		}
	}
}
