package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults for the link lifetimes left zero on Service.
const (
	DefaultRecoveryTTL     = 15 * time.Minute
	DefaultVerificationTTL = 24 * time.Hour
	DefaultEmailChangeTTL  = time.Hour
)

// Grant is a started account flow: the link token and where to mail it. The
// token is a secret for the mailer only: never logged, never answered to the
// client that asked.
type Grant struct {
	// Token goes into the mailed link: 256 bits from crypto/rand,
	// base64url. Only its SHA-256 is stored.
	Token string
	// UserID is the account the link acts on.
	UserID string
	// Email is the recipient: the account's address, or the new one for an
	// email change.
	Email string
	// OldEmail is the account's current address for an email change (to
	// send it a notice); empty otherwise.
	OldEmail string
	// ExpiresAt is when the link stops working.
	ExpiresAt time.Time
}

func ttl(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// grant stores a new token of purpose for u, bound to state, and returns it.
func (s *Service) grant(ctx context.Context, op string, u *User, p Purpose, state, newEmail string, life time.Duration) (*Grant, error) {
	tok, hash := newAccountToken()
	exp := s.now().Add(life)
	t := &AccountToken{Hash: hash, Purpose: p, UserID: u.ID, Binding: binding(p, state), Email: newEmail, ExpiresAt: exp}
	if err := s.Tokens.PutToken(ctx, t); err != nil {
		return nil, fmt.Errorf("account: %s: %w", op, err)
	}
	g := &Grant{Token: tok, UserID: u.ID, Email: u.Email, ExpiresAt: exp}
	if newEmail != "" {
		g.Email, g.OldEmail = newEmail, u.Email
	}
	s.audit(ctx, string(p)+".started", slog.String("user_id", u.ID))
	return g, nil
}

// take consumes the token tok of purpose p: ErrInvalidToken when it is
// malformed or not live. Whether the account is still in the state the token
// was bound to is checked by updateBound, in the same update that acts.
func (s *Service) take(ctx context.Context, op, tok string, p Purpose) (*AccountToken, error) {
	if !wellFormed(tok) {
		return nil, ErrInvalidToken
	}
	t, err := s.Tokens.ConsumeToken(ctx, HashToken(tok), p)
	if err != nil {
		return nil, s.tokenErr(ctx, op, p, err)
	}
	return t, nil
}

// liveBound returns t's user when it is enabled and still in the state t was
// bound to, or ErrInvalidToken.
func (s *Service) liveBound(ctx context.Context, op string, t *AccountToken, state func(*User) string) (*User, error) {
	u, err := s.Store.UserByID(ctx, t.UserID)
	if err != nil {
		return nil, s.tokenErr(ctx, op, t.Purpose, err)
	}
	if u.Disabled || !bound(t, state(u)) {
		s.audit(ctx, string(t.Purpose)+".refused", slog.String("user_id", u.ID), slog.String("reason", "stale"))
		return nil, ErrInvalidToken
	}
	return u, nil
}

// tokenErr maps ErrNotFound to ErrInvalidToken (audited) and wraps the rest.
func (s *Service) tokenErr(ctx context.Context, op string, p Purpose, err error) error {
	if errors.Is(err, ErrNotFound) {
		s.audit(ctx, string(p)+".refused", slog.String("reason", "invalid"))
		return ErrInvalidToken
	}
	return fmt.Errorf("account: %s: %w", op, err)
}

// errStale aborts an UpdateUser whose user changed since the token was
// checked.
var errStale = errors.New("account: stale link")

// updateBound applies fn to t's user in one UpdateUser if the user is still
// in the state t was bound to; ErrInvalidToken when not.
func (s *Service) updateBound(ctx context.Context, op string, t *AccountToken, state func(*User) string, fn func(*User) error) (*User, error) {
	u, err := s.Store.UpdateUser(ctx, t.UserID, func(u *User) error {
		if u.Disabled || !bound(t, state(u)) {
			return errStale
		}
		return fn(u)
	})
	switch {
	case errors.Is(err, errStale):
		s.audit(ctx, string(t.Purpose)+".refused", slog.String("user_id", t.UserID), slog.String("reason", "stale"))
		return nil, ErrInvalidToken
	case err != nil:
		return nil, s.tokenErr(ctx, op, t.Purpose, err)
	}
	return u, nil
}

func passwordState(u *User) string { return u.PasswordHash }
func emailState(u *User) string    { return u.Email }

// SignUp creates a user who signed up on their own: no roles, no
// organisation, email not verified (send a verification with
// StartVerification). It wraps ErrInvalidEmail, ErrWeakPassword or
// ErrConflict; the caller must answer a taken address like a new one (no
// enumeration) and mail the address's owner instead.
func (s *Service) SignUp(ctx context.Context, email, password string) (*User, error) {
	return s.create(ctx, "account: sign up", email, password, nil, "", false)
}

// StartRecovery begins password recovery for email. For an account that can
// recover (it exists, is enabled and has a password) it stores a single-use
// token valid RecoveryTTL, bound to the current password hash, and returns
// the grant for the mailer; for any other address, malformed ones included,
// it returns nil and no error. The caller answers both alike (no
// enumeration) and must not let the mailing show in the answer's timing.
func (s *Service) StartRecovery(ctx context.Context, email string) (*Grant, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return nil, nil
	}
	u, err := s.Store.UserByEmail(ctx, norm)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("account: start recovery: %w", err)
	}
	if u.Disabled || u.PasswordHash == "" {
		return nil, nil
	}
	return s.grant(ctx, "start recovery", u, PurposeRecovery, u.PasswordHash, "", ttl(s.RecoveryTTL, DefaultRecoveryTTL))
}

