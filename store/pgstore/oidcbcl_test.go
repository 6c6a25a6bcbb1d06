package pgstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/store/pgstore"
	"github.com/sessiond/sessiond/store/storetest"
)

var _ oidc.LogoutStore = (*pgstore.Store)(nil)

func TestConformanceOIDCLogout(t *testing.T) {
	dsn := migrated(t)
	storetest.RunOIDCLogout(t, func(t *testing.T) storetest.OIDCLogoutStore { return open(t, dsn, pgstore.Options{}) })
}
