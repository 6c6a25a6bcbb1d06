package memstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/refresh"
	"github.com/sessiond/sessiond/session"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceSessions(t *testing.T) {
	storetest.RunSessions(t, func(*testing.T) session.Backend { return memstore.New(nil) })
}

func TestConformanceUsers(t *testing.T) {
	storetest.RunUsers(t, func(*testing.T) account.Store { return memstore.New(nil) })
}

func TestConformanceRefresh(t *testing.T) {
	storetest.RunRefresh(t, func(*testing.T) refresh.Backend { return memstore.New(nil) })
}
