package account

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// CheckSecondFactor runs check, the verification of a second factor (a
// one-time code, a recovery code) that userID sent from ip after their
// password, and counts it like a password attempt: it takes a slot of the
// per-account rate limit (PerAccount, keyed by the email like a login) and of
// the consecutive-failure lockout before check runs, so a parallel burst of
// guesses is bounded exactly as password guesses are. check reports whether
// the factor was right; its error is a store failure (returned wrapped, the
// slots stay taken: fail closed).
//
// A wrong factor, or any attempt while the account is locked, returns
// ErrInvalidCredentials (audited as login.failure with reason
// "second_factor" or "locked"); over the rate limit it is
// *RateLimitedError. A right factor resets the per-account limit and the
// failure count, like a successful login.
func (s *Service) CheckSecondFactor(ctx context.Context, userID, ip string, check func(context.Context) (bool, error)) error {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return fmt.Errorf("account: check second factor: %w", err)
	}
	acctKey := "acct:" + u.Email
	if err := s.reserve(ctx, s.PerAccount, acctKey, "login.rate_limited", slog.String("ip", ip), slog.String("scope", "account")); err != nil {
		return err
	}
	sl, err := s.takeSlot(ctx, u.ID)
	if err != nil {
		return err
	}
	if sl.locked {
		return s.fail(ctx, u, ip, "locked")
	}
	ok, err := check(ctx)
	if err != nil {
		return fmt.Errorf("account: check second factor: %w", err)
	}
	if !ok {
		return s.failSlot(ctx, u, ip, "second_factor", sl)
	}
	if s.PerAccount != nil {
		if err := s.PerAccount.Reset(ctx, acctKey); err != nil {
			return fmt.Errorf("account: rate limit: %w", err)
		}
	}
	_, err = s.Store.UpdateUser(ctx, u.ID, func(u *User) error {
		u.FailedLogins = 0
		if sl.locks && u.LockedUntil.Equal(sl.until) {
			u.LockedUntil = time.Time{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("account: check second factor: %w", err)
	}
	return nil
}
