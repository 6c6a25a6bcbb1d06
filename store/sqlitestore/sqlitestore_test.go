package sqlitestore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/sqlitestore"
	"github.com/sessiond/sessiond/store/storetest"
	"github.com/sessiond/sessiond/token"
)

func open(t *testing.T) *sqlitestore.Store {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"), sqlitestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformanceSessions(t *testing.T) {
	storetest.RunSessions(t, func(t *testing.T) session.Backend { return open(t) })
}

func TestConformanceUsers(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T) account.Store { return open(t) })
}

func TestConformanceRefresh(t *testing.T) {
	storetest.RunRefresh(t, func(t *testing.T) refresh.Backend { return open(t) })
}

func TestConformanceKeys(t *testing.T) {
	storetest.RunKeys(t, func(t *testing.T) token.KeyStore { return open(t) })
}
