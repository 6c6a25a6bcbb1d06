package mfa_test

import (
	"testing"

	"github.com/sessiond/sessiond/mfa"
	"github.com/sessiond/sessiond/mfa/mfatest"
)

func TestMemory_Steps(t *testing.T) {
	mfatest.RunSteps(t, func(*testing.T) mfa.StepStore { return mfa.NewMemory() })
}

func TestMemory_RecoveryCodes(t *testing.T) {
	mfatest.RunRecoveryCodes(t, func(*testing.T) mfa.RecoveryStore { return mfa.NewMemory() })
}
