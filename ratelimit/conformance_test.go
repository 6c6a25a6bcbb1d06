package ratelimit_test

import (
	"testing"
	"time"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/ratelimit"
	"github.com/sessiond/sessiond/store/storetest"
)

var _ account.Limiter = (*ratelimit.Memory)(nil)

// TestBruteForceRule18_MemoryLimiter: rule 18 with the in-process limiter,
// including a parallel burst taking at most the remaining allowance.
func TestBruteForceRule18_MemoryLimiter(t *testing.T) {
	t.Parallel()
	storetest.RunLimiter(t, func(t *testing.T, r ratelimit.Rate, now func() time.Time) account.Limiter {
		m := ratelimit.NewMemory(r, now)
		t.Cleanup(func() { _ = m.Close() })
		return m
	})
}
