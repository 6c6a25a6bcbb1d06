package memstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/mfa/mfatest"
	"github.com/sessiond/sessiond/store/memstore"
)

func TestConformanceMFA(t *testing.T) {
	mfatest.Run(t, func(*testing.T) mfa.Store { return memstore.New(nil) })
}
