package sqlitestore_test

import (
	"testing"

	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceProvider(t *testing.T) {
	storetest.RunProvider(t, func(t *testing.T) op.Store { return open(t) })
}
