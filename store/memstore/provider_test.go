package memstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceProvider(t *testing.T) {
	storetest.RunProvider(t, func(*testing.T) op.Store { return memstore.New(nil) })
}
