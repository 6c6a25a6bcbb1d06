package memstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceClients(t *testing.T) {
	storetest.RunClients(t, func(*testing.T) client.Store { return memstore.New(nil) })
}
