package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// ErrInvalidCredentials is the one answer to a failed login: unknown email,
// wrong password, locked or disabled account look the same from outside.
var ErrInvalidCredentials = errors.New("account: invalid credentials")

// RateLimitedError says that too many attempts failed; try again after
// RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("account: too many failed attempts, retry after %s", e.RetryAfter)
}

// Limiter counts failed attempts per key. ratelimit.Memory implements it in
// process; the Redis store shares it across nodes.
type Limiter interface {
	// Check returns how long key must wait before another attempt (0: go).
	Check(ctx context.Context, key string) (time.Duration, error)
	// Fail records a failed attempt.
	Fail(ctx context.Context, key string) error
	// Reset forgets key's failures (after a success).
	Reset(ctx context.Context, key string) error
}

// Defaults for Service fields left zero.
const (
	DefaultLockoutAfter    = 100
	DefaultLockoutDuration = time.Hour
)

// Service authenticates and manages users. Its fields are set once before
// use; it is then safe for concurrent use.
type Service struct {
	// Store keeps the users. Required.
	Store Store
	// Hasher hashes and verifies passwords. Required.
	Hasher *Hasher
	// PerIP and PerAccount limit failed logins by client IP and by email.
	// Nil means unlimited.
	PerIP, PerAccount Limiter
	// LockoutAfter consecutive failures lock the account for
	// LockoutDuration. Defaults 100 (NIST SP 800-63B's ceiling) and 1h.
	LockoutAfter    int
	LockoutDuration time.Duration
	// Audit receives security events (never a secret). Nil: discarded.
	Audit *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) audit(ctx context.Context, event string, attrs ...any) {
	if s.Audit == nil {
		return
	}
	s.Audit.InfoContext(ctx, "audit", append([]any{slog.String("event", event)}, attrs...)...)
}

// Register creates a user after normalising the email and checking the
// password policy. It wraps ErrInvalidEmail, ErrWeakPassword or ErrConflict.
func (s *Service) Register(ctx context.Context, email, password string, roles []string, org string) (*User, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(password, norm, localPart(norm)); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u := &User{ID: NewID("u_"), Email: norm, PasswordHash: hash, Roles: CleanRoles(roles), OrgID: org, CreatedAt: now, UpdatedAt: now}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("account: register: %w", err)
	}
	s.audit(ctx, "user.created", slog.String("user_id", u.ID))
	return u, nil
}

func localPart(email string) string {
	l, _, _ := strings.Cut(email, "@")
	return l
}

