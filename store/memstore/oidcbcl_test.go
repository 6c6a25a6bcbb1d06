package memstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/oidc"
	"github.com/sessiond/sessiond/store/memstore"
	"github.com/sessiond/sessiond/store/storetest"
)

var _ oidc.LogoutStore = (*memstore.Store)(nil)

func TestConformanceOIDCLogout(t *testing.T) {
	storetest.RunOIDCLogout(t, func(*testing.T) storetest.OIDCLogoutStore { return memstore.New(nil) })
}
