package pgstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/oidc/op"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
)

func TestConformanceProvider(t *testing.T) {
	t.Parallel()
	dsn := migrated(t)
	storetest.RunProvider(t, func(t *testing.T) op.Store { return open(t, dsn, pgstore.Options{SweepInterval: -1}) })
}