// CleanRoles is the one normalisation of a user's roles, used by Register,
// Update and single sign-on (package oidc): each role trimmed of surrounding
// white space, empty ones dropped, duplicates dropped keeping the first, order
// kept. It never returns nil and does not change roles.
func CleanRoles(roles []string) []string {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if r != "" && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// Authenticate checks an email and password from ip. It returns the user, or
// ErrInvalidCredentials for every kind of failure (unknown email, wrong
// password, disabled or locked account: same error, similar time, because an
// unknown email is verified against a dummy hash), or *RateLimitedError when
// the IP or the account is over its limit. Other errors are store failures.
func (s *Service) Authenticate(ctx context.Context, email, password, ip string) (*User, error) {
	if wait, err := s.check(ctx, s.PerIP, "ip:"+ip); err != nil || wait > 0 {
		if err == nil {
			s.audit(ctx, "login.rate_limited", slog.String("ip", ip), slog.String("scope", "ip"))
			return nil, &RateLimitedError{RetryAfter: wait}
		}
		return nil, err
	}
	norm, nerr := NormalizeEmail(email)
	if nerr != nil {
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.fail(ctx, nil, ip, "", "invalid_email")
	}
	if wait, err := s.check(ctx, s.PerAccount, "acct:"+norm); err != nil || wait > 0 {
		if err == nil {
			s.audit(ctx, "login.rate_limited", slog.String("ip", ip), slog.String("scope", "account"))
			return nil, &RateLimitedError{RetryAfter: wait}
		}
		return nil, err
	}
	u, err := s.Store.UserByEmail(ctx, norm)
	if errors.Is(err, ErrNotFound) {
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.fail(ctx, nil, ip, norm, "unknown_user")
	}
	if err != nil {
		return nil, fmt.Errorf("account: authenticate: %w", err)
	}
	if u.PasswordHash == "" {
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.fail(ctx, u, ip, norm, "no_password")
	}
	ok, rehash, err := s.Hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("account: authenticate: %w", err)
	}
	switch {
	case !ok:
		return nil, s.fail(ctx, u, ip, norm, "wrong_password")
	case u.Disabled:
		return nil, s.fail(ctx, u, ip, norm, "disabled")
	case s.now().Before(u.LockedUntil):
		return nil, s.fail(ctx, u, ip, norm, "locked")
	}
	if s.PerAccount != nil {
		if err := s.PerAccount.Reset(ctx, "acct:"+norm); err != nil {
			return nil, fmt.Errorf("account: authenticate: %w", err)
		}
	}
	if u.FailedLogins > 0 || rehash {
		var newHash string
		if rehash {
			if newHash, err = s.Hasher.Hash(ctx, password); err != nil {
				return nil, err
			}
		}
		u, err = s.Store.UpdateUser(ctx, u.ID, func(u *User) error {
			u.FailedLogins = 0
			if newHash != "" {
				u.PasswordHash = newHash
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("account: authenticate: %w", err)
		}
	}
	s.audit(ctx, "login.success", slog.String("user_id", u.ID), slog.String("ip", ip))
	return u, nil
}

func (s *Service) check(ctx context.Context, l Limiter, key string) (time.Duration, error) {
	if l == nil {
		return 0, nil
	}
	wait, err := l.Check(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("account: rate limit: %w", err)
	}
	return wait, nil
}

// fail records a failed attempt and returns ErrInvalidCredentials (or a store
// error).
func (s *Service) fail(ctx context.Context, u *User, ip, email, reason string) error {
	if s.PerIP != nil {
		if err := s.PerIP.Fail(ctx, "ip:"+ip); err != nil {
			return fmt.Errorf("account: rate limit: %w", err)
		}
	}
	if s.PerAccount != nil && email != "" {
		if err := s.PerAccount.Fail(ctx, "acct:"+email); err != nil {
			return fmt.Errorf("account: rate limit: %w", err)
		}
	}
	attrs := []any{slog.String("ip", ip), slog.String("reason", reason)}
	if u != nil {
		attrs = append(attrs, slog.String("user_id", u.ID))
		after, dur := s.LockoutAfter, s.LockoutDuration
		if after <= 0 {
			after = DefaultLockoutAfter
		}
		if dur <= 0 {
			dur = DefaultLockoutDuration
		}
		locked := false
		_, err := s.Store.UpdateUser(ctx, u.ID, func(u *User) error {
			u.FailedLogins++
			if u.FailedLogins >= after && !s.now().Before(u.LockedUntil) {
				u.LockedUntil = s.now().Add(dur)
				u.FailedLogins = 0
				locked = true
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("account: record failure: %w", err)
		}
		if locked {
			s.audit(ctx, "login.lockout", slog.String("user_id", u.ID), slog.String("ip", ip), slog.Duration("for", dur))
		}
	}
	s.audit(ctx, "login.failure", attrs...)
	return ErrInvalidCredentials
}

// ChangePassword replaces the user's password after checking the current
// one. It bumps the token version (refusing every access token issued
// before); the caller ends the user's other sessions and renews the current
// one. Wrong current password: ErrInvalidCredentials; weak new password:
// ErrWeakPassword.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next string) (*User, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("account: change password: %w", err)
	}
	if u.PasswordHash == "" {
		return nil, ErrInvalidCredentials
	}
	// Wrong current passwords count against the same per-account limit as
	// failed logins: a stolen session must not become a guessing oracle.
	key := "acct:" + u.Email
	if wait, err := s.check(ctx, s.PerAccount, key); err != nil || wait > 0 {
		if err == nil {
			s.audit(ctx, "password.change_rate_limited", slog.String("user_id", u.ID))
			return nil, &RateLimitedError{RetryAfter: wait}
		}
		return nil, err
	}
	ok, _, err := s.Hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("account: change password: %w", err)
	}
	if !ok {
		if s.PerAccount != nil {
			if err := s.PerAccount.Fail(ctx, key); err != nil {
				return nil, fmt.Errorf("account: rate limit: %w", err)
			}
		}
		s.audit(ctx, "password.change_failed", slog.String("user_id", u.ID))
		return nil, ErrInvalidCredentials
	}
	return s.SetPassword(ctx, userID, next)
}

// SetPassword replaces the user's password without checking the old one (for
// administrators and the CLI) and bumps the token version.
func (s *Service) SetPassword(ctx context.Context, userID, next string) (*User, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("account: set password: %w", err)
	}
	if err := CheckPassword(next, u.Email, localPart(u.Email)); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, next)
	if err != nil {
		return nil, err
	}
	u, err = s.Store.UpdateUser(ctx, userID, func(u *User) error {
		u.PasswordHash = hash
		u.TokenVersion++
		u.FailedLogins = 0
		u.LockedUntil = time.Time{}
		u.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("account: set password: %w", err)
	}
	s.audit(ctx, "password.changed", slog.String("user_id", u.ID))
	return u, nil
}

// Update changes a user's disabled flag and roles (nil leaves a field as it
// is). Any change bumps the token version, since it changes what the user may
// do; the caller ends sessions as the change requires.
func (s *Service) Update(ctx context.Context, userID string, disabled *bool, roles []string) (*User, error) {
	u, err := s.Store.UpdateUser(ctx, userID, func(u *User) error {
		changed := false
		if disabled != nil && *disabled != u.Disabled {
			u.Disabled = *disabled
			changed = true
		}
		if roles != nil {
			r := CleanRoles(roles)
			if !slices.Equal(r, u.Roles) {
				u.Roles = r
				changed = true
			}
		}
		if changed {
			u.TokenVersion++
			u.UpdatedAt = s.now()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("account: update user: %w", err)
	}
	if disabled != nil && *disabled {
		s.audit(ctx, "user.disabled", slog.String("user_id", u.ID))
	}
	if roles != nil {
		s.audit(ctx, "user.roles_changed", slog.String("user_id", u.ID), slog.Any("roles", u.Roles))
	}
	return u, nil
}

// BumpTokenVersion refuses every access token issued to the user so far.
func (s *Service) BumpTokenVersion(ctx context.Context, userID string) (*User, error) {
	u, err := s.Store.UpdateUser(ctx, userID, func(u *User) error {
		u.TokenVersion++
		u.UpdatedAt = s.now()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("account: bump token version: %w", err)
	}
	return u, nil
}
