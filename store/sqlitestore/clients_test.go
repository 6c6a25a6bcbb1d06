package sqlitestore_test

import (
	"testing"

	"github.com/sessiond/sessiond/client"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceClients(t *testing.T) {
	storetest.RunClients(t, func(t *testing.T) client.Store { return open(t) })
}
