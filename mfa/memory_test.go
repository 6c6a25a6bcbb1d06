package mfa_test

import (
	"testing"

	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/mfa/mfatest"
)

func TestMemory_Conformance(t *testing.T) {
	mfatest.Run(t, func(*testing.T) mfa.Store { return mfa.NewMemory() })
}
