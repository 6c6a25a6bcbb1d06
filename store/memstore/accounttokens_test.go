package memstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceAccountTokens(t *testing.T) {
	storetest.RunAccountTokens(t, func(*testing.T) account.TokenStore { return memstore.New(nil) })
}

func TestConformanceLifecycle(t *testing.T) {
	storetest.RunLifecycle(t, func(*testing.T) storetest.LifecycleStore { return memstore.New(nil) })
}
