package sqlitestore_test

import (
	"testing"

	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/mfa/mfatest"
)

func TestConformanceMFA(t *testing.T) {
	mfatest.Run(t, func(t *testing.T) mfa.Store { return open(t) })
}
