package sqlitestore_test

import (
	"testing"

	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/store/sqlitestore"
	"github.com/sessiond/sessiond/store/storetest"
)

var _ oidc.LogoutStore = (*sqlitestore.Store)(nil)

func TestConformanceOIDCLogout(t *testing.T) {
	storetest.RunOIDCLogout(t, func(t *testing.T) storetest.OIDCLogoutStore { return open(t) })
}
