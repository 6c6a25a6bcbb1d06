package oidc

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/sessiond/sessiond/account"
	"github.com/sessiond/sessiond/session"
)

func isNotFound(err error) bool { return errors.Is(err, session.ErrNotFound) }

// Link returns the local user of id: the one (issuer, subject) is linked
// to, or — on a first sign-in — a new password-less user with id's
// verified email, linked at once. Accounts are never matched by email: an
// email already taken by another account is ErrEmailTaken, a missing or
// unverified one ErrEmailUnverified. A disabled user is ErrDisabled. When
// the provider sent the mapped roles or org claims, the user's are updated
// to match, and its token version is bumped. created reports a new user.
// Concurrent first sign-ins of one identity: one creates the user, the
// others get ErrEmailTaken (the email is taken by then) and may retry.
func (s *Set) Link(ctx context.Context, users account.Store, ids IdentityStore, id *Identity) (u *account.User, created bool, err error) {
	uid, err := ids.IdentityUser(ctx, id.Issuer, id.Subject)
	switch {
	case err == nil:
		u, err = users.UserByID(ctx, uid)
		if err != nil {
			return nil, false, fmt.Errorf("oidc: link: %w", err)
		}
	case isNotFound(err):
		u, err = s.create(ctx, users, ids, id)
		if err != nil {
			return nil, false, err
		}
		created = true
	default:
		return nil, false, fmt.Errorf("oidc: link: %w", err)
	}
	if u.Disabled {
		return nil, false, ErrDisabled
	}
	if !created && (id.HasRoles && !slices.Equal(u.Roles, id.Roles) || id.HasOrg && u.OrgID != id.OrgID) {
		// What the user may do changes: access tokens issued before are
		// refused (token version), as account.Service.Update does.
		u, err = users.UpdateUser(ctx, u.ID, func(x *account.User) error {
			if id.HasRoles {
				x.Roles = slices.Clone(id.Roles)
			}
			if id.HasOrg {
				x.OrgID = id.OrgID
			}
			x.TokenVersion++
			x.UpdatedAt = s.opt.Now()
			return nil
		})
		if err != nil {
			return nil, false, fmt.Errorf("oidc: link: update user: %w", err)
		}
	}
	return u, created, nil
}

func (s *Set) create(ctx context.Context, users account.Store, ids IdentityStore, id *Identity) (*account.User, error) {
	if id.Email == "" {
		return nil, ErrEmailUnverified
	}
	email, err := account.NormalizeEmail(id.Email)
	if err != nil {
		return nil, ErrEmailUnverified
	}
	now := s.opt.Now()
	// id.Email is set only when the provider vouched for it
	// (email_verified), so the new account's email counts as verified.
	u := &account.User{ID: account.NewID("u_"), Email: email, Roles: slices.Clone(id.Roles), OrgID: id.OrgID,
		EmailVerified: true, EmailVerifiedAt: now, CreatedAt: now, UpdatedAt: now}
	if err := users.CreateUser(ctx, u); err != nil {
		if errors.Is(err, session.ErrConflict) {
			return nil, ErrEmailTaken
		}
		return nil, fmt.Errorf("oidc: link: create user: %w", err)
	}
	if err := ids.LinkIdentity(ctx, id.Issuer, id.Subject, u.ID); err != nil {
		// Another sign-in of the same identity won the race; its user
		// stands and ours carries the same email, so it could not have
		// been created: reaching here means an unrelated store error.
		return nil, fmt.Errorf("oidc: link: %w", err)
	}
	return u, nil
}
