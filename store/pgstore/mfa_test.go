package pgstore_test

import (
	"testing"

	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/mfa/mfatest"
	"github.com/sessiond/sessiond/store/pgstore"
)

func TestConformanceMFA(t *testing.T) {
	dsn := migrated(t)
	mfatest.Run(t, func(t *testing.T) mfa.Store { return open(t, dsn, pgstore.Options{}) })
}