// CompleteRecovery sets a new password with a recovery token and returns
// the user. The link must be live and the account's password unchanged
// since it was mailed; a weak password (ErrWeakPassword) leaves the link
// usable. The password is set, the token version bumped (every access token
// ends), lockout cleared, and the email counts as verified (the link proved
// the mailbox). The caller must then end every session and refresh family
// of the returned user. An unusable link is ErrInvalidToken; of concurrent
// calls with one link at most one succeeds.
func (s *Service) CompleteRecovery(ctx context.Context, tok, newPassword string) (*User, error) {
	const op = "complete recovery"
	if !wellFormed(tok) {
		return nil, ErrInvalidToken
	}
	// Peek first, so that a password the policy refuses does not spend the
	// link, and the expensive hash is computed before the token is taken.
	t, err := s.Tokens.PeekToken(ctx, HashToken(tok), PurposeRecovery)
	if err != nil {
		return nil, s.tokenErr(ctx, op, PurposeRecovery, err)
	}
	u, err := s.liveBound(ctx, op, t, passwordState)
	if err != nil {
		return nil, err
	}
	if err := CheckPassword(newPassword, u.Email, localPart(u.Email)); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, newPassword)
	if err != nil {
		return nil, err
	}
	if t, err = s.Tokens.ConsumeToken(ctx, t.Hash, PurposeRecovery); err != nil {
		return nil, s.tokenErr(ctx, op, PurposeRecovery, err)
	}
	now := s.now()
	u, err = s.updateBound(ctx, op, t, passwordState, func(u *User) error {
		u.PasswordHash = hash
		u.TokenVersion++
		u.FailedLogins, u.LockedUntil = 0, time.Time{}
		if !u.EmailVerified {
			u.EmailVerified, u.EmailVerifiedAt = true, now
		}
		u.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "recovery.completed", slog.String("user_id", u.ID))
	return u, nil
}

// StartVerification stores a verification token for the user's current
// email, valid VerificationTTL, and returns the grant for the mailer; nil
// when the email is already verified (nothing to send).
func (s *Service) StartVerification(ctx context.Context, userID string) (*Grant, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("account: start verification: %w", err)
	}
	if u.EmailVerified {
		return nil, nil
	}
	return s.grant(ctx, "start verification", u, PurposeVerifyEmail, u.Email, "", ttl(s.VerificationTTL, DefaultVerificationTTL))
}

// CompleteVerification marks the user's email verified with a verification
// token and returns the user. A link for an address the account no longer
// has is ErrInvalidToken, like a used or expired one.
func (s *Service) CompleteVerification(ctx context.Context, tok string) (*User, error) {
	const op = "complete verification"
	t, err := s.take(ctx, op, tok, PurposeVerifyEmail)
	if err != nil {
		return nil, err
	}
	now := s.now()
	u, err := s.updateBound(ctx, op, t, emailState, func(u *User) error {
		if !u.EmailVerified {
			u.EmailVerified, u.EmailVerifiedAt, u.UpdatedAt = true, now, now
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "verify_email.completed", slog.String("user_id", u.ID))
	return u, nil
}

// StartEmailChange checks the current password (ErrInvalidCredentials, or
// *RateLimitedError like ChangePassword) and stores a token, valid
// EmailChangeTTL, that changes the email to newEmail (normalised;
// ErrInvalidEmail) once followed. Grant.Email is the new address (mail it
// the link), Grant.OldEmail the current one (mail it a notice). Whether
// newEmail is taken is not told here, only to whoever controls it, by
// CompleteEmailChange.
func (s *Service) StartEmailChange(ctx context.Context, userID, newEmail, currentPassword string) (*Grant, error) {
	norm, err := NormalizeEmail(newEmail)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("account: start email change: %w", err)
	}
	if err := s.checkCurrent(ctx, u, currentPassword, "email.change_failed"); err != nil {
		return nil, err
	}
	if norm == u.Email {
		return nil, fmt.Errorf("account: start email change: same address: %w", ErrInvalidEmail)
	}
	return s.grant(ctx, "start email change", u, PurposeEmailChange, u.Email, norm, ttl(s.EmailChangeTTL, DefaultEmailChangeTTL))
}

// CompleteEmailChange changes the user's email to the address the token was
// mailed to, marks it verified, bumps the token version (access tokens
// carry the email), and returns the user and the old address. The link is
// dead once the account's email changed by other means; an address taken
// meanwhile by another account wraps ErrConflict (the link is spent).
func (s *Service) CompleteEmailChange(ctx context.Context, tok string) (u *User, oldEmail string, err error) {
	const op = "complete email change"
	t, err := s.take(ctx, op, tok, PurposeEmailChange)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	u, err = s.updateBound(ctx, op, t, emailState, func(u *User) error {
		oldEmail = u.Email
		u.Email = t.Email
		u.EmailVerified, u.EmailVerifiedAt = true, now
		u.TokenVersion++
		u.UpdatedAt = now
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	s.audit(ctx, "email.changed", slog.String("user_id", u.ID))
	return u, oldEmail, nil
}
