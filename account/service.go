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

// ErrEmailNotVerified is Authenticate's answer, with Service.RequireVerifiedEmail,
// to the right password of a user whose email is not verified. Only who
// knows the password learns it, so it is no enumeration.
var ErrEmailNotVerified = errors.New("account: email not verified")

// RateLimitedError says that too many attempts failed; try again after
// RetryAfter.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("account: too many failed attempts, retry after %s", e.RetryAfter)
}

// Limiter limits attempts per key. An attempt takes its slot with Reserve
// before any work that reveals its outcome (the password hash), so that a
// burst of parallel attempts cannot all pass a check made before any of them
// is recorded; an attempt that must not count (a successful login) gives its
// slot back with Refund. Reserve and Refund are atomic per key, also across
// nodes sharing a backend: ratelimit.Memory does it under a mutex in
// process, redisstore.Limiter in a Lua script and pgstore.Limiter in one SQL
// statement.
type Limiter interface {
	// Reserve takes one attempt for key and returns 0, or, when key is over
	// its limit, takes nothing and returns how long to wait.
	Reserve(ctx context.Context, key string) (wait time.Duration, err error)
	// Refund gives back one attempt that Reserve took for key.
	Refund(ctx context.Context, key string) error
	// Reset forgets all of key's attempts.
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
	// Tokens keeps the single-use tokens of email verification, password
	// recovery and email change (see lifecycle.go). Required by those
	// methods only.
	Tokens TokenStore
	// RecoveryTTL, VerificationTTL and EmailChangeTTL are how long such a
	// link stays valid. Defaults 15m, 24h and 1h.
	RecoveryTTL, VerificationTTL, EmailChangeTTL time.Duration
	// RequireVerifiedEmail makes Authenticate refuse, with
	// ErrEmailNotVerified, a right password whose user's email is not
	// verified. Default false.
	RequireVerifiedEmail bool
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
// password policy. It is how an administrator (admin API, CLI) creates an
// account, so the email counts as verified. It wraps ErrInvalidEmail,
// ErrWeakPassword or ErrConflict.
func (s *Service) Register(ctx context.Context, email, password string, roles []string, org string) (*User, error) {
	return s.create(ctx, "account: register", email, password, roles, org, true)
}

// create is Register, and SignUp with verified false.
func (s *Service) create(ctx context.Context, op, email, password string, roles []string, org string, verified bool) (*User, error) {
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
	if verified {
		u.EmailVerified, u.EmailVerifiedAt = true, now
	}
	if err := s.Store.CreateUser(ctx, u); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	s.audit(ctx, "user.created", slog.String("user_id", u.ID), slog.Bool("email_verified", verified))
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
//
// Every limit is taken before the password is hashed, so that parallel
// attempts cannot all pass a check made before any of them is recorded: the
// attempt reserves its slot in PerIP, then in PerAccount (giving the IP slot
// back when the account refuses it), then its lockout slot in the user
// record (see takeSlot). Only failures count: a successful login refunds its
// PerIP slot and resets PerAccount and the consecutive-failure count. Slots
// taken by an attempt that ends in a store error stay taken (fail closed).
func (s *Service) Authenticate(ctx context.Context, email, password, ip string) (*User, error) {
	ipKey := "ip:" + ip
	if err := s.reserve(ctx, s.PerIP, ipKey, "login.rate_limited", slog.String("ip", ip), slog.String("scope", "ip")); err != nil {
		return nil, err
	}
	norm, nerr := NormalizeEmail(email)
	if nerr != nil {
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.fail(ctx, nil, ip, "invalid_email")
	}
	acctKey := "acct:" + norm
	if err := s.reserve(ctx, s.PerAccount, acctKey, "login.rate_limited", slog.String("ip", ip), slog.String("scope", "account")); err != nil {
		if rerr := s.refund(ctx, s.PerIP, ipKey); rerr != nil {
			return nil, rerr
		}
		return nil, err
	}
	u, err := s.Store.UserByEmail(ctx, norm)
	if errors.Is(err, ErrNotFound) {
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.fail(ctx, nil, ip, "unknown_user")
	}
	if err != nil {
		return nil, fmt.Errorf("account: authenticate: %w", err)
	}
	slot, err := s.takeSlot(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if slot.locked {
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.fail(ctx, u, ip, "locked")
	}
	if u.PasswordHash == "" {
		s.Hasher.VerifyDummy(ctx, password)
		return nil, s.failSlot(ctx, u, ip, "no_password", slot)
	}
	ok, rehash, err := s.Hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return nil, fmt.Errorf("account: authenticate: %w", err)
	}
	switch {
	case !ok:
		return nil, s.failSlot(ctx, u, ip, "wrong_password", slot)
	case u.Disabled:
		return nil, s.failSlot(ctx, u, ip, "disabled", slot)
	}
	if err := s.refund(ctx, s.PerIP, ipKey); err != nil {
		return nil, err
	}
	if s.PerAccount != nil {
		if err := s.PerAccount.Reset(ctx, acctKey); err != nil {
			return nil, fmt.Errorf("account: rate limit: %w", err)
		}
	}
	var newHash string
	if rehash {
		if newHash, err = s.Hasher.Hash(ctx, password); err != nil {
			return nil, err
		}
	}
	u, err = s.Store.UpdateUser(ctx, u.ID, func(u *User) error {
		u.FailedLogins = 0
		if slot.locks && u.LockedUntil.Equal(slot.until) {
			u.LockedUntil = time.Time{} // the lock this attempt set, provisionally
		}
		if newHash != "" {
			u.PasswordHash = newHash
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("account: authenticate: %w", err)
	}
	if s.RequireVerifiedEmail && !u.EmailVerified {
		s.audit(ctx, "login.refused", slog.String("user_id", u.ID), slog.String("ip", ip), slog.String("reason", "email_not_verified"))
		return nil, ErrEmailNotVerified
	}
	s.audit(ctx, "login.success", slog.String("user_id", u.ID), slog.String("ip", ip))
	return u, nil
}

// reserve takes one attempt from l for key, or audits event with attrs and
// returns *RateLimitedError.
func (s *Service) reserve(ctx context.Context, l Limiter, key, event string, attrs ...any) error {
	if l == nil {
		return nil
	}
	wait, err := l.Reserve(ctx, key)
	if err != nil {
		return fmt.Errorf("account: rate limit: %w", err)
	}
	if wait > 0 {
		s.audit(ctx, event, attrs...)
		return &RateLimitedError{RetryAfter: wait}
	}
	return nil
}

// refund gives back the attempt reserve took from l for key.
func (s *Service) refund(ctx context.Context, l Limiter, key string) error {
	if l == nil {
		return nil
	}
	if err := l.Refund(ctx, key); err != nil {
		return fmt.Errorf("account: rate limit: %w", err)
	}
	return nil
}

// slot is an attempt's place in its account's lockout count.
type slot struct {
	locked bool      // the account was locked: the attempt is refused unevaluated
	locks  bool      // this attempt was the LockoutAfter-th and set the lock
	until  time.Time // the lock it set
}

// lockout returns LockoutAfter and LockoutDuration, defaults applied.
func (s *Service) lockout() (after int, dur time.Duration) {
	after, dur = s.LockoutAfter, s.LockoutDuration
	if after <= 0 {
		after = DefaultLockoutAfter
	}
	if dur <= 0 {
		dur = DefaultLockoutDuration
	}
	return after, dur
}

// errLocked aborts takeSlot's update: there is nothing to write.
var errLocked = errors.New("account: locked")

// takeSlot reserves the attempt's place in the account's consecutive-failure
// count before the password is checked, in one atomic UpdateUser: a locked
// account refuses it (nothing written), otherwise FailedLogins counts it at
// once, and the attempt that reaches LockoutAfter locks the account
// provisionally. So of any burst, however parallel, at most LockoutAfter −
// FailedLogins attempts are evaluated; the others see the lock. A success
// then resets the count and lifts the lock it set itself; a failure leaves
// both, already recorded.
func (s *Service) takeSlot(ctx context.Context, id string) (slot, error) {
	after, dur := s.lockout()
	now := s.now()
	var sl slot
	_, err := s.Store.UpdateUser(ctx, id, func(u *User) error {
		sl = slot{}
		if now.Before(u.LockedUntil) {
			sl.locked = true
			return errLocked
		}
		u.FailedLogins++
		if u.FailedLogins >= after {
			u.FailedLogins = 0
			u.LockedUntil = now.Add(dur)
			sl.locks, sl.until = true, u.LockedUntil
		}
		return nil
	})
	if err != nil && !errors.Is(err, errLocked) {
		return slot{}, fmt.Errorf("account: record attempt: %w", err)
	}
	return sl, nil
}

// failSlot is fail for an attempt that took a lockout slot: it also audits
// the lockout that slot set.
func (s *Service) failSlot(ctx context.Context, u *User, ip, reason string, sl slot) error {
	if sl.locks {
		_, dur := s.lockout()
		s.audit(ctx, "login.lockout", slog.String("user_id", u.ID), slog.String("ip", ip), slog.Duration("for", dur))
	}
	return s.fail(ctx, u, ip, reason)
}

// fail audits a failed attempt (already counted when its slots were taken)
// and returns ErrInvalidCredentials.
func (s *Service) fail(ctx context.Context, u *User, ip, reason string) error {
	attrs := []any{slog.String("ip", ip), slog.String("reason", reason)}
	if u != nil {
		attrs = append(attrs, slog.String("user_id", u.ID))
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
	if err := s.checkCurrent(ctx, u, current, "password.change_failed"); err != nil {
		return nil, err
	}
	return s.SetPassword(ctx, userID, next)
}

// checkCurrent verifies current against u's password for a change of
// account (password, email) asked for by a signed-in user, or audits event
// and returns ErrInvalidCredentials. Wrong current passwords count against
// the same per-account limit as failed logins, reserved before the hash like
// a login's: a stolen session must not become a guessing oracle, not even a
// parallel one.
func (s *Service) checkCurrent(ctx context.Context, u *User, current, event string) error {
	if u.PasswordHash == "" {
		return ErrInvalidCredentials
	}
	key := "acct:" + u.Email
	if err := s.reserve(ctx, s.PerAccount, key, "password.change_rate_limited", slog.String("user_id", u.ID)); err != nil {
		return err
	}
	ok, _, err := s.Hasher.Verify(ctx, current, u.PasswordHash)
	if err != nil {
		return fmt.Errorf("account: check password: %w", err)
	}
	if !ok {
		s.audit(ctx, event, slog.String("user_id", u.ID))
		return ErrInvalidCredentials
	}
	return s.refund(ctx, s.PerAccount, key)
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
